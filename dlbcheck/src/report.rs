//! What dlbcheck tells the user, in one place: the text report (one fact
//! per line, the verdict last) or, with `--json`, one JSON object that
//! holds the same facts. Only rank 0 prints; the other ranks' reports stay
//! silent.

use crate::cli::Options;
use serde_json::{json, Map, Value};
use std::fmt::Display;
use std::time::Duration;

/// The facts gathered so far, and how to print them.
pub struct Report {
    json: bool,
    prints: bool,
    doc: Map<String, Value>,
    runs: Vec<Value>,
    jobs_per_node: Map<String, Value>,
}

/// What dlb found out about the stack (collected on every rank, reported
/// by rank 0).
pub struct Stack {
    /// `MPI_Get_library_version`'s string.
    pub library: String,
    /// Ranks in the job.
    pub ranks: usize,
    /// Nodes (groups of ranks that share memory).
    pub nodes: usize,
    /// The launcher's size and the variable that said it.
    pub launcher: Option<(&'static str, usize)>,
    /// The variant of the first check.
    pub variant: &'static str,
    /// The atomics path (`None` for the static variant).
    pub atomics: Option<&'static str>,
    /// The window flavor (`None` for the static variant).
    pub window: Option<&'static str>,
    /// How each level reaches the words, in words.
    pub levels: Option<String>,
    /// How long an atomic on a rank busy outside MPI took.
    pub progress: Option<Duration>,
}

/// One run of one interface and variant, as rank 0 saw it.
pub struct RunRecord {
    /// The variant's name.
    pub variant: &'static str,
    /// The interface's name.
    pub interface: &'static str,
    /// Which round.
    pub round: u32,
    /// Rank 0's own finding (the exactly-once check is made there).
    pub outcome: Result<(), String>,
    /// On how many ranks the run failed.
    pub failed_ranks: u64,
    /// Wall time of the run on rank 0.
    pub seconds: f64,
    /// Jobs each rank ran.
    pub jobs_per_rank: Vec<u64>,
    /// Successful steals of each rank.
    pub steals_per_rank: Vec<u64>,
}

/// Atomics on a busy rank slower than this mean no passive progress (they
/// start half way into its 50 ms outside MPI, so they would take 25 ms).
pub const PASSIVE_LIMIT: Duration = Duration::from_millis(10);

impl Report {
    /// A report that prints (on rank 0, `prints`) text or, with `--json`,
    /// one object at the end.
    pub fn new(o: &Options, prints: bool) -> Self {
        let mut doc = Map::new();
        doc.insert("dlbcheck".into(), json!(dlb::VERSION));
        doc.insert(
            "options".into(),
            json!({
                "jobs": o.jobs,
                "maxjobs": o.maxjobs,
                "rounds": o.rounds,
                "interfaces": o.interfaces.iter().map(|i| i.name()).collect::<Vec<_>>(),
                "variants": o.variants.iter().map(|v| v.name()).collect::<Vec<_>>(),
                "seed": o.seed,
                "job_us": o.job_us,
            }),
        );
        Report {
            json: o.json,
            prints,
            doc,
            runs: Vec::new(),
            jobs_per_node: Map::new(),
        }
    }

    /// Whether this rank prints (rank 0 once dlb numbered the ranks).
    pub fn set_printing(&mut self, prints: bool) {
        self.prints = prints;
    }

    /// Prints one line of the text report.
    pub fn say(&self, line: impl Display) {
        if self.prints && !self.json {
            println!("{line}");
        }
    }

    /// Prints a block of text (a statistics report) as it is.
    pub fn say_block(&self, text: &str) {
        if self.prints && !self.json {
            print!("{text}");
        }
    }

