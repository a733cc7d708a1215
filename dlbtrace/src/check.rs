//! `dlbtrace check`: is the trace well formed, and did each run hand out
//! every position exactly once? The malformed events `read` found are
//! problems; so is, in each run, a position of `0..N` that no chunk holds
//! or that two chunks hold. N is what the run's setup events say (dlb
//! writes one per rank and run; ranks that disagree are a problem), else,
//! in traces without them, the largest `end` of the run's chunks.

use crate::trace::{Kind, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many lines about one run's positions; the rest are counted.
const MAX_GAPS_SHOWN: usize = 10;

/// What the check found.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    /// Everything wrong, one line each.
    pub problems: Vec<String>,
    /// Per run: N, the positions handed out (`0..N`), and the chunks.
    pub runs: BTreeMap<u64, (u64, u64)>,
}

/// Checks the trace.
pub fn check(trace: &Trace) -> Verdict {
    let mut verdict = Verdict {
        problems: trace.problems.iter().map(ToString::to_string).collect(),
        ..Verdict::default()
    };
    let mut chunks: BTreeMap<u64, Vec<(u64, u64, usize)>> = BTreeMap::new();
    let mut setups: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for e in &trace.events {
        match e.kind {
            Kind::Jobs { first, end, .. } => {
                chunks.entry(e.run).or_default().push((first, end, e.index));
            }
            Kind::Setup { positions } => {
                setups.entry(e.run).or_default().insert(positions);
                chunks.entry(e.run).or_default();
            }
            _ => {}
        }
    }
    for (run, mut list) in chunks {
        let largest_end = list.iter().map(|c| c.1).max().unwrap_or(0);
        let n = match setups
            .get(&run)
            .map(|s| s.iter().copied().collect::<Vec<_>>())
        {
            None => largest_end,
            Some(said) if said.len() == 1 => said[0],
            Some(said) => {
                verdict.problems.push(format!(
                    "run {run}: the ranks' setups disagree on the positions: {said:?}"
                ));
                said.iter().copied().max().unwrap_or(0).max(largest_end)
            }
        };
        verdict.runs.insert(run, (n, list.len() as u64));
        list.sort_unstable();
        let mut said = coverage(&list);
        if largest_end > n {
            said.push(format!(
                "{} beyond the run's {n}",
                positions(n, largest_end)
            ));
        } else if largest_end < n {
            said.push(format!("{} missing", positions(largest_end, n)));
        }
        let hidden = said.len().saturating_sub(MAX_GAPS_SHOWN);
        verdict.problems.extend(
            said.into_iter()
                .take(MAX_GAPS_SHOWN)
                .map(|s| format!("run {run}: {s}")),
        );
        if hidden > 0 {
            verdict
                .problems
                .push(format!("run {run}: {hidden} more gap(s) or overlap(s)"));
        }
    }
    verdict
}

/// The gaps and overlaps of chunks `(first, end, event index)`, sorted,
/// against `0..N` with N the largest end.
fn coverage(sorted: &[(u64, u64, usize)]) -> Vec<String> {
    let mut said = Vec::new();
    // Positions below `covered` are held; `holder` is the event that holds
    // the last of them.
    let mut covered = 0;
    let mut holder = None;
    for &(first, end, index) in sorted {
        if first == end {
            continue;
        }
        if first > covered {
            said.push(format!("{} missing", positions(covered, first)));
        } else if first < covered {
            said.push(format!(
                "{} handed out twice (events {} and {index})",
                positions(first, end.min(covered)),
                holder.map_or_else(|| "?".to_owned(), |h: usize| h.to_string())
            ));
        }
        if end > covered {
            covered = end;
            holder = Some(index);
        }
    }
    said
}

/// `a..b` in words: `position 7`, or `positions 7..9` (half-open).
fn positions(a: u64, b: u64) -> String {
    if b == a + 1 {
        format!("position {a}")
    } else {
        format!("positions {a}..{b}")
    }
}

/// The text `dlbtrace check` prints; the last line is the verdict.
pub fn report(trace: &Trace, v: &Verdict) -> String {
    let mut out = String::new();
    for p in &v.problems {
        out.push_str(&format!("  {p}\n"));
    }
    let nodes = trace.nodes.len();
    let shape = format!(
        "{} events, {} rank(s) on {nodes} node(s), {} run(s){}",
        trace.total_events,
        trace.ranks.len(),
        v.runs.len(),
        if trace.skipped.is_empty() {
            String::new()
        } else {
            format!(", {} of unknown kinds skipped", trace.skipped_count())
        }
    );
    for (run, (n, chunks)) in &v.runs {
        out.push_str(&format!(
            "  run {run}: positions 0..{n} in {chunks} chunk(s)\n"
        ));
    }
    if v.problems.is_empty() {
        out.push_str(&format!("dlbtrace: OK: {shape}\n"));
    } else {
        out.push_str(&format!(
            "dlbtrace: FAIL: {} problem(s); {shape}\n",
            v.problems.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_cover_is_silent() {
        assert!(coverage(&[(0, 3, 0), (3, 4, 1), (4, 10, 2)]).is_empty());
        // Empty chunks hold nothing and disturb nothing.
        assert!(coverage(&[(0, 3, 0), (3, 3, 1), (3, 4, 2)]).is_empty());
        assert!(coverage(&[]).is_empty());
    }

    #[test]
    fn gaps_and_overlaps_are_named() {
        assert_eq!(
            coverage(&[(1, 3, 0), (3, 4, 1), (6, 8, 2)]),
            ["position 0 missing", "positions 4..6 missing"]
        );
        assert_eq!(
            coverage(&[(0, 4, 7), (2, 3, 8), (3, 6, 9)]),
            [
                "position 2 handed out twice (events 7 and 8)",
                "position 3 handed out twice (events 7 and 9)"
            ]
        );
        // The same chunk twice.
        assert_eq!(
            coverage(&[(0, 2, 0), (2, 5, 1), (2, 5, 4)]),
            ["positions 2..5 handed out twice (events 1 and 4)"]
        );
    }
}
