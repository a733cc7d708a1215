//! One rank's side of a run above the protocol: converts units to
//! positions, keeps the private pending range, clips every chunk to
//! `maxjobs` and to the mapping's segment, counts completions, and runs the
//! static variant (no protocol at all). How many chunks one claim takes is
//! in `ahead.rs`, how large a chunk may be by schedule in `schedule.rs`;
//! what is timed when, in `src/stats.rs`.
//!
//! A chunk handed out by one `next` call is complete when `next` is called
//! again; it is reported to the protocol (counted toward termination) at
//! the next call that visits the protocol, which is the next call unless
//! chunks are pending (claimed ahead, or part of a coarse unit); the call
//! that answers "no more" always visits, after reporting everything.
//!
//! When tracing (`src/trace/`), every call also reads the clock and hands
//! the recorder the chunk, how it was obtained, the waits for work and the
//! protocol's steal attempts.

mod ahead;
mod schedule;
mod units;

use crate::atomics::Atomics;
use crate::clock::Instant;
use crate::config::Schedule;
use crate::error::{Error, Result};
use crate::mapping::split::block;
use crate::mapping::Mapping;
use crate::protocol::{Counters, Protocol, MAX_UNITS};
use crate::stats::{Statistics, Timeline};
use crate::trace::{How, Recorder};
use ahead::Ahead;
pub(crate) use ahead::DEFAULT_CAP as DEFAULT_CLAIM_AHEAD;
use schedule::Sizer;
use std::ops::Range;
use units::UnitPlan;

/// Hands out positions for one rank.
#[derive(Debug)]
pub(crate) struct Dispenser<A: Atomics> {
    /// `None` for the static variant.
    protocol: Option<Protocol<A>>,
    rank: u64,
    size: u64,
    /// Units per half-word at most (tests lower it to reach the unit path).
    max_units: u64,
    plan: UnitPlan,
    /// Positions this rank holds privately (claimed units not yet handed
    /// out, the unit remainder, or the static block).
    pending: Range<u64>,
    /// Positions handed out and not yet reported to the protocol (by the
    /// last call, or by the calls since the last visit on the quick path).
    handed: u64,
    /// A run was set up and has not yet answered "no more" here.
    open: bool,
    /// The last `begin` of the RMA variant failed (an MPI error, or a
    /// broken invariant) after the collective that starts a run: the
    /// others began it and wait for this rank as for one inside it.
    failed_begin: bool,
    timeline: Timeline,
    /// Every call timed (else every visit to the protocol).
    per_call_timing: bool,
    ahead: Ahead,
    /// Chunk sizes by schedule (the RMA variant). Its last limit caps the
    /// chunks of the pending positions: it is set only by the claim or the
    /// wait that filled them (`u64::MAX`: only `maxjobs`).
    sizer: Sizer,
    /// Calls served from pending chunks may skip the protocol and the
    /// clock: the RMA variant, without per-call timing or the watchdog
    /// (which wants a heartbeat per call).
    quick: bool,
    /// With per-call timing: this call claimed without a thief around (its
    /// end is when the claim's chunks start).
    just_claimed: bool,
    /// The recorder, when tracing.
    trace: Option<Box<Recorder>>,
    /// How the chunk the current call hands out was obtained (tracing).
    how: How,
}

impl<A: Atomics> Dispenser<A> {
    pub(crate) fn new(
        protocol: Option<Protocol<A>>,
        rank: usize,
        size: usize,
        max_units: u64,
    ) -> Self {
        // The static variant always times every call.
        let per_call_timing = protocol.is_none();
        Dispenser {
            protocol,
            rank: rank as u64,
            size: size as u64,
            max_units: max_units.clamp(1, MAX_UNITS),
            plan: UnitPlan::new(0, MAX_UNITS),
            pending: 0..0,
            handed: 0,
            open: false,
            failed_begin: false,
            timeline: Timeline::new(true),
            per_call_timing,
            ahead: Ahead::new(DEFAULT_CLAIM_AHEAD),
            sizer: Sizer::new(Schedule::Fixed, size as u64),
            just_claimed: false,
            quick: false,
            trace: None,
            how: How::Claim,
        }
    }

    /// Records every call from now on (tracing).
    pub(crate) fn set_trace(&mut self, recorder: Recorder) {
        self.trace = Some(Box::new(recorder));
    }

    /// Where the trace goes, when tracing.
    pub(crate) fn trace_path(&self) -> Option<&std::path::Path> {
        self.trace.as_deref().map(|t| t.path.as_path())
    }

