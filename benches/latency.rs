//! Latency on 2 ranks (OSU conventions: warm-up, then timed iterations,
//! 8-byte operands), for each atomics path, as p50 and p99:
//!
//! - the raw floor: one remote fetch-and-add + flush, one remote and one
//!   self compare-and-swap + flush, on the window dlb uses;
//! - dlb: a successful steal (victim full), a local claim (`give_more`
//!   served from the own range), a steal from a victim sleeping 10 ms
//!   outside MPI, and termination (last job done -> every rank told).
//!
//! Run: `ci/bench` (or under `mpiexec -n 2`).

mod common;

use common::{percentile, Row};
use dlb::bench::{raw_latency, steal_latency, RawOp};
use dlb::collectives::allgather;
use dlb::{AtomicsPath, Dlb};
use std::time::Duration;

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let (iterations, busy_iterations, term_runs) = if o.quick {
        (10_000, 10, 100)
    } else {
        (100_000, 40, 400)
    };
    let mut rows = Vec::new();
    for path in [AtomicsPath::Shm, AtomicsPath::Mpi] {
        let mut dlb = match Dlb::builder().atomics(path).init() {
            Ok(d) => d,
            Err(e) => {
                eprintln!("latency: skipping the {} path: {e}", path.name());
                continue;
            }
        };
        if dlb.size() != 2 {
            eprintln!(
                "latency: run on exactly 2 ranks (mpiexec -n 2), not {}",
                dlb.size()
            );
            std::process::exit(2);
        }
        let figures: Vec<(&str, Vec<f64>)> = vec![
            (
                "raw_fop",
                raw_latency(&dlb, RawOp::FetchAdd, true, 1000, iterations)?,
            ),
            (
                "raw_cas",
                raw_latency(&dlb, RawOp::CompareAndSwap, true, 1000, iterations)?,
            ),
            (
                "raw_self_cas",
                raw_latency(&dlb, RawOp::CompareAndSwap, false, 1000, iterations)?,
            ),
            ("claim", claim_latency(&mut dlb, iterations)?),
            ("steal", steal_latency(&mut dlb, iterations, None)?),
            (
                "busy_victim_steal",
                steal_latency(&mut dlb, busy_iterations, Some(Duration::from_millis(10)))?,
            ),
            ("termination", termination_latency(&mut dlb, term_runs)?),
        ];
        let mut summary = Vec::new();
        for (name, values) in &figures {
            summary.push((*name, summarize(&dlb, values)?));
        }
        if dlb.rank() == 0 {
            let p = path.name();
            println!(
                "latency, {} on 2 ranks, {p} path ({} window):",
                common::mpi_name(),
                dlb.window_flavor().map_or("none", |w| w.name())
            );
            println!(
                "  {:<20} {:>10} {:>10} {:>8}",
                "operation", "p50 us", "p99 us", "samples"
            );
            for (name, (p50, p99, samples)) in &summary {
                let (p50, p99) = (*p50, *p99);
                println!("  {name:<20} {p50:>10.3} {p99:>10.3} {samples:>8}");
                for (q, v) in [("p50", p50), ("p99", p99)] {
                    rows.push(Row {
                        bench: "latency",
                        path: p,
                        ranks: 2,
                        metric: leak(format!("{name}_{q}_us")),
                        value: v,
                        unit: "us",
                        extra: vec![("samples", samples.to_string())],
                    });
                }
            }
        }
        dlb.finalize()?;
    }
    if !rows.is_empty() {
        common::write("latency", &rows);
    }
    Ok(())
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// p50, p99 and the sample count of values timed on one rank, on every
/// rank (each figure is timed on exactly one rank).
fn summarize(dlb: &Dlb, values: &[f64]) -> dlb::Result<(f64, f64, usize)> {
    let counts = allgather(dlb, values.len() as u64)?;
    let p50 = allgather(dlb, percentile(values, 0.5).to_bits())?;
    let p99 = allgather(dlb, percentile(values, 0.99).to_bits())?;
    let owner = counts.iter().position(|&n| n > 0).unwrap_or(0);
    Ok((
        f64::from_bits(p50[owner]),
        f64::from_bits(p99[owner]),
        counts[owner] as usize,
    ))
}

/// `give_more(1)` on rank 0 while it is served from rank 0's own range:
/// rank 1 waits (inside the run, in a collective) until rank 0 is done
/// measuring, so nobody steals from it meanwhile.
fn claim_latency(dlb: &mut Dlb, iterations: usize) -> dlb::Result<Vec<f64>> {
    const WARMUP: usize = 1000;
    let me = dlb.rank();
    let jobs = 4 * (iterations + WARMUP) as u64;
    let mut times = Vec::with_capacity(iterations);
    let mut run = dlb.setup(jobs)?;
    if me == 0 {
        for call in 0..iterations + WARMUP {
            let start = std::time::Instant::now();
            let chunk = run.give_more(1)?;
            let took = start.elapsed();
            assert!(chunk.is_some(), "rank 0's own block ran out");
            if call >= WARMUP {
                times.push(took.as_secs_f64() * 1e6);
            }
        }
    }
    allgather(run.dlb(), 0)?; // rank 1 waits here
    while run.give_more(u64::MAX)?.is_some() {}
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
