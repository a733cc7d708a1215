//! The lock-steal baseline: the Fortran DLB library's RMA variant in
//! outline, as `ci/smpi`'s driver runs it, on one thread per simulated
//! rank over the simulator's atomics (like dlb itself, `dlb_run.rs`).
//!
//! Every rank's remaining range `[start, end)` is two words of its own,
//! guarded by a ticket lock on the same rank (a next-ticket and a serving
//! word, taken with fetch-and-add and waited for with reads, backing off
//! from 1 µs, doubling while under 100 µs, so up to 128 µs, as the driver
//! does). The owner takes `maxjobs` jobs under its own lock. A
//! rank that ran dry adds what it completed to a done counter on rank 0,
//! then visits every other rank in turn, `rank + 1, rank + 2, ...`: under the
//! victim's lock it reads the range and, if it is not empty, moves the
//! victim's end down to the middle, then installs the back half as its own
//! range under its own lock. If no rank had jobs, it reads the done counter
//! and stops once it reaches the job count; else it sleeps 50 µs and
//! sweeps again. Every operation is an MPI atomic (the library's window
//! spans all ranks), costed as the simulator costs any atomic: shared
//! memory between ranks of a node (or, under `smpi`, an MPI atomic served
//! at the node-mate: `Latency::mate_rma`), `hw_rdma` or `sw_rma` across
//! nodes, and each waited for before the next.

use super::atomics::{nanos, SimAtomics, World};
use super::dlb_run::{no_end, run_ranks, RankOut, Shared};
use super::{Outcome, Scenario};
use crate::atomics::{Atomics, Slot};
use crate::error::{Error, Result};
use crate::protocol::{NodeMap, Topology};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// The words of the baseline, on cross-node slots of the simulated window
/// (any rank reaches them with MPI atomics).
const START: Slot = Slot::Inbox0;
const END: Slot = Slot::Inbox1;
const NEXT_TICKET: Slot = Slot::Inbox2;
const SERVING: Slot = Slot::Inbox3;
/// On rank 0.
const DONE: Slot = Slot::Done;

/// Before the first claim, as the barrier after the window's creation:
/// every rank has written its range by then.
const START_BARRIER: Duration = Duration::from_micros(10);
/// The pause of a rank that found no jobs anywhere.
const EMPTY_SWEEP_PAUSE: Duration = Duration::from_micros(50);
/// A pause while waiting for a lock doubles while under this (so it ends
/// at 128 µs), as in `ci/smpi`'s driver.
const LOCK_PAUSE_DOUBLES_BELOW: Duration = Duration::from_micros(100);
/// How often a rank that stopped enters MPI while it waits for the others.
const AFTER_RUN_POLL: Duration = Duration::from_micros(20);

/// Runs `sc` under the lock-steal baseline.
pub(crate) fn run(sc: &Scenario) -> Result<Outcome> {
    run_ranks(sc, one_rank)
}

/// One rank's claims, steals and jobs.
struct Rank<'a> {
    a: SimAtomics,
    world: &'a World,
    me: usize,
    limit: u64,
}