    /// The recorder, when tracing; it takes the protocol's last steal
    /// records first.
    pub(crate) fn trace_mut(&mut self) -> Option<&mut Recorder> {
        let trace = self.trace.as_deref_mut()?;
        if let Some(log) = self.protocol.as_mut().and_then(Protocol::steal_log_mut) {
            trace.take_steals(log);
        }
        Some(trace)
    }

    /// Sets when the clock is read (see `src/stats.rs`; always per call for
    /// the static variant) and at most how many chunks a claim takes (see
    /// `ahead.rs`; 1: one).
    pub(crate) fn pace(mut self, per_call_timing: bool, claim_ahead: u64) -> Self {
        self.per_call_timing = per_call_timing || self.protocol.is_none();
        self.ahead = Ahead::new(claim_ahead);
        self.quick = !self.per_call_timing && self.protocol.as_ref().is_some_and(|p| !p.watching());
        self
    }

    /// Sets how large chunks may be (see `schedule.rs`; the RMA variant).
    pub(crate) fn schedule(mut self, schedule: Schedule) -> Self {
        self.sizer = Sizer::new(schedule, self.size);
        self
    }

    /// Whether a run is unfinished on this rank (also one whose `begin`
    /// failed here: the others began it).
    pub(crate) fn is_open(&self) -> bool {
        self.open || self.failed_begin
    }

    /// Records that this rank's part of starting a run of `jobs` positions
    /// failed after the collective that starts it, so that the others
    /// began it without this rank: it counts as inside the run for
    /// [`Dispenser::in_open_run`], and [`Dispenser::next`] fails.
    pub(crate) fn fail_begin(&mut self, jobs: u64) {
        self.plan = UnitPlan::new(jobs, self.max_units);
        self.pending = 0..0;
        self.open = false;
        self.failed_begin = true;
    }

    /// Whether this rank is inside an unfinished run of the RMA variant
    /// (set up, not yet told "no more"). The others then wait for it: for
    /// the jobs it handed out and has not reported, for positions and units
    /// only it can hand out (claimed ahead, the unit remainder, units
    /// received from other ranks, and, on a node of its own across nodes,
    /// its own range, which only its answers give away), or, where the run
    /// can end without it, in their cleanup or next run's setup for a rank
    /// that will not come. So does a rank whose `begin` failed after the
    /// others began the run. The static variant's ranks wait for nobody, nor
    /// do those of a run without jobs (each hears "no more" at once).
    pub(crate) fn in_open_run(&self) -> bool {
        (self.open || self.failed_begin) && self.protocol.is_some() && self.plan.jobs > 0
    }

    /// Protocol counters of this run (zero for the static variant).
    pub(crate) fn counters(&self) -> Counters {
        self.protocol
            .as_ref()
            .map(Protocol::counters)
            .unwrap_or_default()
    }

    /// The protocol of the RMA variant, outside runs (benchmarks).
    #[cfg(feature = "bench")]
    pub(crate) fn protocol_outside_run(&mut self) -> Option<&mut Protocol<A>> {
        if self.open {
            None
        } else {
            self.protocol.as_mut()
        }
    }

    /// The protocol of the RMA variant.
    pub(crate) fn protocol_mut(&mut self) -> Option<&mut Protocol<A>> {
        self.protocol.as_mut()
    }

    /// Whether the RMA variant steals directly across nodes.
    pub(crate) fn direct_steals(&self) -> bool {
        self.protocol.as_ref().is_some_and(Protocol::direct_steals)
    }

    /// How a run of the RMA variant ends across nodes (`None` on one node
    /// and for the static variant).
    pub(crate) fn end_description(&self) -> Option<String> {
        self.protocol.as_ref().and_then(Protocol::end_description)
    }

    /// The atomics of the RMA variant.
    pub(crate) fn atomics(&self) -> Option<&A> {
        self.protocol.as_ref().map(Protocol::atomics)
    }

    /// This rank's figures for the current or last run.
    pub(crate) fn statistics(&self) -> Statistics {
        let c = self.counters();
        Statistics {
            longest_wait: c.longest_idle,
            total_wait: c.idle,
            steal_attempts: c.steal_attempts,
            steals: c.steals,
            units_stolen: c.units_stolen,
            claims: c.claims,
            claim_retries: c.claim_retries,
            reports: c.reports,
            ..self.timeline.stats
        }
    }

