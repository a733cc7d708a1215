//! Model checking of the steal protocol, run by `ci/model-check`.
//!
//! The real code (the dispenser on top of the protocol, over in-process
//! atomics from [`crate::atomics::primitive`]) runs with one model thread
//! per rank. A model is a [`Case`]: ranks in nodes, one or more runs in a
//! row (each after a barrier, as `setup`'s all-reduce is; their job counts
//! differ, and coarse runs precede and follow fine ones), a mapping, a
//! victim seed, maybe a deliberate bug. What is explored, exactly:
//!
//! - loom (`--cfg dlb_loom`): all schedules that preempt a running rank at
//!   most `LOOM_MAX_PREEMPTIONS` times (2 in CI; more does not finish on 2
//!   cores). Not every interleaving: bugs that need more context switches
//!   are out of reach. The models: 2 ranks on one node, 0 to 6 jobs,
//!   `maxjobs` 1 and 2, the plain, color and round-robin mappings (one
//!   run); 2 ranks, two runs in a row (3 then 2 jobs, 0 then 3, 4 then 5,
//!   each mapping; and plain runs in coarse units: 2^32 + 7, 2^63 - 1 and
//!   2^63 - 2^31 jobs followed by 4, 3 and 2 jobs, and 3 jobs followed by
//!   2^32 + 7); 3 ranks on one node, 0 to 6 jobs (12 cases), alternating
//!   victim seeds 2 and 8; 2 nodes of one rank, 1, 3, 5 and 6 jobs under
//!   each mapping, 8 and 2^32 + 7 jobs plain, and 1 and 3 jobs plain
//!   ending through the node tree, and the same nodes with direct steals
//!   (1, 3, 5 and 6 jobs, 3 then 4 in two runs, and 3 through the tree).
//!   The victim seed is a choice only with 3 ranks on a node (with 2
//!   there is one victim). At bound 2 no thief loses two CASes in a row
//!   (that takes three switches), so the *steal race* (an owner claiming 5
//!   or 8 units one at a time while one node-mate makes a steal attempt) runs
//!   at bound 4 and reaches the predicted CAS and `Steal::Retry`. 2 nodes of
//!   2 ranks is `--ignored` (too slow for CI).
//! - shuttle (`--cfg dlb_shuttle`): random and PCT (depth 3) schedules,
//!   each with its own victim seed drawn from shuttle's random source (so a
//!   failing schedule replays with its seed: the ignored test
//!   `shuttle_models::replay` says how), which also picks the chunk
//!   schedule (fixed, guided or factoring; loom keeps fixed chunks). Every
//!   configuration runs two runs in a row: 4 to 8 ranks on one node with
//!   300 to 2500 jobs per run
//!   (8 configurations, two of them with a run in coarse units: 2^63 - 1
//!   and 2^32 + 7 jobs), and 4 to 8 ranks in nodes of 1 to 4 with 200 to
//!   1200 jobs per run (7 configurations, one with a run of 2^63 - 2^31
//!   jobs, one of two nodes of unequal size, 3 and 2 ranks); three runs in
//!   a row across nodes (3 configurations); direct steals across nodes, 6
//!   ranks in nodes of 2 and of 3 and 5 in nodes of 1, two runs each
//!   (random schedules, N/4); where looks come first (the
//!   protocol's "Looks": idle ranks knock, owners push gifts, counts wait
//!   for looks; "Knocks"; peeks of knocks now and then stale or torn), 4
//!   ranks in nodes of 2 and 5 in nodes of 1,
//!   two runs each, 6 in nodes of 3, three short runs, and 6 in nodes of 2
//!   (a leader that carries and forwards after looks), two runs, and hunters that
//!   look once idle long, 4 in nodes of 1, two runs (random schedules,
//!   N/4). Schedules per configuration, with
//!   `DLB_SHUTTLE_ITERATIONS` = N (12 500 unless set): random N on one node
//!   and N/2 across nodes, PCT N/6 and N/12 (a PCT schedule costs about a
//!   run whatever its jobs), three runs N/5.
//!
//! Across nodes, operations on another node's words are queued at their
//! target and take effect only when it calls `progress` (software RMA at its
//! worst), and a rank that left never serves again. Runs across two nodes
//! end flat (the protocol's "Flat end": each leader decides for its node),
//! unless a model asks for the node tree (`Case::tree`, as for the seeded
//! bugs of rank 0's watch and notices). The node tree that
//! carries counts up to rank 0 and "finished" down to the nodes' leaders
//! is a chain there (one child per node), so the models of 3 and 5 nodes
//! pass both over two and four hops.
//!
//! Each model asserts the invariants stated in the protocol's module doc:
//! every job is handed out exactly once (the chunks handed out in a run
//! form a disjoint cover of its positions, checked by sorting them, so a
//! run of 2^63 - 1 jobs costs what one of 6 does); no rank is told "no
//! more" while a job is unfinished; every rank is told "no more" (a rank
//! that loops forever exceeds loom's branch bound or shuttle's step bound,
//! and fails). Each test also counts what its schedules did
//! ([`explored`]: steals, takes across nodes, and the protocol paths of
//! `Path`: predicted CAS tried and won, `Retry`, installs, finishes,
//! relays, ...), prints the counts (`--nocapture`), and fails if a path its
//! models must reach was never taken. The requirements hold at the
//! default counts and at CI's (`ci/model-check --quick` gives the four
//! slowest shuttle tests N = 6000); much smaller `DLB_SHUTTLE_ITERATIONS`
//! may miss the rare paths.
//!
//! The tests named `finds_*` switch on each deliberate bug (`Bug`) and
//! assert that the checker reports a violation, so a checker that cannot
//! fail would fail them. Shuttle finds all seventeen (two of the flat end:
//! `KeptBeforeUnsent`, `FlatSkipsFlush`); loom the six that end in a
//! panic rather than a deadlock (loom aborts the process on a deadlock,
//! which the test cannot catch): `StealIgnoresCas`, `FinishOneEarly`,
//! `StealCasesEmpty` (2 ranks), `FinishCountsRunTwice` (2 runs),
//! `PredictedStealStaleHalf` (the steal race) and `DepositKeepsUnits`
//! (2 nodes).
#![cfg(all(test, any(dlb_loom, dlb_shuttle)))]

