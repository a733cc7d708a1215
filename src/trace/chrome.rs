//! The trace file: Chrome's trace-event JSON format ("JSON Object
//! Format": `traceEvents`, `displayTimeUnit`, `otherData`), which Perfetto
//! and chrome://tracing open. One process (`pid`) per node, one thread
//! (`tid`) per rank, named by metadata events (`ph: "M"`); chunks and
//! waits are complete events (`ph: "X"`, `ts` and `dur` in microseconds),
//! steal attempts, takes and their answers, knocks, gifts, "no more" and
//! each run's setup (with its number of positions) instant events
//! (`ph: "i"`, thread scope).

use super::{Kind, Record};
use crate::error::{Error, ErrorKind, Result};
use crate::json::json_string;
use crate::provenance::Provenance;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes a trace file event by event (rank 0, at finalize), so that no
/// more than one batch of records is in memory. The first error is kept
/// and returned by [`Writer::finish`]; until then the writer goes on
/// taking records (the other ranks are still sending them).
pub(crate) struct Writer {
    out: Option<BufWriter<File>>,
    error: Option<Error>,
    first: bool,
    node_of: Vec<usize>,
    provenance: String,
    path: String,
}

impl Writer {
    /// Creates `path` and writes the metadata: a process per node, a
    /// thread per rank (`node_of` has each rank's node).
    pub(crate) fn create(path: &Path, provenance: &Provenance) -> Writer {
        let mut w = Writer {
            out: None,
            error: None,
            first: true,
            node_of: provenance.node_of.clone(),
            provenance: provenance.to_json(),
            path: path.display().to_string(),
        };
        match File::create(path) {
            Ok(f) => w.out = Some(BufWriter::new(f)),
            Err(e) => w.fail(&e),
        }
        w.put("{\"traceEvents\":[\n");
        let nodes = w.node_of.iter().max().map_or(0, |m| m + 1);
        for node in 0..nodes {
            let leader = w.node_of.iter().position(|&n| n == node).unwrap_or(0);
            w.event(&format!(
                "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{node},\"tid\":{leader},\"args\":{{\"name\":\"node {node}\"}}}}"
            ));
            w.event(&format!(
                "{{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":{node},\"tid\":{leader},\"args\":{{\"sort_index\":{node}}}}}"
            ));
        }
        for rank in 0..w.node_of.len() {
            let pid = w.node_of[rank];
            w.event(&format!(
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":{rank},\"args\":{{\"name\":\"rank {rank}\"}}}}"
            ));
            w.event(&format!(
                "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":{pid},\"tid\":{rank},\"args\":{{\"sort_index\":{rank}}}}}"
            ));
        }
        w
    }

    /// The records of `rank`, as gathered (words).
    pub(crate) fn records(&mut self, rank: usize, words: &[u64]) {
        let Some(records) = Record::from_words(words) else {
            self.error.get_or_insert_with(|| {
                Error::internal(format!(
                    "trace: rank {rank} sent records of an unknown kind"
                ))
            });
            return;
        };
        let pid = self.node_of.get(rank).copied().unwrap_or(0);
        let mut text = String::with_capacity(192);
        for r in &records {
            text.clear();
            one_event(&mut text, r, pid, rank);
            self.event(&text);
        }
    }

    /// Ends the file (the provenance in `otherData`) and returns the first
    /// error, if any.
    pub(crate) fn finish(mut self) -> Result<()> {
        let tail = format!(
            "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{}\n}}\n",
            self.provenance
        );
        self.put(&tail);
        if let Some(mut out) = self.out.take() {
            if let Err(e) = out.flush() {
                self.fail(&e);
            }
        }
        self.error.map_or(Ok(()), Err)
    }

    fn event(&mut self, text: &str) {
        if !std::mem::take(&mut self.first) {
            self.put(",\n");
        }
        self.put(text);
    }

    fn put(&mut self, text: &str) {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.write_all(text.as_bytes()) {
                self.fail(&e);
            }
        }
    }

    /// Keeps the first error; writes nothing more.
    fn fail(&mut self, e: &std::io::Error) {
        self.out = None;
        self.error.get_or_insert_with(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("DLB_TRACE: cannot write the trace file {}: {e}", self.path),
            )
        });
    }
}