    /// Starts a run of `jobs` positions. Call only after the collective that
    /// separates runs (see the protocol's module doc).
    pub(crate) fn begin(&mut self, jobs: u64) -> Result<()> {
        self.handed = 0;
        self.failed_begin = false;
        match &mut self.protocol {
            None => self.pending = block(jobs, self.size, self.rank),
            Some(protocol) => {
                self.plan = UnitPlan::new(jobs, self.max_units);
                let last = self.rank + 1 == self.size;
                self.pending = if last { self.plan.remainder() } else { 0..0 };
                let units = block(self.plan.units, self.size, self.rank);
                if let Err(e) = protocol.begin_run(units, jobs) {
                    // The others began the run and wait for this rank;
                    // nothing is handed out here from a run half begun.
                    self.fail_begin(jobs);
                    return Err(e);
                }
            }
        }
        self.open = true;
        self.timeline = Timeline::new(self.per_call_timing);
        if !self.pending.is_empty() && !self.timeline.per_call() {
            // The remainder of a huge run, handed out before any visit.
            self.timeline.work_from_setup();
        }
        self.ahead.reset();
        self.sizer.restart();
        self.just_claimed = false;
        if let Some(trace) = &mut self.trace {
            trace.begin_run(jobs);
        }
        Ok(())
    }

    /// The next chunk of at most `maxjobs` positions within one segment of
    /// `mapping`, or `None` when the run is over (and forever after).
    pub(crate) fn next<M: Mapping>(
        &mut self,
        mapping: &M,
        maxjobs: u64,
    ) -> Result<Option<Range<u64>>> {
        if maxjobs == 0 {
            return Err(Error::invalid_argument("maxjobs must be at least 1"));
        }
        if self.failed_begin {
            // Not "no more": the others began this run and wait for this
            // rank, and a program that went on would hang in its next
            // collective.
            return Err(Error::invalid_state(
                "setup failed on this rank after the other ranks began the run, which cannot \
                 end without it: end the job (dropping dlb does after 10 s)",
            ));
        }
        if !self.open {
            return Ok(None);
        }
        let traced = self.trace.as_deref_mut().map(|trace| {
            let now = trace.now();
            trace.enter(now);
            now
        });
        if self.quick && !self.pending.is_empty() {
            // Served from chunks claimed ahead: no atomic, no clock (unless
            // tracing). What was handed out since the last visit is
            // reported at the next.
            let chunk = self.cut(mapping, maxjobs);
            self.timeline.count(chunk.end - chunk.start);
            if let (Some(trace), Some(now)) = (self.trace.as_deref_mut(), traced) {
                trace.handed(How::Ahead, chunk.clone(), now);
            }
            return Ok(Some(chunk));
        }
        // An error leaves the run open: the next setup reports it everywhere.
        let entered = self.timeline.per_call().then(|| self.timeline.begin());
        let next = self.next_in_run(mapping, maxjobs, entered)?;
        let jobs = next.as_ref().map_or(0, |r| r.end - r.start);
        self.timeline.count(jobs);
        if let Some(entered) = entered {
            let left = self.timeline.end(entered, jobs > 0);
            if std::mem::take(&mut self.just_claimed) {
                self.ahead.claimed(left);
            }
        }
        self.open = next.is_some();
        if let Some(trace) = self.trace.as_deref_mut() {
            let now = trace.now();
            match &next {
                Some(chunk) => trace.handed(self.how, chunk.clone(), now),
                None => trace.no_more(now),
            }
        }
        Ok(next)
    }

