//! The command line: clap's parser with the subcommands `gantt`, `summary`
//! and `check`, the manual page that `--help` prints, and the command it
//! resolves to.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// Draw the chart of `trace` into `out` (`-`: standard output).
    Gantt {
        /// The trace file.
        trace: PathBuf,
        /// The SVG file.
        out: PathBuf,
        /// One run, or all on one time axis.
        run: Option<u64>,
        /// Width of the time axis in pixels.
        width: f64,
    },
    /// Print the per-rank table (or JSON).
    Summary {
        /// The trace file.
        trace: PathBuf,
        /// One run, or all.
        run: Option<u64>,
        /// One JSON object instead of text.
        json: bool,
    },
    /// Check the trace; exit status 1 on problems.
    Check {
        /// The trace file.
        trace: PathBuf,
    },
    /// Print `--help` or `--version` (clap's text) and exit successfully.
    Print(String),
}

const ABOUT: &str = "Reads a trace written by dlb: Gantt chart, summary, check.";

const LONG_ABOUT: &str = "\
Reads a trace written by dlb (Chrome trace-event JSON: job chunks, waits for work, steals, remote
takes and 'no more' per rank, with the run's provenance in otherData) and draws a Gantt chart as
SVG, prints a per-rank summary, or checks that the trace is well formed and that each run handed
out every job position exactly once. The same file opens in chrome://tracing or Perfetto.";

const AFTER_LONG_HELP: &str = "\
OUTPUT:
  gantt writes one SVG: a row per rank (grouped by node), time in ms on x, chunks coloured by how
  they were obtained (claim, ahead, steal, remote, given, static), waits hatched, steals as
  triangles (filled: success), remote takes and knocks as diamonds, 'no more' as a red tick; every bar and
  mark has a tooltip. Above 50000 bars and marks, bars narrower than 0.5 px are merged and the
  subtitle says so.
  summary prints the provenance, then per rank: node, jobs, chunks, busy and idle ms, steal
  attempts, successful steals (gifts counted for their knocker), remote takes and knocks, when
  'no more' came; totals, makespan and efficiency
  (busy / (ranks x makespan)). --json: one object with the same figures (times in us).
  check prints the problems, one a line, and last 'dlbtrace: OK: ...' or 'dlbtrace: FAIL: ...'.
  Exit status: 0; 1 for a trace that cannot be read, fails the check or lacks the --run asked
  for; 2 for bad arguments.

EXAMPLES:
  dlbtrace gantt dlb-trace.json -o chart.svg
  dlbtrace gantt dlb-trace.json -o run1.svg --run 1 --width 2400
  dlbtrace summary dlb-trace.json
  dlbtrace summary dlb-trace.json --run 0 --json > summary.json
  dlbtrace check dlb-trace.json";

/// The command line as clap sees it.
#[derive(Debug, Parser)]
#[command(
    name = "dlbtrace",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Draws a Gantt chart (SVG): one row per rank, chunks, waits, steals
    Gantt {
        /// The trace file dlb wrote
        trace: PathBuf,
        /// The SVG to write ('-': standard output)
        #[arg(short, long, value_name = "OUT.svg")]
        output: PathBuf,
        /// Only run K (default: all runs on one time axis)
        #[arg(long, value_name = "K")]
        run: Option<u64>,
        /// Width of the time axis in pixels
        #[arg(long, value_name = "PX", default_value_t = 1200, value_parser = clap::value_parser!(u32).range(100..=100_000))]
        width: u32,
    },
    /// Prints per-rank jobs, busy and idle time, steals; makespan and efficiency
    Summary {
        /// The trace file dlb wrote
        trace: PathBuf,
        /// Only run K (default: all runs)
        #[arg(long, value_name = "K")]
        run: Option<u64>,
        /// One JSON object instead of the table
        #[arg(long)]
        json: bool,
    },
    /// Checks the trace: well formed, every position of each run exactly once
    Check {
        /// The trace file dlb wrote
        trace: PathBuf,
    },
}

/// Parses `args` (without the program name).
pub fn parse<I, T>(args: I) -> Result<Command, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(
        std::iter::once("dlbtrace".into()).chain(args.into_iter().map(Into::into)),
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
    Ok(match cli.command {
        Sub::Gantt {
            trace,
            output,
            run,
            width,
        } => Command::Gantt {
            trace,
            out: output,
            run,
            width: f64::from(width),
        },
        Sub::Summary { trace, run, json } => Command::Summary { trace, run, json },
        Sub::Check { trace } => Command::Check { trace },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands() {
        assert_eq!(
            parse(["gantt", "t.json", "-o", "c.svg"]).unwrap(),
            Command::Gantt {
                trace: "t.json".into(),
                out: "c.svg".into(),
                run: None,
                width: 1200.0
            }
        );
        assert_eq!(
            parse(["gantt", "t.json", "--output", "-", "--run", "2", "--width", "300"]).unwrap(),
            Command::Gantt {
                trace: "t.json".into(),
                out: "-".into(),
                run: Some(2),
                width: 300.0
            }
        );
        assert_eq!(
            parse(["summary", "t.json", "--json"]).unwrap(),
            Command::Summary {
                trace: "t.json".into(),
                run: None,
                json: true
            }
        );
        assert_eq!(
            parse(["check", "t.json"]).unwrap(),
            Command::Check {
                trace: "t.json".into()
            }
        );
    }

    #[test]
    fn help_and_version_are_printed() {
        let Ok(Command::Print(v)) = parse(["--version"]) else {
            panic!("--version")
        };
        assert_eq!(v.trim(), format!("dlbtrace {}", env!("CARGO_PKG_VERSION")));
        let Ok(Command::Print(h)) = parse(["--help"]) else {
            panic!("--help")
        };
        assert!(h.contains("gantt") && h.contains("EXAMPLES:"), "{h}");
        let Ok(Command::Print(h)) = parse(["gantt", "--help"]) else {
            panic!("gantt --help")
        };
        assert!(h.contains("--run <K>"), "{h}");
    }

    #[test]
    fn bad_arguments_are_errors() {
        for bad in [
            &["gantt", "t.json"][..],
            &["gantt", "t.json", "-o", "c.svg", "--run", "x"],
            &["gantt", "t.json", "-o", "c.svg", "--width", "10"],
            &["summary"],
            &["check", "a", "b"],
            &["draw", "t.json"],
            // No subcommand: the help, on standard error, as an error.
            &[],
            &["summary", "t.json", "--frobnicate"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
