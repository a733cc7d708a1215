//! Exactly-once on real `mpiexec` jobs: every interface at 1, 2, 3, 4 and 8
//! ranks, both atomics paths and the static variant, many runs back to back,
//! two init/finalize cycles, N = 0, N = 1, N < P, colors with zero counts,
//! maxjobs 1 and huge, and the coarse-unit path of huge runs.

mod common;

use common::{is_child, launch, nanos, Recorder};
use dlb::{Dlb, Variant};
use std::collections::HashMap;
use std::time::Duration;

/// One run of the scenario.
#[derive(Clone, Debug)]
enum Spec {
    Plain {
        jobs: u64,
        maxjobs: u64,
        slow: bool,
    },
    Color {
        distr: Vec<u64>,
        maxjobs: u64,
        slow: bool,
    },
    Rr {
        jobs: u64,
        maxjobs: u64,
        slow: bool,
    },
}

/// The runs every rank does, in order, in each init/finalize cycle.
fn plan(p: u64) -> Vec<Spec> {
    use Spec::*;
    vec![
        Plain {
            jobs: 0,
            maxjobs: 3,
            slow: false,
        },
        Plain {
            jobs: 1,
            maxjobs: 1,
            slow: false,
        },
        Plain {
            jobs: p.saturating_sub(1),
            maxjobs: 1,
            slow: false,
        },
        Plain {
            jobs: 997,
            maxjobs: 1,
            slow: false,
        },
        Plain {
            jobs: 400,
            maxjobs: 3,
            slow: true,
        },
        Plain {
            jobs: 5000,
            maxjobs: u64::MAX,
            slow: false,
        },
        Color {
            distr: vec![10, 0, 13, 1, 0, 9],
            maxjobs: 3,
            slow: false,
        },
        Color {
            distr: vec![0, 0, 0],
            maxjobs: 2,
            slow: false,
        },
        Color {
            distr: vec![],
            maxjobs: 2,
            slow: false,
        },
        Color {
            distr: vec![0, 300, 0, 1, 250],
            maxjobs: 7,
            slow: true,
        },
        Rr {
            jobs: 20,
            maxjobs: 2,
            slow: false,
        },
        Rr {
            jobs: 0,
            maxjobs: 2,
            slow: false,
        },
        Rr {
            jobs: p / 2,
            maxjobs: 1,
            slow: false,
        },
        Rr {
            jobs: 500,
            maxjobs: 4,
            slow: true,
        },
        Plain {
            jobs: 333,
            maxjobs: 5,
            slow: false,
        },
    ]
}

const CYCLES: u64 = 2;

/// Rank 0 works slowly in "slow" runs (1 ms a job), so the others must
/// steal from it.
fn work(slow: bool, rank: usize, jobs: u64) {
    if slow && rank == 0 {
        std::thread::sleep(Duration::from_millis(jobs));
    }
}

