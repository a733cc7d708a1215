//! Statistics of the last run on one rank: what each rank records while it
//! runs ([`Timeline`]) and the per-rank figures a program can log itself
//! ([`Statistics`]). What `print_statistics` gathers across ranks and
//! prints is in `src/report.rs`.
//!
//! Figures are for the last run and are reset by every `setup`.
//!
//! # When the clock is read
//! A `give_more` served from chunks this rank already claimed costs a few
//! nanoseconds, less than one clock read, so by default the clock is read
//! only where a call visits the shared range (claims from it, or waits for
//! work): twice per visit. Calls and jobs are counted on every call. A work
//! slice is then the time between two visits, which is the time between two
//! calls unless the rank held several chunks: claimed ahead (see
//! `Builder::claim_ahead`: only for jobs shorter than about a microsecond),
//! one coarse unit of a run of more than 2^32 - 1 jobs, or the last rank's
//! remainder of such a run (timed from the end of `setup`). Calls served
//! without a visit count as no time in `give_more`. With per-call timing (`Builder::per_call_timing`,
//! `DLB_PER_CALL_TIMING=1`, always for the static variant) every call is
//! timed, as the figures' definitions say.

use crate::clock::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One rank's figures for the last run, from [`Dlb::statistics`](crate::Dlb::statistics).
///
/// A *work slice* is the time between two `give_more` calls, when the
/// program ran the chunk it was given; by default, when dlb claimed several
/// chunks ahead for very short jobs, the chunks of one claim form one slice
/// (see [`Builder::per_call_timing`](crate::Builder::per_call_timing)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Jobs handed to this rank.
    pub jobs: u64,
    /// `give_more` calls, the final one included.
    pub calls: u64,
    /// Time spent inside `give_more`, the final call included (by default
    /// calls served from chunks claimed ahead, a few nanoseconds each, are
    /// not timed).
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
    /// Successful claims from the own range (each one atomic on it; fewer
    /// than the calls served from the own range when dlb claims ahead).
    pub claims: u64,
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

/// What a rank records during a run: counts on every call, times over
/// *stretches* of `give_more` (every call with per-call timing, else every
/// visit to the shared range).
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    per_call: bool,
    setup_end: Instant,
    /// When the last stretch that found work ended.
    last_return: Option<Instant>,
    /// When this rank last began a stretch after work (its last job done).
    last_done: Option<Instant>,
    pub(crate) stats: Statistics,
}

impl Timeline {
    /// A timeline that times every call (`per_call`) or every visit.
    pub(crate) fn new(per_call: bool) -> Timeline {
        Timeline {
            per_call,
            setup_end: Instant::now(),
            last_return: None,
            last_done: None,
            stats: Statistics::default(),
        }
    }

    /// Whether every call is timed.
    pub(crate) fn per_call(&self) -> bool {
        self.per_call
    }

    /// The rank starts the run with work in hand (the static block, or a
    /// huge run's remainder): the time until the first stretch is work.
    pub(crate) fn work_from_setup(&mut self) {
        self.last_return = Some(self.setup_end);
    }

    /// A timed stretch begins; the work since the last one (if it found
    /// work) is a work slice.
    pub(crate) fn begin(&mut self) -> Instant {
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

    /// The stretch that began at `began` ends, with work found or, if not,
    /// the run over on this rank. Reads the clock once (and returns that
    /// time); the wall clock only at the end of the run, where both
    /// wall-clock figures come from it.
    pub(crate) fn end(&mut self, began: Instant, found: bool) -> Instant {
        let now = Instant::now();
        let s = &mut self.stats;
        s.time_in_give_more += now - began;
        if found {
            self.last_return = Some(now);
        } else {
            s.final_call = now - began;
            s.setup_to_end = Some(now - self.setup_end);
            let told = wall_ns();
            s.told_ns = Some(told);
            s.last_done_ns = self
                .last_done
                .map(|d| told.saturating_sub((now - d).as_nanos() as u64));
        }
        now
    }

    /// One `give_more` call returned `jobs` jobs (0: "no more").
    pub(crate) fn count(&mut self, jobs: u64) {
        self.stats.calls += 1;
        self.stats.jobs += jobs;
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
        let mut t = Timeline::new(true);
        for (jobs, pause) in [(3, 2), (2, 1), (0, 0)] {
            let e = t.begin();
            t.count(jobs);
            t.end(e, jobs > 0);
            std::thread::sleep(Duration::from_millis(pause));
        }
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
