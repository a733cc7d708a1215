//! Chunk schedules (`Builder::schedule`): fixed chunks against guided and
//! factoring chunks that shrink with the own range, in one run.
//!
//! Workloads:
//! - `zero`: jobs that cost next to nothing (one add each; `2^22` jobs in
//!   all, `2^20` with `--quick`): what `give_more` costs per job;
//! - `uniform`: sleeping jobs of 0.25 to 1.25 ms (mean 0.5 ms), 100 per
//!   rank (40 with `--quick`);
//! - `pareto`: heavy-tailed sleeping jobs (Pareto, shape 1.5, capped at 25
//!   times the scale), scaled to a mean of 0.5 ms, as many.
//!
//! Configurations (schedule / `maxjobs`): `fixed/1` (DLB's usual call),
//! `fixed/16`, `guided/max` and `factoring/max` (`maxjobs` = `MAX_JOBS`: the
//! schedule alone sizes chunks), and `guided/16` (the schedule under a cap).
//! Each is timed from a barrier to the slowest rank's "no more". Figures:
//! `calls_per_rank` (mean `give_more` calls), and for `zero`
//! `ns_per_job` (makespan / jobs per rank), for the sleeping workloads
//! `makespan_over_bound` (bound: `max(measured job time / P, longest job)`).
//!
//! Run: `ci/bench` (or under `mpiexec -n P`).

mod common;

use common::sleep::{scaled_costs, timed, work, Outcome};
use common::{json, Row};
use dlb::collectives::allgather;
use dlb::{Dlb, Schedule, MAX_JOBS};

const CONFIGS: [(Schedule, u64); 5] = [
    (Schedule::Fixed, 1),
    (Schedule::Fixed, 16),
    (Schedule::Guided, MAX_JOBS),
    (Schedule::Factoring, MAX_JOBS),
    (Schedule::Guided, 16),
];

fn label(schedule: Schedule, maxjobs: u64) -> String {
    if maxjobs == MAX_JOBS {
        format!("{}/max", schedule.name())
    } else {
        format!("{}/{maxjobs}", schedule.name())
    }
}

/// Runs `jobs` jobs (`cost[id]` ms each, or one add when `cost` is empty)
/// after a barrier; the outcome and the mean `give_more` calls per rank.
/// Collective.
fn timed_schedule(
    dlb: &mut Dlb,
    maxjobs: u64,
    jobs: u64,
    cost: &[f64],
) -> dlb::Result<(Outcome, f64)> {
    let outcome = timed(dlb, |dlb, m| {
        let mut sum = 0u64;
        let mut run = dlb.setup(jobs)?;
        while let Some(r) = run.give_more(maxjobs)? {
            if cost.is_empty() {
                r.for_each(|id| sum = sum.wrapping_add(std::hint::black_box(id)));
            } else {
                r.for_each(|id| work(cost[id as usize], m));
            }
        }
        std::hint::black_box(sum);
        Ok(())
    })?;
    let calls = allgather(dlb, dlb.statistics().calls)?.iter().sum::<u64>();
    Ok((outcome, calls as f64 / dlb.size() as f64))
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let mut fixed = Dlb::builder().schedule(Schedule::Fixed).init()?;
    let mut guided = Dlb::builder().schedule(Schedule::Guided).init()?;
    let mut factoring = Dlb::builder().schedule(Schedule::Factoring).init()?;
    common::record_provenance(&fixed);
    let me = fixed.rank();
    let ranks = fixed.size() as u64;
    let path = fixed.atomics_path().map_or("none", |p| p.name());
    let zero_jobs: u64 = if o.quick { 1 << 20 } else { 1 << 22 };
    let sleep_jobs = ranks * if o.quick { 40 } else { 100 };
    if me == 0 {
        println!(
            "schedule, {} on {ranks} ranks, {path} path; zero: {zero_jobs} jobs, ns per job and rank; \
             uniform/pareto: {sleep_jobs} jobs of 0.5 ms mean, makespan / bound; calls per rank in brackets",
            common::mpi_name()
        );
        println!(
            "  {:<10}{}",
            "workload",
            CONFIGS
                .map(|(s, m)| format!("{:>22}", label(s, m)))
                .join("")
        );
    }
    let mut rows = Vec::new();
    for workload in ["zero", "uniform", "pareto"] {
        let (jobs, cost) = if workload == "zero" {
            (zero_jobs, Vec::new())
        } else {
            (sleep_jobs, scaled_costs(workload, sleep_jobs, ranks, 0.5))
        };
        let mut line = format!("  {workload:<10}");
        for (schedule, maxjobs) in CONFIGS {
            let dlb = match schedule {
                Schedule::Fixed => &mut fixed,
                Schedule::Guided => &mut guided,
                Schedule::Factoring => &mut factoring,
            };
            let (out, calls_per_rank) = timed_schedule(dlb, maxjobs, jobs, &cost)?;
            let (metric, value, unit) = if workload == "zero" {
                let per_rank = jobs as f64 / ranks as f64;
                ("ns_per_job", out.makespan * 1e9 / per_rank, "ns")
            } else {
                ("makespan_over_bound", out.ratio(), "ratio")
            };
            line.push_str(&format!(
                "{:>22}",
                format!("{value:.3} ({calls_per_rank:.0})")
            ));
            let extra = || {
                vec![
                    ("workload", json!(workload)),
                    ("schedule", json!(schedule.name())),
                    ("maxjobs", json!(maxjobs)),
                    ("config", json!(label(schedule, maxjobs))),
                    ("jobs", json!(jobs)),
                    ("stack", json!(common::stack())),
                ]
            };
            rows.push(Row {
                bench: "schedule",
                path,
                ranks: ranks as usize,
                metric,
                value,
                unit,
                extra: extra(),
            });
            rows.push(Row {
                bench: "schedule",
                path,
                ranks: ranks as usize,
                metric: "calls_per_rank",
                value: calls_per_rank,
                unit: "calls",
                extra: extra(),
            });
        }
        if me == 0 {
            println!("{line}");
        }
    }
    if me == 0 {
        common::write("schedule", &rows);
    }
    factoring.finalize()?;
    guided.finalize()?;
    fixed.finalize()
}
