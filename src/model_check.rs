//! Model checking of the steal protocol, run by `ci/model-check`.
//!
//! The real code (the dispenser on top of the protocol, over in-process
//! atomics from [`crate::atomics::primitive`]) runs with one model thread
//! per rank:
//!
//! - under loom (`--cfg dlb_loom`), the interleavings of 2 and 3 ranks on
//!   one node and of 2 nodes of one rank, with up to 6 jobs, `maxjobs` 1 and
//!   2, for the plain, color and round-robin mappings. Not every
//!   interleaving: loom explores all schedules that preempt a running rank
//!   at most `LOOM_MAX_PREEMPTIONS` times (2 in CI), which finds the bugs
//!   that need few context switches; unbounded exploration does not finish.
//!   2 nodes of 2 ranks is `--ignored` (too slow for CI);
//! - under shuttle (`--cfg dlb_shuttle`), random and PCT schedules of 4 to 8
//!   ranks with thousands of jobs, on one node and in nodes of 1 to 4, and
//!   three runs in a row across nodes (hunger marks of one run still on
//!   their way in the next).
//!
//! Across nodes, operations on another node's words are queued at their
//! target and take effect only when it calls `progress` (software RMA at its
//! worst), and a rank that left never serves again.
//!
//! Each model asserts the invariants stated in the protocol's module doc:
//! every job is handed out exactly once; no rank is told "no more" while a
//! job is unfinished; every rank is told "no more" (a rank that loops
//! forever exceeds loom's branch bound or shuttle's step bound, and fails).
//! The tests named `finds_*` switch on each deliberate bug and assert that
//! the checker reports a violation, so a checker that cannot fail would
//! fail them.
#![cfg(all(test, any(dlb_loom, dlb_shuttle)))]

use crate::atomics::primitive::{thread, Arc, AtomicU64, Condvar, Mutex, Ordering::SeqCst};
use crate::atomics::LocalAtomics;
use crate::dispenser::Dispenser;
use crate::mapping::{Colors, Contiguous, Mapping, RoundRobin};
use crate::protocol::{Bug, Protocol, MAX_UNITS};
use std::ops::Range;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering::Relaxed};

/// Successful steals over all schedules a test explored (plain std atomic:
/// the checkers do not see it). A checker whose schedules never steal would
/// check little, so every test asserts that this grew.
static STEALS: StdAtomicU64 = StdAtomicU64::new(0);

/// Takes from another node that brought units, over all schedules.
static REMOTE_STEALS: StdAtomicU64 = StdAtomicU64::new(0);

/// Runs `explore` and asserts that its schedules took units from another
/// node at least once.
fn assert_remote_steals(explore: impl FnOnce()) {
    let before = REMOTE_STEALS.load(Relaxed);
    explore();
    assert!(
        REMOTE_STEALS.load(Relaxed) > before,
        "no schedule contained a take across nodes that brought units"
    );
}

/// The deliberate bugs that break the protocol on one node.
const ONE_NODE_BUGS: [Bug; 2] = [Bug::StealIgnoresCas, Bug::FinishOneEarly];

/// Runs `explore`, a model with a deliberate `bug`, and asserts that the
/// checker reported a violation (a panic).
fn assert_finds(checker: &str, bug: Bug, explore: impl FnOnce() + std::panic::UnwindSafe) {
    assert!(
        std::panic::catch_unwind(explore).is_err(),
        "{checker} found no violation in the protocol with {bug:?}"
    );
}

