//! `dlbcheck`: does dlb work on this cluster, with this MPI, under this
//! launcher? Run it as `mpiexec -n 8 dlbcheck` or `srun -n 64 dlbcheck`.
//!
//! It prints the MPI library, ranks, nodes, the atomics path and window
//! flavor dlb chose and whether atomics progress passively; then it runs
//! every interface and variant for several rounds with random `maxjobs` and
//! random short jobs, and checks on rank 0 that every job ID ran exactly
//! once. The last line is `dlbcheck: PASS` or `dlbcheck: FAIL <reason>`,
//! with exit status 0 or 1 (2 for bad arguments); with `--json`, rank 0
//! prints one JSON object instead. `dlbcheck --help` is the manual.
//!
//! Files: `cli` (the command line), `launcher` (what the launcher's
//! environment says), `check` (the runs), `report` (text or JSON).

mod check;
mod cli;
mod launcher;
mod report;

use cli::Command;
use launcher::launcher_rank;
use report::Report;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let options = match cli::parse(args.clone()) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return bad_arguments(&e, &args),
    };
    let mut report = Report::new(&options, launcher_rank() == 0);
    let _mpi = match dlb::Mpi::init() {
        Ok(m) => m,
        Err(e) => return verdict(report, Err(e.to_string())),
    };
    if options.report_init {
        let line = format!("dlbcheck: rank {}: MPI is up", launcher_rank());
        if options.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    match check::check(&options, &mut report) {
        Ok(outcome) => verdict(report, outcome),
        // An error before the ranks could agree: the launcher's rank 0
        // reports it, the others say it on standard error.
        Err(e) => {
            if launcher_rank() != 0 {
                eprintln!("dlbcheck: FAIL {e}");
            }
            report.set_printing(launcher_rank() == 0);
            verdict(report, Err(e.to_string()))
        }
    }
}

/// Prints the verdict (rank 0) and returns the exit status that matches.
fn verdict(report: Report, outcome: check::Outcome) -> ExitCode {
    let status = if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    report.finish(&outcome);
    status
}

/// clap's message on standard error, and the verdict line (or object) on
/// standard output, so that a script that reads the last line sees why.
fn bad_arguments(e: &clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    let first = e.to_string();
    eprint!("{first}");
    let first = first
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ");
    let why = format!("bad arguments: {first}");
    if args.iter().any(|a| a == "--json") {
        println!(
            "{}",
            serde_json::json!({"verdict": "FAIL", "reason": why, "dlbcheck": dlb::VERSION})
        );
    } else {
        println!("dlbcheck: FAIL {why}");
    }
    ExitCode::from(2)
}
