//! How positions, the contiguous index space the protocol distributes, map
//! to what `give_more` returns: a plain range of job IDs ([`Contiguous`]), a
//! range within one color ([`Colors`]), or a strided range ([`RoundRobin`]).
//!
//! A mapping cuts the position space into *segments* that a chunk must not
//! cross (a color, a round-robin block); the layer above clips every chunk
//! at [`Mapping::segment_end`].

mod color;
mod contiguous;
mod round_robin;
pub(crate) mod split;

pub use color::Colors;
pub use contiguous::Contiguous;
pub use round_robin::{RoundRobin, Strided};

use std::ops::Range;

/// Interface tags, part of a run's fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interface {
    Plain = 1,
    Color = 2,
    RoundRobin = 3,
}

/// What every mapping provides to the run machinery.
pub(crate) trait Mapping {
    /// What one `give_more` returns.
    type Chunk;
    /// Positions (jobs) in the run.
    fn jobs(&self) -> u64;
    /// The end of the segment that contains `pos` (`pos < jobs()`).
    fn segment_end(&self, pos: u64) -> u64;
    /// Translates positions inside one segment.
    fn chunk(&self, positions: Range<u64>) -> Self::Chunk;
    /// Values that must agree on every rank: interface, jobs, and a hash of
    /// anything else that defines the mapping.
    fn fingerprint(&self) -> [u64; 3];
}