    /// `entered`: when the call began, if every call is timed.
    fn next_in_run<M: Mapping>(
        &mut self,
        mapping: &M,
        maxjobs: u64,
        entered: Option<Instant>,
    ) -> Result<Option<Range<u64>>> {
        if let Some(protocol) = &mut self.protocol {
            protocol.alive()?;
        }
        let handed = std::mem::take(&mut self.handed);
        if self.pending.is_empty() {
            let Some(protocol) = &mut self.protocol else {
                return Ok(None); // static: this rank's block is done
            };
            protocol.complete(handed);
            // A visit to the shared range: timed here unless the call is.
            let (visit, now) = match entered {
                Some(entered) => (None, entered),
                None => {
                    let began = self.timeline.begin();
                    (Some(began), began)
                }
            };
            let chunks = self.ahead.claim_at(now);
            let mut uncontended = false;
            let plan = self.plan;
            let sizer = &self.sizer;
            // Units for `chunks` chunks of at most `maxjobs` jobs (and the
            // schedule's limit for a range of `units`) from the front of
            // `units`, within one segment.
            let want = |chunks: u64| {
                move |units: Range<u64>| {
                    let pos = units.start * plan.unit;
                    let remaining = (units.end - units.start).saturating_mul(plan.unit);
                    let chunk = maxjobs.min(sizer.limit(remaining));
                    let jobs = chunk.saturating_mul(chunks);
                    plan.units_for(jobs.min(mapping.segment_end(pos) - pos))
                }
            };
            let retries = protocol.counters().claim_retries;
            let claimed = protocol.claim(want(chunks))?;
            if protocol.counters().claim_retries != retries {
                self.ahead.reset(); // a thief is around
            } else {
                uncontended = claimed.is_some();
            }
            let units = match claimed {
                Some(units) => {
                    self.sizer.claimed();
                    self.how = How::Claim;
                    Some(units)
                }
                None => {
                    self.ahead.reset();
                    // New units, wherever they come from, are sized afresh.
                    sizer.restart();
                    // Waiting for work: one chunk, as wanted without ahead.
                    find_work(protocol, self.trace.as_deref_mut(), &mut self.how, want(1))?
                }
            };
            match visit {
                Some(visit) => {
                    let left = self.timeline.end(visit, units.is_some());
                    if uncontended {
                        self.ahead.claimed(left);
                    }
                }
                // The call's end, read in `next`, is the claim's.
                None => self.just_claimed = uncontended,
            }
            let Some(units) = units else {
                return Ok(None);
            };
            self.pending = plan.positions(units);
        } else if let Some(protocol) = &mut self.protocol {
            protocol.complete(handed);
            self.how = How::Ahead;
        } else {
            self.how = How::Static;
        }
        Ok(Some(self.cut(mapping, maxjobs)))
    }

    /// Hands out the front of the pending positions: at most `maxjobs`,
    /// within one segment of `mapping`.
    #[inline]
    fn cut<M: Mapping>(&mut self, mapping: &M, maxjobs: u64) -> Range<u64> {
        let start = self.pending.start;
        let end = self
            .pending
            .end
            .min(start.saturating_add(maxjobs.min(self.sizer.last_limit())))
            .min(mapping.segment_end(start));
        self.pending.start = end;
        self.handed += end - start;
        start..end
    }
}

