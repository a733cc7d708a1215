//! `dlbtrace summary` on the sample trace: the per-rank figures, totals,
//! makespan and efficiency (all runs and one run), as JSON and as text with
//! the provenance first; unknown events are counted, not summed.

mod common;

use common::{dlbtrace, sample, scratch, write};
use serde_json::{json, Value};

fn summary(test: &str, extra: &[&str]) -> common::Output {
    let dir = scratch(test);
    let input = write(&dir, "trace.json", &sample());
    let mut args = vec!["summary", input.to_str().unwrap()];
    args.extend(extra);
    let out = dlbtrace(&args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out
}

fn as_json(out: &common::Output) -> Value {
    serde_json::from_str(&out.stdout).expect("one JSON object")
}

/// (rank, node, jobs, chunks, busy, idle, tries, ok, remote, no more).
type Row = (u64, u64, u64, u64, f64, f64, u64, u64, u64, f64);

fn rows(doc: &Value) -> Vec<Row> {
    doc["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let u = |k: &str| r[k].as_u64().unwrap();
            let f = |k: &str| r[k].as_f64().unwrap();
            (
                u("rank"),
                u("node"),
                u("jobs"),
                u("chunks"),
                f("busy_us"),
                f("idle_us"),
                u("steal_attempts"),
                u("steals"),
                u("remote_takes"),
                f("no_more_us"),
            )
        })
        .collect()
}

#[test]
fn per_rank_figures_over_all_runs() {
    let doc = as_json(&summary("all", &["--json"]));
    assert_eq!(
        rows(&doc),
        [
            (0, 0, 8, 3, 160.0, 10.0, 1, 0, 0, 1100.0),
            (1, 0, 8, 3, 185.0, 5.0, 2, 1, 0, 1120.0),
            (2, 1, 6, 3, 139.0, 0.0, 0, 0, 1, 1080.0),
            (3, 1, 4, 2, 130.0, 80.0, 1, 0, 0, 1130.0),
        ]
    );
    assert_eq!(
        doc["totals"],
        json!({"jobs": 26, "chunks": 11, "busy_us": 614.0, "idle_us": 95.0,
               "steal_attempts": 4, "steals": 1, "remote_takes": 1})
    );
    assert_eq!(doc["start_us"], 0.0);
    assert_eq!(doc["end_us"], 1130.0);
    assert_eq!(doc["makespan_us"], 1130.0);
    let eff = doc["efficiency"].as_f64().unwrap();
    assert!((eff - 614.0 / (4.0 * 1130.0)).abs() < 1e-12, "{eff}");
    assert_eq!(doc["run"], Value::Null);
    let runs: Vec<(u64, u64, f64)> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run"].as_u64().unwrap(),
                r["jobs"].as_u64().unwrap(),
                r["makespan_us"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, [(0, 16, 80.0), (1, 10, 130.0)]);
    assert_eq!(doc["provenance"]["variant"], "rma");
    assert_eq!(doc["provenance"]["ranks"], 4);
    assert_eq!(
        doc["skipped"],
        json!({"C queue length": 1, "M process_labels": 1, "i steal/steal probe": 2})
    );
    assert_eq!(doc["malformed_events"], 0);
}

#[test]
fn one_run() {
    let doc = as_json(&summary("run0", &["--json", "--run", "0"]));
    assert_eq!(
        rows(&doc),
        [
            (0, 0, 6, 2, 60.0, 10.0, 1, 0, 0, 70.0),
            (1, 0, 6, 2, 65.0, 5.0, 2, 1, 0, 72.0),
            (2, 1, 4, 2, 59.0, 0.0, 0, 0, 1, 61.0),
            (3, 1, 0, 0, 0.0, 80.0, 1, 0, 0, 80.0),
        ]
    );
    assert_eq!(doc["run"], 0);
    assert_eq!(doc["totals"]["jobs"], 16);
    assert_eq!(doc["makespan_us"], 80.0);
    assert_eq!(doc["efficiency"], 184.0 / 320.0);
}

#[test]
fn text_has_provenance_then_the_table() {
    let out = summary("text", &[]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("dlbtrace summary of "),
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "  dlb_version: 0.1.0");
    assert_eq!(lines[2], "  git_revision: abc1234");
    assert!(lines.contains(&"  clock: MPI_Wtime, aligned"));
    let head = lines.iter().position(|l| l.contains("busy ms")).unwrap();
    assert!(head > 10, "provenance first:\n{}", out.stdout);
    let cells = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        cells(lines[head + 2]),
        ["1", "0", "8", "3", "0.185", "0.005", "2", "1", "0", "1.120"]
    );
    assert_eq!(
        cells(lines[head + 5]),
        ["total", "26", "11", "0.614", "0.095", "4", "1", "1", "-"]
    );
    assert!(
        out.stdout
            .contains("makespan 1.130 ms (from 0.000 to 1.130 ms), efficiency 13.6 % (4 rank(s))"),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("  run 0: 16 jobs in 6 chunks, makespan 0.080 ms, efficiency 57.5 %"));
    assert!(out.stdout.contains("skipped 4 event(s) of unknown kinds"));
}

#[test]
fn missing_run_and_file_fail() {
    let dir = scratch("summary-fail");
    let input = write(&dir, "trace.json", &sample());
    let out = dlbtrace(&["summary", input.to_str().unwrap(), "--run", "5"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("run 5 is not in the trace"),
        "{}",
        out.stderr
    );
    let out = dlbtrace(&["summary", dir.join("none.json").to_str().unwrap()]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
}
