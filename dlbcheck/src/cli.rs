//! The command line: clap's parser, the manual page that `--help` prints,
//! and the options it resolves to (`--quick` changes the defaults of the
//! sizes the user did not give).

use clap::{Parser, ValueEnum};
use dlb::Variant;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the check.
    Run(Options),
    /// Print `--help` or `--version` (clap's text) and exit successfully.
    Print(String),
}

/// The check's settings, defaults resolved.
#[derive(Clone, Debug)]
pub struct Options {
    /// Jobs per run.
    pub jobs: u64,
    /// Each `give_more` asks for `1..=maxjobs` jobs.
    pub maxjobs: u64,
    /// Runs per interface and variant.
    pub rounds: u32,
    /// The interfaces to check, in order.
    pub interfaces: Vec<Interface>,
    /// The variants to check, in order.
    pub variants: Vec<Variant>,
    /// Seed of `maxjobs`, colors and job costs.
    pub seed: u64,
    /// Longest job, in microseconds of sleep.
    pub job_us: u64,
    /// Every rank says so once `MPI_Init` returned.
    pub report_init: bool,
    /// One JSON object instead of the text report.
    pub json: bool,
}

/// One of dlb's three interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// `setup` + `give_more`.
    Plain,
    /// `setup_color`.
    Color,
    /// `setup_rr`.
    Rr,
}

