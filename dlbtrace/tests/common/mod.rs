//! What the tests share: a small trace written by hand (2 nodes × 2 ranks,
//! two runs, events out of order, events and fields dlbtrace does not
//! know), a scratch folder, and running the binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub const DLBTRACE: &str = env!("CARGO_BIN_EXE_dlbtrace");

/// The events of the sample trace, one JSON object each.
///
/// Run 0 hands out positions 0..16 from ts 0 to 80 µs; run 1 positions
/// 0..10 from 1000 to 1130 µs. Per rank over both runs:
///
/// | rank | node | jobs | chunks | busy | idle | tries | ok | remote | no more |
/// |------|------|------|--------|------|------|-------|----|--------|---------|
/// | 0    | 0    | 8    | 3      | 160  | 10   | 1     | 0  | 0      | 1100    |
/// | 1    | 0    | 8    | 3      | 185  | 5    | 2     | 1  | 0      | 1120    |
/// | 2    | 1    | 6    | 3      | 139  | 0    | 0     | 0  | 1      | 1080    |
/// | 3    | 1    | 4    | 2      | 130  | 80   | 1     | 0  | 0      | 1130    |
pub const EVENTS: &[&str] = &[
    // Run 1 first: the order of events is not the order of time.
    r#"{"ph":"X","cat":"jobs","name":"static","pid":0,"tid":0,"ts":1000,"dur":100,"args":{"run":1,"first":0,"end":2}}"#,
    r#"{"ph":"X","cat":"jobs","name":"static","pid":0,"tid":1,"ts":1000,"dur":120,"args":{"run":1,"first":2,"end":4}}"#,
    r#"{"ph":"X","cat":"jobs","name":"static","pid":1,"tid":2,"ts":1000,"dur":80,"args":{"run":1,"first":4,"end":6}}"#,
    r#"{"ph":"X","cat":"jobs","name":"static","pid":1,"tid":3,"ts":1000,"dur":90,"args":{"run":1,"first":6,"end":8}}"#,
    r#"{"ph":"X","cat":"jobs","name":"given","pid":1,"tid":3,"ts":1090,"dur":40,"args":{"run":1,"first":8,"end":10}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":0,"tid":0,"ts":1100,"args":{"run":1}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":0,"tid":1,"ts":1120,"args":{"run":1}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":1,"tid":2,"ts":1080,"args":{"run":1}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":1,"tid":3,"ts":1130,"args":{"run":1}}"#,
    // Run 0.
    r#"{"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":0,"ts":0,"dur":40,"args":{"run":0,"first":0,"end":4}}"#,
    r#"{"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":0,"ts":40,"dur":20,"args":{"run":0,"first":4,"end":6}}"#,
    r#"{"ph":"X","cat":"idle","name":"wait for work","pid":0,"tid":0,"ts":60,"dur":10,"args":{"run":0,"found":false}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal","pid":0,"tid":0,"ts":62,"args":{"run":0,"victim":1,"outcome":"empty","latency_us":1.5,"units":0}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":0,"tid":0,"ts":70,"args":{"run":0}}"#,
    r#"{"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":1,"ts":0,"dur":50,"args":{"run":0,"first":6,"end":10}}"#,
    r#"{"ph":"X","cat":"idle","name":"wait for work","pid":0,"tid":1,"ts":50,"dur":5,"args":{"run":0,"found":true}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal","pid":0,"tid":1,"ts":51,"args":{"run":0,"victim":0,"outcome":"retry","latency_us":0.8}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal","pid":0,"tid":1,"ts":53,"args":{"run":0,"victim":0,"outcome":"success","latency_us":1.1,"units":2}}"#,
    r#"{"ph":"X","cat":"jobs","name":"steal","pid":0,"tid":1,"ts":55,"dur":15,"args":{"run":0,"first":10,"end":12}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":0,"tid":1,"ts":72,"args":{"run":0}}"#,
    r#"{"ph":"X","cat":"jobs","name":"claim","pid":1,"tid":2,"ts":1,"dur":30,"args":{"run":0,"first":12,"end":14}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"remote take","pid":1,"tid":2,"ts":30.5,"args":{"run":0,"victim":1}}"#,
    r#"{"ph":"X","cat":"jobs","name":"remote","pid":1,"tid":2,"ts":31,"dur":29,"args":{"run":0,"first":14,"end":16}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":1,"tid":2,"ts":61,"args":{"run":0}}"#,
    r#"{"ph":"X","cat":"idle","name":"wait for work","pid":1,"tid":3,"ts":0,"dur":80,"args":{"run":0,"found":false}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal","pid":1,"tid":3,"ts":5,"args":{"run":0,"victim":2,"outcome":"empty"}}"#,
    r#"{"ph":"i","s":"t","cat":"run","name":"no more","pid":1,"tid":3,"ts":80,"args":{"run":0},"unknown_field":{"x":[1,2]}}"#,
    // What dlbtrace does not know: skipped and counted.
    r#"{"ph":"C","name":"queue length","pid":0,"tid":0,"ts":5,"args":{"n":3}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal probe","pid":1,"tid":2,"ts":7,"args":{"run":0}}"#,
    r#"{"ph":"i","s":"t","cat":"steal","name":"steal probe","pid":1,"tid":2,"ts":9,"args":{"run":0}}"#,
    r#"{"ph":"M","name":"process_labels","pid":1,"tid":0,"args":{"labels":"x"}}"#,
    // Metadata, last.
    r#"{"ph":"M","name":"process_name","pid":0,"tid":0,"args":{"name":"node 0"}}"#,
    r#"{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"node 1"}}"#,
    r#"{"ph":"M","name":"thread_name","pid":0,"tid":0,"args":{"name":"rank 0"}}"#,
    r#"{"ph":"M","name":"thread_name","pid":0,"tid":1,"args":{"name":"rank 1"}}"#,
    r#"{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"rank 2"}}"#,
    r#"{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"rank 3"}}"#,
    // Sort indices, as dlb writes them: known, ignored, not counted.
    r#"{"ph":"M","name":"process_sort_index","pid":0,"tid":0,"args":{"sort_index":0}}"#,
    r#"{"ph":"M","name":"thread_sort_index","pid":1,"tid":3,"args":{"sort_index":3}}"#,
];

/// `otherData` of the sample trace.
pub const OTHER_DATA: &str = r#"{"dlb_version":"0.1.0","git_revision":"abc1234","mpi_library":"Open MPI v4.1.6","variant":"rma","atomics":"shm","window":"shared","ranks":4,"nodes":2,"hosts":2,"date":"2026-12-04T05:00:00Z","clock":"MPI_Wtime, aligned"}"#;

/// A trace file's text with these events.
pub fn trace_of(events: &[&str]) -> String {
    format!(
        "{{\"traceEvents\":[\n{}\n],\"displayTimeUnit\":\"ms\",\"otherData\":{OTHER_DATA}}}\n",
        events.join(",\n")
    )
}

/// The sample trace's text.
pub fn sample() -> String {
    trace_of(EVENTS)
}

/// A fresh scratch folder for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlbtrace-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` as `name` in `dir`; returns its path.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// What a run of dlbtrace said.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs dlbtrace with `args`.
pub fn dlbtrace(args: &[&str]) -> Output {
    let out = Command::new(DLBTRACE).args(args).output().unwrap();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}