mod explored;
#[cfg(dlb_loom)]
mod loom_models;
#[cfg(dlb_shuttle)]
mod shuttle_models;

use crate::atomics::primitive::{thread, Arc, AtomicU64, Condvar, Mutex, Ordering::SeqCst};
use crate::atomics::LocalAtomics;
use crate::dispenser::Dispenser;
use crate::mapping::{Colors, Contiguous, Mapping, RoundRobin};
use crate::protocol::{Bug, Looks, Protocol, MAX_UNITS};
use crate::{Schedule, MAX_JOBS};
use std::fmt;
use std::ops::Range;

/// Runs `explore`, a model with a deliberate `bug`, and asserts that the
/// checker reported a violation (a panic). Prints the first panic in one
/// line, the violation found, instead of every panic on the way.
fn assert_finds(checker: &str, bug: Bug, explore: impl FnOnce() + std::panic::UnwindSafe) {
    let first = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let hook = std::panic::take_hook();
    let record = std::sync::Arc::clone(&first);
    std::panic::set_hook(Box::new(move |info| {
        if !is_coroutine_end(info) {
            let mut first = record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| info.to_string().replace('\n', ": "));
        }
    }));
    let found = std::panic::catch_unwind(explore);
    std::panic::set_hook(hook);
    assert!(
        found.is_err(),
        "{checker} found no violation in the protocol with {bug:?}"
    );
    let first = first
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "{checker} finds {bug:?}: {}",
        first.as_deref().unwrap_or("?")
    );
}

/// Whether a panic is no failure but loom ending a model thread: the
/// `generator` crate under loom unwinds every finished coroutine with a
/// panic, millions of them in one test.
fn is_coroutine_end(info: &std::panic::PanicHookInfo<'_>) -> bool {
    info.location()
        .is_some_and(|at| at.file().contains("/generator-"))
}

