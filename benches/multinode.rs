//! Balance across nodes (issue 10): the same sleep workload under four
//! strategies in one MPI job, meant for ranks spread over several (real or
//! simulated) nodes, and the cross-node termination latency.
//!
//! **Makespan.** 400 jobs with a mean cost of exactly 2 ms (nominal costs
//! scaled to that mean); a job sleeps outside MPI. Workloads (generators in
//! `common/sleep.rs`, shared with `balance.rs`):
//! - `ramp`: job i of N costs `0.25 + 3 i / N` units (0.29 ms to 3.71 ms);
//! - `block`: the jobs of rank 0's initial block in DLB's split,
//!   IDs `0..ceil(N / P)`, cost 4 units, all others 1 unit (at P = 8: 50 jobs
//!   of 5.82 ms, 350 of 1.45 ms);
//! - `random`: the seed example's tasks, 1 to 8 units drawn uniformly
//!   (xorshift, the same on every rank; 0.44 ms to 3.56 ms).
//!
//! Strategies: dlb rma and dlb static with `give_more(1)`, master-worker
//! (`dlb::bench::master_worker`: rank 0 only hands out one job per message
//! and does no work), and one global counter (`MPI_Fetch_and_op` of 1 on a
//! word of rank 0 per job). Each run is timed from a barrier to the slowest
//! rank's end and divided by the lower bound `max(total measured job time /
//! P, longest measured job)`. Repetitions interleave (rep, workload,
//! strategy), so slow phases of the shared machine spread over all cells.
//!
//! **Termination.** Runs of P jobs in which every rank first takes its own
//! job with `give_more(1)`; a collective inside the run checks that every
//! rank got exactly its own ID (so nobody has stolen yet). All jobs cost
//! nothing except the holder's, which sleeps 20 ms, so the others are idle
//! in `give_more` when the holder finishes. The holder is the last rank on
//! a node other than rank 0's (the last rank on one node). Every rank
//! records `CLOCK_MONOTONIC` when `give_more` answered `None`; the figure is
//! the latest of those minus the holder's time just before its `give_more`
//! after the job. The same for master-worker (P - 1 jobs, the holder's the
//! only one that sleeps; "no more" is `master_worker` returning) and the
//! global counter (P jobs; the holder's first job sleeps, the others'
//! first job 5 ms so that the holder gets one; samples where it got none
//! are dropped). `CLOCK_MONOTONIC` is comparable across
//! network namespaces of one kernel (simulated nodes), not across machines:
//! the measurement is skipped when the ranks' boot IDs differ.
//!
//! Output: a table on rank 0 and JSON lines appended to
//! `target/bench/multinode.jsonl` (`stack` from `DLB_BENCH_STACK`, default
//! `local`), then the line `multinode: done` (for launchers that stop jobs
//! hanging in `MPI_Finalize`, e.g. `DLB_MULTINODE_DONE_LINE`).
//!
//! Run: `mpiexec -n 8 target/.../multinode [--quick] [--reps R] [--runs T] [--hold MS]`
//! (R repetitions, default 5, `--quick` 3; T termination samples, default
//! 40, `--quick` 20; MS the holder's last job, default 20 ms), e.g. via cargo with
//! `CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$DLB_MPIEXEC -n 8" cargo bench --features bench --bench multinode -- --quick`.

mod common;

use common::sleep::{scaled_costs, timed_run, STRATEGIES};
use common::{json, percentile, Row, Value};
use dlb::bench::{global_counter, master_worker};
use dlb::collectives::{allgather, barrier};
use dlb::{Dlb, Variant};
use std::collections::BTreeMap;
use std::time::Duration;

const JOBS: u64 = 400;
const MEAN_MS: f64 = 2.0;
/// (name in the output, generator in `common::sleep::costs`).
const WORKLOADS: [(&str, &str); 3] = [
    ("ramp", "ramp"),
    ("block", "heavy_block"),
    ("random", "seed_1_8"),
];
/// The strategies whose termination is measured (static has no global end).
const TERMINATION: [&str; 3] = ["dlb_rma", "master_worker", "global_counter"];

/// The value after `--name` on the command line.
fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1)?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} {v}: not a number")),
    )
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of a
/// kernel, also across network namespaces.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// FNV-1a, to gather strings as one word.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hostname() -> Vec<u8> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its length; gethostname truncates.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname failed");
    buf.iter().take_while(|&&b| b != 0).copied().collect()
}

/// Where the ranks run.
struct Layout {
    /// Nodes from `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`.
    nodes: usize,
    /// Each rank's node index (by host name, numbered in order of the
    /// node's lowest rank; MPI decides "same node" by host name too).
    node_of: Vec<usize>,
    /// "4", or "4+3" when nodes hold different rank counts.
    ranks_per_node: String,
    /// Whether every rank has the same boot ID, i.e. one kernel and one
    /// `CLOCK_MONOTONIC`.
    one_kernel: bool,
}

