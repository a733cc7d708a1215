//! Shared by the benchmarks: options, percentiles, and the JSON-lines
//! output in `target/bench/<bench>.jsonl` (one object per figure, written by
//! rank 0, appended so that one `ci/bench` run collects every rank count).
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use serde_json::{json, Map, Value};

pub mod sleep;

/// `--quick` (few iterations) and `--full` (up to 64 ranks) from the
/// command line; cargo's own `--bench` is ignored.
pub struct Options {
    pub quick: bool,
    pub full: bool,
}

pub fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    Options {
        quick: args.iter().any(|a| a == "--quick"),
        full: args.iter().any(|a| a == "--full"),
    }
}

/// What produced this run's rows (`dlb::bench::provenance_json`), added
/// to every row as `provenance`; set once by [`record_provenance`].
static PROVENANCE: OnceLock<Value> = OnceLock::new();

/// Finds out what produced this run, the first time (every rank calls it
/// at the same points: it is collective the first time).
pub fn record_provenance(dlb: &dlb::Dlb) {
    if PROVENANCE.get().is_some() {
        return;
    }
    let text = dlb::bench::provenance_json(dlb).expect("provenance");
    let value = serde_json::from_str(&text).expect("provenance is JSON");
    PROVENANCE.get_or_init(|| value);
}

/// dlb on the atomics `path`, or `None` (said on stderr) where this MPI
/// cannot give that path, for a benchmark that measures every path.
pub fn init_on(bench: &str, path: dlb::AtomicsPath) -> Option<dlb::Dlb> {
    match dlb::Dlb::builder().atomics(path).init() {
        Ok(d) => {
            record_provenance(&d);
            Some(d)
        }
        Err(e) => {
            eprintln!("{bench}: skipping the {} path: {e}", path.name());
            None
        }
    }
}

/// The stack a run measures, from `DLB_BENCH_STACK` (for example
/// `osc-ucx` when `OMPI_MCA_osc=ucx` is set); `default` when unset.
pub fn stack() -> String {
    std::env::var("DLB_BENCH_STACK").unwrap_or_else(|_| "default".into())
}

/// Which MPI this binary was built against.
pub fn mpi_name() -> &'static str {
    if dlb::sys::DLB_MPI_IS_OPEN_MPI == 1 {
        "openmpi"
    } else {
        "mpich"
    }
}

/// The `q`-quantile (0..=1) of `values`, by nearest rank.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// One figure; `extra` adds fields. Written with serde_json, so a value
/// that is not a finite number (a NaN from an empty sample) becomes `null`,
/// never an unparsable `NaN`.
pub struct Row<'a> {
    pub bench: &'a str,
    pub path: &'a str,
    pub ranks: usize,
    pub metric: &'a str,
    pub value: f64,
    pub unit: &'a str,
    pub extra: Vec<(&'a str, Value)>,
}

impl Row<'_> {
    /// The row as one JSON object: the fields every row has (`bench`, `mpi`,
    /// `path`, `ranks`, `metric`, `value`, `unit`), then `extra`, then
    /// `provenance` (see [`record_provenance`]; a row written before it was
    /// recorded panics, so that no row goes without).
    pub fn json(&self) -> String {
        let mut fields = Map::new();
        fields.insert("bench".into(), self.bench.into());
        fields.insert("mpi".into(), mpi_name().into());
        fields.insert("path".into(), self.path.into());
        fields.insert("ranks".into(), self.ranks.into());
        fields.insert("metric".into(), self.metric.into());
        fields.insert("value".into(), self.value.into());
        fields.insert("unit".into(), self.unit.into());
        for (k, v) in &self.extra {
            fields.insert((*k).into(), v.clone());
        }
        let provenance = PROVENANCE
            .get()
            .expect("common::record_provenance runs before rows are written");
        fields.insert("provenance".into(), provenance.clone());
        Value::Object(fields).to_string()
    }
}

/// Appends `rows` to `target/bench/<bench>.jsonl`.
pub fn write(bench: &str, rows: &[Row]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    fs::create_dir_all(&dir).expect("cannot create target/bench");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{bench}.jsonl")))
        .expect("cannot open the bench output");
    for row in rows {
        writeln!(file, "{}", row.json()).expect("cannot write the bench output");
    }
}
