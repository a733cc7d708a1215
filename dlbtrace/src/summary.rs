//! `dlbtrace summary`: the figures per rank (jobs, chunks, busy and idle
//! time, steal attempts, successful steals, remote takes (and knocks), when "no more"
//! came), their totals, the makespan and the efficiency, for one run or
//! all; printed as a table under the trace's provenance, or as one JSON
//! object.

use crate::trace::{Event, Kind, Outcome, Trace};
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// One rank's figures (or, in `Summary::totals`, all ranks').
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Jobs: the sum of `end - first` over its chunks.
    pub jobs: u64,
    /// Chunks (`"jobs"` events).
    pub chunks: u64,
    /// Microseconds working on chunks.
    pub busy_us: f64,
    /// Microseconds waiting for work.
    pub idle_us: f64,
    /// Steal attempts, whatever they found.
    pub steal_attempts: u64,
    /// Steal attempts that took work.
    pub steals: u64,
    /// Work taken from another node.
    pub remote_takes: u64,
    /// When "no more" came (the last one, over several runs).
    pub no_more_us: Option<f64>,
}

impl Figures {
    fn add(&mut self, e: &Event) {
        match &e.kind {
            Kind::Jobs {
                first, end, dur, ..
            } => {
                self.jobs += end - first;
                self.chunks += 1;
                self.busy_us += dur;
            }
            Kind::Idle { dur, .. } => self.idle_us += dur,
            Kind::Steal { outcome, .. } => {
                self.steal_attempts += 1;
                self.steals += u64::from(*outcome == Outcome::Success);
            }
            // A knock is the request that replaces a take where knocks are
            // made; a gift counts for its knocker (see `summarize`).
            Kind::RemoteTake { .. } | Kind::Knock { .. } => self.remote_takes += 1,
            Kind::Gift { .. } => {}
            // A remote take that brought units is a successful steal.
            Kind::RemoteAnswer { units, .. } => {
                self.steals += u64::from(units.is_some_and(|u| u > 0));
            }
            Kind::NoMore => {
                self.no_more_us = Some(self.no_more_us.map_or(e.ts, |t| t.max(e.ts)));
            }
            Kind::Setup { .. } => {}
        }
    }

    fn sum(&mut self, o: &Figures) {
        self.jobs += o.jobs;
        self.chunks += o.chunks;
        self.busy_us += o.busy_us;
        self.idle_us += o.idle_us;
        self.steal_attempts += o.steal_attempts;
        self.steals += o.steals;
        self.remote_takes += o.remote_takes;
    }

