//! `dlbcheck`: does dlb work on this cluster, with this MPI, under this
//! launcher? Run it as `mpiexec -n 8 dlbcheck` or `srun -n 64 dlbcheck`.
//!
//! It prints the MPI library, ranks, nodes, the atomics path and window
//! flavor dlb chose and whether atomics progress passively; then it runs
//! every interface and variant for several rounds with random `maxjobs` and
//! random short jobs, and checks on rank 0 that every job ID ran exactly
//! once. The last line is `dlbcheck: PASS` or `dlbcheck: FAIL <reason>`,
//! with exit status 0 or 1.

#![warn(clippy::too_many_lines)]

use dlb::collectives::{allgather, allreduce_sum};
use dlb::rng::Rng;
use dlb::{Dlb, Variant};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const HELP: &str = "\
dlbcheck: checks that dlb hands out every job exactly once on this MPI stack.

usage: mpiexec -n N dlbcheck [options]    or    srun -n N dlbcheck [options]

options:
  --jobs N                 jobs per run (default 5000; --quick: 500)
  --maxjobs M              largest maxjobs; each call picks 1..=M at random (default 16)
  --rounds R               runs per interface and variant (default 3; --quick: 2)
  --interface I            all | plain | color | rr (default all)
  --variant V              all | rma | static (default all)
  --seed S                 seed for maxjobs, colors and job costs (default 1)
  --job-us U               longest job, in microseconds of sleep (default 200; --quick: 50)
  --quick                  small and fast, for CI and scaling sweeps
  --report-init            every rank prints 'dlbcheck: rank R: MPI is up' once MPI_Init
                           returned (tells a launch that failed inside MPI from a dlb failure)
  --help, -h               this text
  --version, -V            dlbcheck's (and dlb's) version

environment: DLB_ATOMICS=mpi|shm, DLB_WINDOW=allocate|shared|create as for the library.
The last line is 'dlbcheck: PASS' or 'dlbcheck: FAIL <reason>'; the exit status matches.
A launch whose size disagrees with MPI's (singletons) fails; the launcher's size is read from
OMPI_COMM_WORLD_SIZE or PMI_SIZE, or else, for a rank that sees itself alone, from Slurm's
SLURM_STEP_NUM_TASKS (never SLURM_NTASKS, which an mpirun inside an sbatch script inherits
from the allocation).";

#[derive(Clone, Debug)]
struct Options {
    jobs: u64,
    maxjobs: u64,
    rounds: u32,
    interfaces: Vec<&'static str>,
    variants: Vec<Variant>,
    seed: u64,
    job_us: u64,
    report_init: bool,
}

/// What the command line asks for.
#[derive(Debug)]
enum Command {
    Run(Options),
    Help,
    Version,
}

fn parse(args: &[String]) -> Result<Command, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        jobs: if quick { 500 } else { 5000 },
        maxjobs: 16,
        rounds: if quick { 2 } else { 3 },
        interfaces: vec!["plain", "color", "rr"],
        variants: vec![Variant::Rma, Variant::Static],
        seed: 1,
        job_us: if quick { 50 } else { 200 },
        report_init: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: '{v}' is not a number"))
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--quick" => {}
            "--report-init" => o.report_init = true,
            "--jobs" => o.jobs = number("--jobs", value("--jobs")?)?,
            "--maxjobs" => o.maxjobs = number("--maxjobs", value("--maxjobs")?)?.max(1),
            "--rounds" => o.rounds = number("--rounds", value("--rounds")?)? as u32,
            "--seed" => o.seed = number("--seed", value("--seed")?)?,
            "--job-us" => o.job_us = number("--job-us", value("--job-us")?)?,
            "--interface" => {
                o.interfaces = match value("--interface")?.as_str() {
                    "all" => vec!["plain", "color", "rr"],
                    "plain" => vec!["plain"],
                    "color" => vec!["color"],
                    "rr" => vec!["rr"],
                    other => {
                        return Err(format!("--interface {other}: use all, plain, color or rr"))
                    }
                }
            }
            "--variant" => {
                o.variants = match value("--variant")?.as_str() {
                    "all" => vec![Variant::Rma, Variant::Static],
                    "rma" => vec![Variant::Rma],
                    "static" => vec![Variant::Static],
                    other => return Err(format!("--variant {other}: use all, rma or static")),
                }
            }
            other => return Err(format!("unknown option {other} (see --help)")),
        }
    }
    Ok(Command::Run(o))
}

