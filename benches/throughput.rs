//! Claim throughput: jobs per second through `give_more` with zero-cost
//! jobs and `maxjobs` 1, for dlb `rma`, dlb `static`, and one global atomic
//! counter that every rank fetch-and-adds for each job (the contention work
//! stealing exists to avoid), in one run on the same ranks.
//!
//! Run: `ci/bench` (or under `mpiexec -n P`, P = 1, 2, 4, 8).

mod common;

use common::{json, Row};
use dlb::bench::global_counter;
use dlb::collectives::allgather;
use dlb::{Dlb, Variant};
use std::time::Instant;

/// Seconds until the slowest rank is done with `f`, on every rank.
fn timed(dlb: &mut Dlb, f: impl FnOnce(&mut Dlb) -> dlb::Result<()>) -> dlb::Result<f64> {
    allgather(dlb, 0)?; // a barrier
    let start = Instant::now();
    f(dlb)?;
    let mine = start.elapsed().as_nanos() as u64;
    Ok(*allgather(dlb, mine)?.iter().max().unwrap() as f64 * 1e-9)
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let jobs: u64 = if o.quick { 100_000 } else { 1_000_000 };
    let mut results = Vec::new();
    for variant in [Variant::Rma, Variant::Static] {
        let mut dlb = Dlb::builder().variant(variant).init()?;
        common::record_provenance(&dlb);
        let seconds = timed(&mut dlb, |dlb| {
            let mut run = dlb.setup(jobs)?;
            let mut sink = 0u64;
            while let Some(r) = run.give_more(1)? {
                sink = sink.wrapping_add(r.start);
            }
            std::hint::black_box(sink);
            Ok(())
        })?;
        results.push((
            variant.name(),
            dlb.atomics_path().map_or("none", |p| p.name()),
            seconds,
        ));
        if variant == Variant::Rma {
            let path = dlb.atomics_path().map_or("none", |p| p.name());
            let seconds = timed(&mut dlb, |dlb| {
                let mut sink = 0u64;
                global_counter(dlb, jobs, 1, |r| sink = sink.wrapping_add(r.start))?;
                std::hint::black_box(sink);
                Ok(())
            })?;
            results.push(("global_counter", path, seconds));
        }
        if dlb.rank() == 0 && variant == Variant::Static {
            let ranks = dlb.size();
            println!(
                "throughput, {} on {ranks} ranks, {jobs} zero-cost jobs, maxjobs 1:",
                common::mpi_name()
            );
            let rows: Vec<Row> = results
                .iter()
                .map(|(strategy, path, s)| {
                    let rate = jobs as f64 / s;
                    println!("  {strategy:<15} {path:<5} {rate:>14.0} jobs/s");
                    Row {
                        bench: "throughput",
                        path,
                        ranks,
                        metric: "jobs_per_s",
                        value: rate,
                        unit: "jobs/s",
                        extra: vec![("strategy", json!(strategy)), ("jobs", json!(jobs))],
                    }
                })
                .collect();
            common::write("throughput", &rows);
        }
        dlb.finalize()?;
    }
    Ok(())
}