/// Runs `explore` and asserts that its schedules stole at least once.
fn assert_steals(explore: impl FnOnce()) {
    let before = STEALS.load(Relaxed);
    explore();
    assert!(
        STEALS.load(Relaxed) > before,
        "no schedule contained a steal"
    );
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

/// One run of `mapping` on `p` model threads in nodes of `per_node`;
/// panics on any violation.
fn run_model<M>(p: usize, per_node: usize, mapping: M, maxjobs: u64, bug: Option<Bug>)
where
    M: Mapping + Clone + Send + 'static,
{
    run_model_times(1, p, per_node, mapping, maxjobs, bug)
}

/// `runs` runs of `mapping` in a row (each after a barrier), on `p` model
/// threads in nodes of `per_node`; panics on any violation in any run.
fn run_model_times<M>(
    runs: usize,
    p: usize,
    per_node: usize,
    mapping: M,
    maxjobs: u64,
    bug: Option<Bug>,
) where
    M: Mapping + Clone + Send + 'static,
{
    let jobs = mapping.jobs();
    // Jobs completed so far in each run, over all ranks: one shared word per
    // run, so that the termination check sees the truth at the moment "no
    // more" is answered.
    let completed: Arc<Vec<AtomicU64>> = Arc::new((0..runs).map(|_| AtomicU64::new(0)).collect());
    let barrier = Arc::new(Barrier {
        state: Mutex::new((0, 0)),
        all_in: Condvar::new(),
        ranks: p,
    });
    let threads: Vec<_> = LocalAtomics::nodes(p, per_node)
        .into_iter()
        .enumerate()
        .map(|(rank, atomics)| {
            let (mapping, completed) = (mapping.clone(), Arc::clone(&completed));
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let protocol = Protocol::new(atomics, 0x5eed + rank as u64).with_bug(bug);
                let mut dispenser = Dispenser::new(Some(protocol), rank, p, MAX_UNITS);
                let mut got: Vec<Vec<Range<u64>>> = Vec::new();
                for run in 0..runs {
                    if run > 0 {
                        barrier.wait();
                    }
                    got.push(one_run(&mut dispenser, &mapping, maxjobs, &completed[run]));
                }
                got
            })
        })
        .collect();
    let mut count = vec![vec![0u32; jobs as usize]; runs];
    for t in threads {
        for (run, chunks) in t.join().unwrap().into_iter().enumerate() {
            for chunk in chunks {
                for pos in chunk {
                    count[run][pos as usize] += 1;
                }
            }
        }
    }
    for (run, count) in count.iter().enumerate() {
        for (pos, c) in count.iter().enumerate() {
            assert_eq!(*c, 1, "run {run}: job {pos} handed out {c} times");
        }
    }
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
                let c = dispenser.counters();
                STEALS.fetch_add(c.steals, Relaxed);
                REMOTE_STEALS.fetch_add(c.remote_steals, Relaxed);
                return got;
            }
        }
    }
}

/// The mappings a model can run.
#[derive(Clone, Copy, Debug)]
enum Model {
    Plain,
    Color,
    Rr(u64),
}

impl Model {
    /// Runs `jobs` jobs under this mapping on one node. Colors split the
    /// jobs as `[a, 0, b]` with an empty color in the middle.
    fn run(self, p: usize, jobs: u64, maxjobs: u64, bug: Option<Bug>) {
        self.run_on(p, p, jobs, maxjobs, bug)
    }

    /// Runs `jobs` jobs on `p` ranks in nodes of `per_node`.
    fn run_on(self, p: usize, per_node: usize, jobs: u64, maxjobs: u64, bug: Option<Bug>) {
        match self {
            Model::Plain => run_model(p, per_node, Contiguous::new(jobs), maxjobs, bug),
            Model::Color => {
                let a = jobs / 2;
                run_model(
                    p,
                    per_node,
                    Colors::new(&[a, 0, jobs - a], u64::MAX).unwrap(),
                    maxjobs,
                    bug,
                )
            }
            Model::Rr(ranks) => run_model(p, per_node, RoundRobin::new(jobs, ranks), maxjobs, bug),
        }
    }
}

#[cfg(dlb_loom)]
mod loom_models {
    use super::*;