/// What went wrong, on this rank.
type Outcome = Result<(), String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("dlbcheck (dlb) {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("dlbcheck: {e}");
            println!("dlbcheck: FAIL bad arguments: {e}");
            return ExitCode::from(2);
        }
    };
    let _mpi = match dlb::Mpi::init() {
        Ok(m) => m,
        Err(e) => {
            println!("dlbcheck: FAIL {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.report_init {
        println!("dlbcheck: rank {}: MPI is up", launcher_rank());
    }
    match check(&options) {
        Ok((rank, verdict)) => {
            if rank == 0 {
                println!("{verdict}");
            }
            if verdict.starts_with("dlbcheck: PASS") {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            // An error before ranks could agree: the launcher's rank 0 says it.
            if launcher_rank() == 0 {
                println!("dlbcheck: FAIL {e}");
            } else {
                eprintln!("dlbcheck: FAIL {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs everything; returns this rank and the verdict line (agreed by all
/// ranks), or an error that stopped the check.
fn check(o: &Options) -> Result<(usize, String), dlb::Error> {
    let mut failure: Option<String> = None;
    let mut first_rank = 0;
    for (i, &variant) in o.variants.iter().enumerate() {
        let mut dlb = match Dlb::builder().variant(variant).seed(o.seed).init() {
            Ok(d) => d,
            Err(e) => {
                return Ok((
                    launcher_rank(),
                    format!("dlbcheck: FAIL {variant:?} init: {}", e.message()),
                ))
            }
        };
        let me = dlb.rank();
        first_rank = me;
        if i == 0 {
            describe(&dlb, o)?;
            if let Some(why) = launcher_mismatch(dlb.size()) {
                return Ok((me, format!("dlbcheck: FAIL {why}")));
            }
        }
        for interface in &o.interfaces {
            for round in 0..o.rounds {
                let started = Instant::now();
                let outcome = run_one(&mut dlb, o, interface, round)?;
                let mut failed = [u64::from(outcome.is_err())];
                allreduce_sum(&dlb, &mut failed)?;
                if let Err(why) = &outcome {
                    eprintln!("dlbcheck: rank {me}: {variant:?} {interface} round {round}: {why}");
                }
                if me == 0 {
                    println!(
                        "  {:<7} {:<6} round {round}: {} in {:.3} s",
                        variant.name(),
                        interface,
                        match (&outcome, failed[0]) {
                            (Err(w), _) => format!("FAIL ({w})"),
                            (Ok(()), 0) => "ok, every job exactly once".to_owned(),
                            (Ok(()), n) => format!("FAIL on {n} rank(s), see stderr"),
                        },
                        started.elapsed().as_secs_f64()
                    );
                }
                if failed[0] > 0 && failure.is_none() {
                    failure = Some(format!(
                        "{variant:?} {interface} round {round} failed on {} rank(s)",
                        failed[0]
                    ));
                }
            }
        }
        if me == 0 {
            print!("{}", dlb.statistics_report(2)?.unwrap_or_default());
        } else {
            dlb.statistics_report(2)?;
        }
        print_jobs_per_node(&dlb)?;
        dlb.finalize()?;
    }
    Ok((
        first_rank,
        match failure {
            None => "dlbcheck: PASS".to_owned(),
            Some(why) => format!("dlbcheck: FAIL {why}"),
        },
    ))
}

/// Prints the jobs of the last run per node (rank 0), collectively.
fn print_jobs_per_node(dlb: &Dlb) -> Result<(), dlb::Error> {
    let jobs = allgather(dlb, dlb.statistics().jobs)?;
    let node_of = dlb.node_of_ranks()?;
    if dlb.rank() == 0 {
        let nodes = node_of.iter().max().map_or(0, |m| m + 1);
        let per_node: Vec<String> = (0..nodes)
            .map(|n| {
                let sum: u64 = (0..jobs.len())
                    .filter(|&r| node_of[r] == n)
                    .map(|r| jobs[r])
                    .sum();
                format!("node {n}: {sum}")
            })
            .collect();
        println!(
            "dlbcheck: {} jobs per node, last run: {}",
            dlb.variant().name(),
            per_node.join(", ")
        );
    }
    Ok(())
}

/// Prints what dlb found out about this stack (rank 0), collectively.
fn describe(dlb: &Dlb, o: &Options) -> Result<(), dlb::Error> {
    let nodes = dlb.node_count()?;
    let levels = dlb.level_description()?;
    let probe = dlb.probe_passive_progress(Duration::from_millis(50))?;
    if dlb.rank() != 0 {
        return Ok(());
    }
    let version = dlb::library_version()?;
    println!(
        "dlbcheck: {}",
        version.lines().next().unwrap_or("unknown MPI")
    );
    println!("dlbcheck: {} ranks on {nodes} node(s)", dlb.size());
    println!(
        "dlbcheck: variant {}, atomics {}, window {}",
        dlb.variant().name(),
        dlb.atomics_path().map_or("none", |p| p.name()),
        dlb.window_flavor().map_or("none", |w| w.name())
    );
    if let Some(levels) = levels {
        println!("dlbcheck: {levels}");
    }
    match probe {
        None => println!("dlbcheck: passive progress: not measured (one rank or static variant)"),
        Some(t) if t < Duration::from_millis(10) => {
            println!("dlbcheck: passive progress: yes (an atomic on a busy rank took {t:.1?})")
        }
        Some(t) => println!(
            "dlbcheck: passive progress: no (an atomic on a rank busy for 50 ms took {t:.1?}); steals wait \
             for busy victims to enter MPI (MPICH: MPIR_CVAR_ASYNC_PROGRESS=1 adds a progress thread)"
        ),
    }
    println!(
        "dlbcheck: {} jobs per run, maxjobs 1..={}, jobs up to {} us, {} round(s), seed {}",
        o.jobs, o.maxjobs, o.job_us, o.rounds, o.seed
    );
    Ok(())
}

/// This process's rank as the launcher numbered it (0 when unknown), for
/// reports made before dlb's communicator exists.
fn launcher_rank() -> usize {
    [
        "OMPI_COMM_WORLD_RANK",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().and_then(|r| r.parse().ok()))
    .unwrap_or(0)
}

/// A launch of N singletons (MPICH under `srun --mpi=pmix`, for one) looks
/// like a 1-rank job to each process.
fn launcher_mismatch(size: usize) -> Option<String> {
    mismatch_in(size, |var| std::env::var(var).ok())
}

/// The variables that name how many processes the launcher that started
/// this one started, most specific first; only the first one set counts.
/// Not `SLURM_NTASKS`: that is the allocation's, which an `mpirun -n 4`
/// inside an `sbatch -n 8` script inherits; and `SLURM_STEP_NUM_TASKS`
/// only when no MPI launcher said more (mpirun and mpiexec.hydra start
/// their daemons as a Slurm step of one task per node), and then only
/// for singletons (see `mismatch_in`).
const LAUNCHER_SIZES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"];

fn mismatch_in(size: usize, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let (var, expected) = LAUNCHER_SIZES
        .iter()
        .find_map(|&var| Some((var, env(var)?.parse::<usize>().ok()?)))?;
    // Slurm's step count is the launcher's only when the processes are
    // Slurm's tasks; a launcher that runs daemons as a step of one task per
    // node and says nothing itself would differ too. Singletons, what this
    // check is for, always see one rank.
    let suspicious = if var == "SLURM_STEP_NUM_TASKS" {
        size == 1 && expected > 1
    } else {
        expected != size
    };
    suspicious.then(|| {
        format!(
            "the launcher started {expected} processes ({var}) but MPI sees {size} rank(s): \
             a launch of singletons (MPICH under srun needs --mpi=pmi2; Open MPI --mpi=pmix)"
        )
    })
}

/// One run of `interface`; checks every ID ran exactly once (on rank 0).
fn run_one(dlb: &mut Dlb, o: &Options, interface: &str, round: u32) -> Result<Outcome, dlb::Error> {
    let me = dlb.rank() as u64;
    let mut rng = Rng::new(o.seed ^ (me << 32) ^ u64::from(round) << 16 ^ interface.len() as u64);
    let distr = color_counts(o, round);
    let total: u64 = if interface == "color" {
        distr.iter().sum()
    } else {
        o.jobs
    };
    let offsets: Vec<u64> = distr
        .iter()
        .scan(0, |acc, &c| Some(std::mem::replace(acc, *acc + c)))
        .collect();
    let mut count = vec![0u64; total as usize];
    let mut work = |ids: &mut dyn Iterator<Item = u64>| -> Outcome {
        for id in ids {
            let slot = count
                .get_mut(id as usize)
                .ok_or_else(|| format!("job ID {id} out of range"))?;
            *slot += 1;
            std::thread::sleep(Duration::from_micros(rng.below(o.job_us + 1)));
        }
        Ok(())
    };
    let mut pick = Rng::new(o.seed ^ me.wrapping_mul(31) ^ u64::from(round));
    let mut outcome: Outcome = Ok(());
    match interface {
        "plain" => {
            let mut run = dlb.setup(o.jobs)?;
            while let Some(r) = run.give_more(1 + pick.below(o.maxjobs))? {
                outcome = outcome.and(work(&mut r.clone()));
            }
        }
        "color" => {
            let mut run = dlb.setup_color(&distr)?;
            while let Some((c, r)) = run.give_more(1 + pick.below(o.maxjobs))? {
                if distr[c] == 0 {
                    outcome = outcome.and(Err(format!("empty color {c} was returned")));
                }
                outcome = outcome.and(work(&mut r.map(|id| offsets[c] + id)));
            }
        }
        _ => {
            let mut run = dlb.setup_rr(o.jobs)?;
            while let Some(s) = run.give_more(1 + pick.below(o.maxjobs))? {
                if s.stride != dlb_size_of(&run) {
                    outcome = outcome.and(Err(format!(
                        "stride {} is not the number of ranks",
                        s.stride
                    )));
                }
                outcome = outcome.and(work(&mut s.iter()));
            }
        }
    }
    allreduce_sum(dlb, &mut count)?;
    if me == 0 {
        outcome = outcome.and(each_once(&count));
    }
    Ok(outcome)
}

/// The color counts of round `round`: the same on every rank (seeded
/// without the rank), some colors empty, about `o.jobs` jobs in all.
fn color_counts(o: &Options, round: u32) -> Vec<u64> {
    let mut colors = Rng::new(o.seed ^ u64::from(round));
    let n = 1 + colors.below(6);
    let mut d: Vec<u64> = (0..n)
        .map(|_| {
            if colors.below(4) == 0 {
                0
            } else {
                1 + colors.below(o.jobs)
            }
        })
        .collect();
    let total: u64 = d.iter().sum();
    if total > 0 {
        d.iter_mut().for_each(|c| *c = *c * o.jobs / total);
    }
    d
}

/// Whether every job ran exactly once, given how often each ran (summed
/// over the ranks).
fn each_once(count: &[u64]) -> Outcome {
    let wrong: Vec<(usize, u64)> = count
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, c)| c != 1)
        .take(5)
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "job IDs not run exactly once (ID, times): {wrong:?}"
        ))
    }
}

fn dlb_size_of<M>(run: &dlb::Run<'_, M>) -> u64 {
    run.dlb().size() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn mpirun_inside_an_sbatch_allocation_is_not_a_mismatch() {
        // sbatch -n 8, then mpirun -n 4 (its daemons: a step of 2 tasks).
        let vars = [
            ("SLURM_NTASKS", "8"),
            ("SLURM_STEP_NUM_TASKS", "2"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
        ];
        assert_eq!(mismatch_in(4, env(&vars)), None);
    }

    #[test]
    fn singletons_under_srun_are_a_mismatch() {
        let vars = [("SLURM_NTASKS", "8"), ("SLURM_STEP_NUM_TASKS", "8")];
        let why = mismatch_in(1, env(&vars)).expect("8 singletons");
        assert!(why.contains("SLURM_STEP_NUM_TASKS"), "{why}");
        assert_eq!(mismatch_in(8, env(&vars)), None);
    }

    #[test]
    fn hydra_counts_before_slurm() {
        let vars = [("PMI_SIZE", "3"), ("SLURM_STEP_NUM_TASKS", "1")];
        assert_eq!(mismatch_in(3, env(&vars)), None);
        assert!(mismatch_in(1, env(&vars)).is_some());
        assert_eq!(mismatch_in(5, env(&[])), None);
        // Daemons of a launcher that names no size: a step of 2 tasks.
        let vars = [("SLURM_STEP_NUM_TASKS", "2")];
        assert_eq!(mismatch_in(4, env(&vars)), None);
    }

    #[test]
    fn help_and_version_are_commands() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(matches!(parse(&args(&["--version"])), Ok(Command::Version)));
        assert!(matches!(parse(&args(&["-h"])), Ok(Command::Help)));
        assert!(matches!(parse(&args(&["--quick"])), Ok(Command::Run(o)) if o.jobs == 500));
        assert!(parse(&args(&["--jobs"])).is_err());
    }
}
