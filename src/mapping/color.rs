//! The color interface: colors `0..c` with `distr[i]` jobs each, laid end to
//! end in the position space; a chunk never crosses a color boundary and
//! counts IDs from 0 within its color. Empty colors own no positions, so
//! they are never returned.

use super::{Interface, Mapping};
use std::ops::Range;

/// The mapping of a run started with `Dlb::setup_color`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Colors {
    /// `starts[i]` is the first position of color `i`; one extra entry holds
    /// the total.
    starts: Vec<u64>,
    hash: u64,
}

impl Colors {
    /// `None` when the total exceeds `limit`.
    pub(crate) fn new(distr: &[u64], limit: u64) -> Option<Colors> {
        let mut starts = Vec::with_capacity(distr.len() + 1);
        let mut total: u64 = 0;
        // FNV-1a over the counts: ranks compare it to detect different
        // distributions at no extra communication.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &count in distr {
            starts.push(total);
            total = total.checked_add(count).filter(|t| *t <= limit)?;
            for byte in count.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        starts.push(total);
        Some(Colors {
            starts,
            hash: hash ^ distr.len() as u64,
        })
    }

    /// The color that owns `pos`: the last color starting at or before it
    /// (empty colors start where the next one does, and are skipped).
    fn color_of(&self, pos: u64) -> usize {
        self.starts.partition_point(|&s| s <= pos) - 1
    }
}

impl Mapping for Colors {
    type Chunk = (usize, Range<u64>);
    fn jobs(&self) -> u64 {
        *self.starts.last().expect("starts holds the total")
    }
    fn segment_end(&self, pos: u64) -> u64 {
        self.starts[self.color_of(pos) + 1]
    }
    fn chunk(&self, positions: Range<u64>) -> (usize, Range<u64>) {
        let color = self.color_of(positions.start);
        let base = self.starts[color];
        debug_assert!(positions.end <= self.starts[color + 1]);
        (color, positions.start - base..positions.end - base)
    }
    fn fingerprint(&self) -> [u64; 3] {
        [Interface::Color as u64, self.jobs(), self.hash]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_in_nonempty_colors() {
        let c = Colors::new(&[0, 3, 0, 0, 2, 0], u64::MAX).unwrap();
        assert_eq!(c.jobs(), 5);
        assert_eq!(c.segment_end(0), 3);
        assert_eq!(c.chunk(0..3), (1, 0..3));
        assert_eq!(c.segment_end(3), 5);
        assert_eq!(c.chunk(3..5), (4, 0..2));
        assert_eq!(c.chunk(4..5), (4, 1..2));
    }

    #[test]
    fn totals_beyond_the_limit_are_refused_and_hashes_differ() {
        assert!(Colors::new(&[u64::MAX, 1], u64::MAX).is_none());
        assert!(Colors::new(&[5, 6], 10).is_none());
        let a = Colors::new(&[1, 2], 100).unwrap();
        let b = Colors::new(&[2, 1], 100).unwrap();
        let z = Colors::new(&[1, 2, 0], 100).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), z.fingerprint());
        assert_eq!(Colors::new(&[], 100).unwrap().jobs(), 0);
    }
}
