//! The trace as dlbtrace understands it: the events it knows (job chunks,
//! waits for work, steals, remote takes, "no more"), the ranks and nodes,
//! the provenance (`otherData`), and what was skipped or malformed. Reading
//! the file into this model is `read`'s business; everything else works on
//! the model only.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a chunk of jobs was obtained (the name of a `"jobs"` event).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum How {
    /// From the rank's own range.
    Claim,
    /// From chunks claimed ahead earlier.
    Ahead,
    /// Stolen from a node-mate.
    Steal,
    /// Units that came from another node.
    Remote,
    /// Units installed from elsewhere.
    Given,
    /// The static variant's split.
    Static,
    /// A name this dlbtrace does not know; the positions still count.
    Other(String),
}

impl How {
    /// The six ways dlb names, in legend order.
    pub const KNOWN: [How; 6] = [
        How::Claim,
        How::Ahead,
        How::Steal,
        How::Remote,
        How::Given,
        How::Static,
    ];

    /// From the event's name.
    pub fn from_name(name: &str) -> How {
        match name {
            "claim" => How::Claim,
            "ahead" => How::Ahead,
            "steal" => How::Steal,
            "remote" => How::Remote,
            "given" => How::Given,
            "static" => How::Static,
            other => How::Other(other.to_owned()),
        }
    }

    /// The event's name (`"other"` for all unknown names).
    pub fn name(&self) -> &'static str {
        match self {
            How::Claim => "claim",
            How::Ahead => "ahead",
            How::Steal => "steal",
            How::Remote => "remote",
            How::Given => "given",
            How::Static => "static",
            How::Other(_) => "other",
        }
    }

    /// What the name means, for legends and tooltips.
    pub fn meaning(&self) -> &str {
        match self {
            How::Claim => "own range",
            How::Ahead => "claimed ahead",
            How::Steal => "stolen from a node-mate",
            How::Remote => "from another node",
            How::Given => "installed from elsewhere",
            How::Static => "static split",
            How::Other(name) => name,
        }
    }
}

/// What a steal attempt found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It took work.
    Success,
    /// The victim had nothing.
    Empty,
    /// It lost a race and may try again.
    Retry,
    /// An outcome this dlbtrace does not know (counted as an attempt).
    Other,
}

impl Outcome {
    /// From `args.outcome`.
    pub fn from_name(name: &str) -> Outcome {
        match name {
            "success" => Outcome::Success,
            "empty" => Outcome::Empty,
            "retry" => Outcome::Retry,
            _ => Outcome::Other,
        }
    }

    /// The name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Empty => "empty",
            Outcome::Retry => "retry",
            Outcome::Other => "other",
        }
    }
}

/// What happened (the part of an event that depends on its kind).
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A chunk of jobs, positions `first..end`, worked on for `dur`.
    Jobs {
        /// How the chunk was obtained.
        how: How,
        /// First position.
        first: u64,
        /// One past the last position.
        end: u64,
        /// Microseconds until the next `give_more`.
        dur: f64,
    },
    /// A wait for work.
    Idle {
        /// Microseconds waited.
        dur: f64,
        /// Whether the wait ended with work (`None`: not said).
        found: Option<bool>,
    },
    /// A steal attempt from a node-mate.
    Steal {
        /// The rank stolen from.
        victim: Option<u64>,
        /// What it found.
        outcome: Outcome,
        /// How long the attempt took, in microseconds.
        latency_us: Option<f64>,
        /// Units taken.
        units: Option<u64>,
    },
    /// Work taken from another node.
    RemoteTake {
        /// The rank taken from.
        victim: Option<u64>,
    },
    /// A knock on a rank of another node (where knocks replace takes:
    /// Open MPI 4.1's osc/ucx).
    Knock {
        /// The rank knocked on.
        victim: Option<u64>,
        /// How long the knock's start took, in microseconds.
        latency_us: Option<f64>,
    },
    /// Units given, by this rank, to a rank of another node that knocked
    /// on it (the knocker's chunk from them is named "remote").
    Gift {
        /// The rank given to.
        knocker: Option<u64>,
        /// Units given.
        units: Option<u64>,
    },
    /// The answer to a remote take arrived.
    RemoteAnswer {
        /// The rank that answered.
        victim: Option<u64>,
        /// Units it gave (0: none).
        units: Option<u64>,
        /// Microseconds from the take's start to the answer.
        latency_us: Option<f64>,
    },
    /// `give_more` said there is no more work.
    NoMore,
    /// A run was set up (every rank records its own).
    Setup {
        /// The run's positions, `0..positions`.
        positions: u64,
    },
}