    /// The three mappings, named, for `p` ranks.
    fn mappings(p: usize) -> [(&'static str, Model); 3] {
        [
            ("plain", Model::Plain),
            ("color", Model::Color),
            ("rr", Model::Rr(p as u64)),
        ]
    }

    /// Runs `f` under loom with the preemption bound from
    /// `LOOM_MAX_PREEMPTIONS` (default 2, as ci/model-check sets it), and
    /// says how long it took.
    fn check(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        let started = std::time::Instant::now();
        builder.check(f);
        eprintln!("    {:.2?}", started.elapsed());
    }

    /// Which units some explored schedule must move.
    #[derive(Clone, Copy)]
    enum Moves {
        /// Nothing required (too few jobs for a steal).
        None,
        /// A steal on any level.
        Steal,
        /// A take from another node that brought units.
        AcrossNodes,
    }

    /// Explores one case, named `label`, and asserts what it must move.
    fn explore(label: &str, moves: Moves, f: impl Fn() + Sync + Send + 'static) {
        eprintln!("loom: {label}");
        let explore = move || check(f);
        match moves {
            Moves::None => explore(),
            Moves::Steal => assert_steals(explore),
            Moves::AcrossNodes => assert_remote_steals(explore),
        }
    }

    #[test]
    fn two_ranks_bounded_interleavings() {
        for (name, model) in mappings(2) {
            for jobs in 0..=6 {
                for maxjobs in [1, 2] {
                    // Two ranks can steal as soon as one has two units.
                    explore(
                        &format!("2 ranks, {name}, {jobs} jobs, maxjobs {maxjobs}"),
                        if jobs >= 2 { Moves::Steal } else { Moves::None },
                        move || model.run(2, jobs, maxjobs, None),
                    );
                }
            }
        }
    }

    /// Three ranks cost about 30 s per case on 2 cores: the plain mapping
    /// gets every size, color and round robin (which only change where
    /// chunks are clipped) two sizes each.
    #[test]
    fn three_ranks_bounded_interleavings() {
        for (name, model) in mappings(3) {
            let cases: &[(u64, u64)] = match name {
                "plain" => &[
                    (0, 1),
                    (1, 1),
                    (2, 1),
                    (2, 2),
                    (4, 1),
                    (4, 2),
                    (6, 1),
                    (6, 2),
                ],
                _ => &[(4, 1), (5, 2)],
            };
            for &(jobs, maxjobs) in cases {
                explore(
                    &format!("3 ranks, {name}, {jobs} jobs, maxjobs {maxjobs}"),
                    if jobs >= 2 { Moves::Steal } else { Moves::None },
                    move || model.run(3, jobs, maxjobs, None),
                );
            }
        }
    }

    /// Two nodes of two ranks: the cross-node half of the protocol (offers,
    /// takes, remote reports, the leaders' relay) under every interleaving
    /// within the preemption bound, with cross-node operations served only
    /// when their target calls `progress`.
    #[test]
    #[ignore = "too slow for CI: 2 jobs ran over 3.5 minutes at preemption bound 2 on 2 cores; shuttle covers nodes of 2"]
    fn two_nodes_of_two_bounded_interleavings() {
        // Units can cross nodes only where an owner keeps a unit after a
        // claim: 6 jobs give node 0's ranks two units each.
        for &(jobs, maxjobs) in &[(0, 1), (2, 1), (6, 1)] {
            explore(
                &format!("2 nodes x 2 ranks, plain, {jobs} jobs, maxjobs {maxjobs}"),
                if jobs >= 6 {
                    Moves::AcrossNodes
                } else {
                    Moves::None
                },
                move || Model::Plain.run_on(4, 2, jobs, maxjobs, None),
            );
        }
    }

    /// Two nodes of one rank each: every unit that moves crosses nodes.
    #[test]
    fn two_nodes_of_one_bounded_interleavings() {
        for (name, model) in mappings(2) {
            // Rank 0 keeps a unit after a claim (so units can cross) with 3
            // jobs and maxjobs 1, or 5 and 2.
            for &(jobs, maxjobs) in &[(1, 1), (3, 1), (5, 2), (6, 1)] {
                explore(
                    &format!("2 nodes x 1 rank, {name}, {jobs} jobs, maxjobs {maxjobs}"),
                    if jobs >= 3 {
                        Moves::AcrossNodes
                    } else {
                        Moves::None
                    },
                    move || model.run_on(2, 1, jobs, maxjobs, None),
                );
            }
        }
    }

    /// Every deliberate bug the one-node and the two-node models reach.
    /// (A finisher that tells only its node makes the other node wait
    /// forever: loom reports that deadlock by aborting the process, which
    /// `catch_unwind` cannot catch, so only shuttle seeds that bug.)
    #[test]
    fn finds_every_seeded_bug() {
        for bug in ONE_NODE_BUGS {
            assert_finds("loom", bug, || {
                check(move || Model::Plain.run(2, 4, 1, Some(bug)))
            });
        }
        let bug = Bug::DepositKeepsUnits;
        assert_finds("loom on two nodes", bug, || {
            check(move || Model::Plain.run_on(2, 1, 4, 1, Some(bug)))
        });
    }
}

#[cfg(dlb_shuttle)]
mod shuttle_models {
    use super::*;

