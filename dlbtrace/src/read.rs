//! Reading a trace file into the model (`trace`): the top-level object is
//! walked with serde's streaming interface and each entry of `traceEvents`
//! is turned into an `Event` as soon as it is read, so a large trace is
//! never held as one JSON tree. A file that is not JSON, or has no
//! `traceEvents` array, is an error; a malformed event is a `Problem` and is
//! left out; an event of an unknown kind is counted in `skipped`; unknown
//! fields are ignored.

use crate::trace::{Event, How, Kind, Outcome, Problem, Rank, Trace};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;

/// Reads the trace at `path`.
pub fn read_file(path: &Path) -> Result<Trace, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    read(BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a trace from `input`.
pub fn read<R: Read>(input: R) -> Result<Trace, String> {
    let mut de = serde_json::Deserializer::from_reader(input);
    let trace = TopLevel
        .deserialize(&mut de)
        .map_err(|e| format!("not a trace: {e}"))?;
    de.end().map_err(|e| format!("not a trace: {e}"))?;
    Ok(trace)
}

/// The top-level object: `traceEvents`, `otherData`, the rest ignored.
struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Trace;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Trace, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Trace;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a traceEvents array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Trace, A::Error> {
        let mut trace = Trace::default();
        let mut seen_events = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "traceEvents" => {
                    map.next_value_seed(Events(&mut trace))?;
                    seen_events = true;
                }
                "otherData" => {
                    trace.provenance = map
                        .next_value::<Option<Map<String, Value>>>()?
                        .unwrap_or_default();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_events {
            return Err(serde::de::Error::missing_field("traceEvents"));
        }
        Ok(trace)
    }
}

/// The `traceEvents` array, added to the trace one entry at a time.
struct Events<'t>(&'t mut Trace);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of trace events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            let index = self.0.total_events;
            self.0.total_events += 1;
            if let Err(what) = add(self.0, index, &v) {
                self.0.problems.push(Problem {
                    index: Some(index),
                    what,
                });
            }
        }
        Ok(())
    }
}

/// What every event has, checked before its kind is looked at.
struct Common<'v> {
    ph: &'v str,
    cat: &'v str,
    name: &'v str,
    node: u64,
    rank: u64,
    ts: Option<f64>,
    /// 0 for events other than `X`.
    dur: f64,
    args: Option<&'v Map<String, Value>>,
}

/// Adds one entry of `traceEvents` to the trace, or says what is wrong.
fn add(trace: &mut Trace, index: usize, v: &Value) -> Result<(), String> {
    let c = common(v)?;
    if c.ph == "M" {
        metadata(trace, index, &c);
        return Ok(());
    }
    let Some(kind) = kind(&c)? else {
        *trace.skipped.entry(skip_key(&c)).or_default() += 1;
        return Ok(());
    };
    let ts = c.ts.ok_or("no ts")?;
    let run = match c.args.and_then(|a| a.get("run")) {
        None => 0,
        Some(r) => r.as_u64().ok_or("args.run is not a non-negative integer")?,
    };
    place(trace, index, c.rank, c.node);
    trace.events.push(Event {
        index,
        rank: c.rank,
        run,
        ts,
        kind,
    });
    Ok(())
}

/// `ph`, `pid` and `tid` (required), `ts` and, for complete (`X`) events,
/// `dur` (required there, not negative).
fn common(v: &Value) -> Result<Common<'_>, String> {
    let o = v.as_object().ok_or("not an object")?;
    let missing: Vec<&str> = ["ph", "pid", "tid"]
        .into_iter()
        .filter(|k| !o.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(format!("no {}", missing.join(", ")));
    }
    let ph = o["ph"].as_str().ok_or("ph is not a string")?;
    let id = |k: &str| {
        o[k].as_u64()
            .ok_or_else(|| format!("{k} is not a non-negative integer"))
    };
    let (node, rank) = (id("pid")?, id("tid")?);
    let number = |k: &str| match o.get(k) {
        None => Ok(None),
        Some(x) => x
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{k} is not a number")),
    };
    let ts = number("ts")?;
    let mut dur = 0.0;
    if ph == "X" {
        ts.ok_or("X event without ts")?;
        dur = number("dur")?.ok_or("X event without dur")?;
        if dur < 0.0 {
            return Err(format!("X event with negative dur {dur}"));
        }
    }
    Ok(Common {
        ph,
        cat: o.get("cat").and_then(Value::as_str).unwrap_or(""),
        name: o.get("name").and_then(Value::as_str).unwrap_or(""),
        node,
        rank,
        ts,
        dur,
        args: o.get("args").and_then(Value::as_object),
    })
}

