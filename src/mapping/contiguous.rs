//! The plain interface: job IDs `0..n`, chunks are half-open ranges.

use super::{Interface, Mapping};
use std::ops::Range;

/// The mapping of a run started with `Dlb::setup`: positions are job IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contiguous {
    jobs: u64,
}

impl Contiguous {
    pub(crate) fn new(jobs: u64) -> Contiguous {
        Contiguous { jobs }
    }
}

impl Mapping for Contiguous {
    type Chunk = Range<u64>;
    fn jobs(&self) -> u64 {
        self.jobs
    }
    fn segment_end(&self, _pos: u64) -> u64 {
        self.jobs
    }
    fn chunk(&self, positions: Range<u64>) -> Range<u64> {
        positions
    }
    fn fingerprint(&self) -> [u64; 3] {
        [Interface::Plain as u64, self.jobs, 0]
    }
}
