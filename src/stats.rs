//! Statistics of the last run on one rank: what each rank records while it
//! runs ([`Timeline`]) and the per-rank figures a program can log itself
//! ([`Statistics`]). What `print_statistics` gathers across ranks and
//! prints is in `src/report.rs`.
//!
//! Figures are for the last run and are reset by every `setup`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One rank's figures for the last run, from [`Dlb::statistics`](crate::Dlb::statistics).
///
/// A *work slice* is the time between two `give_more` calls, when the
/// program ran the chunk it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Jobs handed to this rank.
    pub jobs: u64,
    /// `give_more` calls, the final one included.
    pub calls: u64,
    /// Time spent inside `give_more`, the final call included.
    pub time_in_give_more: Duration,
    /// Time of the final call, the one that answered "no more" (it waits for
    /// the other ranks to finish).
    pub final_call: Duration,
    /// Longest single wait for new work (own range empty, looking for more).
    pub longest_wait: Duration,
    /// All waits for new work, the final one included.
    pub total_wait: Duration,
    /// The last and the one before last work slices.
    pub last_slices: [Option<Duration>; 2],
    /// Longest work slice.
    pub longest_slice: Option<Duration>,
    /// Shortest work slice.
    pub shortest_slice: Option<Duration>,
    /// All work slices added up.
    pub busy: Duration,
    /// From the end of `setup` to the return of the final call.
    pub setup_to_end: Option<Duration>,
    /// Steal attempts (each a read of a victim's range, maybe a CAS).
    pub steal_attempts: u64,
    /// Successful steals.
    pub steals: u64,
    /// Units taken by successful steals (a unit is one job unless a run has
    /// more than 2^32 - 1 jobs).
    pub units_stolen: u64,
    /// Claims from the own range that lost a race with a thief and retried.
    pub claim_retries: u64,
    /// Additions to the global done counter.
    pub reports: u64,
    /// Wall clock (ns since the Unix epoch) when this rank asked for more
    /// after its last chunk, i.e. when its last job was done.
    pub last_done_ns: Option<u64>,
    /// Wall clock (ns since the Unix epoch) when this rank was told "no more".
    pub told_ns: Option<u64>,
}

/// What a rank records during a run.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    setup_end: Instant,
    /// When the last `give_more` that returned a chunk returned.
    last_return: Option<Instant>,
    /// When this rank last asked for more after a chunk (its last job done).
    last_done: Option<Instant>,
    pub(crate) stats: Statistics,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        Timeline {
            setup_end: Instant::now(),
            last_return: None,
            last_done: None,
            stats: Statistics::default(),
        }
    }

    /// A `give_more` call begins; the previous chunk (if any) is done.
    pub(crate) fn enter(&mut self) -> Instant {
        let now = Instant::now();
        if let Some(returned) = self.last_return.take() {
            let slice = now - returned;
            let s = &mut self.stats;
            s.busy += slice;
            s.last_slices = [Some(slice), s.last_slices[0]];
            s.longest_slice = Some(s.longest_slice.map_or(slice, |l| l.max(slice)));
            s.shortest_slice = Some(s.shortest_slice.map_or(slice, |l| l.min(slice)));
            self.last_done = Some(now);
        }
        now
    }

    /// The call that began at `entered` returns `jobs` jobs (0: "no more").
    /// Reads the clock once; the wall clock only at the final call, where
    /// both wall-clock figures are derived from it.
    pub(crate) fn leave(&mut self, entered: Instant, jobs: u64) {
        let now = Instant::now();
        let s = &mut self.stats;
        s.calls += 1;
        s.time_in_give_more += now - entered;
        if jobs > 0 {
            s.jobs += jobs;
            self.last_return = Some(now);
        } else {
            s.final_call = now - entered;
            s.setup_to_end = Some(now - self.setup_end);
            let told = wall_ns();
            s.told_ns = Some(told);
            s.last_done_ns = self
                .last_done
                .map(|d| told.saturating_sub((now - d).as_nanos() as u64));
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_the_time_between_calls() {
        let mut t = Timeline::new();
        let e = t.enter();
        t.leave(e, 3);
        std::thread::sleep(Duration::from_millis(2));
        let e = t.enter();
        t.leave(e, 2);
        std::thread::sleep(Duration::from_millis(1));
        let e = t.enter();
        t.leave(e, 0);
        let s = t.stats;
        assert_eq!((s.jobs, s.calls), (5, 3));
        assert!(s.last_slices[0].unwrap() >= Duration::from_millis(1));
        assert!(s.last_slices[1].unwrap() >= Duration::from_millis(2));
        assert!(s.longest_slice >= s.shortest_slice);
        assert!(s.busy >= Duration::from_millis(3));
        assert!(s.told_ns.unwrap() >= s.last_done_ns.unwrap());
        assert!(s.setup_to_end.unwrap() >= s.busy);
    }
}
