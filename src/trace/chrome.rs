//! The trace file: Chrome's trace-event JSON format ("JSON Object
//! Format": `traceEvents`, `displayTimeUnit`, `otherData`), which Perfetto
//! and chrome://tracing open. One process (`pid`) per node, one thread
//! (`tid`) per rank, named by metadata events (`ph: "M"`); chunks and
//! waits are complete events (`ph: "X"`, `ts` and `dur` in microseconds),
//! steal attempts, takes, "no more" and each run's setup (with its number
//! of positions) instant events (`ph: "i"`, thread scope).

use super::{Kind, Record};
use crate::provenance::{json_string, Provenance};

/// The trace of `ranks` (each rank's records, in rank order) as JSON.
pub(crate) fn render(ranks: &[Vec<Record>], node_of: &[usize], provenance: &Provenance) -> String {
    let mut out = String::with_capacity(64 + ranks.iter().map(Vec::len).sum::<usize>() * 160);
    out.push_str("{\"traceEvents\":[\n");
    let mut first = true;
    let mut event = |out: &mut String, text: &str| {
        if !std::mem::take(&mut first) {
            out.push_str(",\n");
        }
        out.push_str(text);
    };
    let nodes = node_of.iter().max().map_or(0, |m| m + 1);
    for node in 0..nodes {
        event(
            &mut out,
            &format!(
                "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{node},\"tid\":0,\"args\":{{\"name\":\"node {node}\"}}}}"
            ),
        );
        event(
            &mut out,
            &format!(
                "{{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":{node},\"tid\":0,\"args\":{{\"sort_index\":{node}}}}}"
            ),
        );
    }
    for (rank, records) in ranks.iter().enumerate() {
        let pid = node_of.get(rank).copied().unwrap_or(0);
        event(
            &mut out,
            &format!(
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":{rank},\"args\":{{\"name\":\"rank {rank}\"}}}}"
            ),
        );
        event(
            &mut out,
            &format!(
                "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":{pid},\"tid\":{rank},\"args\":{{\"sort_index\":{rank}}}}}"
            ),
        );
        for r in records {
            let mut text = String::with_capacity(160);
            one_event(&mut text, r, pid, rank);
            event(&mut out, &text);
        }
    }
    out.push_str("\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":");
    out.push_str(&provenance.to_json());
    out.push_str("\n}\n");
    out
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
        Kind::NoMore => ("i", "run", "no more"),
        Kind::Setup => ("i", "run", "setup"),
    };
    out.push_str(&format!(
        "{{\"ph\":\"{ph}\",\"cat\":\"{cat}\",\"name\":{},\"pid\":{pid},\"tid\":{tid},\"ts\":{}",
        json_string(name),
        us(r.t0)
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
        Kind::RemoteTake => {
            out.push_str(&format!(",\"victim\":{}", r.a));
        }
        Kind::NoMore => {}
        Kind::Setup => out.push_str(&format!(",\"positions\":{}", r.a)),
    }
    out.push_str("}}");
}