/// The largest coarse run: `MAX_JOBS` (2^63 - 1) jobs in units of
/// 2^31 + 1 jobs, 2^32 - 2 units, and one job left over that the last rank
/// hands out privately.
const COARSE_MAX: u64 = MAX_JOBS;
/// The smallest coarse run: 2^32 + 7 jobs in units of two jobs, one left over.
const COARSE_MIN: u64 = MAX_UNITS + 8;
/// A coarse run whose units fill a range word exactly: 2^63 - 2^31 jobs in
/// units of 2^31 jobs, `MAX_UNITS` units, nothing left over.
const COARSE_FULL: u64 = MAX_UNITS << 31;

/// One run of a model: its jobs and the `maxjobs` every rank asks for.
#[derive(Clone, Copy, Debug)]
struct Run {
    jobs: u64,
    maxjobs: u64,
}

impl Run {
    const fn new(jobs: u64, maxjobs: u64) -> Run {
        Run { jobs, maxjobs }
    }

    /// A run of `jobs` jobs in which each of `ranks` ranks hands out its
    /// initial block in about `chunks` chunks: coarse runs need a
    /// `maxjobs` in proportion.
    const fn coarse(jobs: u64, ranks: u64, chunks: u64) -> Run {
        Run::new(jobs, jobs / ranks / chunks)
    }
}

/// Where the seed of the ranks' victim choices comes from.
#[derive(Clone, Copy, Debug)]
enum Seed {
    /// The same seed in every schedule.
    Fixed(u64),
    /// A seed drawn in each schedule from shuttle's random source, which
    /// the schedule records: a failing schedule replays with its seed.
    #[cfg(dlb_shuttle)]
    PerSchedule,
}

impl Seed {
    fn draw(self) -> u64 {
        match self {
            Seed::Fixed(seed) => seed,
            #[cfg(dlb_shuttle)]
            Seed::PerSchedule => shuttle::rand::RngCore::next_u64(&mut shuttle::rand::thread_rng()),
        }
    }
}

/// The mappings a model can run.
#[derive(Clone, Copy, Debug)]
enum Model {
    Plain,
    /// Colors `[a, 0, b]`, an empty color in the middle.
    Color,
    /// Round robin over as many blocks as ranks.
    Rr,
}

/// A model: `ranks` model threads in nodes of `per_node`, running `runs`
/// in a row (each after a barrier, as `setup`'s all-reduce is) under
/// `model`, with victim seed `seed` and maybe a deliberate `bug`.
#[derive(Clone, Debug)]
struct Case {
    ranks: usize,
    per_node: usize,
    model: Model,
    runs: Vec<Run>,
    seed: Seed,
    bug: Option<Bug>,
    /// Direct steals: idle ranks of a dry node steal from other nodes'
    /// ranges (passive atomics, which blocking operations here are).
    direct: bool,
    /// When hunters look before they take (see the protocol's "Looks").
    looks: Looks,
    /// Whether runs across two nodes end through the node tree, not flat
    /// (see the protocol's "Flat end").
    tree: bool,
}

impl Case {
    /// `ranks` ranks on one node running `runs` in a row.
    fn new(ranks: usize, model: Model, runs: &[Run]) -> Case {
        Case {
            ranks,
            per_node: ranks,
            model,
            runs: runs.to_vec(),
            seed: Seed::Fixed(0x5eed),
            bug: None,
            direct: false,
            looks: Looks::Off,
            tree: false,
        }
    }

    /// The same where runs across two nodes end through the node tree,
    /// as on more nodes (rank 0 watches, notices, relays), not flat.
    fn tree(mut self) -> Case {
        self.tree = true;
        self
    }

    /// The same with direct steals.
    fn direct(mut self) -> Case {
        self.direct = true;
        self
    }

    /// The same where looks come first: hunters knock instead of taking,
    /// counts wait for looks.
    #[cfg_attr(not(dlb_shuttle), allow(dead_code))]
    fn looks(mut self) -> Case {
        self.looks = Looks::First;
        self
    }