/// The kind of a known event (`None`: unknown, to be skipped).
fn kind(c: &Common) -> Result<Option<Kind>, String> {
    let arg = |k: &str| c.args.and_then(|a| a.get(k));
    let uint = |k: &str| arg(k).and_then(Value::as_u64);
    let instant = c.ph == "i" || c.ph == "I";
    Ok(Some(match (c.ph, c.cat, c.name) {
        ("X", "jobs", name) => {
            let (Some(first), Some(end)) = (uint("first"), uint("end")) else {
                return Err(
                    "jobs event without args.first and args.end (non-negative integers)".into(),
                );
            };
            if first > end {
                return Err(format!("jobs event with first {first} > end {end}"));
            }
            Kind::Jobs {
                how: How::from_name(name),
                first,
                end,
                dur: c.dur,
            }
        }
        ("X", "idle", "wait for work") => Kind::Idle {
            dur: c.dur,
            found: arg("found").and_then(Value::as_bool),
        },
        (_, "steal", "steal") if instant => Kind::Steal {
            victim: uint("victim"),
            outcome: Outcome::from_name(arg("outcome").and_then(Value::as_str).unwrap_or("")),
            latency_us: arg("latency_us").and_then(Value::as_f64),
            units: uint("units"),
        },
        (_, "steal", "remote take") if instant => Kind::RemoteTake {
            victim: uint("victim"),
        },
        (_, "steal", "knock") if instant => Kind::Knock {
            victim: uint("victim"),
            latency_us: arg("latency_us").and_then(Value::as_f64),
        },
        (_, "steal", "gift") if instant => Kind::Gift {
            knocker: uint("knocker"),
            units: uint("units"),
        },
        (_, "steal", "remote answer") if instant => Kind::RemoteAnswer {
            victim: uint("victim"),
            units: uint("units"),
            latency_us: arg("latency_us").and_then(Value::as_f64),
        },
        (_, "run", "no more") if instant => Kind::NoMore,
        (_, "run", "setup") if instant => match uint("positions") {
            Some(positions) => Kind::Setup { positions },
            None => {
                return Err("setup event without args.positions (a non-negative integer)".into())
            }
        },
        _ => return Ok(None),
    }))
}

