//! Load balance: the makespan of sleeping workloads against the lower bound
//! `max(total / P, longest job)`, where total and longest are the job times
//! measured in this run (a sleep overshoots its nominal time; that is not
//! imbalance). The nominal bound is reported too.
//!
//! Workloads: uniform random, ramp (cost grows with the job ID), heavy-tailed
//! (Pareto), the seed example's 1 to 8 units, and one heavy block on rank 0.
//! Strategies, in the same run: dlb rma, dlb static, master-worker (rank 0
//! sends one job per message), and one global atomic counter.
//!
//! Run: `ci/bench` (or under `mpiexec -n P`, P = 2, 4, 8, 16).

mod common;

use common::Row;
use dlb::bench::{global_counter, master_worker};
use dlb::{Dlb, Variant};
use std::time::{Duration, Instant};

/// xorshift64*, the same on every rank.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORKLOADS: [&str; 5] = ["uniform", "ramp", "pareto", "seed_1_8", "heavy_block"];
const STRATEGIES: [&str; 4] = ["dlb_rma", "dlb_static", "master_worker", "global_counter"];

/// Nominal job costs in milliseconds (mean at least 1 ms).
fn costs(workload: &str, jobs: u64, ranks: u64) -> Vec<f64> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ jobs);
    let heavy_end = jobs / ranks + u64::from(jobs % ranks > 0); // rank 0's block
    (0..jobs)
        .map(|i| match workload {
            "uniform" => 0.5 + 2.0 * rng.unit(),
            "ramp" => 0.25 + 3.0 * i as f64 / jobs as f64,
            // Pareto, shape 1.5, scale 0.5 ms (mean 1.5 ms), capped at 25 ms.
            "pareto" => (0.5 / (1.0 - rng.unit()).powf(1.0 / 1.5)).min(25.0),
            "seed_1_8" => 0.5 * (1.0 + (rng.unit() * 8.0).floor()),
            _ => {
                if i < heavy_end {
                    4.0
                } else {
                    1.0
                }
            }
        })
        .collect()
}

/// What a rank measured in one strategy run.
#[derive(Default)]
struct Measured {
    total: f64,
    longest: f64,
}

fn work(cost_ms: f64, m: &mut Measured) {
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(cost_ms / 1000.0));
    let took = start.elapsed().as_secs_f64();
    m.total += took;
    m.longest = m.longest.max(took);
}

fn run_strategy(
    strategy: &str,
    rma: &mut Dlb,
    stat: &mut Dlb,
    cost: &[f64],
    m: &mut Measured,
) -> dlb::Result<()> {
    let jobs = cost.len() as u64;
    match strategy {
        "dlb_rma" | "dlb_static" => {
            let dlb = if strategy == "dlb_rma" { rma } else { stat };
            let mut run = dlb.setup(jobs)?;
            while let Some(r) = run.give_more(1)? {
                r.for_each(|id| work(cost[id as usize], m));
            }
        }
        "master_worker" => master_worker(rma, jobs, |id| work(cost[id as usize], m))?,
        _ => global_counter(rma, jobs, 1, |r| {
            r.for_each(|id| work(cost[id as usize], m))
        })?,
    }
    Ok(())
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let mut rma = Dlb::builder().variant(Variant::Rma).init()?;
    let mut stat = Dlb::builder().variant(Variant::Static).init()?;
    let ranks = rma.size() as u64;
    let path = rma.atomics_path().map_or("none", |p| p.name());
    let jobs = if o.quick { 16 * ranks } else { 48 * ranks };
    let mut rows = Vec::new();
    if rma.rank() == 0 {
        println!("balance, {} on {ranks} ranks, {path} path, {jobs} jobs; makespan / bound (measured job times):", common::mpi_name());
        println!(
            "  {:<12} {}",
            "workload",
            STRATEGIES.map(|s| format!("{s:>15}")).join("")
        );
    }
    for workload in WORKLOADS {
        let cost = costs(workload, jobs, ranks);
        let nominal = (cost.iter().sum::<f64>() / ranks as f64)
            .max(cost.iter().cloned().fold(0.0, f64::max))
            / 1000.0;
        let mut line = format!("  {workload:<12}");
        for strategy in STRATEGIES {
            let mut m = Measured::default();
            rma.allgather(0)?; // a barrier
            let start = Instant::now();
            run_strategy(strategy, &mut rma, &mut stat, &cost, &mut m)?;
            let mine = start.elapsed().as_nanos() as u64;
            let makespan = *rma.allgather(mine)?.iter().max().unwrap() as f64 * 1e-9;
            let total: f64 =
                rma.allgather((m.total * 1e9) as u64)?.iter().sum::<u64>() as f64 * 1e-9;
            let longest = *rma
                .allgather((m.longest * 1e9) as u64)?
                .iter()
                .max()
                .unwrap() as f64
                * 1e-9;
            let bound = (total / ranks as f64).max(longest);
            let ratio = makespan / bound;
            line.push_str(&format!("{ratio:>15.3}"));
            rows.push(Row {
                bench: "balance",
                path,
                ranks: ranks as usize,
                metric: "makespan_over_bound",
                value: ratio,
                unit: "ratio",
                extra: vec![
                    ("workload", workload.to_owned()),
                    ("strategy", strategy.to_owned()),
                    ("makespan_s", format!("{makespan:.6}")),
                    ("lower_bound_s", format!("{bound:.6}")),
                    ("nominal_bound_s", format!("{nominal:.6}")),
                    ("jobs", jobs.to_string()),
                ],
            });
        }
        if rma.rank() == 0 {
            println!("{line}");
        }
    }
    if rma.rank() == 0 {
        common::write("balance", &rows);
    }
    stat.finalize()?;
    rma.finalize()
}