/// Microseconds with nanosecond digits.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn one_event(out: &mut String, r: &Record, pid: usize, tid: usize) {
    let (ph, cat, name) = match r.kind {
        Kind::Jobs(how) => ("X", "jobs", how.name()),
        Kind::Idle => ("X", "idle", "wait for work"),
        Kind::Steal(_) => ("i", "steal", "steal"),
        Kind::RemoteTake => ("i", "steal", "remote take"),
        Kind::RemoteAnswer => ("i", "steal", "remote answer"),
        Kind::Knock => ("i", "steal", "knock"),
        Kind::Gift => ("i", "steal", "gift"),
        Kind::NoMore => ("i", "run", "no more"),
        Kind::Setup => ("i", "run", "setup"),
    };
    // An answer is an instant of its arrival; everything else starts at t0.
    let ts = if r.kind == Kind::RemoteAnswer {
        r.t1
    } else {
        r.t0
    };
    out.push_str(&format!(
        "{{\"ph\":\"{ph}\",\"cat\":\"{cat}\",\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{}",
        json_string(name),
        us(ts)
    ));
    if ph == "X" {
        out.push_str(&format!(",\"dur\":{}", us(r.t1.saturating_sub(r.t0))));
    } else {
        out.push_str(",\"s\":\"t\"");
    }
    out.push_str(&format!(",\"args\":{{\"run\":{}", r.run));
    match r.kind {
        Kind::Jobs(_) => {
            out.push_str(&format!(",\"first\":{},\"end\":{}", r.a, r.b));
        }
        Kind::Idle => {
            out.push_str(&format!(",\"found\":{}", r.a != 0));
        }
        Kind::Steal(outcome) => {
            out.push_str(&format!(
                ",\"victim\":{},\"outcome\":\"{}\",\"latency_us\":{},\"units\":{}",
                r.a,
                outcome.name(),
                us(r.t1.saturating_sub(r.t0)),
                r.b
            ));
        }
        Kind::RemoteTake | Kind::Knock => {
            out.push_str(&format!(
                ",\"victim\":{},\"latency_us\":{}",
                r.a,
                us(r.t1.saturating_sub(r.t0))
            ));
        }
        Kind::Gift => {
            out.push_str(&format!(",\"knocker\":{},\"units\":{}", r.a, r.b));
        }
        Kind::RemoteAnswer => {
            out.push_str(&format!(
                ",\"victim\":{},\"units\":{},\"latency_us\":{}",
                r.a,
                r.b,
                us(r.t1.saturating_sub(r.t0))
            ));
        }
        Kind::NoMore => {}
        Kind::Setup => out.push_str(&format!(",\"positions\":{}", r.a)),
    }
    out.push_str("}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::How;

    #[test]
    fn the_file_is_json_with_a_process_per_node_and_a_thread_per_rank() {
        let path = std::env::temp_dir().join(format!("dlb-chrome-{}.json", std::process::id()));
        let provenance = Provenance::for_test(vec![0, 0, 1]);
        let mut w = Writer::create(&path, &provenance);
        let rec = |kind, t0, t1, a, b| Record {
            kind,
            run: 0,
            t0,
            t1,
            a,
            b,
        };
        let words = |rs: &[Record]| rs.iter().flat_map(|r| r.to_words()).collect::<Vec<_>>();
        w.records(
            0,
            &words(&[
                rec(Kind::Setup, 0, 0, 4, 0),
                rec(Kind::Jobs(How::Claim), 1500, 2500, 0, 3),
                rec(Kind::Gift, 4000, 4000, 2, 1),
            ]),
        );
        w.records(
            2,
            &words(&[
                rec(Kind::RemoteAnswer, 1000, 3000, 0, 1),
                rec(Kind::Jobs(How::Remote), 3000, 3001, 3, 4),
                rec(Kind::Knock, 3500, 3700, 1, 0),
            ]),
        );
        w.records(1, &[]);
        w.finish().expect("written");
        let text = std::fs::read_to_string(&path).expect("the file");
        std::fs::remove_file(&path).expect("removed");
        let v: serde_json::Value = serde_json::from_str(&text).expect(&text);
        let events = v["traceEvents"].as_array().expect("events");
        let names = |n: &str| events.iter().filter(|e| e["name"] == n).count();
        assert_eq!((names("process_name"), names("thread_name")), (2, 3));
        let claim = events.iter().find(|e| e["name"] == "claim").expect("claim");
        assert_eq!(
            (claim["ts"].as_f64(), claim["dur"].as_f64()),
            (Some(1.5), Some(1.0))
        );
        let answer = events
            .iter()
            .find(|e| e["name"] == "remote answer")
            .expect("answer");
        assert_eq!(
            (answer["pid"].as_u64(), answer["ts"].as_f64()),
            (Some(1), Some(3.0))
        );
        assert_eq!(answer["args"]["latency_us"].as_f64(), Some(2.0));
        let knock = events.iter().find(|e| e["name"] == "knock").expect("knock");
        assert_eq!(
            (knock["ts"].as_f64(), knock["args"]["victim"].as_u64()),
            (Some(3.5), Some(1))
        );
        assert_eq!(knock["args"]["latency_us"].as_f64(), Some(0.2));
        let gift = events.iter().find(|e| e["name"] == "gift").expect("gift");
        assert_eq!(
            (
                gift["pid"].as_u64(),
                gift["args"]["knocker"].as_u64(),
                gift["args"]["units"].as_u64()
            ),
            (Some(0), Some(2), Some(1))
        );
        assert_eq!(v["otherData"]["ranks"], 3);
    }

    #[test]
    fn an_unknown_record_is_an_error_at_finish() {
        let path = std::env::temp_dir().join(format!("dlb-chrome-bad-{}.json", std::process::id()));
        let mut w = Writer::create(&path, &Provenance::for_test(vec![0]));
        w.records(0, &[77, 0, 0, 0, 0, 0]);
        let e = w.finish().expect_err("unknown kind");
        std::fs::remove_file(&path).expect("removed");
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