    /// What dlb found out about the stack and how it reaches the words.
    pub fn stack(&mut self, s: &Stack, o: &Options) {
        self.say(format_args!(
            "dlbcheck: {}",
            s.library.lines().next().unwrap_or("unknown MPI")
        ));
        self.say(format_args!(
            "dlbcheck: {} ranks on {} node(s)",
            s.ranks, s.nodes
        ));
        self.say(format_args!(
            "dlbcheck: variant {}, atomics {}, window {}",
            s.variant,
            s.atomics.unwrap_or("none"),
            s.window.unwrap_or("none")
        ));
        if let Some(levels) = &s.levels {
            self.say(format_args!("dlbcheck: {levels}"));
        }
        self.say(match s.progress {
            None => "dlbcheck: passive progress: not measured (one rank or static variant)".to_owned(),
            Some(t) if t < PASSIVE_LIMIT => {
                let hint = match &s.levels {
                    Some(levels) if !levels.starts_with("one node") => {
                        "; across real nodes dlb's init makes a stricter test of its own (under \
                         5 ms, the rank still asleep) and, if it passes, lets idle ranks steal \
                         from other nodes' ranges directly (direct steals; DLB_VERBOSE=1 says \
                         what it chose, DLB_DIRECT_STEALS=1 asks for them)"
                    }
                    _ => "",
                };
                format!("dlbcheck: passive progress: yes (atomics on a busy rank took {t:.1?}){hint}")
            }
            Some(t) => format!(
                "dlbcheck: passive progress: no (atomics on a rank busy for 25 more ms took {t:.1?}); steals \
                 wait for busy victims to enter MPI (MPICH: MPIR_CVAR_ASYNC_PROGRESS=1 adds a progress thread)"
            ),
        });
        self.say(format_args!(
            "dlbcheck: {} jobs per run, maxjobs 1..={}, jobs up to {} us, {} round(s), seed {}",
            o.jobs, o.maxjobs, o.job_us, o.rounds, o.seed
        ));
        self.doc.insert(
            "stack".into(),
            json!({
                "mpi_library": s.library,
                "ranks": s.ranks,
                "nodes": s.nodes,
                "launcher": s.launcher.map(|(var, size)| json!({"variable": var, "size": size})),
            }),
        );
        self.doc.insert(
            "paths".into(),
            json!({
                "variant": s.variant,
                "atomics": s.atomics,
                "window": s.window,
                "levels": s.levels,
                "passive_progress": s.progress.map(|t| json!({
                    "seconds": t.as_secs_f64(),
                    "passive": t < PASSIVE_LIMIT,
                })),
            }),
        );
    }

    /// One run's line (text) or record (JSON).
    pub fn run(&mut self, r: RunRecord) {
        self.say(format_args!(
            "  {:<7} {:<6} round {}: {} in {:.3} s",
            r.variant,
            r.interface,
            r.round,
            match (&r.outcome, r.failed_ranks) {
                (Err(w), _) => format!("FAIL ({w})"),
                (Ok(()), 0) => "ok, every job exactly once".to_owned(),
                (Ok(()), n) => format!("FAIL on {n} rank(s), see stderr"),
            },
            r.seconds
        ));
        self.runs.push(json!({
            "variant": r.variant,
            "interface": r.interface,
            "round": r.round,
            "ok": r.outcome.is_ok() && r.failed_ranks == 0,
            "error": r.outcome.err(),
            "failed_ranks": r.failed_ranks,
            "seconds": r.seconds,
            "jobs_per_rank": r.jobs_per_rank,
            "steals_per_rank": r.steals_per_rank,
        }));
    }

    /// The jobs of a variant's last run, per node.
    pub fn jobs_per_node(&mut self, variant: &'static str, per_node: Vec<u64>) {
        let text: Vec<String> = per_node
            .iter()
            .enumerate()
            .map(|(n, j)| format!("node {n}: {j}"))
            .collect();
        self.say(format_args!(
            "dlbcheck: {variant} jobs per node, last run: {}",
            text.join(", ")
        ));
        self.jobs_per_node.insert(variant.into(), json!(per_node));
    }

    /// Prints the verdict: the last line of text, or the JSON object.
    pub fn finish(mut self, verdict: &Result<(), String>) {
        if !self.prints {
            return;
        }
        if !self.json {
            match verdict {
                Ok(()) => println!("dlbcheck: PASS"),
                Err(why) => println!("dlbcheck: FAIL {why}"),
            }
            return;
        }
        let mut out = Map::new();
        out.insert(
            "verdict".into(),
            json!(if verdict.is_ok() { "PASS" } else { "FAIL" }),
        );
        out.insert("reason".into(), json!(verdict.as_ref().err()));
        out.append(&mut self.doc);
        out.insert("runs".into(), Value::Array(self.runs));
        out.insert("jobs_per_node".into(), Value::Object(self.jobs_per_node));
        println!("{}", Value::Object(out));
    }
}
