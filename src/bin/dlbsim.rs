//! `dlbsim`: dlb's protocol and the baselines at any number of ranks in
//! virtual time (feature `simulate`; see `dlb::simulate` and `ci/simulate`).
//!
//! ```text
//! dlbsim [--ranks 4,16,64] [--per-node 8] [--models hw_rdma,sw_rma,smpi]
//!        [--workloads uniform] [--strategies dlb,dlb_marks,dlb_direct,static,global_counter,master_worker,lock_steal]
//!        [--per-rank 100] [--mean-ms 1] [--maxjobs 1] [--fan-out 16] [--draws 1]
//!        [--seeds 1] [--out FILE]
//! ```
//!
//! The lock-steal baseline (`lock_steal`) sweeps every rank from every idle
//! rank: its simulation grows as P², minutes at 256 ranks on sw_rma.
//!
//! One line per (strategy, model, workload, ranks) on standard output, and
//! the same as a JSON object per line appended to `--out`. Workloads named
//! `bench:NAME` are the benchmarks' (`dlb::workloads`: `bench:ramp`,
//! `bench:heavy_block`, `bench:seed_1_8`, ...), with their nominal costs, or
//! scaled to `--mean-ms` when it is given, as `benches/multinode.rs` does.
//! `--draws N` runs the random ones (`bench:uniform`, `bench:pareto`,
//! `bench:seed_1_8`) on N draws of their costs (rows carry `draw`) and
//! prints each strategy's mean makespan / bound over them, as
//! `benches/balance.rs` does.
//!
//! `dlb` is dlb as by default: with direct steals where the library's
//! default turns them on (`hw_rdma`, as init's probe would, and `smpi`),
//! else (`sw_rma`) with hunger marks; `dlb_marks` and
//! `dlb_direct` force one or the other (`DLB_DIRECT_STEALS=0` and `1`).
//!
//! `--seeds K` runs dlb (and `dlb_marks`, `dlb_direct`) K times per point and draw, with K seeds of its
//! victim choices (rows carry `seed`; the baselines make no random choices
//! and run once), and prints each strategy's mean, standard deviation,
//! minimum and maximum of makespan / bound over all its runs of the point.
//! One run of dlb is one sample of a chaotic system: which victim a hunter
//! picks moves the end of a run by a job or more, so a change to the
//! protocol that moves one run's efficiency by less than the spread over
//! seeds has not been shown to do anything.

use dlb::simulate::{run, CrossModel, Latency, Outcome, Scenario, Strategy, Workload};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A workload of the simulator's own, or of the benchmarks.
#[derive(Clone, Copy)]
enum Jobs {
    Sim(Workload),
    Bench(&'static str),
}

impl Jobs {
    fn from_name(s: &str) -> Option<Jobs> {
        match s.strip_prefix("bench:") {
            Some(b) => dlb::workloads::NAMES
                .into_iter()
                .find(|&n| n == b)
                .map(Jobs::Bench),
            None => Workload::from_name(s).map(Jobs::Sim),
        }
    }