/// The child side: every rank does every run and records what it got.
fn run_scenario(max_units: Option<u64>) {
    let _mpi = dlb::Mpi::init().unwrap();
    let mut rec: Option<Recorder> = None;
    for cycle in 0..CYCLES {
        let mut builder = Dlb::builder().seed(cycle);
        if let Some(m) = max_units {
            builder = builder.max_units_per_word(m);
        }
        let mut dlb = builder.init().unwrap();
        let me = dlb.rank();
        let rec = rec.get_or_insert_with(|| Recorder::new(me));
        if cycle == 0 {
            let path = dlb.atomics_path().map_or("none", |p| p.name());
            let window = dlb.window_flavor().map_or("none", |w| w.name());
            rec.record(&[&"config", &dlb.variant().name(), &path, &window]);
        }
        for (k, spec) in plan(dlb.size() as u64).into_iter().enumerate() {
            let id = format!("{cycle}.{k}");
            match spec {
                Spec::Plain {
                    jobs,
                    maxjobs,
                    slow,
                } => {
                    let mut run = dlb.setup(jobs).unwrap();
                    while let Some(r) = run.give_more(maxjobs).unwrap() {
                        work(slow, me, r.end - r.start);
                        rec.record(&[&id, &"chunk", &r.start, &r.end, &1, &nanos()]);
                    }
                    assert_eq!(
                        run.give_more(maxjobs).unwrap(),
                        None,
                        "no more stays no more"
                    );
                }
                Spec::Color {
                    distr,
                    maxjobs,
                    slow,
                } => {
                    let mut run = dlb.setup_color(&distr).unwrap();
                    while let Some((color, r)) = run.give_more(maxjobs).unwrap() {
                        work(slow, me, r.end - r.start);
                        rec.record(&[&id, &"color", &color, &r.start, &r.end, &nanos()]);
                    }
                    assert_eq!(run.give_more(maxjobs).unwrap(), None);
                }
                Spec::Rr {
                    jobs,
                    maxjobs,
                    slow,
                } => {
                    let mut run = dlb.setup_rr(jobs).unwrap();
                    while let Some(s) = run.give_more(maxjobs).unwrap() {
                        work(slow, me, s.len());
                        rec.record(&[&id, &"chunk", &s.start, &s.end, &s.stride, &nanos()]);
                    }
                    assert_eq!(run.give_more(maxjobs).unwrap(), None);
                }
            }
            rec.record(&[&id, &"none", &nanos()]);
        }
        dlb.finalize().unwrap();
    }
}

/// The parent side: checks every run of every cycle.
/// `unit_mode`: runs in coarse units (`DLB_TEST_MAX_UNITS`);
/// `expect_steals`: a slow rank 0 must be stolen from (not with coarse
/// units, which are never split; not with direct steals on software RMA).
fn check_scenario(
    p: usize,
    records: &[Vec<String>],
    variant: Variant,
    unit_mode: bool,
    expect_steals: bool,
) {
    // The first record is `config <variant> <atomics> <window>`.
    let plan = plan(p as u64);
    for cycle in 0..CYCLES {
        for (k, spec) in plan.iter().enumerate() {
            let id = format!("{cycle}.{k}");
            check_run(p, &id, spec, records, variant, unit_mode, expect_steals);
        }
    }
}

