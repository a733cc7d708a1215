//! `dlbtrace`: reads a trace written by dlb (Chrome trace-event JSON) and
//! draws a Gantt chart (`dlbtrace gantt TRACE -o OUT.svg`), prints a
//! per-rank summary (`dlbtrace summary TRACE [--json]`) or checks the
//! trace (`dlbtrace check TRACE`: well formed, and every job position of
//! each run handed out exactly once). Exit status 0; 1 for a trace that
//! cannot be read or fails the check; 2 for bad arguments.
//! `dlbtrace --help` is the manual.
//!
//! Files: `cli` (the command line), `trace` (the model of a trace), `read`
//! (the file into the model), `check`, `summary` and `gantt` (the three
//! commands), `legend` (what each kind of event looks like), `thin`
//! (merging what is too narrow to see), `axis` (ticks), `svg` (writing
//! SVG).

mod axis;
mod check;
mod cli;
mod gantt;
mod legend;
mod read;
mod summary;
mod svg;
mod thin;
mod trace;

use cli::Command;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            // clap's message and usage; exit status 2.
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("dlbtrace: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Carries out one command.
fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Gantt {
            trace,
            out,
            run,
            width,
        } => {
            let t = load(&trace)?;
            let options = gantt::Options {
                run,
                width,
                name: file_name(&trace),
            };
            let svg = gantt::render(&t, &options)?;
            if out == Path::new("-") {
                emit(&svg)?;
            } else {
                std::fs::write(&out, svg)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            }
        }
        Command::Summary { trace, run, json } => {
            let t = load(&trace)?;
            t.check_run(run)?;
            let s = summary::summarize(&t, run);
            let name = trace.display().to_string();
            if json {
                emit(&format!("{:#}\n", summary::json(&t, &name, &s)))?;
            } else {
                emit(&summary::text(&t, &name, &s))?;
            }
        }
        Command::Check { trace } => {
            // A file that cannot be read fails the check like any problem.
            let t = match read::read_file(&trace) {
                Ok(t) => t,
                Err(e) => {
                    emit(&format!("  {e}\ndlbtrace: FAIL: cannot read the trace\n"))?;
                    return Ok(ExitCode::FAILURE);
                }
            };
            let verdict = check::check(&t);
            emit(&check::report(&t, &verdict))?;
            if !verdict.problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Print(text) => emit(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to standard output; a reader that went away (`| head`)
/// is not an error.
fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Reads the trace; malformed events are left out with a warning.
fn load(path: &Path) -> Result<trace::Trace, String> {
    let t = read::read_file(path)?;
    if !t.problems.is_empty() {
        eprintln!(
            "dlbtrace: warning: {} malformed event(s) left out (dlbtrace check {} lists them)",
            t.problems.len(),
            path.display()
        );
    }
    Ok(t)
}

/// The file's name without its folders, for the chart's title.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