    fn name(self) -> String {
        match self {
            Jobs::Sim(w) => w.name().to_owned(),
            Jobs::Bench(b) => format!("bench:{b}"),
        }
    }
}

struct Args {
    ranks: Vec<usize>,
    per_node: usize,
    models: Vec<Latency>,
    workloads: Vec<Jobs>,
    strategies: Vec<Strategy>,
    per_rank: u64,
    mean_ms: f64,
    /// Whether `--mean-ms` was given (benchmark workloads are scaled then).
    mean_given: bool,
    maxjobs: u64,
    fan_out: Option<usize>,
    /// Draws of the benchmarks' random workloads (`bench:NAME`).
    draws: u64,
    /// Seeds of dlb's victim choices per point and draw.
    seeds: u64,
    out: Option<String>,
}

const USAGE: &str = "usage: dlbsim [--ranks 4,16,64] [--per-node 8] [--models hw_rdma,sw_rma,smpi] \
[--workloads uniform,ramp,block,seed,pareto,bench:NAME] [--strategies dlb,dlb_marks,dlb_direct,static,global_counter,master_worker,lock_steal] \
[--per-rank 100] [--mean-ms 1] [--maxjobs 1] [--fan-out 16] [--draws 1] [--seeds 1] [--out FILE]";

fn list<T>(v: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .map(|s| parse(s.trim()).ok_or_else(|| format!("unknown {what} '{s}'")))
        .collect()
}

/// `v` as a positive number (`n > 0`, finite).
fn positive<T: std::str::FromStr + PartialOrd + Default>(flag: &str, v: &str) -> Result<T, String> {
    v.parse::<T>()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("{flag}: '{v}' is not a positive number"))
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        ranks: vec![4, 16, 64],
        per_node: 8,
        models: vec![
            Latency::of(CrossModel::HwRdma),
            Latency::of(CrossModel::SwRma),
        ],
        workloads: vec![Jobs::Sim(Workload::Uniform)],
        strategies: Strategy::ALL.to_vec(),
        per_rank: 100,
        mean_ms: 1.0,
        mean_given: false,
        maxjobs: 1,
        fan_out: None,
        draws: 1,
        seeds: 1,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--ranks" => a.ranks = list(&v, |s| s.parse().ok().filter(|&n| n > 0), "rank count")?,
            "--per-node" => a.per_node = positive(&flag, &v)?,
            "--models" => a.models = list(&v, Latency::named, "model (hw_rdma, sw_rma, smpi)")?,
            "--workloads" => a.workloads = list(&v, Jobs::from_name, "workload")?,
            "--strategies" => a.strategies = list(&v, Strategy::from_name, "strategy")?,
            "--per-rank" => a.per_rank = positive(&flag, &v)?,
            "--mean-ms" => {
                a.mean_ms = positive(&flag, &v)?;
                a.mean_given = true;
                if !a.mean_ms.is_finite() {
                    return Err(format!("--mean-ms: '{v}' is not finite"));
                }
            }
            "--maxjobs" => a.maxjobs = positive(&flag, &v)?,
            "--fan-out" => a.fan_out = Some(positive(&flag, &v)?),
            "--draws" => a.draws = positive(&flag, &v)?,
            "--seeds" => a.seeds = positive(&flag, &v)?,
            "--out" => a.out = Some(v),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("dlbsim: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = match &args.out {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("dlbsim: cannot open {path}: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    println!(
        "{:<15} {:<8} {:<8} {:>6} {:>9} {:>10} {:>10} {:>7} {:>8} {:>12} {:>8}",
        "strategy",
        "model",
        "workload",
        "ranks",
        "jobs",
        "makespan_s",
        "bound_s",
        "effic",
        "steals",
        "termination",
        "wall_s"
    );
    let mut failed = false;
    for &model in &args.models {
        for &workload in &args.workloads {
            for &ranks in &args.ranks {
                match run_point(&args, model, workload, ranks, out.as_mut()) {
                    Ok(ok) => failed |= !ok,
                    Err(e) => {
                        eprintln!("dlbsim: cannot write a row: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs every strategy at one point (`model`, `workload`, `ranks`) on each
/// of its draws, dlb with each of `--seeds` seeds: prints a line per run
/// (and, over several runs, each strategy's mean and spread) and writes a
/// row per run to `out`. `Ok(false)` if a run failed its checks.
fn run_point(
    args: &Args,
    model: Latency,
    workload: Jobs,
    ranks: usize,
    mut out: Option<&mut std::fs::File>,
) -> std::io::Result<bool> {
    let draws = match workload {
        Jobs::Bench(name) if dlb::workloads::is_random(name) => args.draws,
        _ => 1,
    };
    // Only dlb makes random choices: the baselines run once per draw.
    let seeds_of = |strategy: Strategy| {
        if strategy.is_dlb() {
            args.seeds
        } else {
            1
        }
    };
    let mut ok = true;
    // Per strategy: makespan / bound of each run.
    let mut ratios = vec![Vec::new(); args.strategies.len()];
    for draw in 0..draws {
        let drawn = scenario(args, model, workload, ranks, draw);
        for seed in 0..args.seeds {
            let mut sc = drawn.clone();
            sc.seed = sc.seed.wrapping_add(seed);
            for (k, &strategy) in args.strategies.iter().enumerate() {
                if strategy == Strategy::MasterWorker && ranks < 2 || seed >= seeds_of(strategy) {
                    continue;
                }
                let began = Instant::now();
                let o = match run(strategy, &sc) {
                    Ok(o) => o,
                    Err(e) => {
                        eprintln!(
                            "dlbsim: FAIL {} {} {} {ranks} ranks (draw {draw}, seed {:#x}): {e}",
                            strategy.name(),
                            model.name,
                            workload.name(),
                            sc.seed
                        );
                        ok = false;
                        continue;
                    }
                };
                let wall = began.elapsed().as_secs_f64();
                ratios[k].push(o.makespan_ns as f64 / o.bound_ns as f64);
                println!(
                    "{:<15} {:<8} {:<8} {:>6} {:>9} {:>10.4} {:>10.4} {:>7.3} {:>8} {:>10.1}us {:>8.2}",
                    strategy.name(),
                    model.name,
                    workload.name(),
                    ranks,
                    sc.jobs,
                    o.makespan_ns as f64 / 1e9,
                    o.bound_ns as f64 / 1e9,
                    o.efficiency(),
                    o.steals,
                    o.termination_ns as f64 / 1e3,
                    wall
                );
                if let Some(f) = out.as_mut() {
                    let sample = Sample {
                        draw,
                        seed: strategy.is_dlb().then_some(sc.seed),
                    };
                    let row = json_row(args, strategy, workload, &sc, sample, &o, wall);
                    writeln!(f, "{row}")?;
                }
            }
        }
    }
    for (strategy, runs) in args.strategies.iter().zip(&ratios) {
        if runs.len() < 2 {
            continue;
        }
        let n = runs.len() as f64;
        let mean = runs.iter().sum::<f64>() / n;
        let sd = (runs.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let min = runs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = runs.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<15} {:<8} {:<8} {:>6}   makespan / bound over {} runs ({draws} draws x {} seeds): mean {mean:.3}, sd {sd:.3}, min {min:.3}, max {max:.3}",
            strategy.name(),
            model.name,
            workload.name(),
            ranks,
            runs.len(),
            seeds_of(*strategy),
        );
    }
    Ok(ok)
}

/// The scenario of one point and draw: `ranks` ranks in nodes of
/// `--per-node`, `--per-rank` jobs each, `model`'s costs.
fn scenario(args: &Args, model: Latency, workload: Jobs, ranks: usize, draw: u64) -> Scenario {
    let own = match workload {
        Jobs::Sim(w) => w,
        Jobs::Bench(_) => Workload::Uniform,
    };
    let jobs = args.per_rank * ranks as u64;
    let mut sc = Scenario::new(ranks, args.per_node, model.cross, own, jobs);
    sc.latency = model;
    sc.tree_fan_out = args.fan_out;
    sc.mean = Duration::from_secs_f64(args.mean_ms / 1e3);
    sc.maxjobs = args.maxjobs;
    if let Jobs::Bench(name) = workload {
        let mean = args.mean_given.then_some(sc.mean);
        sc = sc
            .with_bench_costs(name, mean, draw)
            .expect("names are checked when parsed");
    }
    sc
}

/// Which run of a point a row is: the draw of its job costs, and dlb's
/// seed (`None` for the baselines).
#[derive(Clone, Copy)]
struct Sample {
    draw: u64,
    seed: Option<u64>,
}

/// The JSON row of one run of `strategy` on `sc`.
fn json_row(
    args: &Args,
    strategy: Strategy,
    workload: Jobs,
    sc: &Scenario,
    sample: Sample,
    o: &Outcome,
    wall: f64,
) -> serde_json::Value {
    serde_json::json!({
        "bench": "simulate",
        "strategy": strategy.name(),
        "model": sc.latency.name,
        "workload": workload.name(),
        "ranks": sc.ranks,
        "per_node": sc.per_node,
        "jobs": sc.jobs,
        // Benchmark workloads at nominal costs have their own mean.
        "mean_ms": (args.mean_given || matches!(workload, Jobs::Sim(_))).then_some(args.mean_ms),
        "maxjobs": sc.maxjobs,
        "tree_fan_out": args.fan_out,
        "draw": sample.draw,
        // dlb's victim-choice seed (the baselines make no random choices).
        "seed": sample.seed,
        "makespan_s": o.makespan_ns as f64 / 1e9,
        "bound_s": o.bound_ns as f64 / 1e9,
        "efficiency": o.efficiency(),
        "steals": o.steals,
        "steal_attempts": o.steal_attempts,
        "termination_s": o.termination_ns as f64 / 1e9,
        // Rank time spent looking for jobs while some were left (dlb and
        // the lock steals; not measured for the other baselines).
        "waited_with_work_s": (strategy.is_dlb() || strategy == Strategy::LockSteal)
            .then_some(o.waited_with_work_ns as f64 / 1e9),
        "cross_ops": o.cross_ops,
        "shm_ops": o.shm_ops,
        "wall_s": wall,
        "sim_switches": o.switches,
        "hottest_rank": o.hottest_rank,
        "hottest_rank_ops": o.hottest_rank_ops,
        "version": env!("CARGO_PKG_VERSION"),
        "provenance": dlb::simulate::provenance(sc.ranks, sc.per_node),
    })
}