/// One known event of one rank.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Where it stood in `traceEvents` (from 0), for messages.
    pub index: usize,
    /// The rank (`tid`).
    pub rank: u64,
    /// The run (`args.run`, 0 if absent).
    pub run: u64,
    /// Microseconds since the common origin.
    pub ts: f64,
    /// What happened.
    pub kind: Kind,
}

impl Event {
    /// When it ended: `ts + dur` for chunks and waits, `ts` otherwise.
    pub fn end_ts(&self) -> f64 {
        match self.kind {
            Kind::Jobs { dur, .. } | Kind::Idle { dur, .. } => self.ts + dur,
            _ => self.ts,
        }
    }

    /// Whether it is a chunk or a wait (an interval rather than an instant).
    pub fn is_span(&self) -> bool {
        matches!(self.kind, Kind::Jobs { .. } | Kind::Idle { .. })
    }
}

/// A rank: its node and the name the trace gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rank {
    /// The node (`pid`).
    pub node: u64,
    /// `thread_name`'s name, if the trace named it.
    pub name: Option<String>,
}

/// Something wrong with one event (it was left out of the model).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where it stood in `traceEvents` (from 0); `None` for the file.
    pub index: Option<usize>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "event {i}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// The whole trace.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// `otherData`, in the file's order.
    pub provenance: Map<String, Value>,
    /// Nodes by `pid`, with `process_name`'s name if any.
    pub nodes: BTreeMap<u64, Option<String>>,
    /// Ranks by `tid`.
    pub ranks: BTreeMap<u64, Rank>,
    /// The known events, in the file's order.
    pub events: Vec<Event>,
    /// Events of unknown kinds, by `"ph cat/name"` (`"ph name"` without a
    /// category).
    pub skipped: BTreeMap<String, u64>,
    /// Malformed events (not in `events`).
    pub problems: Vec<Problem>,
    /// How many entries `traceEvents` had.
    pub total_events: usize,
}

impl Trace {
    /// The runs that have at least one event.
    pub fn runs(&self) -> BTreeSet<u64> {
        self.events.iter().map(|e| e.run).collect()
    }

    /// The events of one run, or of all runs.
    pub fn events_of(&self, run: Option<u64>) -> impl Iterator<Item = &Event> {
        self.events
            .iter()
            .filter(move |e| run.is_none_or(|r| e.run == r))
    }

    /// The ranks ordered by node, then rank.
    pub fn ranks_by_node(&self) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self.ranks.iter().map(|(&r, k)| (k.node, r)).collect();
        v.sort_unstable();
        v
    }

    /// How many events were skipped as unknown.
    pub fn skipped_count(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// `otherData`'s value for `key` as text, if it is there.
    pub fn provenance_text(&self, key: &str) -> Option<String> {
        self.provenance.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// Checks that `run` names a run of the trace.
    pub fn check_run(&self, run: Option<u64>) -> Result<(), String> {
        let runs = self.runs();
        match run {
            Some(r) if !runs.contains(&r) => Err(format!(
                "run {r} is not in the trace (runs: {})",
                if runs.is_empty() {
                    "none".to_owned()
                } else {
                    runs.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(rank: u64, run: u64, ts: f64, kind: Kind) -> Event {
        Event {
            index: 0,
            rank,
            run,
            ts,
            kind,
        }
    }

    #[test]
    fn names_round_trip() {
        for how in How::KNOWN {
            assert_eq!(How::from_name(how.name()), how);
        }
        assert_eq!(How::from_name("shrink"), How::Other("shrink".into()));
        assert_eq!(How::from_name("shrink").meaning(), "shrink");
        for o in [Outcome::Success, Outcome::Empty, Outcome::Retry] {
            assert_eq!(Outcome::from_name(o.name()), o);
        }
        assert_eq!(Outcome::from_name("weird"), Outcome::Other);
    }

    #[test]
    fn end_of_spans_and_instants() {
        let chunk = Kind::Jobs {
            how: How::Claim,
            first: 0,
            end: 4,
            dur: 2.5,
        };
        assert_eq!(event(0, 0, 10.0, chunk).end_ts(), 12.5);
        assert_eq!(event(0, 0, 10.0, Kind::NoMore).end_ts(), 10.0);
        assert!(!event(0, 0, 10.0, Kind::NoMore).is_span());
    }

    #[test]
    fn runs_selection_and_unknown_runs() {
        let mut t = Trace::default();
        t.events.push(event(0, 0, 1.0, Kind::NoMore));
        t.events.push(event(1, 2, 5.0, Kind::NoMore));
        assert_eq!(t.runs().into_iter().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(t.events_of(Some(2)).count(), 1);
        assert_eq!(t.events_of(None).count(), 2);
        assert!(t.check_run(Some(2)).is_ok() && t.check_run(None).is_ok());
        let e = t.check_run(Some(1)).unwrap_err();
        assert!(e.contains("runs: 0, 2"), "{e}");
    }
}