impl Rank<'_> {
    fn now(&self) -> u64 {
        self.world.kernel.now()
    }

    fn pause(&self, d: Duration) -> Result<()> {
        Ok(self.world.kernel.advance(self.me, self.now() + nanos(d))?)
    }

    /// Before an operation on `target`: each of the baseline's operations
    /// is an MPI call, also on a node-mate's word, and makes progress on
    /// this rank's window, so that the others' operations on it are served
    /// (software RMA). Where the profile costs a node-mate's word as shared
    /// memory, that MPI call is added here; where it serves it as an MPI
    /// atomic (`Latency::mate_rma`, `smpi`), the operation makes its own.
    fn mpi(&self, target: usize) -> Result<usize> {
        let mate = target != self.me && self.a.topology().is_mate(target);
        if mate && self.world.latency.mate_rma.is_none() {
            self.a.progress()?;
        }
        Ok(target)
    }

    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        self.a.fetch_add(self.mpi(target)?, slot, delta)
    }

    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        self.a.read(self.mpi(target)?, slot)
    }

    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        self.a.swap(self.mpi(target)?, slot, new)
    }

    fn lock(&self, target: usize) -> Result<()> {
        let ticket = self.fetch_add(target, NEXT_TICKET, 1)?;
        let mut pause = Duration::from_micros(1);
        while self.read(target, SERVING)? != ticket {
            if self.now() > self.limit {
                return Err(no_end(self.me, self.limit));
            }
            self.pause(pause)?;
            if pause < LOCK_PAUSE_DOUBLES_BELOW {
                pause *= 2;
            }
        }
        Ok(())
    }

    fn unlock(&self, target: usize) -> Result<()> {
        self.fetch_add(target, SERVING, 1).map(drop)
    }

    /// Up to `k` jobs from the own range, under the own lock.
    fn claim(&self, k: u64) -> Result<Option<std::ops::Range<u64>>> {
        self.lock(self.me)?;
        let (s, e) = (self.a.read(self.me, START)?, self.a.read(self.me, END)?);
        let jobs = if s < e {
            let take = k.min(e - s);
            let from = self.a.fetch_add(self.me, START, take)?;
            Some(from..from + take)
        } else {
            None
        };
        self.unlock(self.me)?;
        Ok(jobs)
    }

    /// One visit to `victim`: the back half of its range, installed as the
    /// own range; false if it had none.
    fn steal(&self, victim: usize) -> Result<bool> {
        self.lock(victim)?;
        let (lo, hi) = (self.read(victim, START)?, self.read(victim, END)?);
        if lo >= hi {
            self.unlock(victim)?;
            return Ok(false);
        }
        let mid = hi - (hi - lo).div_ceil(2);
        self.swap(victim, END, mid)?;
        self.unlock(victim)?;
        self.lock(self.me)?;
        self.a.swap(self.me, START, mid)?;
        self.a.swap(self.me, END, hi)?;
        self.unlock(self.me)?;
        Ok(true)
    }
}

fn one_rank(
    world: &Arc<World>,
    map: Arc<NodeMap>,
    me: usize,
    sc: &Scenario,
    shared: &Shared,
    limit: u64,
) -> Result<RankOut> {
    world.kernel.enter(me)?;
    let r = Rank {
        a: SimAtomics::new(Arc::clone(world), Topology::of(me, map), false),
        world,
        me,
        limit,
    };
    let (p, n) = (sc.ranks as u128, u128::from(sc.jobs));
    let bound = |rank: usize| (n * rank as u128 / p) as u64;
    r.a.swap(me, START, bound(me))?;
    r.a.swap(me, END, bound(me + 1))?;
    r.pause(START_BARRIER)?;
    let mut out = RankOut::default();
    let mut unreported = 0;
    // When this rank last began to look for jobs.
    let mut looking = r.now();
    loop {
        if r.now() > limit {
            return Err(no_end(me, limit));
        }
        if let Some(jobs) = r.claim(sc.maxjobs.max(1))? {
            out.last_handout = r.now();
            out.waited += out.last_handout - looking;
            let cost: u64 = jobs.clone().map(|i| sc.cost(i)).sum();
            r.pause(Duration::from_nanos(cost))?;
            out.last_job_done = r.now();
            shared.completed.fetch_add(jobs.end - jobs.start, Relaxed);
            unreported += jobs.end - jobs.start;
            out.chunks.push(jobs);
            looking = r.now();
            continue;
        }
        if unreported > 0 {
            r.fetch_add(0, DONE, std::mem::take(&mut unreported))?;
        }
        let mut stolen = false;
        for k in 1..sc.ranks {
            out.steal_attempts += 1;
            if r.steal((me + k) % sc.ranks)? {
                out.steals += 1;
                stolen = true;
                break;
            }
        }
        if stolen {
            continue;
        }
        if r.read(0, DONE)? >= sc.jobs {
            break;
        }
        r.pause(EMPTY_SWEEP_PAUSE)?;
    }
    let completed = shared.completed.load(Relaxed);
    if completed != sc.jobs {
        return Err(Error::internal(format!(
            "rank {me} stopped at {} ns with {completed} of {} jobs done",
            r.now(),
            sc.jobs
        )));
    }
    out.told_at = r.now();
    out.last_call = looking;
    shared.told.fetch_add(1, Relaxed);
    // Serve the others' operations (software RMA) until every rank stopped.
    while shared.told.load(Relaxed) < sc.ranks {
        if r.now() > limit {
            return Err(no_end(me, limit));
        }
        r.a.progress()?;
        r.pause(AFTER_RUN_POLL)?;
    }
    Ok(out)
}
