//! Load balance: the makespan of sleeping workloads against the lower bound
//! `max(total / P, longest job)`, where total and longest are the job times
//! measured in this run (a sleep overshoots its nominal time; that is not
//! imbalance). The nominal bound is reported too.
//!
//! Workloads: uniform random, ramp (cost grows with the job ID), heavy-tailed
//! (Pareto), the seed example's 1 to 8 units, and one heavy block on rank 0.
//! Strategies, in the same run: dlb rma, dlb rma with the round-robin
//! start (`setup_rr`: rank `r` begins with IDs `r, r + P, ...`, for costs
//! that follow the job ID), dlb static, master-worker (rank 0 sends one job
//! per message), and one global atomic counter.
//!
//! The random workloads run several draws (5 with `--quick`, else 10), each
//! strategy on the same costs, one row per draw (field `draw`); the table
//! shows the mean over draws. One draw is a lottery: in a heavy-tailed run
//! the longest job decides the makespan, and which strategy starts it early
//! depends on where it lies (at 8 ranks, draw 0's 25 ms job is the last of
//! rank 2's block: late for a static split of blocks, early for one global
//! counter).
//!
//! Run: `ci/bench` (or under `mpiexec -n P`, P = 2, 4, 8, 16).

mod common;

use common::sleep::{costs_of_draw, timed_run};
use common::{json, Row};
use dlb::{Dlb, Variant};

const WORKLOADS: [&str; 5] = ["uniform", "ramp", "pareto", "seed_1_8", "heavy_block"];
/// The strategies, in table order (`common::sleep::STRATEGIES` with the
/// round-robin start after dlb rma).
const STRATEGIES: [&str; 5] = [
    "dlb_rma",
    "dlb_rr",
    "dlb_static",
    "master_worker",
    "global_counter",
];

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let mut rma = Dlb::builder().variant(Variant::Rma).init()?;
    let mut stat = Dlb::builder().variant(Variant::Static).init()?;
    common::record_provenance(&rma);
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
    let draws = if o.quick { 5 } else { 10 };
    for workload in WORKLOADS {
        let draws = if dlb::workloads::is_random(workload) {
            draws
        } else {
            1
        };
        let mut sums = [0.0; STRATEGIES.len()];
        for draw in 0..draws {
            let cost = costs_of_draw(workload, jobs, ranks, draw);
            let nominal = (cost.iter().sum::<f64>() / ranks as f64)
                .max(cost.iter().cloned().fold(0.0, f64::max))
                / 1000.0;
            for (sum, strategy) in sums.iter_mut().zip(STRATEGIES) {
                let outcome = timed_run(strategy, &mut rma, &mut stat, &cost)?;
                let (makespan, bound, ratio) = (outcome.makespan, outcome.bound, outcome.ratio());
                *sum += ratio;
                rows.push(Row {
                    bench: "balance",
                    path,
                    ranks: ranks as usize,
                    metric: "makespan_over_bound",
                    value: ratio,
                    unit: "ratio",
                    extra: vec![
                        ("workload", json!(workload)),
                        ("strategy", json!(strategy)),
                        ("draw", json!(draw)),
                        ("makespan_s", json!(makespan)),
                        ("lower_bound_s", json!(bound)),
                        ("nominal_bound_s", json!(nominal)),
                        ("jobs", json!(jobs)),
                    ],
                });
            }
        }
        if rma.rank() == 0 {
            let means = sums.map(|sum| format!("{:>15.3}", sum / draws as f64));
            println!("  {:<12}{} (draws: {draws})", workload, means.join(""));
        }
    }
    if rma.rank() == 0 {
        common::write("balance", &rows);
    }
    stat.finalize()?;
    rma.finalize()
}