/// Waits for work (`Protocol::find_work`); when tracing, records the wait
/// and the steal attempts, and sets `how` the units came.
fn find_work<A: Atomics>(
    protocol: &mut Protocol<A>,
    trace: Option<&mut Recorder>,
    how: &mut How,
    want: impl Fn(Range<u64>) -> u64,
) -> Result<Option<Range<u64>>> {
    let Some(trace) = trace else {
        return protocol.find_work(want);
    };
    let began = trace.now();
    let found = protocol.find_work(want)?;
    *how = protocol.found();
    trace.idle(began, trace.now(), found.is_some());
    if let Some(log) = protocol.steal_log_mut() {
        trace.take_steals(log);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomics::LocalAtomics;
    use crate::mapping::{Colors, Contiguous, RoundRobin};
    use std::sync::{Arc, Barrier};

    /// `p` threads drain one run of `mapping` through dispensers that claim
    /// up to `ahead` chunks at once; returns every chunk as positions, per
    /// rank.
    fn drain_all<M: Mapping + Clone + Send + 'static>(
        p: usize,
        mapping: M,
        maxjobs: u64,
        max_units: u64,
        rma: bool,
        ahead: u64,
        schedule: Schedule,
    ) -> Vec<Vec<Range<u64>>> {
        let barrier = Arc::new(Barrier::new(p));
        let threads: Vec<_> = LocalAtomics::group(p)
            .into_iter()
            .enumerate()
            .map(|(rank, a)| {
                let (mapping, barrier) = (mapping.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let proto = rma.then(|| Protocol::new(a, 9));
                    let mut d = Dispenser::new(proto, rank, p, max_units)
                        .pace(false, ahead)
                        .schedule(schedule);
                    barrier.wait();
                    d.begin(mapping.jobs()).unwrap();
                    let mut got = Vec::new();
                    while let Some(r) = d.next(&mapping, maxjobs).unwrap() {
                        assert!(r.end - r.start <= maxjobs && r.start < r.end);
                        assert!(
                            r.end <= mapping.segment_end(r.start),
                            "{r:?} crosses a segment"
                        );
                        got.push(r);
                    }
                    assert_eq!(
                        d.next(&mapping, maxjobs).unwrap(),
                        None,
                        "no more stays no more"
                    );
                    assert!(d.next(&mapping, 0).is_err());
                    got
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    fn assert_partition(chunks: &[Vec<Range<u64>>], jobs: u64) {
        let mut seen = vec![0u8; jobs as usize];
        for r in chunks.iter().flatten() {
            for pos in r.clone() {
                seen[pos as usize] += 1;
            }
        }
        assert!(
            seen.iter().all(|&c| c == 1),
            "positions not handed out exactly once"
        );
    }

    #[test]
    fn every_mapping_is_drained_exactly_once() {
        let schedules = [Schedule::Fixed, Schedule::Guided, Schedule::Factoring];
        for (rma, ahead) in [(true, 1), (true, DEFAULT_CLAIM_AHEAD), (false, 1)] {
            for (p, schedule) in [1, 2, 3, 5].into_iter().zip(schedules.iter().cycle()) {
                for maxjobs in [1, 2, 7, u64::MAX] {
                    for max_units in [MAX_UNITS, 7, 1] {
                        let s = *schedule;
                        let drain = |m| drain_all(p, m, maxjobs, max_units, rma, ahead, s);
                        assert_partition(&drain(Contiguous::new(101)), 101);
                        let c = Colors::new(&[10, 0, 13, 1, 0, 9, 0], u64::MAX).unwrap();
                        assert_partition(&drain_all(p, c, maxjobs, max_units, rma, ahead, s), 33);
                        let rr = RoundRobin::new(50, p as u64);
                        assert_partition(&drain_all(p, rr, maxjobs, max_units, rma, ahead, s), 50);
                    }
                }
            }
        }
    }

    #[test]
    fn schedules_shrink_chunks_as_the_range_empties_under_the_maxjobs_cap() {
        // Rank 0 of 4 takes `calls` chunks from its own range, jobs 0..250
        // of 1000 (the other ranks never draw, so it must not run dry).
        let sizes = |schedule: Schedule, maxjobs: u64, calls: usize| {
            let a = LocalAtomics::group(4).remove(0);
            let mut d = Dispenser::new(Some(Protocol::new(a, 3)), 0, 4, MAX_UNITS)
                .pace(false, 1)
                .schedule(schedule);
            let m = Contiguous::new(1000);
            d.begin(1000).unwrap();
            let mut next = 0;
            (0..calls)
                .map(|_| {
                    let r = d.next(&m, maxjobs).unwrap().unwrap();
                    assert_eq!(r.start, next, "in order");
                    next = r.end;
                    r.end - r.start
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(Schedule::Fixed, 100, 3), [100, 100, 50]);
        assert_eq!(sizes(Schedule::Guided, u64::MAX, 4), [63, 47, 35, 27]);
        assert_eq!(sizes(Schedule::Guided, 40, 4), [40, 40, 40, 33]);
        assert_eq!(
            sizes(Schedule::Factoring, u64::MAX, 5),
            [32, 32, 32, 32, 16]
        );
    }

    /// Claims (atomics on the own range) per call of one rank draining
    /// `jobs` zero-cost jobs one at a time, claiming up to `ahead` chunks.
    fn claims_per_call(ahead: u64, jobs: u64) -> (u64, u64) {
        let a = LocalAtomics::group(1).pop().unwrap();
        let mut d = Dispenser::new(Some(Protocol::new(a, 1)), 0, 1, MAX_UNITS).pace(false, ahead);
        let m = Contiguous::new(jobs);
        d.begin(jobs).unwrap();
        let mut next = 0;
        while let Some(r) = d.next(&m, 1).unwrap() {
            assert_eq!(r, next..next + 1, "in order, one at a time");
            next += 1;
        }
        assert_eq!(next, jobs);
        let s = d.statistics();
        assert_eq!((s.calls, s.jobs), (jobs + 1, jobs));
        (s.claims, s.calls)
    }

    #[test]
    fn very_short_jobs_are_claimed_ahead_and_cap_one_claims_each() {
        let (claims, calls) = claims_per_call(1, 5000);
        assert_eq!(claims, calls - 1, "one claim per job");
        // Zero-cost jobs: claims double up to 32 chunks unless the thread is
        // descheduled for 2 µs, which resets one claim in a run of many
        // (the bound holds while a call takes well under 1 µs).
        let (claims, calls) = claims_per_call(DEFAULT_CLAIM_AHEAD, 5000);
        assert!(claims * 2 < calls, "{claims} claims for {calls} calls");
    }

    #[test]
    fn units_from_a_steal_are_sized_from_the_loot() {
        // 2 ranks, 102 jobs: rank 0 drains its own 0..51 with factoring
        // (which ends in the middle of a batch), then steals the back half
        // of rank 1's 51..102, 76..102, whose first chunk is ceil(26 / 4).
        let mut group = LocalAtomics::group(2);
        let (a1, a0) = (group.pop().unwrap(), group.pop().unwrap());
        let mut d1 = Dispenser::new(Some(Protocol::new(a1, 1)), 1, 2, MAX_UNITS).pace(false, 1);
        let mut d0 = Dispenser::new(Some(Protocol::new(a0, 1)), 0, 2, MAX_UNITS)
            .pace(false, 1)
            .schedule(Schedule::Factoring);
        d1.begin(102).unwrap();
        d0.begin(102).unwrap();
        let m = Contiguous::new(102);
        let mut sizes = Vec::new();
        let stolen = loop {
            let r = d0.next(&m, u64::MAX).unwrap().unwrap();
            if r.start >= 51 {
                break r;
            }
            sizes.push(r.end - r.start);
        };
        assert_eq!(sizes.iter().sum::<u64>(), 51);
        assert_eq!(&sizes[..4], &[13, 13, 7, 7], "batches of 2");
        assert_eq!(stolen, 76..83, "sized from the loot, not the old batch");
    }

    #[test]
    fn a_rank_is_in_an_open_run_from_setup_until_no_more_unless_nobody_waits() {
        let mut group = LocalAtomics::group(2);
        let (a1, a0) = (group.pop().unwrap(), group.pop().unwrap());
        let mut d0 = Dispenser::new(Some(Protocol::new(a0, 1)), 0, 2, MAX_UNITS).pace(false, 1);
        let mut d1 = Dispenser::new(Some(Protocol::new(a1, 1)), 1, 2, MAX_UNITS).pace(false, 1);
        assert!(!d0.in_open_run(), "before any setup");
        // A run without jobs: each rank hears "no more" at once, so nobody
        // waits for a rank that never asks.
        d0.begin(0).unwrap();
        d1.begin(0).unwrap();
        assert!(!d0.in_open_run() && !d1.in_open_run(), "a run of 0 jobs");
        let m = Contiguous::new(0);
        assert_eq!(
            (d0.next(&m, 1).unwrap(), d1.next(&m, 1).unwrap()),
            (None, None)
        );
        // A run with jobs: in it from setup on, before the first give_more
        // (its own range holds units), until "no more".
        d0.begin(4).unwrap();
        d1.begin(4).unwrap();
        assert!(
            d0.in_open_run() && d1.in_open_run(),
            "set up, nothing asked yet"
        );
        let m = Contiguous::new(4);
        while d0.next(&m, 1).unwrap().is_some() {
            assert!(d0.in_open_run(), "holding a chunk");
        }
        assert!(!d0.in_open_run(), "told no more");
        assert!(d1.in_open_run(), "rank 1 never asked");
        // A rank whose begin fails after the others began: they wait for
        // it (here the failure is a report left over from the last run).
        while d1.next(&m, 1).unwrap().is_some() {}
        d0.begin(4).unwrap();
        d1.protocol_mut().unwrap().complete(1);
        assert!(d1.begin(4).is_err());
        assert!(d1.in_open_run(), "its begin failed");
        assert!(d1.is_open(), "the next setup fails everywhere");
        let e = d1.next(&m, 1).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidState, "{e}");
        // The static variant's ranks wait for nobody.
        let mut s = Dispenser::<LocalAtomics>::new(None, 0, 2, MAX_UNITS).pace(false, 1);
        s.begin(4).unwrap();
        assert!(!s.in_open_run(), "static variant");
    }

    #[test]
    fn static_variant_hands_out_the_own_block() {
        let chunks = drain_all(
            3,
            Contiguous::new(10),
            2,
            MAX_UNITS,
            false,
            1,
            Schedule::Guided,
        );
        assert_eq!(chunks[0], vec![0..2, 2..4]);
        assert_eq!(chunks[1], vec![4..6, 6..7]);
        assert_eq!(chunks[2], vec![7..9, 9..10]);
    }
}
