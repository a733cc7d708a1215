//! Latency on 2 ranks in the OSU micro-benchmarks' terms (osu_fop_latency,
//! osu_cas_latency): for each atomics path, a warm-up, then timed loops,
//! each loop (a *batch*) timed as a whole; the average per operation over
//! all iterations, and p50 and p99 over the batches' means. 8-byte operands.
//!
//! | metric | what one iteration is |
//! |---|---|
//! | `raw_fop` | one fetch-and-add + flush on rank 1's window word |
//! | `raw_cas` | one compare-and-swap + flush on rank 1's window word |
//! | `raw_self_cas` | one compare-and-swap + flush on the own window word |
//! | `claim` | one `give_more(1)` served from the own range, no thief around |
//! | `claim_traced` | the same with tracing on (`DLB_TRACE`: a clock read and a record per call) |
//! | `steal_idle` | one successful steal from a victim waiting in a barrier |
//! | `steal_busy` | one successful steal from a victim computing outside MPI in jobs of 20 µs (and serving thieves between jobs, as `give_more` does) |
//! | `termination` | one run: the last job done -> the last rank told "no more" |
//!
//! The raw operations and the claim run 10^4 iterations in 100 batches
//! (`--quick`; 10^5 in 200 batches otherwise), the steals 10^4 (10^5) in
//! batches of 16. Termination is one event per run, tens of microseconds
//! long, so each run is timed alone (from wall clocks, by the statistics):
//! 200 runs (1000).
//!
//! Output: an OSU-like table per path on stdout and one JSON row per figure
//! in `target/bench/latency.jsonl` (`metric` as above, `value` = `avg_us`,
//! and `avg_us`, `p50_us`, `p99_us`, `iterations`, `batches`, `stack`,
//! `window`). `DLB_BENCH_STACK` names the stack (for example `osc-ucx` when
//! `OMPI_MCA_osc=ucx` is set), default `default`.
//!
//! Run: `ci/bench` (or under `mpiexec -n 2`).

mod common;

use common::{json, percentile, Row};
use dlb::bench::{raw_latency, steal_latency, time_batches, RawOp, Victim, STEALS_PER_BATCH};
use dlb::collectives::allgather;
use dlb::{AtomicsPath, Dlb};
use std::time::Duration;

/// How long the busy victim's jobs are.
const VICTIM_JOB: Duration = Duration::from_micros(20);

/// Iterations of one figure: `batches` loops of `per_batch`.
#[derive(Clone, Copy)]
struct Loops {
    warmup: usize,
    batches: usize,
    per_batch: usize,
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let stack = common::stack();
    let scale = if o.quick { 1 } else { 10 };
    let loops = Loops {
        warmup: 1000,
        batches: 100 * scale.min(2),
        per_batch: 100 * scale / scale.min(2),
    };
    let steal_batches = 10_000 * scale / STEALS_PER_BATCH;
    let term_runs = if o.quick { 200 } else { 1000 };
    let mut rows = Vec::new();
    for path in [AtomicsPath::Shm, AtomicsPath::Mpi] {
        let Some(mut dlb) = common::init_on("latency", path) else {
            continue;
        };
        if dlb.size() != 2 {
            eprintln!(
                "latency: run on exactly 2 ranks (mpiexec -n 2), not {}",
                dlb.size()
            );
            std::process::exit(2);
        }
        let Loops {
            warmup,
            batches,
            per_batch,
        } = loops;
        let raw = |dlb: &Dlb, op, remote| raw_latency(dlb, op, remote, warmup, batches, per_batch);
        let figures: Vec<(&str, Vec<f64>, usize)> = vec![
            ("raw_fop", raw(&dlb, RawOp::FetchAdd, true)?, per_batch),
            (
                "raw_cas",
                raw(&dlb, RawOp::CompareAndSwap, true)?,
                per_batch,
            ),
            (
                "raw_self_cas",
                raw(&dlb, RawOp::CompareAndSwap, false)?,
                per_batch,
            ),
            ("claim", claim_latency(&mut dlb, loops)?, per_batch),
            (
                "steal_idle",
                steal_latency(&mut dlb, steal_batches, Victim::Idle)?,
                STEALS_PER_BATCH,
            ),
            (
                "steal_busy",
                steal_latency(&mut dlb, steal_batches, Victim::Busy(VICTIM_JOB))?,
                STEALS_PER_BATCH,
            ),
            ("termination", termination_latency(&mut dlb, term_runs)?, 1),
            (
                "claim_traced",
                traced_claim_latency(path, loops)?,
                per_batch,
            ),
        ];
        let mut summary = Vec::new();
        for (name, values, per_batch) in &figures {
            summary.push((*name, summarize(&dlb, values)?, *per_batch));
        }
        if dlb.rank() == 0 {
            let p = path.name();
            let window = dlb.window_flavor().map_or("none", |w| w.name());
            println!("# dlb steal latency");
            println!(
                "# {}, stack {stack}, 2 ranks, {p} path ({window} window); per operation, p50 and p99 over batches",
                common::mpi_name(),
            );
            println!(
                "# {:<14}{:>12}{:>12}{:>12}{:>12}",
                "Operation", "Avg(us)", "p50(us)", "p99(us)", "Iterations"
            );
            for (name, s, per_batch) in &summary {
                let iterations = s.batches * per_batch;
                println!(
                    "{name:<16}{:>12.3}{:>12.3}{:>12.3}{iterations:>12}",
                    s.avg, s.p50, s.p99
                );
                let mut extra = vec![
                    ("avg_us", json!(s.avg)),
                    ("p50_us", json!(s.p50)),
                    ("p99_us", json!(s.p99)),
                    ("iterations", json!(iterations)),
                    ("batches", json!(s.batches)),
                    ("stack", json!(stack)),
                    ("window", json!(window)),
                ];
                if *name == "steal_busy" {
                    extra.push(("victim_job_us", json!(VICTIM_JOB.as_micros() as u64)));
                }
                rows.push(Row {
                    bench: "latency",
                    path: p,
                    ranks: 2,
                    metric: name,
                    value: s.avg,
                    unit: "us",
                    extra,
                });
            }
            let ratio = |a: &str, b: &str| {
                let avg = |n: &str| summary.iter().find(|(m, _, _)| *m == n).map(|x| x.1.avg);
                avg(a).zip(avg(b)).map_or(f64::NAN, |(a, b)| a / b)
            };
            println!(
                "# claim / raw_self_cas (avg): {:.2}",
                ratio("claim", "raw_self_cas")
            );
            println!(
                "# claim_traced / claim (avg): {:.2}",
                ratio("claim_traced", "claim")
            );
            println!();
        }
        dlb.finalize()?;
    }
    if !rows.is_empty() {
        common::write("latency", &rows);
    }
    Ok(())
}