    /// Schedules per configuration; `DLB_SHUTTLE_ITERATIONS` overrides.
    fn iterations(default: usize) -> usize {
        std::env::var("DLB_SHUTTLE_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// (ranks, mapping, jobs, maxjobs): 4 to 8 ranks, thousands of jobs.
    const CONFIGS: [(usize, Model, u64, u64); 6] = [
        (4, Model::Plain, 2000, 8),
        (8, Model::Plain, 1000, 4),
        (5, Model::Color, 3000, 16),
        (6, Model::Rr(6), 1200, 5),
        (7, Model::Plain, 4000, 32),
        (8, Model::Color, 1500, 7),
    ];

    #[test]
    fn random_schedules_of_many_ranks() {
        let n = iterations(12_500);
        for (p, model, jobs, maxjobs) in CONFIGS {
            eprintln!("shuttle random: {p} ranks, {model:?}, {jobs} jobs, maxjobs {maxjobs}, {n} schedules");
            assert_steals(|| shuttle::check_random(move || model.run(p, jobs, maxjobs, None), n));
        }
    }

    /// (ranks, ranks per node, mapping, jobs, maxjobs) across nodes.
    const NODE_CONFIGS: [(usize, usize, Model, u64, u64); 5] = [
        (4, 2, Model::Plain, 1000, 4),
        (6, 2, Model::Color, 1200, 3),
        (6, 3, Model::Rr(6), 900, 2),
        (8, 4, Model::Plain, 2000, 8),
        (5, 1, Model::Plain, 600, 2),
    ];

    #[test]
    fn random_schedules_across_nodes() {
        let n = iterations(12_500) / 2;
        // Some configurations balance within their nodes: takes that bring
        // units must occur over all of them.
        assert_remote_steals(|| {
            for (p, per_node, model, jobs, maxjobs) in NODE_CONFIGS {
                eprintln!("shuttle random: {p} ranks in nodes of {per_node}, {model:?}, {jobs} jobs, maxjobs {maxjobs}, {n} schedules");
                assert_steals(|| {
                    shuttle::check_random(move || model.run_on(p, per_node, jobs, maxjobs, None), n)
                });
            }
        });
    }

    /// Three runs in a row across nodes: hunger marks and answers of one run
    /// may still be on their way in the next.
    #[test]
    fn random_schedules_of_several_runs_across_nodes() {
        let n = iterations(12_500) / 5;
        for (p, per_node, jobs, maxjobs) in [(4, 2, 300, 2), (6, 2, 200, 3), (3, 1, 120, 1)] {
            eprintln!("shuttle random: 3 runs, {p} ranks in nodes of {per_node}, {jobs} jobs, maxjobs {maxjobs}, {n} schedules");
            assert_remote_steals(|| {
                shuttle::check_random(
                    move || run_model_times(3, p, per_node, Contiguous::new(jobs), maxjobs, None),
                    n,
                )
            });
        }
    }

    #[test]
    fn pct_schedules_across_nodes() {
        let n = iterations(12_500) / 6;
        for (p, per_node, model, jobs, maxjobs) in NODE_CONFIGS {
            eprintln!("shuttle pct: {p} ranks in nodes of {per_node}, {model:?}, {jobs} jobs, maxjobs {maxjobs}, {n} schedules");
            assert_steals(|| {
                shuttle::check_pct(move || model.run_on(p, per_node, jobs, maxjobs, None), n, 3)
            });
        }
    }

    #[test]
    fn pct_schedules_of_many_ranks() {
        let n = iterations(12_500) / 3;
        for (p, model, jobs, maxjobs) in CONFIGS {
            eprintln!(
                "shuttle pct: {p} ranks, {model:?}, {jobs} jobs, maxjobs {maxjobs}, {n} schedules"
            );
            assert_steals(|| shuttle::check_pct(move || model.run(p, jobs, maxjobs, None), n, 3));
        }
    }

    /// Every deliberate bug, on one node and across nodes.
    #[test]
    fn finds_every_seeded_bug() {
        for bug in ONE_NODE_BUGS {
            assert_finds("shuttle", bug, || {
                shuttle::check_random(move || Model::Plain.run(4, 200, 2, Some(bug)), 2_000)
            });
        }
        for bug in [Bug::DepositKeepsUnits, Bug::FinishTellsOwnNodeOnly] {
            assert_finds("shuttle on two nodes", bug, || {
                shuttle::check_random(move || Model::Plain.run_on(4, 2, 200, 2, Some(bug)), 2_000)
            });
        }
    }
}