    fn json(&self) -> Map<String, Value> {
        let v = json!({
            "jobs": self.jobs,
            "chunks": self.chunks,
            "busy_us": self.busy_us,
            "idle_us": self.idle_us,
            "steal_attempts": self.steal_attempts,
            "steals": self.steals,
            "remote_takes": self.remote_takes,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// From the first event to the last end, and how well the ranks used it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Span {
    /// The earliest `ts` of any event (microseconds).
    pub start_us: f64,
    /// The latest end of a chunk or wait.
    pub end_us: f64,
    /// Total busy time over ranks × (end − start); `None` if that is 0.
    pub efficiency: Option<f64>,
}

impl Span {
    /// `end_us - start_us`.
    pub fn makespan_us(&self) -> f64 {
        self.end_us - self.start_us
    }

    fn of<'e>(events: impl Iterator<Item = &'e Event>, busy_us: f64, ranks: usize) -> Span {
        let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
        for e in events {
            start = start.min(e.ts);
            if e.is_span() {
                end = end.max(e.end_ts());
            }
        }
        if !(start.is_finite() && end.is_finite()) {
            return Span::default();
        }
        let denominator = ranks as f64 * (end - start);
        Span {
            start_us: start,
            end_us: end,
            efficiency: (denominator > 0.0).then(|| busy_us / denominator),
        }
    }
}

/// Everything `dlbtrace summary` prints.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The run summed up (`None`: all).
    pub run: Option<u64>,
    /// Per rank, ordered by rank: (rank, node, figures).
    pub ranks: Vec<(u64, u64, Figures)>,
    /// Sums over ranks (`no_more_us` unset).
    pub totals: Figures,
    /// The whole selection.
    pub span: Span,
    /// Per run: (run, totals, span).
    pub per_run: Vec<(u64, Figures, Span)>,
}

/// Sums up `run` (or all runs).
pub fn summarize(trace: &Trace, run: Option<u64>) -> Summary {
    let figures = |run: Option<u64>| {
        let mut per_rank: Vec<(u64, u64, Figures)> = trace
            .ranks
            .iter()
            .map(|(&r, k)| (r, k.node, Figures::default()))
            .collect();
        for e in trace.events_of(run) {
            if let Ok(i) = per_rank.binary_search_by_key(&e.rank, |x| x.0) {
                per_rank[i].2.add(e);
            }
            // A gift with units is a successful steal of its knocker's,
            // though its giver recorded it.
            if let Kind::Gift {
                knocker: Some(knocker),
                units: Some(units),
            } = e.kind
            {
                if let Ok(i) = per_rank.binary_search_by_key(&knocker, |x| x.0) {
                    per_rank[i].2.steals += u64::from(units > 0);
                }
            }
        }
        let mut totals = Figures::default();
        for (_, _, f) in &per_rank {
            totals.sum(f);
        }
        let span = Span::of(trace.events_of(run), totals.busy_us, per_rank.len());
        (per_rank, totals, span)
    };
    let (ranks, totals, span) = figures(run);
    let runs: Vec<u64> = match run {
        Some(r) => vec![r],
        None => trace.runs().into_iter().collect(),
    };
    let per_run = runs
        .into_iter()
        .map(|r| {
            let (_, t, s) = figures(Some(r));
            (r, t, s)
        })
        .collect();
    Summary {
        run,
        ranks,
        totals,
        span,
        per_run,
    }
}

/// Microseconds as milliseconds with three decimals.
fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

fn percent(e: Option<f64>) -> String {
    e.map_or_else(|| "-".to_owned(), |e| format!("{:.1} %", e * 100.0))
}

/// The text report: provenance, the table, totals, makespan, runs.
pub fn text(trace: &Trace, file: &str, s: &Summary) -> String {
    let mut out = format!("dlbtrace summary of {file}\n");
    for (k, _) in &trace.provenance {
        let v = trace.provenance_text(k).unwrap_or_default();
        let _ = writeln!(out, "  {k}: {v}");
    }
    let _ = writeln!(
        out,
        "{}",
        match s.run {
            Some(r) => format!("run {r}"),
            None => format!("all runs ({})", s.per_run.len()),
        }
    );
    let head = [
        "rank",
        "node",
        "jobs",
        "chunks",
        "busy ms",
        "idle ms",
        "steal tries",
        "steals ok",
        "remote takes",
        "no more at ms",
    ];
    let widths: Vec<usize> = head.iter().map(|h| h.len().max(6)).collect();
    let row = |cells: [String; 10]| {
        let mut line = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(line, "{c:>w$}  ");
        }
        line.trim_end().to_owned() + "\n"
    };
    out += &row(head.map(str::to_owned));
    let cells = |rank: String, node: String, f: &Figures| {
        [
            rank,
            node,
            f.jobs.to_string(),
            f.chunks.to_string(),
            ms(f.busy_us),
            ms(f.idle_us),
            f.steal_attempts.to_string(),
            f.steals.to_string(),
            f.remote_takes.to_string(),
            f.no_more_us.map_or_else(|| "-".to_owned(), ms),
        ]
    };
    for (rank, node, f) in &s.ranks {
        out += &row(cells(rank.to_string(), node.to_string(), f));
    }
    out += &row(cells("total".into(), String::new(), &s.totals));
    let _ = writeln!(
        out,
        "makespan {} ms (from {} to {} ms), efficiency {} ({} rank(s))",
        ms(s.span.makespan_us()),
        ms(s.span.start_us),
        ms(s.span.end_us),
        percent(s.span.efficiency),
        s.ranks.len()
    );
    if s.run.is_none() {
        for (r, t, span) in &s.per_run {
            let _ = writeln!(
                out,
                "  run {r}: {} jobs in {} chunks, makespan {} ms, efficiency {}",
                t.jobs,
                t.chunks,
                ms(span.makespan_us()),
                percent(span.efficiency)
            );
        }
    }
    out + &notes(trace)
}

/// Lines about skipped and malformed events (empty if none).
fn notes(trace: &Trace) -> String {
    let mut out = String::new();
    if !trace.skipped.is_empty() {
        let kinds: Vec<String> = trace
            .skipped
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        let _ = writeln!(
            out,
            "skipped {} event(s) of unknown kinds: {}",
            trace.skipped_count(),
            kinds.join(", ")
        );
    }
    if !trace.problems.is_empty() {
        let _ = writeln!(
            out,
            "left out {} malformed event(s) (dlbtrace check lists them)",
            trace.problems.len()
        );
    }
    out
}