fn check_run(
    p: usize,
    id: &str,
    spec: &Spec,
    records: &[Vec<String>],
    variant: Variant,
    unit_mode: bool,
    expect_steals: bool,
) {
    // (color, job) -> times handed out; per rank: chunks in order.
    let mut count: HashMap<(u64, u64), u32> = HashMap::new();
    // Who got each job, and first chunks that start inside their rank's
    // own block but not at its front: (rank, chunk start, block front).
    let mut got: HashMap<(u64, u64), usize> = HashMap::new();
    let mut late_first: Vec<(usize, u64, u64)> = Vec::new();
    let (mut last_done, mut first_none) = (0u128, u128::MAX);
    let mut stolen_from_rank0 = 0;
    let p64 = p as u64;
    for (rank, lines) in records.iter().enumerate() {
        let mine: Vec<Vec<&str>> = lines
            .iter()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .filter(|f| f[0] == id)
            .collect();
        let mut first = true;
        for f in &mine {
            let num = |i: usize| f[i].parse::<u128>().unwrap();
            match f[1] {
                "none" => first_none = first_none.min(num(2)),
                "chunk" | "color" => {
                    let (color, start, end, stride) = match f[1] {
                        "color" => (num(2) as u64, num(3) as u64, num(4) as u64, 1),
                        _ => (0, num(2) as u64, num(3) as u64, num(4) as u64),
                    };
                    last_done = last_done.max(num(5));
                    let ids: Vec<u64> = (start..end).step_by(stride as usize).collect();
                    let (maxjobs, jobs) = match spec {
                        Spec::Plain { maxjobs, jobs, .. } => {
                            assert_eq!(stride, 1);
                            // DLB's block split: rank r owns q*r + min(rem, r) onwards. The
                            // owner claims from the front, so a first chunk from its own
                            // block starts there, unless thieves drained the block before
                            // the owner's first claim (checked below).
                            let (q, rem, r) = (jobs / p64, jobs % p64, rank as u64);
                            let own = q * r + rem.min(r)..q * (r + 1) + rem.min(r + 1);
                            if first && !unit_mode && own.contains(&start) && start != own.start {
                                late_first.push((rank, start, own.start));
                            }
                            (*maxjobs, *jobs)
                        }
                        Spec::Color { maxjobs, distr, .. } => (*maxjobs, distr[color as usize]),
                        Spec::Rr { maxjobs, jobs, .. } => {
                            assert_eq!(stride, p64, "{id}: stolen pieces keep their stride");
                            // Rank r owns the IDs = r mod P and claims them from the front.
                            if first
                                && !unit_mode
                                && start % p64 == rank as u64
                                && start != rank as u64
                            {
                                late_first.push((rank, start, rank as u64));
                            }
                            (*maxjobs, *jobs)
                        }
                    };
                    assert!(
                        !ids.is_empty() && ids.len() as u64 <= maxjobs,
                        "{id}: bad chunk {f:?}"
                    );
                    for job in ids {
                        assert!(job < jobs, "{id}: job {job} out of range in {f:?}");
                        if rank != 0 && owned_by_rank0(spec, p64, color, job) {
                            stolen_from_rank0 += 1;
                        }
                        *count.entry((color, job)).or_default() += 1;
                        got.insert((color, job), rank);
                    }
                    first = false;
                }
                other => panic!("unknown record {other}"),
            }
        }
    }
    let slow = matches!(
        spec,
        Spec::Plain { slow: true, .. }
            | Spec::Color { slow: true, .. }
            | Spec::Rr { slow: true, .. }
    );
    if slow && p > 1 && variant == Variant::Rma && expect_steals {
        assert!(
            stolen_from_rank0 > 0,
            "{id} on {p} ranks: rank 0 was slow, yet nobody stole from it"
        );
    }
    let expected: Vec<(u64, u64)> = match spec {
        Spec::Plain { jobs, .. } | Spec::Rr { jobs, .. } => (0..*jobs).map(|j| (0, j)).collect(),
        Spec::Color { distr, .. } => distr
            .iter()
            .enumerate()
            .flat_map(|(c, n)| (0..*n).map(move |j| (c as u64, j)))
            .collect(),
    };
    assert_eq!(
        count.len(),
        expected.len(),
        "{id} ({spec:?}): some jobs never handed out"
    );
    for key in expected {
        assert_eq!(
            count.get(&key),
            Some(&1),
            "{id} ({spec:?}): job {key:?} not handed out exactly once"
        );
    }
    // A thief takes the front of a block only with the last units of the
    // owner's word (steals and answers take back halves), and then claims
    // that front itself. So a rank whose first chunk lies in its own block,
    // behind the front, found its word drained (it was late: oversubscribed
    // ranks are descheduled for milliseconds) and another rank got the front.
    for (rank, start, front) in late_first {
        assert_ne!(
            got.get(&(0, front)),
            Some(&rank),
            "{id}: rank {rank}'s first chunk starts at {start} in its own block, yet it \
             claimed the block's front {front} later"
        );
    }
    if variant == Variant::Rma && first_none != u128::MAX {
        assert!(
            last_done <= first_none,
            "{id}: a rank was told 'no more' before every job completed"
        );
    }
}

/// Whether `job` starts in rank 0's block (plain and color runs split the
/// concatenated IDs; round robin gives rank 0 the multiples of P).
fn owned_by_rank0(spec: &Spec, p: u64, color: u64, job: u64) -> bool {
    match spec {
        Spec::Plain { jobs, .. } => job < jobs / p + u64::from(jobs % p > 0),
        Spec::Color { distr, .. } => {
            let total: u64 = distr.iter().sum();
            let pos = distr[..color as usize].iter().sum::<u64>() + job;
            pos < total / p + u64::from(total % p > 0)
        }
        Spec::Rr { .. } => job % p == 0,
    }
}

