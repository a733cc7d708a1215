//! dlb itself in the simulator: every rank's thread runs the library's
//! dispenser and protocol, unchanged, over [`SimAtomics`], computing each
//! chunk's jobs as virtual time outside MPI. Checks, as the model checkers
//! do, that every job is handed out exactly once and that no rank hears
//! "no more" while a job is unfinished.

use super::atomics::{nanos, SimAtomics, World};
use super::{Outcome, Scenario};
use crate::dispenser::{Dispenser, DEFAULT_CLAIM_AHEAD};
use crate::error::{Error, Result};
use crate::mapping::Contiguous;
use crate::mpi::host_threads;
use crate::protocol::{NodeMap, Protocol, Topology, MAX_UNITS};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// How often a rank that heard "no more" enters MPI while it waits for the
/// others (as in a barrier after the loop).
const AFTER_RUN_POLL: Duration = Duration::from_micros(20);
/// Stack of a simulated rank's thread.
const STACK: usize = 256 << 10;

/// What the ranks share besides the world.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Jobs completed so far.
    pub(super) completed: AtomicU64,
    /// Ranks told "no more".
    pub(super) told: AtomicUsize,
    /// Ranks told and with no operation in flight.
    pub(super) quiet: AtomicUsize,
}

/// One rank's result.
#[derive(Debug, Default)]
pub(super) struct RankOut {
    pub(super) chunks: Vec<Range<u64>>,
    /// When its last chunk's jobs were done (ns).
    pub(super) last_job_done: u64,
    /// When its last chunk was handed out (ns).
    pub(super) last_handout: u64,
    /// Time spent in the `give_more` calls that handed out a chunk (ns).
    pub(super) waited: u64,
    /// When it entered the `give_more` that answered "no more" (ns).
    pub(super) last_call: u64,
    /// When it heard "no more" (ns).
    pub(super) told_at: u64,
    pub(super) steals: u64,
    pub(super) steal_attempts: u64,
}

/// What one simulated rank runs (see [`run_ranks`]).
pub(super) type RankBody =
    fn(&Arc<World>, Arc<NodeMap>, usize, &Scenario, &Shared, u64) -> Result<RankOut>;

thread_local! {
    /// The world and rank of a simulated rank's thread, for the clock.
    static CURRENT: std::cell::RefCell<Option<(Arc<World>, usize)>> =
        const { std::cell::RefCell::new(None) };
}

/// Virtual time on a simulated rank's thread.
pub(crate) fn now_ns() -> Option<u64> {
    CURRENT.with(|c| c.borrow().as_ref().map(|(w, _)| w.kernel.now()))
}

/// Lets `d` of virtual time pass on a simulated rank's thread; false
/// elsewhere.
pub(crate) fn sleep(d: Duration) -> bool {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some((w, rank)) => {
            let until = w.kernel.now().saturating_add(nanos(d));
            // An abort surfaces at the rank's next operation.
            let _ = w.kernel.advance(*rank, until);
            true
        }
        None => false,
    })
}

/// Runs `sc` under dlb with hunger marks across nodes
/// (`DLB_DIRECT_STEALS=0`).
pub(crate) fn run(sc: &Scenario) -> Result<Outcome> {
    run_ranks(sc, |w, m, r, sc, sh, l| one_rank(w, m, r, sc, sh, l, false))
}

/// Runs `sc` under dlb with direct steals (`DLB_DIRECT_STEALS=1`).
pub(crate) fn run_direct(sc: &Scenario) -> Result<Outcome> {
    run_ranks(sc, |w, m, r, sc, sh, l| one_rank(w, m, r, sc, sh, l, true))
}

/// A simulated rank's thread: `body`, on `cpu` if given, with its failure
/// (or panic) reported to the kernel so that the others stop too.
#[allow(clippy::too_many_arguments)] // one rank's share of `run_ranks`
fn rank_thread(
    world: &Arc<World>,
    map: Arc<NodeMap>,
    rank: usize,
    sc: &Scenario,
    shared: &Shared,
    body: RankBody,
    limit: u64,
    cpu: Option<usize>,
) -> Result<RankOut> {
    if let Some(cpu) = cpu {
        host_threads::pin_current_thread(cpu);
    }
    CURRENT.with(|c| *c.borrow_mut() = Some((Arc::clone(world), rank)));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        body(world, map, rank, sc, shared, limit)
    }));
    let out = match out {
        Ok(out) => out,
        Err(panic) => Err(Error::internal(panic_text(&panic))),
    };
    world
        .kernel
        .finish(rank, out.as_ref().err().map(ToString::to_string));
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

