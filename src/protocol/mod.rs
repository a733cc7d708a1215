//! The steal protocol: how job units move between ranks, exactly once, with
//! nothing but single-word atomics on `(rank, slot)` (see [`crate::atomics`]).
//!
//! # State
//!
//! Every rank `r` owns three words, each on its own cache line:
//!
//! - `Range[r]`: a [`RangeWord`] `[start, end)` of units that `r` may still
//!   hand out. Accessed only by compare-and-swap (CAS).
//! - `Finished[r]`: how many runs have been declared finished to `r`.
//!   Accessed only by fetch-and-add.
//! - `Done[0]` (rank 0 only): jobs reported completed, summed over all runs,
//!   wrapping. Accessed only by fetch-and-add.
//!
//! Each rank also keeps private state: `own`, the last value it saw in its
//! own `Range` word; `unreported`, jobs it completed but has not added to
//! `Done`; and the private pending range of the layer above
//! (`crate::dispenser`), which this module never sees.
//!
//! # Operations
//!
//! - **Claim** (owner, from the front): CAS `Range[me]` from `own = [s, e)`
//!   to `[s + k, e)`. On failure the CAS returned the current value (a thief
//!   moved `e`): retry with it. One operation when uncontended.
//! - **Steal** (thief, from the back): read `Range[v]` of a random victim
//!   `v`; if it is `[s, e)` with `s < e`, CAS it to `[s, m)` where
//!   `m = e - ceil((e - s) / 2)`. Success gives the thief `[m, e)`. An empty
//!   read is [`Steal::Empty`]; a lost CAS is [`Steal::Retry`].
//! - **Install** (owner, only while its own word is empty): CAS
//!   `Range[me]` from `own` (empty) to the stolen remainder.
//! - **Report** (a rank that ran out of work): fetch-and-add its
//!   `unreported` count to `Done[0]`. The report that brings this run's count
//!   to the run's job total `N` makes its rank the *finisher*, which adds 1 to
//!   `Finished[r]` of every rank `r`.
//! - **Finish check** (idle ranks, between steal attempts): read
//!   `Finished[me]`; the run is over when it reaches the number of runs
//!   (with `N > 0`) begun so far.
//!
//! A rank that runs out of work reports, then alternates finish checks and
//! steal attempts with exponential backoff ([`idle::Backoff`]); its sleeps
//! wait on its own `Finished` word, so on shared memory the finisher wakes
//! it at once (a futex; elsewhere a plain sleep), until a steal
//! succeeds or the run is finished. Each attempt picks a random victim, except
//! that after a lost race ([`Steal::Retry`]) the thief stays with the victim
//! that has work.
//!
//! # Invariants
//!
//! The model checkers (`src/model_check.rs`: loom over every interleaving of
//! 2 and 3 ranks, shuttle over random schedules of 4 to 8) run this code and
//! assert three properties that follow from the invariants below:
//! **exactly once**, every job is handed out to exactly one rank;
//! **no early end**, no rank is told "no more" while a job is unfinished;
//! **termination**, every rank is told "no more" within a bounded number of
//! steps once all jobs are done. They also run two deliberately broken
//! variants (`Bug`, test builds only) and must find the violation each one causes.
//!
//! 1. *Partition.* At every instant, the unclaimed units of a run are the
//!    disjoint union of the nonempty `Range` words, the units a thief holds
//!    between a successful steal and its install, and the ranks' private
//!    pending ranges. Each unit is in exactly one of them, or handed out.
//! 2. *Monotone words.* Between installs, a `Range` word only shrinks: the
//!    owner raises `start`, thieves lower `end`. Only the owner writes an
//!    empty word, and only to install.
//! 3. *Counting.* `Done - base <= N`, where `base` is the counter's value at
//!    the start of the run; it equals `N` exactly when every job of the run
//!    was completed and reported.
//!
//! # Why every job is handed out exactly once
//!
//! Units leave a word only through a successful CAS, which is atomic on the
//! whole word: the units between the old and the new value are given to the
//! one rank whose CAS succeeded, and no other CAS can succeed against the
//! old value afterwards. Claims take from the front and steals from the back
//! of the value they replaced, so what is taken and what remains partition
//! that value (invariant 1). Installs only write words that are empty, and
//! the installed units come from a successful steal, so they were in no word
//! at that moment.
//!
//! # Why there is no ABA
//!
//! Within a run, a word's value is the whole truth about the units it holds:
//! whatever the history, if `Range[v]` holds `[s, e)` then exactly those
//! units are unclaimed there. Every CAS computes its new value from its
//! expected value alone, so when it succeeds the transition is valid at that
//! instant, whether the expected value was read just now, read long ago, or
//! guessed. Thieves use this: on software RMA (Open MPI osc/pt2pt or
//! osc/ucx without hardware atomics, MPICH over TCP) a busy victim serves
//! remote operations only inside MPI, once per `give_more`, and claims once
//! per `give_more` too, so a CAS against the value last returned always
//! arrives one claim late. A thief therefore also tries the value it
//! predicts after one more claim of the same size. (Besides, a value
//! cannot recur: once a word changed, some of its units were handed out or
//! moved to a range that never merges back.) Thieves never CAS against an
//! empty value, and the owner is the only writer of an empty word.
//!
//! Across runs the same bits would mean other jobs, so runs must not
//! overlap: `setup` is collective (an all-reduce that no rank leaves before
//! every rank has left the previous run), and only then does a rank install
//! its new range.
//!
//! # Why every rank terminates, and only when all jobs are done
//!
//! *Safety:* a rank answers "no more" only after it finished the run itself
//! or saw its `Finished` word reach the run's number; both happen only after
//! some report brought `Done` to `N` (invariant 3), and a job is reported
//! only after the rank that ran it asked for more, i.e. after it completed.
//! Only a true empty leads to the idle state: a lost race (`Retry`) is never
//! mistaken for the end.
//!
//! *Liveness:* while some job is unfinished, some rank holds it and is
//! working. When all jobs are completed, every rank has run dry and reported
//! everything (a rank reports before idling), so the last report reaches `N`
//! and its rank adds 1 to every `Finished` word. Each idle rank checks its own
//! `Finished` word at least once per backoff period (at most about a
//! millisecond), so every rank answers "no more". Because every report adds
//! at least one job, exactly one report reaches `N`, and each `Finished` word
//! grows by exactly one per run.
//!
//! The `Done` word is touched once per idle period per rank (not once per
//! chunk), `Finished` words once per run: the hot words stay cold.

