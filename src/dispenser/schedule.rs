//! Chunk sizes by [`Schedule`]: at most how many jobs one chunk taken from a
//! range may hold, before `maxjobs` caps it.
//!
//! The self-scheduling literature sizes chunks from the work that remains
//! in one central queue: guided self-scheduling (Polychronopoulos and Kuck,
//! 1987) gives each request `ceil(R / P)` of the `R` remaining iterations,
//! factoring (Hummel, Schonberg and Flynn, 1992) hands them out in batches of
//! `P` chunks of `ceil(R / (2 P))`. dlb has no central queue: each rank
//! claims from its own range, and thieves take halves of its back. Here `R`
//! is what the rank's own range holds when it claims (or what a steal
//! brought, for the first chunk of it), which is about `1/P` of what remains
//! in all when the ranges are balanced; the rules are the ones above applied
//! to that range, as if all `P` ranks shared it (they may, by stealing).
//! So a chunk is at most `1/P` of its range (guided) or `1/(2P)` (factoring),
//! and what stays in the range for thieves is at least `(P - 1)/P` of it,
//! except when a claim takes several chunks at once (claiming ahead, see
//! `ahead.rs`): it does so only after chunks that were done within about
//! 2 µs of their claim, so the chunks claimed ahead are predicted to be
//! that quick in all.
//!
//! Chunk sizes decide only how units are cut, never which rank gets a unit:
//! exactly-once and termination do not depend on them.

use crate::config::Schedule;
use std::cell::Cell;

/// The chunk-size state of one rank.
#[derive(Debug)]
pub(crate) struct Sizer {
    schedule: Schedule,
    ranks: u64,
    /// Factoring: the chunk size of the current batch, and how many chunks
    /// of it are left (0: the next claim begins a batch). Cells, like the
    /// two below: the dispenser restarts a batch while its claim closure
    /// holds the sizer.
    batch: Cell<u64>,
    left: Cell<u64>,
    /// What the range held at the last `limit` call, and the limit given.
    seen: Cell<u64>,
    last: Cell<u64>,
}

impl Sizer {
    /// Chunk sizes of `schedule` on `ranks` ranks.
    pub(crate) fn new(schedule: Schedule, ranks: u64) -> Sizer {
        Sizer {
            schedule,
            ranks: ranks.max(1),
            batch: Cell::new(0),
            left: Cell::new(0),
            seen: Cell::new(0),
            last: Cell::new(u64::MAX),
        }
    }

    /// At most how many jobs the next chunk taken from a range of
    /// `remaining` jobs holds (`u64::MAX`: no limit but `maxjobs`). May be
    /// called several times for one claim (a claim retries when a thief
    /// moved the range); the last call counts.
    pub(crate) fn limit(&self, remaining: u64) -> u64 {
        let limit = match self.schedule {
            Schedule::Fixed => u64::MAX,
            Schedule::Guided => remaining.div_ceil(self.ranks),
            Schedule::Factoring if self.left.get() > 0 => self.batch.get(),
            Schedule::Factoring => self.batch_chunk(remaining),
        }
        .max(1);
        self.seen.set(remaining);
        self.last.set(limit);
        limit
    }

    /// The limit that the last [`Sizer::limit`] call gave.
    pub(crate) fn last_limit(&self) -> u64 {
        self.last.get()
    }

    /// A claim took its chunks with the last limit.
    pub(crate) fn claimed(&self) {
        if self.schedule == Schedule::Factoring {
            if self.left.get() == 0 {
                self.batch.set(self.batch_chunk(self.seen.get()));
                self.left.set(self.ranks);
            }
            self.left.set(self.left.get() - 1);
        }
    }

    /// The rank gets a new range (a run begins, or it looks for units
    /// elsewhere): factoring sizes the next chunk from that range and
    /// begins a new batch at the next claim.
    pub(crate) fn restart(&self) {
        self.left.set(0);
        self.last.set(u64::MAX);
    }

    /// Factoring's chunk for a batch that begins with `remaining` jobs.
    fn batch_chunk(&self, remaining: u64) -> u64 {
        remaining.div_ceil(self.ranks.saturating_mul(2)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunk sizes of one rank that claims from a range of `jobs` jobs
    /// that nobody steals from, until it is empty.
    fn drain(schedule: Schedule, ranks: u64, jobs: u64) -> Vec<u64> {
        let s = Sizer::new(schedule, ranks);
        s.restart();
        let (mut left, mut chunks) = (jobs, Vec::new());
        while left > 0 {
            let chunk = s.limit(left).min(left);
            s.claimed();
            chunks.push(chunk);
            left -= chunk;
        }
        chunks
    }

    #[test]
    fn fixed_leaves_chunks_to_maxjobs() {
        assert_eq!(Sizer::new(Schedule::Fixed, 8).limit(1000), u64::MAX);
    }

    #[test]
    fn guided_takes_one_pth_of_what_is_left() {
        let chunks = drain(Schedule::Guided, 4, 100);
        assert_eq!(&chunks[..4], &[25, 19, 14, 11]);
        assert!(chunks.windows(2).all(|w| w[1] <= w[0]), "{chunks:?}");
        assert_eq!(*chunks.last().unwrap(), 1);
        assert_eq!(chunks.iter().sum::<u64>(), 100);
        // About P ln(R) chunks, not R.
        let many = drain(Schedule::Guided, 8, 1_000_000);
        assert!((80..200).contains(&many.len()), "{}", many.len());
    }

    #[test]
    fn factoring_takes_batches_of_p_chunks_of_half_over_p() {
        let chunks = drain(Schedule::Factoring, 4, 160);
        // R = 160: four chunks of 20; then R = 80: four of 10; then 5 ...
        assert_eq!(&chunks[..12], &[20, 20, 20, 20, 10, 10, 10, 10, 5, 5, 5, 5]);
        assert_eq!(chunks.iter().sum::<u64>(), 160);
        assert!(chunks.windows(2).all(|w| w[1] <= w[0]), "{chunks:?}");
    }

    #[test]
    fn a_new_range_begins_a_new_batch() {
        let s = Sizer::new(Schedule::Factoring, 2);
        assert_eq!(s.limit(100), 25);
        s.claimed();
        assert_eq!(s.limit(75), 25, "within the batch");
        s.restart();
        assert_eq!(s.limit(8), 2, "after a steal: from the new range");
        assert_eq!(s.last_limit(), 2);
        let one = Sizer::new(Schedule::Guided, 1);
        assert_eq!(one.limit(0), 1, "never below one job");
    }
}