fn scenario(ranks: usize, env: &[(&str, &str)], variant: Variant) {
    let launch = launch("scenario_child", ranks, env);
    let config: Vec<&str> = launch.ranks[0][0].split(' ').collect();
    assert_eq!(config[1], variant.name(), "{}", launch.output);
    if let Some(path) = env
        .iter()
        .find(|(k, v)| *k == "DLB_ATOMICS" && *v != "auto")
    {
        assert_eq!(
            config[2], path.1,
            "the atomics path asked for is the one used"
        );
    }
    // Coarse units are never split, so a slow rank may keep its one unit.
    let unit_mode = env.iter().any(|(k, _)| *k == "DLB_TEST_MAX_UNITS");
    let mut expect_steals = !unit_mode;
    // Direct steals act across nodes only (on the shm path, one node, they
    // change nothing).
    if env.contains(&("DLB_DIRECT_STEALS", "1")) && config[2] != "shm" {
        // Direct steals are for MPI atomics that complete without the
        // target; of the windows here only Open MPI's shared window (osc/sm,
        // CPU atomics) has them. Elsewhere (software RMA) a steal from a
        // rank busy outside MPI waits for it, as documented, and a slow rank
        // that claims ahead may keep its range: exactly-once is checked, the
        // steal is not.
        let passive =
            config[3] == "shared" && dlb::library_version().is_ok_and(|v| v.contains("Open MPI"));
        if !passive {
            eprintln!(
                "direct steals on {ranks} ranks over a {} window: software RMA, \
                 so the slow-rank steal is not required",
                config[3]
            );
        }
        expect_steals &= passive;
    }
    check_scenario(ranks, &launch.ranks, variant, unit_mode, expect_steals);
}

#[test]
fn scenario_child() {
    if is_child() {
        let max_units = std::env::var("DLB_TEST_MAX_UNITS")
            .ok()
            .map(|v| v.parse().unwrap());
        run_scenario(max_units);
    }
}

const RANKS: [usize; 5] = [1, 2, 3, 4, 8];

#[test]
fn rma_on_shared_memory_atomics() {
    if is_child() {
        return;
    }
    for ranks in RANKS {
        scenario(ranks, &[("DLB_ATOMICS", "shm")], Variant::Rma);
    }
}

#[test]
fn rma_on_mpi_atomics() {
    if is_child() {
        return;
    }
    for ranks in RANKS {
        scenario(ranks, &[("DLB_ATOMICS", "mpi")], Variant::Rma);
    }
}

/// Direct steals (`DLB_DIRECT_STEALS=1`, and `probe`): on one node nothing
/// changes (no other node to steal from); where blocks of ranks act as
/// nodes, the range words move to the MPI window and idle ranks of a dry
/// node steal from other nodes' ranges.
#[test]
fn rma_with_direct_steals() {
    if is_child() {
        return;
    }
    for ranks in RANKS {
        scenario(ranks, &[("DLB_DIRECT_STEALS", "1")], Variant::Rma);
    }
    for (ranks, per_node) in [(4, 1), (4, 2), (8, 2)] {
        let per_node = per_node.to_string();
        scenario(
            ranks,
            &[
                ("DLB_DIRECT_STEALS", "1"),
                ("DLB_RANKS_PER_NODE", per_node.as_str()),
            ],
            Variant::Rma,
        );
    }
    // Chosen by init's probe (on where the window's atomics are passive,
    // so a slow rank is robbed either way; tests/verbose.rs checks the
    // choice).
    scenario(
        4,
        &[("DLB_DIRECT_STEALS", "probe"), ("DLB_RANKS_PER_NODE", "2")],
        Variant::Rma,
    );
}

/// The node-aware path on one machine: blocks of ranks act as nodes
/// (`DLB_RANKS_PER_NODE`), with shared memory within each and MPI atomics
/// between them; among them two nodes of unequal size (3 ranks as 2 + 1,
/// 5 as 3 + 2), which end flat.
#[test]
fn rma_node_aware_on_simulated_nodes() {
    if is_child() {
        return;
    }
    for (ranks, per_node) in [
        (2, 1),
        (3, 1),
        (4, 2),
        (5, 2),
        (8, 4),
        (8, 2),
        (3, 2),
        (5, 3),
    ] {
        let per_node = per_node.to_string();
        scenario(
            ranks,
            &[
                ("DLB_ATOMICS", "hybrid"),
                ("DLB_RANKS_PER_NODE", per_node.as_str()),
            ],
            Variant::Rma,
        );
    }
}