    /// The same with hunters that look before they take once idle long
    /// (here: while a take of theirs is in flight).
    #[cfg_attr(not(dlb_shuttle), allow(dead_code))]
    fn looks_when_idle_long(mut self) -> Case {
        self.looks = Looks::WhenIdleLong;
        self
    }

    /// The same in nodes of `per_node` ranks.
    fn in_nodes_of(mut self, per_node: usize) -> Case {
        self.per_node = per_node;
        self
    }

    fn seed(mut self, seed: Seed) -> Case {
        self.seed = seed;
        self
    }

    fn bug(mut self, bug: Bug) -> Case {
        self.bug = Some(bug);
        self
    }

    /// Runs one schedule of this model; panics on any violation.
    fn check(&self) {
        let ranks = self.ranks as u64;
        match self.model {
            Model::Plain => run_model(self, Contiguous::new),
            Model::Color => run_model(self, |jobs| {
                let a = jobs / 2;
                Colors::new(&[a, 0, jobs - a], u64::MAX).unwrap()
            }),
            Model::Rr => run_model(self, |jobs| RoundRobin::new(jobs, ranks)),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ranks", self.ranks)?;
        if self.per_node < self.ranks {
            write!(f, " in nodes of {}", self.per_node)?;
        }
        write!(f, ", {:?}", self.model)?;
        for (i, run) in self.runs.iter().enumerate() {
            let sep = if i == 0 { ", runs of" } else { " then" };
            write!(f, "{sep} {} jobs/maxjobs {}", run.jobs, run.maxjobs)?;
        }
        match self.seed {
            Seed::Fixed(seed) => write!(f, ", seed {seed:#x}")?,
            #[cfg(dlb_shuttle)]
            Seed::PerSchedule => write!(f, ", a seed per schedule")?,
        }
        if let Some(bug) = self.bug {
            write!(f, ", bug {bug:?}")?;
        }
        if self.direct {
            write!(f, ", direct steals")?;
        }
        if self.tree {
            write!(f, ", ends through the tree")?;
        }
        match self.looks {
            Looks::Off => {}
            Looks::WhenIdleLong => write!(f, ", looks before takes once idle long")?,
            Looks::First => write!(f, ", knocks and looks before counts")?,
        }
        Ok(())
    }
}

/// A barrier between runs, as `setup`'s all-reduce is: nobody begins run
/// `r + 1` before every rank left run `r`.
struct Barrier {
    /// Ranks arrived in the current round, and rounds completed.
    state: Mutex<(usize, usize)>,
    all_in: Condvar,
    ranks: usize,
}

impl Barrier {
    fn new(ranks: usize) -> Barrier {
        Barrier {
            state: Mutex::new((0, 0)),
            all_in: Condvar::new(),
            ranks,
        }
    }