mod idle;
mod word;

pub(crate) use word::{RangeWord, MAX_UNITS};

use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{Atomics, Slot};
use crate::error::{Error, Result};
use idle::{Backoff, Sweep};
use std::ops::Range;
use std::time::{Duration, Instant};

/// The rank that holds the global done counter.
const DONE_RANK: usize = 0;
/// CAS attempts a thief makes on one victim, alternating the value each
/// failed CAS returned and a prediction, before it reports [`Steal::Retry`].
const STEAL_CAS_TRIES: u32 = 4;

/// The outcome of one steal attempt.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Steal {
    /// The victim had nothing to steal.
    Empty,
    /// The thief now owns these units.
    Success(Range<u64>),
    /// The victim's word kept changing under the thief; try again.
    Retry,
}

/// Deliberate bugs, switched on only by the model checkers' tests
/// (`src/model_check.rs`), which must find the violations they cause; in
/// every other build `has_bug` is constant false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bug {
    /// A thief keeps its loot even when its CAS failed: jobs handed out twice.
    StealIgnoresCas,
    /// The finisher fires one job early: "no more" while a job is unfinished.
    FinishOneEarly,
}

/// Counters of protocol events in the current run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) steal_attempts: u64,
    pub(crate) steals: u64,
    pub(crate) units_stolen: u64,
    pub(crate) claim_retries: u64,
    pub(crate) reports: u64,
    pub(crate) idle: Duration,
    pub(crate) longest_idle: Duration,
}

/// One rank's side of the protocol.
#[derive(Debug)]
pub(crate) struct Protocol<A: Atomics> {
    atomics: A,
    /// Last value seen in this rank's own `Range` word.
    own: RangeWord,
    /// `Done` at the start of the current run (wrapping).
    done_base: u64,
    /// Jobs in the current run.
    total: u64,
    /// Completed jobs not yet added to `Done`.
    unreported: u64,
    /// Runs with `N > 0` begun so far: `Finished[me]` reaches it at the end.
    finish_target: u64,
    /// The last value read from `Finished[me]`, to sleep on.
    finished_seen: u64,
    finished: bool,
    rng: Rng,
    counters: Counters,
    #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
    bug: Option<Bug>,
}