fn layout(dlb: &Dlb) -> dlb::Result<Layout> {
    let nodes = dlb.node_count()?;
    let hosts = allgather(dlb, fnv(&hostname()))?;
    let mut index = BTreeMap::new();
    let mut node_of = Vec::new();
    for h in &hosts {
        let next = index.len();
        node_of.push(*index.entry(*h).or_insert(next));
    }
    let mut counts = vec![0; index.len()];
    node_of.iter().for_each(|&n| counts[n] += 1);
    let ranks_per_node = if counts.iter().all(|&c| c == counts[0]) {
        counts[0].to_string()
    } else {
        counts
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("+")
    };
    if dlb.rank() == 0 && counts.len() != nodes {
        eprintln!(
            "multinode: {nodes} shared-memory groups but {} host names",
            counts.len()
        );
    }
    let boot = std::fs::read("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let boots = allgather(dlb, fnv(&boot))?;
    Ok(Layout {
        nodes,
        node_of,
        ranks_per_node,
        one_kernel: boots.iter().all(|&b| b == boots[0]),
    })
}

/// One termination sample (see the module doc): microseconds from the
/// holder's report to the last rank's "no more", on every rank, or `None`
/// when the run did not set up that situation.
fn termination_once(
    strategy: &str,
    rma: &mut Dlb,
    holder: usize,
    hold: Duration,
) -> dlb::Result<Option<f64>> {
    let me = rma.rank();
    let p = rma.size() as u64;
    let mut report = 0; // the holder's, when its job is done
    let mut ok = true;
    let none = match strategy {
        "dlb_rma" => {
            let mut run = rma.setup(p)?;
            let own = me as u64..me as u64 + 1;
            ok = run.give_more(1)?.as_ref() == Some(&own);
            // Inside the run: no rank runs dry (and steals) before every
            // rank holds its own job.
            ok = allgather(run.dlb(), u64::from(ok))?.iter().all(|&o| o == 1);
            if me == holder {
                std::thread::sleep(hold);
                report = monotonic_ns();
            }
            while run.give_more(1)?.is_some() {
                ok = false; // every job was taken in the first call
            }
            monotonic_ns()
        }
        "master_worker" => {
            // The master's first round sends job w - 1 to worker w.
            master_worker(rma, p - 1, |id| {
                if id + 1 == holder as u64 && me == holder {
                    std::thread::sleep(hold);
                    report = monotonic_ns();
                } else if me == holder {
                    ok = false;
                }
            })?;
            monotonic_ns()
        }
        _ => {
            // The others' first job sleeps 5 ms, so that the holder gets
            // one of the P jobs before they are gone.
            let mut first = true;
            global_counter(rma, p, 1, |_| {
                if me == holder && first {
                    std::thread::sleep(hold);
                    report = monotonic_ns();
                } else if first {
                    std::thread::sleep(Duration::from_millis(5));
                }
                first = false;
            })?;
            // A global counter knows only that nothing is left to take;
            // "no more" in dlb's sense (every job done) takes a barrier.
            allgather(rma, 0)?;
            monotonic_ns()
        }
    };
    // Ranks told early wait asleep (their times are taken): on MPICH a
    // busy-polling collective would take the cores from ranks not told yet.
    barrier(rma)?;
    let oks = allgather(rma, u64::from(ok))?;
    let reports = allgather(rma, report)?;
    let nones = allgather(rma, none)?;
    let holder_report = reports[holder];
    if oks.contains(&0) || holder_report == 0 {
        return Ok(None);
    }
    let last = *nones.iter().max().unwrap();
    Ok(Some(last.saturating_sub(holder_report) as f64 / 1000.0))
}

/// min, mean, max.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = values.iter().cloned().fold(0.0, f64::max);
    (min, values.iter().sum::<f64>() / values.len() as f64, max)
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    // Even `--quick` (CI) takes three repetitions and 20 termination
    // samples: on this shared 2-core machine one repetition of a cell
    // moves by up to 0.1 (osc/pt2pt 2 x 4 block: 1.124 and 1.170 in two
    // consecutive CI runs), so a single one decides nothing. A repetition
    // takes a few seconds (12 runs of about 100 ms, and their setups).
    let reps = arg("--reps").unwrap_or(if o.quick { 3 } else { 5 });
    let term_runs = arg("--runs").unwrap_or(if o.quick { 20 } else { 40 });
    let hold = Duration::from_millis(arg("--hold").unwrap_or(20) as u64);
    let stack = std::env::var("DLB_BENCH_STACK").unwrap_or_else(|_| "local".into());
    let _mpi = dlb::Mpi::init()?;
    let mut rma = Dlb::builder().variant(Variant::Rma).init()?;
    let mut stat = Dlb::builder().variant(Variant::Static).init()?;
    common::record_provenance(&rma);
    let me = rma.rank();
    let ranks = rma.size();
    let path = rma.atomics_path().map_or("none", |p| p.name());
    let at = layout(&rma)?;
    let rpn = at.ranks_per_node.clone();
    let common_extra = |rows: &mut Vec<(&str, Value)>| {
        rows.push(("stack", json!(stack)));
        rows.push(("nodes", json!(at.nodes)));
        // A number when every node has as many ranks, else e.g. "3+2+2".
        let per_node = rpn.parse::<u64>().map_or_else(|_| json!(rpn), |n| json!(n));
        rows.push(("ranks_per_node", per_node));
    };
    if me == 0 {
        println!(
            "multinode, {} ({stack}) on {ranks} ranks = {} node(s) x {rpn}, {path} path, {JOBS} jobs of {MEAN_MS} ms mean, {reps} rep(s); makespan / bound, mean (min-max):",
            common::mpi_name(),
            at.nodes,
        );
        println!(
            "  {:<8}{}",
            "workload",
            STRATEGIES.map(|s| format!("{s:>20}")).join("")
        );
    }

    // ratios[workload][strategy] over the repetitions
    let mut ratios = vec![vec![Vec::new(); STRATEGIES.len()]; WORKLOADS.len()];
    let mut rows = Vec::new();
    for rep in 0..reps {
        for (w, (workload, generator)) in WORKLOADS.iter().enumerate() {
            let cost = scaled_costs(generator, JOBS, ranks as u64, MEAN_MS);
            for (s, strategy) in STRATEGIES.iter().enumerate() {
                let outcome = timed_run(strategy, &mut rma, &mut stat, &cost)?;
                ratios[w][s].push(outcome.ratio());
                let mut extra = Vec::new();
                common_extra(&mut extra);
                extra.extend([
                    ("workload", json!(workload)),
                    ("strategy", json!(strategy)),
                    ("rep", json!(rep)),
                    ("jobs", json!(JOBS)),
                    ("makespan_s", json!(outcome.makespan)),
                    ("lower_bound_s", json!(outcome.bound)),
                ]);
                rows.push(Row {
                    bench: "multinode",
                    path,
                    ranks,
                    metric: "makespan_over_bound",
                    value: outcome.ratio(),
                    unit: "ratio",
                    extra,
                });
            }
        }
    }
    if me == 0 {
        for (w, (workload, _)) in WORKLOADS.iter().enumerate() {
            let cells: Vec<String> = ratios[w]
                .iter()
                .map(|r| {
                    let (min, mean, max) = spread(r);
                    format!("{:>20}", format!("{mean:.3} ({min:.2}-{max:.2})"))
                })
                .collect();
            println!("  {workload:<8}{}", cells.join(""));
        }
    }

    // Termination: the holder is the last rank off rank 0's node.
    let holder = (0..ranks)
        .rev()
        .find(|&r| at.node_of[r] != at.node_of[0])
        .unwrap_or(ranks - 1);
    if ranks < 2 || !at.one_kernel {
        if me == 0 {
            println!("termination: skipped (needs 2 ranks and one kernel's CLOCK_MONOTONIC)");
        }
    } else {
        if me == 0 {
            println!(
                "termination: holder rank {holder} (node {} of {}; rank 0 on node {}), its last job {} ms, the others idle; us from its report to the last rank told \"no more\":",
                at.node_of[holder],
                at.nodes,
                at.node_of[0],
                hold.as_millis()
            );
            println!(
                "  {:<16}{:>10}{:>10}{:>9}{:>9}",
                "strategy", "p50", "max", "samples", "dropped"
            );
        }
        for strategy in TERMINATION {
            let mut times = Vec::new();
            let mut dropped = 0;
            while times.len() < term_runs && dropped < 2 * term_runs {
                match termination_once(strategy, &mut rma, holder, hold)? {
                    Some(t) => times.push(t),
                    None => dropped += 1,
                }
            }
            let (p50, max) = (percentile(&times, 0.5), percentile(&times, 1.0));
            if me == 0 {
                println!(
                    "  {strategy:<16}{p50:>10.0}{max:>10.0}{:>9}{dropped:>9}",
                    times.len()
                );
            }
            for (stat_name, value) in [("p50", p50), ("max", max)] {
                if times.is_empty() {
                    continue;
                }
                let mut extra = Vec::new();
                common_extra(&mut extra);
                extra.extend([
                    ("strategy", json!(strategy)),
                    ("stat", json!(stat_name)),
                    ("samples", json!(times.len())),
                    ("dropped", json!(dropped)),
                    ("holder", json!(holder)),
                    ("hold_ms", json!(hold.as_millis() as u64)),
                    // A string, as in the rows written before serde_json.
                    (
                        "holder_off_node0",
                        json!((at.node_of[holder] != at.node_of[0]).to_string()),
                    ),
                ]);
                rows.push(Row {
                    bench: "multinode",
                    path,
                    ranks,
                    metric: "termination_us",
                    value,
                    unit: "us",
                    extra,
                });
            }
        }
    }
    if me == 0 {
        common::write("multinode", &rows);
        println!("multinode: done");
    }
    stat.finalize()?;
    rma.finalize()
}