/// Names of nodes (`process_name`) and ranks (`thread_name`); the sort
/// indices dlb writes are ignored (rows are ordered by node and rank
/// anyway); other metadata is skipped.
fn metadata(trace: &mut Trace, index: usize, c: &Common) {
    let name = c
        .args
        .and_then(|a| a.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match c.name {
        "process_name" => {
            trace.nodes.insert(c.node, name);
        }
        "thread_name" => {
            place(trace, index, c.rank, c.node);
            if let Some(r) = trace.ranks.get_mut(&c.rank) {
                r.name = name;
            }
        }
        "process_sort_index" | "thread_sort_index" => {}
        _ => *trace.skipped.entry(skip_key(c)).or_default() += 1,
    }
}

/// How skipped events are counted: `"ph cat/name"`, or `"ph name"`
/// without a category.
fn skip_key(c: &Common) -> String {
    if c.cat.is_empty() {
        format!("{} {}", c.ph, c.name)
    } else {
        format!("{} {}/{}", c.ph, c.cat, c.name)
    }
}

/// Notes that `rank` ran on `node`; a rank seen on two nodes is a problem.
fn place(trace: &mut Trace, index: usize, rank: u64, node: u64) {
    trace.nodes.entry(node).or_default();
    let r = trace.ranks.entry(rank).or_insert(Rank { node, name: None });
    if r.node != node {
        trace.problems.push(Problem {
            index: Some(index),
            what: format!("rank {rank} on node {node}, but on node {} before", r.node),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace, String> {
        read(text.as_bytes())
    }

    #[test]
    fn known_kinds_and_names() {
        let t = parse(
            r#"{"traceEvents":[
              {"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"node one"}},
              {"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"rank 3"}},
              {"ph":"X","cat":"jobs","name":"ahead","pid":1,"tid":3,"ts":1.5,"dur":2,"args":{"run":2,"first":4,"end":9}},
              {"ph":"X","cat":"idle","name":"wait for work","pid":1,"tid":3,"ts":3.5,"dur":1,"args":{"run":2,"found":false}},
              {"ph":"i","s":"t","cat":"steal","name":"steal","pid":1,"tid":3,"ts":4,"args":{"victim":5,"outcome":"retry","latency_us":0.5}},
              {"ph":"i","cat":"steal","name":"remote take","pid":1,"tid":3,"ts":4.2,"args":{"run":2,"victim":6}},
              {"ph":"i","cat":"run","name":"no more","pid":1,"tid":3,"ts":5,"args":{"run":2},"extra":[1,2]}
            ],"otherData":{"variant":"rma","ranks":1},"displayTimeUnit":"ms"}"#,
        )
        .unwrap();
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        assert_eq!(t.total_events, 7);
        assert_eq!(t.nodes[&1].as_deref(), Some("node one"));
        assert_eq!(t.ranks[&3].node, 1);
        assert_eq!(t.ranks[&3].name.as_deref(), Some("rank 3"));
        assert_eq!(t.events.len(), 5);
        assert_eq!(
            t.events[0].kind,
            Kind::Jobs {
                how: How::Ahead,
                first: 4,
                end: 9,
                dur: 2.0
            }
        );
        assert_eq!((t.events[0].run, t.events[0].ts), (2, 1.5));
        assert_eq!(
            t.events[1].kind,
            Kind::Idle {
                dur: 1.0,
                found: Some(false)
            }
        );
        // No args.run: run 0.
        assert_eq!(t.events[2].run, 0);
        assert!(matches!(
            t.events[2].kind,
            Kind::Steal {
                victim: Some(5),
                outcome: Outcome::Retry,
                ..
            }
        ));
        assert_eq!(t.events[3].kind, Kind::RemoteTake { victim: Some(6) });
        assert_eq!(t.events[4].kind, Kind::NoMore);
        assert_eq!(t.provenance_text("variant").as_deref(), Some("rma"));
        assert_eq!(t.provenance_text("ranks").as_deref(), Some("1"));
    }

    #[test]
    fn knocks_and_gifts() {
        let t = parse(
            r#"{"traceEvents":[
              {"ph":"i","s":"t","cat":"steal","name":"knock","pid":1,"tid":5,"ts":3,"args":{"run":0,"victim":2,"latency_us":0.25}},
              {"ph":"i","s":"t","cat":"steal","name":"gift","pid":0,"tid":2,"ts":7,"args":{"run":0,"knocker":5,"units":3}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            t.events[0].kind,
            Kind::Knock {
                victim: Some(2),
                latency_us: Some(0.25)
            }
        );
        assert_eq!(
            t.events[1].kind,
            Kind::Gift {
                knocker: Some(5),
                units: Some(3)
            }
        );
        assert!(t.problems.is_empty(), "{:?}", t.problems);
    }

    #[test]
    fn remote_answers_and_setups() {
        let t = parse(
            r#"{"traceEvents":[
              {"ph":"i","s":"t","cat":"steal","name":"remote answer","pid":0,"tid":1,"ts":9,"args":{"run":0,"victim":2,"units":8,"latency_us":5.5}},
              {"ph":"i","s":"t","cat":"run","name":"setup","pid":0,"tid":1,"ts":0,"args":{"run":0,"positions":40}},
              {"ph":"i","s":"t","cat":"run","name":"setup","pid":0,"tid":1,"ts":0,"args":{"run":1}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            t.events[0].kind,
            Kind::RemoteAnswer {
                victim: Some(2),
                units: Some(8),
                latency_us: Some(5.5)
            }
        );
        assert_eq!(t.events[1].kind, Kind::Setup { positions: 40 });
        // A setup without its positions is malformed.
        assert_eq!(t.events.len(), 2);
        assert_eq!(t.problems.len(), 1, "{:?}", t.problems);
    }

    #[test]
    fn unknown_events_are_counted_not_kept() {
        let t = parse(
            r#"{"traceEvents":[
              {"ph":"C","name":"queue","pid":0,"tid":0,"ts":1,"args":{"n":3}},
              {"ph":"i","cat":"steal","name":"steal again","pid":0,"tid":0,"ts":1},
              {"ph":"i","cat":"steal","name":"steal again","pid":0,"tid":0,"ts":2},
              {"ph":"M","name":"process_sort_index","pid":0,"tid":0,"args":{"sort_index":0}},
              {"ph":"M","name":"process_labels","pid":0,"tid":0},
              {"ph":"X","cat":"jobs","name":"shrink","pid":0,"tid":0,"ts":0,"dur":1,"args":{"first":0,"end":2}}
            ]}"#,
        )
        .unwrap();
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        assert_eq!(t.skipped["i steal/steal again"], 2);
        assert_eq!(t.skipped["C queue"], 1);
        assert_eq!(t.skipped["M process_labels"], 1);
        assert!(!t.skipped.contains_key("M process_sort_index"));
        assert_eq!(t.skipped_count(), 4);
        // An unknown way of obtaining jobs keeps its positions.
        assert_eq!(t.events.len(), 1);
        assert!(
            matches!(&t.events[0].kind, Kind::Jobs { how: How::Other(n), .. } if n == "shrink")
        );
    }

    #[test]
    fn malformed_events_are_problems() {
        let t = parse(
            r#"{"traceEvents":[
              {"ph":"X","cat":"jobs","name":"claim","pid":0,"ts":0,"dur":1,"args":{"first":0,"end":2}},
              {"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":0,"ts":0,"dur":-1,"args":{"first":0,"end":2}},
              {"ph":"X","cat":"other","name":"x","pid":0,"tid":0,"ts":0},
              {"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":0,"ts":0,"dur":1,"args":{"first":3,"end":2}},
              {"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":0,"ts":0,"dur":1},
              {"ph":"i","cat":"run","name":"no more","pid":0,"tid":0},
              {"ph":"i","cat":"run","name":"no more","pid":"a","tid":0,"ts":1},
              {"ph":"i","cat":"run","name":"no more","pid":0,"tid":0,"ts":1},
              {"ph":"i","cat":"run","name":"no more","pid":1,"tid":0,"ts":1},
              7
            ]}"#,
        )
        .unwrap();
        let said: Vec<String> = t.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "event 0: no tid",
                "event 1: X event with negative dur -1",
                "event 2: X event without dur",
                "event 3: jobs event with first 3 > end 2",
                "event 4: jobs event without args.first and args.end (non-negative integers)",
                "event 5: no ts",
                "event 6: pid is not a non-negative integer",
                "event 8: rank 0 on node 1, but on node 0 before",
                "event 9: not an object",
            ]
        );
    }

    #[test]
    fn files_that_are_not_traces() {
        for (text, says) in [
            ("{", "EOF"),
            ("[]", "an object with a traceEvents array"),
            (r#"{"otherData":{}}"#, "missing field `traceEvents`"),
            (r#"{"traceEvents":{}}"#, "an array of trace events"),
            (r#"{"traceEvents":[]} x"#, "trailing characters"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert!(parse(r#"{"traceEvents":[]}"#).unwrap().events.is_empty());
    }
}