/// The same as one JSON object.
pub fn json(trace: &Trace, file: &str, s: &Summary) -> Value {
    let span = |sp: &Span| {
        json!({
            "start_us": sp.start_us,
            "end_us": sp.end_us,
            "makespan_us": sp.makespan_us(),
            "efficiency": sp.efficiency,
        })
    };
    let ranks: Vec<Value> = s
        .ranks
        .iter()
        .map(|(rank, node, f)| {
            let mut m = Map::new();
            m.insert("rank".into(), json!(rank));
            m.insert("node".into(), json!(node));
            m.extend(f.json());
            m.insert("no_more_us".into(), json!(f.no_more_us));
            Value::Object(m)
        })
        .collect();
    let per_run: Vec<Value> = s
        .per_run
        .iter()
        .map(|(r, t, sp)| {
            let mut m = Map::new();
            m.insert("run".into(), json!(r));
            m.extend(t.json());
            m.extend(span(sp).as_object().cloned().unwrap_or_default());
            Value::Object(m)
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("file".into(), json!(file));
    doc.insert("provenance".into(), Value::Object(trace.provenance.clone()));
    doc.insert("run".into(), json!(s.run));
    doc.insert("ranks".into(), Value::Array(ranks));
    doc.insert("totals".into(), Value::Object(s.totals.json()));
    doc.extend(span(&s.span).as_object().cloned().unwrap_or_default());
    doc.insert("runs".into(), Value::Array(per_run));
    doc.insert("skipped".into(), json!(trace.skipped));
    doc.insert("malformed_events".into(), json!(trace.problems.len()));
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{How, Rank};

    fn trace() -> Trace {
        let mut t = Trace::default();
        for r in 0..2 {
            t.ranks.insert(
                r,
                Rank {
                    node: 0,
                    name: None,
                },
            );
        }
        let mut push = |rank, run, ts, kind| {
            let index = t.events.len();
            t.events.push(Event {
                index,
                rank,
                run,
                ts,
                kind,
            });
        };
        let jobs = |first, end, dur| Kind::Jobs {
            how: How::Claim,
            first,
            end,
            dur,
        };
        push(0, 0, 10.0, jobs(0, 4, 30.0));
        push(1, 0, 10.0, jobs(4, 6, 10.0));
        push(
            1,
            0,
            20.0,
            Kind::Idle {
                dur: 5.0,
                found: Some(true),
            },
        );
        push(
            1,
            0,
            21.0,
            Kind::Steal {
                victim: Some(0),
                outcome: Outcome::Empty,
                latency_us: None,
                units: None,
            },
        );
        push(1, 0, 25.0, Kind::NoMore);
        push(
            0,
            1,
            100.0,
            Kind::Gift {
                knocker: Some(1),
                units: Some(2),
            },
        );
        push(
            1,
            1,
            101.0,
            Kind::Knock {
                victim: Some(0),
                latency_us: Some(1.0),
            },
        );
        push(0, 1, 100.0, jobs(0, 2, 20.0));
        push(0, 1, 130.0, Kind::NoMore);
        t
    }

    #[test]
    fn one_run() {
        let s = summarize(&trace(), Some(0));
        assert_eq!(s.ranks.len(), 2);
        let (r1, f1) = (&s.ranks[1].0, &s.ranks[1].2);
        assert_eq!(*r1, 1);
        assert_eq!(
            (f1.jobs, f1.chunks, f1.busy_us, f1.idle_us),
            (2, 1, 10.0, 5.0)
        );
        assert_eq!((f1.steal_attempts, f1.steals), (1, 0));
        assert_eq!(f1.no_more_us, Some(25.0));
        assert_eq!(s.ranks[0].2.no_more_us, None);
        assert_eq!((s.totals.jobs, s.totals.busy_us), (6, 40.0));
        // From 10 to 40 (rank 0's chunk): 40 busy over 2 × 30.
        assert_eq!((s.span.start_us, s.span.end_us), (10.0, 40.0));
        assert_eq!(s.span.efficiency, Some(40.0 / 60.0));
    }

    #[test]
    fn a_knock_counts_as_a_remote_take_and_a_gift_as_its_knockers_steal() {
        let s = summarize(&trace(), Some(1));
        let (giver, knocker) = (&s.ranks[0].2, &s.ranks[1].2);
        assert_eq!((giver.steals, giver.remote_takes), (0, 0));
        assert_eq!((knocker.steals, knocker.remote_takes), (1, 1));
        assert_eq!(knocker.steal_attempts, 0);
    }

    #[test]
    fn the_makespan_starts_at_the_first_event_of_any_kind() {
        let mut t = trace();
        t.events[3].ts = 2.0;
        let s = summarize(&t, Some(0));
        assert_eq!((s.span.start_us, s.span.end_us), (2.0, 40.0));
    }

    #[test]
    fn all_runs_on_one_axis() {
        let s = summarize(&trace(), None);
        assert_eq!(s.totals.jobs, 8);
        assert_eq!(s.ranks[0].2.no_more_us, Some(130.0));
        assert_eq!((s.span.start_us, s.span.end_us), (10.0, 120.0));
        assert_eq!(s.per_run.len(), 2);
        assert_eq!(s.per_run[1].2.makespan_us(), 20.0);
        let text = text(&trace(), "t.json", &s);
        assert!(
            text.contains("run 1: 2 jobs in 1 chunks, makespan 0.020 ms"),
            "{text}"
        );
        let j = json(&trace(), "t.json", &s);
        assert_eq!(j["totals"]["jobs"], 8);
        assert_eq!(j["runs"][0]["jobs"], 6);
        assert_eq!(j["ranks"][1]["no_more_us"], 25.0);
    }
}