    fn wait(&self) {
        let mut state = self.state.lock().unwrap();
        let round = state.1;
        state.0 += 1;
        if state.0 == self.ranks {
            *state = (0, round + 1);
            self.all_in.notify_all();
        }
        while state.1 == round {
            state = self.all_in.wait(state).unwrap();
        }
    }
}

/// One schedule of `case`, whose runs map positions with `mapping(jobs)`;
/// panics on any violation in any run.
fn run_model<M>(case: &Case, mapping: impl Fn(u64) -> M)
where
    M: Mapping + Clone + Send + 'static,
{
    let p = case.ranks;
    let runs: Vec<(M, u64)> = case
        .runs
        .iter()
        .map(|run| (mapping(run.jobs), run.maxjobs))
        .collect();
    // Jobs completed so far in each run, over all ranks: one shared word per
    // run, so that the termination check sees the truth at the moment "no
    // more" is answered.
    let completed: Arc<Vec<AtomicU64>> =
        Arc::new((0..runs.len()).map(|_| AtomicU64::new(0)).collect());
    let barrier = Arc::new(Barrier::new(p));
    let (seed, bug, direct, looks) = (case.seed.draw(), case.bug, case.direct, case.looks);
    let tree = case.tree;
    // Chunk sizes: a seed drawn per schedule (shuttle) also picks the
    // schedule; fixed seeds (loom's models) keep fixed chunks.
    let schedule = if matches!(case.seed, Seed::Fixed(_)) {
        Schedule::Fixed
    } else {
        [Schedule::Fixed, Schedule::Guided, Schedule::Factoring][(seed % 3) as usize]
    };
    // Where ranks knock, their peeks of knocks are now and then stale or
    // torn, as a load that overlaps a put may be.
    let threads: Vec<_> = LocalAtomics::nodes(p, case.per_node)
        .into_iter()
        .map(|a| match looks {
            Looks::First => a.with_noisy_knocks(),
            _ => a,
        })
        .enumerate()
        .map(|(rank, atomics)| {
            let (runs, completed) = (runs.clone(), Arc::clone(&completed));
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut protocol = Protocol::new(atomics, seed).with_bug(bug);
                protocol.set_direct_steals(direct);
                protocol.set_looks(looks);
                protocol.set_flat_end(!tree);
                // One chunk per claim: claiming ahead depends on the real
                // clock, which the checkers do not control (replays must be
                // deterministic); the protocol sees the same claims of one
                // or several units either way.
                let mut dispenser = Dispenser::new(Some(protocol), rank, p, MAX_UNITS)
                    .pace(false, 1)
                    .schedule(schedule);
                let mut got: Vec<Vec<Range<u64>>> = Vec::new();
                for (run, (mapping, maxjobs)) in runs.iter().enumerate() {
                    if run > 0 {
                        barrier.wait();
                    }
                    got.push(one_run(&mut dispenser, mapping, *maxjobs, &completed[run]));
                }
                got
            })
        })
        .collect();
    let mut chunks: Vec<Vec<Range<u64>>> = vec![Vec::new(); runs.len()];
    for t in threads {
        for (run, got) in t.join().unwrap().into_iter().enumerate() {
            chunks[run].extend(got);
        }
    }
    for (run, chunks) in chunks.into_iter().enumerate() {
        assert_exactly_once(run, chunks, runs[run].0.jobs());
    }
}

/// Asserts that the chunks of positions handed out in run `run`, over all
/// ranks, are a disjoint cover of `0..jobs`: every job handed out exactly
/// once. Sorting costs the number of chunks, not of jobs, so a coarse run
/// of 2^63 - 1 jobs checks as cheaply as one of 6.
fn assert_exactly_once(run: usize, mut chunks: Vec<Range<u64>>, jobs: u64) {
    chunks.sort_by_key(|c| c.start);
    let mut next = 0;
    for c in &chunks {
        assert!(
            c.start >= next,
            "run {run}: jobs {:?} handed out twice",
            c.start..next.min(c.end)
        );
        assert!(
            c.start == next,
            "run {run}: jobs {:?} never handed out",
            next..c.start
        );
        next = c.end;
    }
    assert_eq!(
        next, jobs,
        "run {run}: jobs {next}..{jobs} never handed out"
    );
}

/// One rank's part of one run: the chunks it was handed.
fn one_run<M: Mapping>(
    dispenser: &mut Dispenser<LocalAtomics>,
    mapping: &M,
    maxjobs: u64,
    completed: &AtomicU64,
) -> Vec<Range<u64>> {
    let jobs = mapping.jobs();
    dispenser.begin(jobs).unwrap();
    let mut got: Vec<Range<u64>> = Vec::new();
    let mut last = 0;
    loop {
        completed.fetch_add(last, SeqCst); // the previous chunk is done
        match dispenser.next(mapping, maxjobs).unwrap() {
            Some(chunk) => {
                last = chunk.end - chunk.start;
                assert!(
                    last >= 1 && last <= maxjobs,
                    "chunk {chunk:?} for maxjobs {maxjobs}"
                );
                assert!(
                    chunk.end <= mapping.segment_end(chunk.start),
                    "{chunk:?} crosses a segment"
                );
                got.push(chunk);
            }
            None => {
                assert_eq!(
                    completed.load(SeqCst),
                    jobs,
                    "'no more' while a job is unfinished"
                );
                let counters = dispenser.counters();
                let protocol = dispenser.protocol_mut().expect("the RMA variant");
                explored::record(counters, protocol.take_paths());
                return got;
            }
        }
    }
}