/// The node tree on simulated nodes made deep (`DLB_TREE_FAN_OUT`, a
/// testing aid: 16 children per node by default): a chain of 3, 5 and 4
/// nodes, and a binary tree of 7, so that leaders carry their children's
/// counts up and relay "finished" down over several hops.
#[test]
fn rma_node_aware_in_a_deep_node_tree() {
    if is_child() {
        return;
    }
    for (ranks, per_node, fan_out) in [(3, 1, 1), (5, 1, 1), (8, 2, 1), (7, 1, 2)] {
        let (per_node, fan_out) = (per_node.to_string(), fan_out.to_string());
        scenario(
            ranks,
            &[
                ("DLB_ATOMICS", "hybrid"),
                ("DLB_RANKS_PER_NODE", per_node.as_str()),
                ("DLB_TREE_FAN_OUT", fan_out.as_str()),
            ],
            Variant::Rma,
        );
    }
}

/// The path dlb picks itself: shared memory on one node (MPI atomics when
/// the MPI makes no shared windows: `ci/test` runs this under Open MPI's
/// `OMPI_MCA_osc=pt2pt`), the node-aware path across nodes (`ci/multinode`
/// runs this on simulated nodes).
#[test]
fn rma_on_the_default_path() {
    if is_child() {
        return;
    }
    for ranks in RANKS {
        scenario(ranks, &[], Variant::Rma);
    }
}

/// Guided and factoring chunk sizes (`DLB_SCHEDULE`) on the default path
/// and on MPI atomics, with coarse units in one case.
#[test]
fn rma_with_shrinking_chunks() {
    if is_child() {
        return;
    }
    for (ranks, schedule, path) in [
        (2, "guided", "auto"),
        (4, "factoring", "auto"),
        (3, "guided", "mpi"),
        (8, "factoring", "mpi"),
    ] {
        scenario(
            ranks,
            &[("DLB_SCHEDULE", schedule), ("DLB_ATOMICS", path)],
            Variant::Rma,
        );
    }
    scenario(
        4,
        &[("DLB_SCHEDULE", "guided"), ("DLB_TEST_MAX_UNITS", "5")],
        Variant::Rma,
    );
}

/// Coarse units on the paths that work on any set of nodes.
#[test]
fn coarse_units_on_any_nodes() {
    if is_child() {
        return;
    }
    for (ranks, max_units) in [(3, "7"), (4, "1"), (8, "5")] {
        for path in ["mpi", "auto"] {
            scenario(
                ranks,
                &[("DLB_ATOMICS", path), ("DLB_TEST_MAX_UNITS", max_units)],
                Variant::Rma,
            );
        }
    }
}

#[test]
fn static_variant() {
    if is_child() {
        return;
    }
    for ranks in [1, 3, 4] {
        scenario(ranks, &[("DLB_VARIANT", "static")], Variant::Static);
    }
}

#[test]
fn coarse_units_of_huge_runs() {
    if is_child() {
        return;
    }
    // Units of several jobs and a private remainder, reached with small runs
    // by capping the units a word may count.
    for (ranks, max_units) in [(3, "7"), (4, "1"), (2, "64")] {
        for path in ["shm", "mpi", "hybrid"] {
            // The hybrid path in simulated nodes of 2 (shm needs one node).
            let per_node = if path == "hybrid" { "2" } else { "1000" };
            scenario(
                ranks,
                &[
                    ("DLB_ATOMICS", path),
                    ("DLB_TEST_MAX_UNITS", max_units),
                    ("DLB_RANKS_PER_NODE", per_node),
                ],
                Variant::Rma,
            );
        }
    }
}