/// Runs `body` on every rank of `sc`, each on a thread of its own in
/// virtual time, and checks the chunks the ranks ran (every job exactly
/// once) and when they heard "no more".
pub(super) fn run_ranks(sc: &Scenario, body: RankBody) -> Result<Outcome> {
    let p = sc.ranks;
    let world = Arc::new(World::new(p, sc.latency));
    let map = Arc::new(NodeMap::blocks(p, sc.per_node));
    let shared = Arc::new(Shared::default());
    let bound_ns = sc.bound_ns();
    let limit = Scenario::time_limit_ns(bound_ns);
    // Every rank's thread on the CPU this one runs on, and a futex hash
    // for as many threads: the baton then passes in a few microseconds
    // (`crate::mpi::host_threads`). Best effort: without either, the same
    // simulation, slower.
    let cpu = host_threads::current_cpu();
    host_threads::widen_futex_hash(p);
    let mut threads = Vec::with_capacity(p);
    for rank in 0..p {
        let (world, map, shared, sc) = (
            Arc::clone(&world),
            Arc::clone(&map),
            Arc::clone(&shared),
            sc.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("sim-rank-{rank}"))
            .stack_size(STACK)
            .spawn(move || rank_thread(&world, map, rank, &sc, &shared, body, limit, cpu));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot start simulated rank {rank}'s thread: {e}"
                )))
            }
        }
    }
    let ended = world.kernel.run();
    let mut outs = Vec::with_capacity(p);
    let mut first_error = None;
    for t in threads {
        match t.join() {
            Ok(Ok(out)) => outs.push(out),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(panic) => {
                first_error.get_or_insert(Error::internal(panic_text(&panic)));
            }
        }
    }
    if let Err(why) = ended {
        return Err(Error::internal(format!("simulation failed: {why}")));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut chunks: Vec<Range<u64>> = outs.iter_mut().flat_map(|o| o.chunks.drain(..)).collect();
    super::check_exactly_once(&mut chunks, sc.jobs)?;
    let makespan = outs.iter().map(|o| o.told_at).max().unwrap_or(0);
    let last_job = outs.iter().map(|o| o.last_job_done).max().unwrap_or(0);
    // A rank's calls up to its own last chunk all ended before the run's
    // last chunk; of its last call, the part before that chunk counts.
    let last_handout = outs.iter().map(|o| o.last_handout).max().unwrap_or(0);
    let waited_with_work = outs
        .iter()
        .map(|o| o.waited + last_handout.saturating_sub(o.last_call))
        .sum();
    let (hottest_rank, hottest_rank_ops) = world.hottest();
    Ok(Outcome {
        makespan_ns: makespan,
        bound_ns,
        termination_ns: makespan.saturating_sub(last_job),
        steals: outs.iter().map(|o| o.steals).sum(),
        steal_attempts: outs.iter().map(|o| o.steal_attempts).sum(),
        cross_ops: world.cross_ops.load(Relaxed),
        shm_ops: world.shm_ops.load(Relaxed),
        switches: world.kernel.switches(),
        hottest_rank,
        hottest_rank_ops,
        told_ns: outs.iter().map(|o| o.told_at).collect(),
        waited_with_work_ns: waited_with_work,
    })
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a simulated rank panicked".into())
}

/// One rank: its loop of `give_more` and jobs, then, until every rank
/// heard "no more", entering MPI now and then. `direct`: direct steals.
fn one_rank(
    world: &Arc<World>,
    map: Arc<NodeMap>,
    rank: usize,
    sc: &Scenario,
    shared: &Shared,
    limit: u64,
    direct: bool,
) -> Result<RankOut> {
    let kernel = &world.kernel;
    kernel.enter(rank)?;
    let atomics = SimAtomics::new(Arc::clone(world), Topology::of(rank, map), direct);
    let mut protocol = Protocol::new(atomics, sc.seed);
    protocol.set_direct_steals(direct);
    if let Some(k) = sc.tree_fan_out {
        protocol.set_tree_fan_out(k);
    }
    let claim_ahead = if sc.claim_ahead {
        DEFAULT_CLAIM_AHEAD
    } else {
        1
    };
    let mut d = Dispenser::new(Some(protocol), rank, sc.ranks, MAX_UNITS)
        .pace(false, claim_ahead)
        .schedule(sc.schedule);
    let mapping = Contiguous::new(sc.jobs);
    d.begin(sc.jobs)?;
    if sc.late_ranks.contains(&rank) {
        kernel.advance(rank, kernel.now() + nanos(sc.late_by))?;
    }
    let mut out = RankOut::default();
    loop {
        if kernel.now() > limit {
            return Err(no_end(rank, limit));
        }
        let entered = kernel.now();
        match d.next(&mapping, sc.maxjobs)? {
            Some(chunk) => {
                out.last_handout = kernel.now();
                out.waited += out.last_handout - entered;
                let cost: u64 = chunk.clone().map(|i| sc.cost(i)).sum();
                kernel.advance(rank, kernel.now() + cost)?;
                out.last_job_done = kernel.now();
                shared.completed.fetch_add(chunk.end - chunk.start, Relaxed);
                out.chunks.push(chunk);
            }
            None => {
                let completed = shared.completed.load(Relaxed);
                if completed != sc.jobs {
                    return Err(Error::internal(format!(
                        "rank {rank} heard 'no more' at {} ns with {completed} of {} jobs done",
                        kernel.now(),
                        sc.jobs
                    )));
                }
                out.told_at = kernel.now();
                out.last_call = entered;
                break;
            }
        }
    }
    let counters = d.counters();
    out.steals = counters.steals;
    out.steal_attempts = counters.steal_attempts;
    shared.told.fetch_add(1, Relaxed);
    let protocol = d
        .protocol_mut()
        .ok_or_else(|| Error::internal("the RMA variant has a protocol"))?;
    let mut quiet = false;
    loop {
        protocol.poll_outside_run()?;
        if !quiet && shared.told.load(Relaxed) == sc.ranks && !protocol.ops_in_flight() {
            quiet = true;
            shared.quiet.fetch_add(1, Relaxed);
        }
        if shared.quiet.load(Relaxed) == sc.ranks {
            return Ok(out);
        }
        if kernel.now() > limit {
            return Err(no_end(rank, limit));
        }
        kernel.advance(rank, kernel.now() + nanos(AFTER_RUN_POLL))?;
    }
}

pub(super) fn no_end(rank: usize, limit: u64) -> Error {
    Error::internal(format!(
        "rank {rank}: the run did not end within {:.3} s of virtual time",
        limit as f64 / 1e9
    ))
}