impl Interface {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Interface::Plain => "plain",
            Interface::Color => "color",
            Interface::Rr => "rr",
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum InterfaceArg {
    All,
    Plain,
    Color,
    Rr,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum VariantArg {
    All,
    Rma,
    Static,
}

const ABOUT: &str = "Checks that dlb hands out every job exactly once on this MPI stack.";

const LONG_ABOUT: &str = "\
Checks that dlb hands out every job exactly once on this cluster, MPI stack and launcher.

Run it as every rank of an MPI job: `mpiexec -n N dlbcheck` or `srun -n N dlbcheck`. It prints
the MPI library, ranks, nodes, the atomics path and window flavor dlb chose and whether atomics
progress passively; then it runs every interface (plain, color, round-robin) and variant (rma,
static) for several rounds with random maxjobs and random short jobs, and checks on rank 0 that
every job ID ran exactly once.";

const AFTER_LONG_HELP: &str = "\
OUTPUT:
  The last line of standard output is 'dlbcheck: PASS' or 'dlbcheck: FAIL <reason>'; the exit
  status is 0 or 1 (2 for bad arguments). With --json, rank 0 prints one JSON object instead:
  {\"verdict\", \"reason\", \"dlbcheck\", \"stack\", \"paths\", \"options\", \"runs\": [{\"variant\",
  \"interface\", \"round\", \"ok\", \"failed_ranks\", \"seconds\", \"jobs_per_rank\", \"steals_per_rank\",
  \"error\"}],
  \"jobs_per_node\"}; errors and per-rank failures go to standard error.

ENVIRONMENT:
  DLB_ATOMICS=shm|hybrid|mpi, DLB_WINDOW=allocate|shared|create and the other DLB_ variables act
  as for the library (README, \"Choosing the atomics\"), except DLB_VARIANT: dlbcheck chooses
  the variant of each run itself (see --variant).
  A launch whose size disagrees with MPI's (N singletons instead of one job) fails. The
  launcher's size is read from OMPI_COMM_WORLD_SIZE or PMI_SIZE, or else, for a rank that sees
  itself alone, from Slurm's SLURM_STEP_NUM_TASKS; never from SLURM_NTASKS, which an mpirun inside
  an sbatch script inherits from the allocation.

EXAMPLES:
  mpiexec -n 8 dlbcheck
  srun --mpi=pmix -n 64 dlbcheck --quick           (Open MPI; MPICH: --mpi=pmi2)
  mpiexec -n 4 dlbcheck --interface color --variant rma --rounds 10 --seed 7
  mpiexec -n 4 dlbcheck --quick --json > dlbcheck.json";

/// The command line as clap sees it.
#[derive(Debug, Parser)]
#[command(
    name = "dlbcheck",
    // The library's version: dlbcheck is versioned with the dlb it checks.
    version = dlb::VERSION,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    override_usage = "mpiexec -n N dlbcheck [OPTIONS]\n       srun -n N dlbcheck [OPTIONS]"
)]
struct Cli {
    /// Jobs per run [default: 5000; with --quick: 500]
    #[arg(long, value_name = "N")]
    jobs: Option<u64>,
    /// Largest maxjobs; each give_more asks for 1..=M jobs at random
    #[arg(long, value_name = "M", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    maxjobs: u64,
    /// Runs per interface and variant [default: 3; with --quick: 2]
    #[arg(long, value_name = "R")]
    rounds: Option<u32>,
    /// Which interface to check
    #[arg(long, value_name = "I", value_enum, default_value = "all")]
    interface: InterfaceArg,
    /// Which variant to check
    #[arg(long, value_name = "V", value_enum, default_value = "all")]
    variant: VariantArg,
    /// Seed for maxjobs, colors and job costs
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Longest job, in microseconds of sleep [default: 200; with --quick: 50]
    #[arg(long, value_name = "U")]
    job_us: Option<u64>,
    /// Small and fast, for CI and scaling sweeps
    #[arg(long)]
    quick: bool,
    /// Every rank prints 'dlbcheck: rank R: MPI is up' once MPI_Init returned (tells a launch
    /// that failed inside MPI from a dlb failure)
    #[arg(long)]
    report_init: bool,
    /// Rank 0 prints one JSON object (stack, paths, per-rank counts, verdict) instead of text
    #[arg(long)]
    json: bool,
}

/// Parses `args` (without the program name).
pub fn parse<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(
        std::iter::once("dlbcheck".into()).chain(args.into_iter().map(Into::into)),
    ) {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            return Ok(Command::Print(e.render().to_string()))
        }
        Err(e) => return Err(e),
    };
    let quick = cli.quick;
    Ok(Command::Run(Options {
        jobs: cli.jobs.unwrap_or(if quick { 500 } else { 5000 }),
        maxjobs: cli.maxjobs,
        rounds: cli.rounds.unwrap_or(if quick { 2 } else { 3 }),
        interfaces: match cli.interface {
            InterfaceArg::All => vec![Interface::Plain, Interface::Color, Interface::Rr],
            InterfaceArg::Plain => vec![Interface::Plain],
            InterfaceArg::Color => vec![Interface::Color],
            InterfaceArg::Rr => vec![Interface::Rr],
        },
        variants: match cli.variant {
            VariantArg::All => vec![Variant::Rma, Variant::Static],
            VariantArg::Rma => vec![Variant::Rma],
            VariantArg::Static => vec![Variant::Static],
        },
        seed: cli.seed,
        job_us: cli.job_us.unwrap_or(if quick { 50 } else { 200 }),
        report_init: cli.report_init,
        json: cli.json,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args) {
            Ok(Command::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn quick_changes_only_the_defaults() {
        let o = run(&["--quick"]);
        assert_eq!((o.jobs, o.rounds, o.job_us), (500, 2, 50));
        let o = run(&["--jobs", "77", "--quick", "--rounds", "5"]);
        assert_eq!((o.jobs, o.rounds, o.job_us), (77, 5, 50));
        let o = run(&[]);
        assert_eq!((o.jobs, o.rounds, o.job_us, o.maxjobs), (5000, 3, 200, 16));
        assert_eq!(o.interfaces.len(), 3);
        assert_eq!(o.variants, vec![Variant::Rma, Variant::Static]);
        assert!(!o.json);
    }

    #[test]
    fn choices_and_json() {
        let o = run(&["--interface", "color", "--variant", "static", "--json"]);
        assert_eq!(o.interfaces, vec![Interface::Color]);
        assert_eq!(o.variants, vec![Variant::Static]);
        assert!(o.json);
    }

    #[test]
    fn help_and_version_are_printed_not_run() {
        let Ok(Command::Print(v)) = parse(["--version"]) else {
            panic!("--version")
        };
        assert_eq!(v.trim(), format!("dlbcheck {}", dlb::VERSION));
        let Ok(Command::Print(h)) = parse(["--help"]) else {
            panic!("--help")
        };
        assert!(
            h.contains("--maxjobs <M>") && h.contains("ENVIRONMENT:"),
            "{h}"
        );
        assert!(matches!(parse(["-h"]), Ok(Command::Print(_))));
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [
            &["--jobs"][..],
            &["--jobs", "many"],
            &["--interface", "triangle"],
            &["--maxjobs", "0"],
            &["--frobnicate"],
            &["stray"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