/// Average, p50 and p99 over the batches of one figure.
struct Summary {
    avg: f64,
    p50: f64,
    p99: f64,
    batches: usize,
}

/// The summary of values timed on one rank (each figure is timed on exactly
/// one rank), on every rank. Batches are equal in size, so the average per
/// operation is the mean of the batch means.
fn summarize(dlb: &Dlb, values: &[f64]) -> dlb::Result<Summary> {
    let mean = if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    };
    let counts = allgather(dlb, values.len() as u64)?;
    let avg = allgather(dlb, mean.to_bits())?;
    let p50 = allgather(dlb, percentile(values, 0.5).to_bits())?;
    let p99 = allgather(dlb, percentile(values, 0.99).to_bits())?;
    let owner = counts.iter().position(|&n| n > 0).unwrap_or(0);
    Ok(Summary {
        avg: f64::from_bits(avg[owner]),
        p50: f64::from_bits(p50[owner]),
        p99: f64::from_bits(p99[owner]),
        batches: counts[owner] as usize,
    })
}

/// `give_more(1)` on rank 0 while it is served from rank 0's own range:
/// rank 1 waits (inside the run, in a collective) until rank 0 is done
/// measuring, so nobody steals from it meanwhile.
fn claim_latency(dlb: &mut Dlb, loops: Loops) -> dlb::Result<Vec<f64>> {
    let me = dlb.rank();
    let calls = loops.warmup + loops.batches * loops.per_batch;
    // Rank 0's block is half of the jobs; leave it a margin.
    let jobs = 4 * calls as u64;
    let mut times = Vec::new();
    let mut run = dlb.setup(jobs)?;
    if me == 0 {
        times = time_batches(loops.warmup, loops.batches, loops.per_batch, || {
            let chunk = run.give_more(1)?;
            assert!(chunk.is_some(), "rank 0's own block ran out");
            Ok(())
        })?;
    }
    allgather(run.dlb(), 0)?; // rank 1 waits here
    while run.give_more(u64::MAX)?.is_some() {}
    Ok(times)
}

/// [`claim_latency`] on a second `Dlb` on `path` that traces (to a
/// temporary file, removed afterwards): what tracing costs a claim.
fn traced_claim_latency(path: AtomicsPath, loops: Loops) -> dlb::Result<Vec<f64>> {
    let file = std::env::temp_dir().join(format!("dlb-latency-trace-{}.json", std::process::id()));
    let mut traced = Dlb::builder().atomics(path).trace(&file).init()?;
    let times = claim_latency(&mut traced, loops)?;
    let me = traced.rank();
    let file = traced.trace_path().expect("tracing").to_path_buf();
    traced.finalize()?;
    if me == 0 {
        if let Err(e) = std::fs::remove_file(&file) {
            eprintln!("latency: cannot remove {}: {e}", file.display());
        }
    }
    Ok(times)
}

/// Runs of P + 1 jobs of 1 ms (rank 0 has two, so the others wait about
/// 1 ms, as at the end of a real run): the time from the last job done to
/// the last rank told "no more". Microseconds, on rank 0.
fn termination_latency(dlb: &mut Dlb, runs: usize) -> dlb::Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let jobs = dlb.size() as u64 + 1;
        let mut run = dlb.setup(jobs)?;
        while run.give_more(1)?.is_some() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let s = dlb.statistics();
        let done = allgather(dlb, s.last_done_ns.unwrap_or(0))?;
        let told = allgather(dlb, s.told_ns.unwrap_or(0))?;
        if dlb.rank() == 0 {
            let last_done = *done.iter().max().unwrap();
            let last_told = *told.iter().max().unwrap();
            times.push(last_told.saturating_sub(last_done) as f64 / 1000.0);
        }
    }
    Ok(times)
}
