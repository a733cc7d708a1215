//! Sleeping workloads and the four strategies that run them, shared by
//! `balance.rs` and `multinode.rs`: a job sleeps its cost outside MPI, and
//! one strategy run is timed from a barrier to the slowest rank's end.

use dlb::bench::{global_counter, master_worker};
use dlb::collectives::{allgather, barrier};
use dlb::Dlb;
use std::time::{Duration, Instant};

/// The strategies, in table order: dlb rma, dlb static, master-worker
/// (rank 0 sends one job per message and does no work), one global atomic
/// counter on rank 0.
pub const STRATEGIES: [&str; 4] = ["dlb_rma", "dlb_static", "master_worker", "global_counter"];

/// The workloads' job costs of draw `draw` (one definition, shared with the
/// simulator's validation against these benchmarks): see `dlb::workloads`.
pub fn costs_of_draw(workload: &str, jobs: u64, ranks: u64, draw: u64) -> Vec<f64> {
    dlb::workloads::costs_of_draw(workload, jobs, ranks, draw)
        .unwrap_or_else(|| panic!("unknown workload {workload}"))
}

/// The costs of draw 0 scaled so that their mean is exactly `mean_ms`.
pub fn scaled_costs(workload: &str, jobs: u64, ranks: u64, mean_ms: f64) -> Vec<f64> {
    dlb::workloads::scaled_costs(workload, jobs, ranks, mean_ms)
        .unwrap_or_else(|| panic!("unknown workload {workload}"))
}

/// What a rank measured in one strategy run.
#[derive(Default)]
pub struct Measured {
    pub total: f64,
    pub longest: f64,
}

/// One job: sleeps `cost_ms` outside MPI and records how long it took.
pub fn work(cost_ms: f64, m: &mut Measured) {
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(cost_ms / 1000.0));
    let took = start.elapsed().as_secs_f64();
    m.total += took;
    m.longest = m.longest.max(took);
}

/// Runs every job of `cost` once under `strategy` (one of [`STRATEGIES`],
/// or `dlb_rr`: dlb rma started with `setup_rr`, rank `r` beginning with
/// IDs `r, r + P, ...`), `give_more(1)` or one job per message / per
/// fetch-and-add. `rma` and `stat` are the rma and
/// static variants (the baselines use `rma`'s window and atomics path).
pub fn run_strategy(
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
        "dlb_rr" => {
            let mut run = rma.setup_rr(jobs)?;
            while let Some(ids) = run.give_more(1)? {
                ids.iter().for_each(|id| work(cost[id as usize], m));
            }
        }
        "master_worker" => master_worker(rma, jobs, |id| work(cost[id as usize], m))?,
        "global_counter" => global_counter(rma, jobs, 1, |r| {
            r.for_each(|id| work(cost[id as usize], m))
        })?,
        _ => panic!("unknown strategy {strategy}"),
    }
    Ok(())
}

/// One timed strategy run, on every rank.
pub struct Outcome {
    /// Seconds from the barrier before the run to the slowest rank's end.
    pub makespan: f64,
    /// `max(total measured job time / P, longest measured job)`, seconds.
    pub bound: f64,
}

impl Outcome {
    pub fn ratio(&self) -> f64 {
        self.makespan / self.bound
    }
}

/// Runs `strategy` once after a barrier and gathers its makespan and lower
/// bound (from the job times measured in this run: sleeps overshoot, and
/// that is not imbalance). Collective.
pub fn timed_run(
    strategy: &str,
    rma: &mut Dlb,
    stat: &mut Dlb,
    cost: &[f64],
) -> dlb::Result<Outcome> {
    timed(rma, |rma, m| run_strategy(strategy, rma, stat, cost, m))
}

/// Runs `run` once after a barrier (on `dlb`'s ranks) and gathers its
/// makespan and the lower bound from the job times `run` recorded in its
/// `Measured`. Collective.
pub fn timed(
    dlb: &mut Dlb,
    run: impl FnOnce(&mut Dlb, &mut Measured) -> dlb::Result<()>,
) -> dlb::Result<Outcome> {
    let ranks = dlb.size() as f64;
    let mut m = Measured::default();
    allgather(dlb, 0)?; // a barrier
    let start = Instant::now();
    run(dlb, &mut m)?;
    let mine = start.elapsed().as_nanos() as u64;
    // Ranks that are done wait asleep: MPICH's blocking collectives
    // busy-poll, and on oversubscribed cores that would slow down the ranks
    // still sleeping through jobs (and so measure the waiting, not the
    // strategy). The end times are taken before.
    barrier(dlb)?;
    let makespan = *allgather(dlb, mine)?.iter().max().unwrap() as f64 * 1e-9;
    let total: f64 = allgather(dlb, (m.total * 1e9) as u64)?.iter().sum::<u64>() as f64 * 1e-9;
    let longest = *allgather(dlb, (m.longest * 1e9) as u64)?
        .iter()
        .max()
        .unwrap() as f64
        * 1e-9;
    Ok(Outcome {
        makespan,
        bound: (total / ranks).max(longest),
    })
}