impl<A: Atomics> Protocol<A> {
    /// A protocol endpoint over freshly zeroed words (no run yet).
    pub(crate) fn new(atomics: A, seed: u64) -> Protocol<A> {
        let rng = Rng::new(seed ^ (atomics.rank() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Protocol {
            atomics,
            own: RangeWord::default(),
            done_base: 0,
            total: 0,
            unreported: 0,
            finish_target: 0,
            finished_seen: 0,
            finished: true,
            rng,
            counters: Counters::default(),
            #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
            bug: None,
        }
    }

    /// Switches on a deliberate bug (model-checking tests only).
    #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
    pub(crate) fn with_bug(mut self, bug: Option<Bug>) -> Self {
        self.bug = bug;
        self
    }

    /// Whether the deliberate `bug` is on: always false outside the
    /// model-checking tests.
    #[allow(unused_variables)]
    fn has_bug(&self, bug: Bug) -> bool {
        #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
        {
            self.bug == Some(bug)
        }
        #[cfg(not(all(test, any(dlb_loom, dlb_shuttle))))]
        {
            false
        }
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
    }

    pub(crate) fn atomics(&self) -> &A {
        &self.atomics
    }

    /// Starts a run of `total` jobs in which this rank first owns `units`.
    ///
    /// Must be called by every rank after a collective operation that no
    /// rank leaves before all ranks finished the previous run.
    pub(crate) fn begin_run(&mut self, units: Range<u64>, total: u64) -> Result<()> {
        if !self.finished || !self.own.is_empty() || self.unreported != 0 {
            return Err(Error::internal(
                "a run began before the previous one finished",
            ));
        }
        self.done_base = self.done_base.wrapping_add(self.total);
        self.total = total;
        self.counters = Counters::default();
        self.finished = total == 0;
        if total > 0 {
            self.finish_target += 1;
        }
        self.install(units)
    }

    /// Adds `jobs` completed jobs to this rank's unreported count.
    pub(crate) fn complete(&mut self, jobs: u64) {
        self.unreported += jobs;
    }

    /// Claims `want(start)` units (at least one) from the front of this
    /// rank's own range, where `start` is the first unit of the range.
    /// `None` when the range is empty.
    pub(crate) fn claim(&mut self, want: impl Fn(u64) -> u64) -> Result<Option<Range<u64>>> {
        // Serve thieves and reports waiting on this rank first (software RMA).
        self.atomics.progress()?;
        while !self.own.is_empty() {
            let (rest, taken) = self.own.take_front(want(self.own.start()).max(1));
            let seen = self.cas(self.atomics.rank(), self.own, rest)?;
            if seen == self.own {
                self.own = rest;
                return Ok(Some(taken));
            }
            // A thief lowered our end: retry against what the CAS returned.
            self.own = seen;
            self.counters.claim_retries += 1;
        }
        Ok(None)
    }

    /// One steal attempt on `victim`.
    pub(crate) fn steal(&mut self, victim: usize) -> Result<Steal> {
        self.counters.steal_attempts += 1;
        let mut expected = RangeWord::from_bits(self.atomics.load(victim, Slot::Range)?);
        if expected.is_empty() {
            return Ok(Steal::Empty);
        }
        for attempt in 0..STEAL_CAS_TRIES {
            let (rest, taken) = expected.take_back_half();
            let current = self.cas(victim, expected, rest)?;
            if current == expected || self.has_bug(Bug::StealIgnoresCas) {
                self.counters.steals += 1;
                self.counters.units_stolen += taken.end - taken.start;
                return Ok(Steal::Success(taken));
            }
            if current.is_empty() {
                return Ok(Steal::Empty);
            }
            // Lost to the owner or another thief. With software RMA a busy
            // victim serves one operation per visit to MPI and claims once
            // per visit too, so a CAS against the value just returned is
            // always one claim late: every other attempt bets that the
            // owner claims the same amount again (safe: see the module doc).
            expected = if attempt % 2 == 0 {
                current.after_same_claim(expected)
            } else {
                current
            };
        }
        Ok(Steal::Retry)
    }

    /// Makes `units` this rank's own range. The own word must be empty.
    fn install(&mut self, units: Range<u64>) -> Result<()> {
        let new = RangeWord::new(units);
        let seen = self.cas(self.atomics.rank(), self.own, new)?;
        if seen != self.own {
            return Err(Error::internal(format!(
                "own range word changed while empty: expected {:#x}, found {:#x}",
                self.own.bits(),
                seen.bits()
            )));
        }
        self.own = new;
        Ok(())
    }

    /// Benchmarks, outside runs: makes `units` the own range (which must be
    /// empty), for thieves to steal from.
    pub(crate) fn bench_fill(&mut self, units: Range<u64>) -> Result<()> {
        self.install(units)
    }

    /// Benchmarks, outside runs: claims whatever is left of the own range,
    /// so the next run starts from an empty word.
    pub(crate) fn bench_drain(&mut self) -> Result<()> {
        while self.claim(|_| u64::MAX)?.is_some() {}
        Ok(())
    }

    /// Called when this rank has no work left: reports, then hunts until a
    /// steal succeeds (returns the first `want(start)` units of the loot,
    /// the rest installed as the own range) or the run is finished (`None`).
    pub(crate) fn find_work(&mut self, want: impl Fn(u64) -> u64) -> Result<Option<Range<u64>>> {
        debug_assert!(self.own.is_empty());
        self.report()?;
        let started = Instant::now();
        let mut backoff = Backoff::new();
        let mut victim = None;
        let mut sweep = Sweep::new(self.atomics.size());
        let found = loop {
            sweep.begin_attempt(&self.atomics);
            if self.is_finished()? {
                break None;
            }
            // Let thieves probing this (empty) rank see so without waiting
            // out the backoff sleep (software RMA).
            self.atomics.progress()?;
            if self.atomics.size() < 2 {
                // Alone, a rank that ran dry has done everything: its report
                // finished the run. Getting here means the counts are wrong.
                return Err(Error::internal(
                    "a single rank ran dry before the run finished",
                ));
            }
            // A victim that made us retry has work: stay with it.
            let target = match victim {
                Some(v) => v,
                None => self.rng.victim(self.atomics.rank(), self.atomics.size()),
            };
            victim = None;
            match self.steal(target)? {
                Steal::Success(loot) => {
                    let take = want(loot.start).clamp(1, loot.end - loot.start);
                    self.install(loot.start + take..loot.end)?;
                    break Some(loot.start..loot.start + take);
                }
                Steal::Empty if MODEL_CHECKING => sweep.found_empty(&self.atomics, target),
                Steal::Empty => {
                    // Sleep on our Finished word: the finisher wakes us.
                    let (atomics, seen) = (&self.atomics, self.finished_seen);
                    backoff.snooze_with(|d| atomics.wait(Slot::Finished, seen, d));
                }
                Steal::Retry => victim = Some(target),
            }
        };
        let waited = started.elapsed();
        self.counters.idle += waited;
        self.counters.longest_idle = self.counters.longest_idle.max(waited);
        Ok(found)
    }

    /// Adds the unreported jobs to `Done`; the report that completes the run
    /// tells every rank.
    fn report(&mut self) -> Result<()> {
        if self.unreported == 0 || self.finished {
            return Ok(());
        }
        let mine = std::mem::take(&mut self.unreported);
        let before = self.atomics.fetch_add(DONE_RANK, Slot::Done, mine)?;
        self.counters.reports += 1;
        let done = before.wrapping_add(mine).wrapping_sub(self.done_base);
        if done > self.total {
            return Err(Error::internal(format!(
                "{done} jobs reported done in a run of {}: a job was handed out twice",
                self.total
            )));
        }
        let early = self.has_bug(Bug::FinishOneEarly) && done + 1 == self.total;
        if done == self.total || early {
            for rank in 0..self.atomics.size() {
                self.atomics.fetch_add(rank, Slot::Finished, 1)?;
                self.atomics.wake(rank, Slot::Finished)?;
            }
            self.finished = true;
        }
        Ok(())
    }

    /// Whether this run is over, reading `Finished[me]` if not known yet.
    pub(crate) fn is_finished(&mut self) -> Result<bool> {
        if !self.finished {
            let seen = self.atomics.load(self.atomics.rank(), Slot::Finished)?;
            self.finished_seen = seen;
            self.finished = seen >= self.finish_target;
        }
        Ok(self.finished)
    }

    fn cas(&self, target: usize, expected: RangeWord, new: RangeWord) -> Result<RangeWord> {
        let seen =
            self.atomics
                .compare_and_swap(target, Slot::Range, expected.bits(), new.bits())?;
        Ok(RangeWord::from_bits(seen))
    }
}

/// xorshift64*: cheap, good enough to spread victims.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniformly random rank other than `me` (needs `size >= 2`).
    fn victim(&mut self, me: usize, size: usize) -> usize {
        let r = (((self.next() >> 32) * (size as u64 - 1)) >> 32) as usize;
        if r >= me {
            r + 1
        } else {
            r
        }
    }
}

#[cfg(test)]
mod tests;
