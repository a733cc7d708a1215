//! The master-worker example's scenario, balanced by dlb: tasks that sleep
//! 1 to 8 time units, four per rank, with every rank working (no master).
//! Prints what each rank did and the makespan against the ideal
//! `max(total / P, longest task)` and against DLB's static block split.
//!
//! Run with `ci/demo`, or `mpiexec -n 4 target/release/examples/demo
//! [unit_ms] [--json]`; with `--json` rank 0 prints one JSON object
//! instead of the text (what `ci/slurm/scaling.sbatch` reads).

use dlb::collectives::allgather;
use std::time::{Duration, Instant};

/// Task costs in units, the same on every rank (a fixed-seed generator, like
/// the example's `np.random.seed(1000)`).
fn costs(tasks: u64) -> Vec<u64> {
    let mut state: u64 = 1000;
    (0..tasks)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1 + (state >> 33) % 8
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let unit_ms: u64 = match args.iter().find(|a| *a != "--json") {
        None => 20,
        Some(a) => a
            .parse()
            .map_err(|_| format!("'{a}' is not a unit in ms (usage: demo [unit_ms] [--json])"))?,
    };
    let _mpi = dlb::Mpi::init()?;
    let mut dlb = dlb::Dlb::init()?;
    let (me, p) = (dlb.rank(), dlb.size() as u64);
    let tasks = 4 * p;
    let cost = costs(tasks);

    let start = Instant::now();
    let (mut done, mut busy_units) = (Vec::new(), 0);
    let mut run = dlb.setup(tasks)?;
    while let Some(ids) = run.give_more(1)? {
        for id in ids {
            std::thread::sleep(Duration::from_millis(cost[id as usize] * unit_ms));
            busy_units += cost[id as usize];
            done.push(id);
        }
    }
    let finished_us = start.elapsed().as_micros() as u64;
    let stats = dlb.statistics();

    let counts = allgather(&dlb, done.len() as u64)?;
    let busy = allgather(&dlb, busy_units)?;
    let steals = allgather(&dlb, stats.steals)?;
    let ends = allgather(&dlb, finished_us)?;
    if me == 0 {
        let total: u64 = cost.iter().sum();
        let longest = *cost.iter().max().unwrap_or(&0);
        let ideal = (total as f64 / p as f64).max(longest as f64) * unit_ms as f64;
        // DLB's static split: rank k does its block q*k + min(r,k).. alone.
        let (q, r) = (tasks / p, tasks % p);
        let static_ms = (0..p)
            .map(|k| {
                let s = q * k + r.min(k);
                cost[s as usize..(s + q + u64::from(k < r)) as usize]
                    .iter()
                    .sum::<u64>()
            })
            .max()
            .unwrap_or(0)
            * unit_ms;
        let makespan_ms = *ends.iter().max().unwrap() as f64 / 1000.0;
        if json {
            let row = serde_json::json!({
                "tasks": tasks,
                "unit_ms": unit_ms,
                "ranks": p,
                "variant": dlb.variant().name(),
                "atomics": dlb.atomics_path().map(|a| a.name()),
                "makespan_ms": makespan_ms,
                "ideal_ms": ideal,
                "makespan_over_ideal": makespan_ms / ideal,
                "static_ms": static_ms,
                "static_over_ideal": static_ms as f64 / ideal,
                "tasks_per_rank": counts,
                "steals_per_rank": steals,
            });
            println!("{row}");
            return Ok(dlb.finalize()?);
        }
        println!(
            "dlb demo: {tasks} tasks of 1-8 units (1 unit = {unit_ms} ms), total {total} units, on {p} ranks; \
             variant {}, atomics {}",
            dlb.variant().name(),
            dlb.atomics_path().map_or("none", |a| a.name())
        );
        println!("task costs: {cost:?}");
        for k in 0..p as usize {
            println!(
                "rank {k}: {:>2} tasks, busy {:>5} ms, {} steals, told 'no more' at {:>7.1} ms",
                counts[k],
                busy[k] * unit_ms,
                steals[k],
                ends[k] as f64 / 1000.0
            );
        }
        println!(
            "makespan {makespan_ms:.1} ms; ideal {ideal:.1} ms (max(total/P, longest task)): {:.3}x ideal; \
             static split {static_ms} ms: {:.3}x ideal",
            makespan_ms / ideal,
            static_ms as f64 / ideal
        );
        let idle_ranks = counts.iter().filter(|&&c| c == 0).count();
        println!(
            "{}",
            if idle_ranks == 0 {
                "every rank worked"
            } else {
                "some rank did no task"
            }
        );
    }
    Ok(dlb.finalize()?)
}
