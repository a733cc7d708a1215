//! The round-robin interface: rank `r` of `p` starts with the IDs
//! `r, r + p, r + 2p, ...`. Position `off_k + i` of rank `k`'s block (the
//! same consecutive block split as the plain interface) is job `k + p*i`, so
//! a contiguous piece of positions, claimed or stolen, is a strided range
//! with stride `p`: stolen pieces keep their stride.

use super::split::{block, block_of};
use super::{Interface, Mapping};
use std::ops::Range;

/// The mapping of a run started with `Dlb::setup_rr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundRobin {
    jobs: u64,
    ranks: u64,
}

/// Job IDs `start, start + stride, ...` below `end`, as `give_more_rr`
/// returns them.
///
/// ```
/// let s = dlb::Strided { start: 1, end: 10, stride: 4 };
/// assert_eq!(s.iter().collect::<Vec<_>>(), [1, 5, 9]);
/// assert_eq!(s.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Strided {
    /// The first ID.
    pub start: u64,
    /// One past the last ID.
    pub end: u64,
    /// The distance between IDs (the number of ranks).
    pub stride: u64,
}

impl Strided {
    /// The IDs in order.
    pub fn iter(&self) -> impl Iterator<Item = u64> {
        (self.start..self.end).step_by(self.stride as usize)
    }

    /// How many IDs.
    pub fn len(&self) -> u64 {
        if self.end <= self.start {
            0
        } else {
            (self.end - self.start).div_ceil(self.stride)
        }
    }

    /// Whether there are no IDs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RoundRobin {
    pub(crate) fn new(jobs: u64, ranks: u64) -> RoundRobin {
        RoundRobin { jobs, ranks }
    }
}

impl Mapping for RoundRobin {
    type Chunk = Strided;
    fn jobs(&self) -> u64 {
        self.jobs
    }
    fn segment_end(&self, pos: u64) -> u64 {
        block(self.jobs, self.ranks, block_of(self.jobs, self.ranks, pos)).end
    }
    fn chunk(&self, positions: Range<u64>) -> Strided {
        let k = block_of(self.jobs, self.ranks, positions.start);
        let off = block(self.jobs, self.ranks, k).start;
        let first = k + self.ranks * (positions.start - off);
        let last = k + self.ranks * (positions.end - 1 - off);
        Strided {
            start: first,
            end: last + 1,
            stride: self.ranks,
        }
    }
    fn fingerprint(&self) -> [u64; 3] {
        [Interface::RoundRobin as u64, self.jobs, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_block_is_one_residue_class() {
        for n in 0..40u64 {
            for p in 1..7u64 {
                let rr = RoundRobin::new(n, p);
                let mut seen = vec![0u32; n as usize];
                for k in 0..p {
                    let b = block(n, p, k);
                    if b.is_empty() {
                        continue;
                    }
                    assert_eq!(rr.segment_end(b.start), b.end);
                    let s = rr.chunk(b.clone());
                    assert_eq!(s.len(), b.end - b.start);
                    for id in s.iter() {
                        assert_eq!(id % p, k);
                        seen[id as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "n={n} p={p}: {seen:?}");
            }
        }
    }

    #[test]
    fn pieces_keep_the_stride() {
        let rr = RoundRobin::new(20, 3); // blocks 0..7, 7..14, 14..20
        assert_eq!(
            rr.chunk(2..5),
            Strided {
                start: 6,
                end: 13,
                stride: 3
            }
        );
        assert_eq!(
            rr.chunk(7..8),
            Strided {
                start: 1,
                end: 2,
                stride: 3
            }
        );
        let huge = RoundRobin::new(i64::MAX as u64, 64);
        let last = huge.chunk(i64::MAX as u64 - 1..i64::MAX as u64);
        assert!(last.end <= i64::MAX as u64 && last.len() == 1);
    }
}
