//! `dlbtrace gantt`: the chart's layout. One row per rank, ordered by node
//! then rank, under a label and a separator per node; x is time with an axis
//! in milliseconds. Chunks are bars coloured by how they were obtained,
//! waits for work hatched bars, steals, remote takes (and knocks) and "no more" marks
//! (their look is `legend`'s). Each row is a `<g class="rank"
//! data-rank="R">`, each bar and mark has a tooltip. Above `LARGE` bars and
//! marks, narrow ones are merged (`thin`) and the subtitle says so.

use crate::axis;
use crate::legend::{self, IDLE, NO_MORE, REMOTE_TAKE};
use crate::svg::{escape, num, Svg};
use crate::thin::{self, Group, Piece, Thinned};
use crate::trace::{Event, How, Kind, Trace};
use std::collections::{BTreeMap, BTreeSet};

/// Above this many bars and marks, bars narrower than `MIN_PX` are merged
/// or skipped and marks closer than `MARK_PX` grouped.
pub const LARGE: usize = 50_000;
const MIN_PX: f64 = 0.5;
const MARK_PX: f64 = 1.0;

/// Room for the rank labels.
const LEFT: f64 = 100.0;
const RIGHT: f64 = 30.0;
/// A rank's row, and its bars in it.
const ROW: f64 = 16.0;
const BAR: f64 = 12.0;
/// A node's label above its ranks.
const NODE_HEAD: f64 = 18.0;

/// What to draw.
pub struct Options {
    /// One run, or all on one time axis.
    pub run: Option<u64>,
    /// Width of the time axis in pixels.
    pub width: f64,
    /// The trace's name, for the title.
    pub name: String,
}

/// Time (microseconds) to x (pixels).
struct Scale {
    t0: f64,
    t1: f64,
    width: f64,
}

impl Scale {
    fn of(events: &[&Event], width: f64) -> Scale {
        let t0 = events.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
        let t1 = events
            .iter()
            .map(|e| e.end_ts())
            .fold(f64::NEG_INFINITY, f64::max);
        match (t0.is_finite(), t1 > t0) {
            (true, true) => Scale { t0, t1, width },
            (true, false) => Scale {
                t0,
                t1: t0 + 1.0,
                width,
            },
            _ => Scale {
                t0: 0.0,
                t1: 1000.0,
                width,
            },
        }
    }

    fn x(&self, ts: f64) -> f64 {
        LEFT + (ts - self.t0) / (self.t1 - self.t0) * self.width
    }
}

type Drawn<'e> = Thinned<&'static str, &'e Event>;

/// One rank's row, planned.
struct Row<'e> {
    rank: u64,
    node: u64,
    bars: Drawn<'e>,
    marks: Drawn<'e>,
}

/// The SVG for `trace`.
pub fn render(trace: &Trace, o: &Options) -> Result<String, String> {
    trace.check_run(o.run)?;
    let events: Vec<&Event> = trace.events_of(o.run).collect();
    let scale = Scale::of(&events, o.width);
    let large = events.len() > LARGE;
    let rows = plan(trace, &events, &scale, large);
    let others: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Jobs {
                how: How::Other(n), ..
            } => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let others = (!others.is_empty()).then(|| others.into_iter().collect::<Vec<_>>().join(", "));

    let width = LEFT + o.width + RIGHT;
    let legend_top = if large { 66.0 } else { 52.0 };
    let plot_top = legend_top + legend::height(width - 20.0, others.is_some()) + 22.0;
    let nodes: BTreeSet<u64> = rows.iter().map(|r| r.node).collect();
    let plot_bottom = plot_top + nodes.len() as f64 * NODE_HEAD + rows.len() as f64 * ROW;
    let mut svg = Svg::new(width, plot_bottom + 46.0, legend::STYLE);
    let title = format!("dlb trace: {}", o.name);
    svg.raw(&format!("<title>{}</title>", escape(&title)));
    if separated(&rows, o.width) {
        // Bars wide enough for a white edge between neighbours.
        svg.open("g", "class=\"separated\"");
    }
    svg.raw(legend::DEFS);
    svg.text(10.0, 22.0, "class=\"title\"", &title);
    svg.text(
        10.0,
        40.0,
        "class=\"subtitle\"",
        &subtitle(trace, &events, o.run),
    );
    if large {
        svg.text(
            10.0,
            54.0,
            "class=\"subtitle\"",
            &thinning_note(events.len(), &rows),
        );
    }
    legend::legend(&mut svg, 10.0, legend_top, width - 20.0, others.as_deref());
    axis_and_grid(&mut svg, &scale, plot_top, plot_bottom);
    if o.run.is_none() {
        run_starts(&mut svg, &scale, &events, plot_top, plot_bottom);
    }
    let mut y = plot_top;
    for node in nodes {
        y = draw_node(&mut svg, trace, node, &rows, &scale, y);
    }
    Ok(svg.finish())
}

/// Whether the bars are wide enough (3 px on average) for white edges.
fn separated(rows: &[Row], width: f64) -> bool {
    let bars: usize = rows.iter().map(|r| r.bars.groups.len()).sum();
    bars * 3 <= rows.len() * width as usize
}

/// Each rank's bars and marks, merged when the chart is large.
fn plan<'e>(trace: &Trace, events: &[&'e Event], scale: &Scale, large: bool) -> Vec<Row<'e>> {
    type Pieces<'e> = Vec<Piece<&'static str, &'e Event>>;
    let mut per_rank: BTreeMap<u64, (Pieces<'e>, Pieces<'e>)> = BTreeMap::new();
    for &e in events {
        let (bars, marks) = per_rank.entry(e.rank).or_default();
        let x0 = scale.x(e.ts);
        let x1 = scale.x(e.end_ts());
        let (list, key) = match &e.kind {
            Kind::Jobs { how, .. } => (&mut *bars, how.name()),
            Kind::Idle { .. } => (&mut *bars, IDLE),
            Kind::Steal { outcome, .. } => (&mut *marks, legend::steal_class(*outcome)),
            Kind::RemoteTake { .. } | Kind::Knock { .. } => (&mut *marks, REMOTE_TAKE),
            Kind::NoMore => (&mut *marks, NO_MORE),
            // Not drawn: the run's start shows as its first chunk or wait,
            // and units from an answer or a gift as the chunk named
            // "remote" (on the knocker's row).
            Kind::Setup { .. } | Kind::RemoteAnswer { .. } | Kind::Gift { .. } => continue,
        };
        list.push(Piece {
            x0,
            x1,
            key,
            item: e,
        });
    }
    trace
        .ranks_by_node()
        .into_iter()
        .map(|(node, rank)| {
            let (bars, marks) = per_rank.remove(&rank).unwrap_or_default();
            let (bars, marks) = if large {
                (thin::bars(bars, MIN_PX), thin::marks(marks, MARK_PX))
            } else {
                (Thinned::keep_all(bars), Thinned::keep_all(marks))
            };
            Row {
                rank,
                node,
                bars,
                marks,
            }
        })
        .collect()
}

/// The line under the title: how dlb ran, the ranks, the runs, the chunks.
fn subtitle(trace: &Trace, events: &[&Event], run: Option<u64>) -> String {
    let mut parts = Vec::new();
    let p = |k: &str| trace.provenance_text(k);
    if let Some(v) = p("variant") {
        let mut how = format!("{v} variant");
        for k in ["atomics", "window"] {
            if let Some(x) = p(k) {
                how += &format!(", {k} {x}");
            }
        }
        parts.push(how);
    }
    parts.push(format!(
        "{} rank(s) on {} node(s)",
        trace.ranks.len(),
        trace.nodes.len()
    ));
    let runs: Vec<String> = trace.runs().iter().map(u64::to_string).collect();
    parts.push(match run {
        Some(r) => format!("run {r} of {}", runs.len()),
        None if runs.len() > 1 => format!("runs {} on one time axis", runs.join(", ")),
        None => format!("{} run", runs.len()),
    });
    let chunks = events
        .iter()
        .filter(|e| matches!(e.kind, Kind::Jobs { .. }))
        .count();
    parts.push(format!("{chunks} chunk(s)"));
    if let Some(v) = p("dlb_version") {
        parts.push(format!("dlb {v}"));
    }
    parts.join(" · ")
}

/// What merging did, for the second subtitle line.
fn thinning_note(items: usize, rows: &[Row]) -> String {
    let sum = |f: &dyn Fn(&Row) -> usize| rows.iter().map(f).sum::<usize>();
    format!(
        "Large trace ({items} bars and marks): bars narrower than {MIN_PX} px merged with \
         neighbours of their kind ({} merged, {} too narrow even so and skipped); marks \
         within {MARK_PX} px grouped ({} grouped).",
        sum(&|r| r.bars.merged),
        sum(&|r| r.bars.skipped),
        sum(&|r| r.marks.merged)
    )
}

/// Vertical grid lines at the ticks, the axis line, tick labels (ms).
fn axis_and_grid(svg: &mut Svg, scale: &Scale, top: f64, bottom: f64) {
    let target = (scale.width / 110.0).round().max(2.0) as usize;
    let (step, ticks) = axis::ticks(scale.t0 / 1000.0, scale.t1 / 1000.0, target);
    svg.open("g", "class=\"axis-ticks\"");
    for t in ticks {
        let x = num(scale.x(t * 1000.0));
        svg.leaf(
            "line",
            &format!(
                "class=\"grid\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"",
                num(top),
                num(bottom)
            ),
            None,
        );
        svg.leaf(
            "line",
            &format!(
                "class=\"axis\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"",
                num(bottom + 4.0),
                num(bottom + 8.0)
            ),
            None,
        );
        svg.text(
            scale.x(t * 1000.0),
            bottom + 20.0,
            "class=\"tick\" text-anchor=\"middle\"",
            &axis::label(t, step),
        );
    }
    svg.close();
    svg.leaf(
        "line",
        &format!(
            "class=\"axis\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"",
            num(LEFT),
            num(LEFT + scale.width),
            y = num(bottom + 4.0)
        ),
        None,
    );
    svg.text(
        LEFT + scale.width / 2.0,
        bottom + 36.0,
        "class=\"axis-title\" text-anchor=\"middle\"",
        "time (ms since the trace's origin)",
    );
}

/// A dashed line and a label where each run starts.
fn run_starts(svg: &mut Svg, scale: &Scale, events: &[&Event], top: f64, bottom: f64) {
    let mut starts: BTreeMap<u64, f64> = BTreeMap::new();
    for e in events {
        let s = starts.entry(e.run).or_insert(e.ts);
        *s = s.min(e.ts);
    }
    if starts.len() < 2 {
        return;
    }
    for (run, ts) in starts {
        let x = scale.x(ts);
        svg.leaf(
            "line",
            &format!(
                "class=\"run-start\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"",
                num(top - 12.0),
                num(bottom),
                x = num(x)
            ),
            None,
        );
        svg.text(
            x + 3.0,
            top - 4.0,
            "class=\"run-label\"",
            &format!("run {run}"),
        );
    }
}

/// A node's separator, label and rows from `y`; returns where it ends.
fn draw_node(svg: &mut Svg, trace: &Trace, node: u64, rows: &[Row], scale: &Scale, y: f64) -> f64 {
    svg.open("g", &format!("class=\"node\" data-node=\"{node}\""));
    svg.leaf(
        "line",
        &format!(
            "class=\"node-sep\" x1=\"4\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"",
            num(LEFT + scale.width),
            y = num(y + 1.0)
        ),
        None,
    );
    let label = match trace.nodes.get(&node).cloned().flatten() {
        Some(name) if name != format!("node {node}") => format!("node {node} ({name})"),
        _ => format!("node {node}"),
    };
    svg.text(6.0, y + 14.0, "class=\"node-label\"", &label);
    let mut y = y + NODE_HEAD;
    for row in rows.iter().filter(|r| r.node == node) {
        draw_row(svg, row, y);
        y += ROW;
    }
    svg.close();
    y
}

/// One rank's row: its label, waits, chunks and marks.
fn draw_row(svg: &mut Svg, row: &Row, y: f64) {
    let rank = row.rank;
    svg.open(
        "g",
        &format!(
            "class=\"rank\" data-rank=\"{rank}\" data-node=\"{}\"",
            row.node
        ),
    );
    svg.text(
        16.0,
        y + BAR - 2.0,
        "class=\"rank-label\"",
        &format!("rank {rank}"),
    );
    let (waits, chunks): (Vec<&Group<_, _>>, Vec<_>) =
        row.bars.groups.iter().partition(|g| g.key == IDLE);
    for g in waits.into_iter().chain(chunks) {
        let merged = if g.items.len() > 1 { " merged" } else { "" };
        let attrs = format!(
            "class=\"{}{merged}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{BAR}\"",
            g.key,
            num(g.x0),
            num(y),
            num(g.x1 - g.x0)
        );
        svg.leaf("rect", &attrs, Some(&bar_title(rank, g)));
    }
    for g in &row.marks.groups {
        legend::mark(svg, g.key, g.x0, y, y + BAR, &mark_title(rank, g));
    }
    svg.close();
}

/// Microseconds as a time on the axis.
fn at(us: f64) -> String {
    format!("{:.3} ms", us / 1000.0)
}

/// Microseconds as a duration.
fn took(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.3} ms", us / 1000.0)
    }
}

/// A bar's tooltip: positions, duration, how (or what was merged).
fn bar_title(rank: u64, g: &Group<&'static str, &Event>) -> String {
    let e = g.items[0];
    if g.items.len() > 1 {
        let first = g.items.iter().map(|e| e.ts).fold(f64::INFINITY, f64::min);
        let last = g.items.iter().map(|e| e.end_ts()).fold(0.0, f64::max);
        let what = match &e.kind {
            Kind::Jobs { how, .. } => {
                let jobs: u64 = g.items.iter().map(|e| jobs_of(e)).sum();
                format!(
                    "{} chunks ({}, {}), {jobs} jobs",
                    g.items.len(),
                    how.name(),
                    how.meaning()
                )
            }
            _ => format!("{} waits for work", g.items.len()),
        };
        return format!("rank {rank}: {what}, merged: {} to {}", at(first), at(last));
    }
    let head = format!("rank {rank}, run {}", e.run);
    match &e.kind {
        Kind::Jobs {
            how,
            first,
            end,
            dur,
        } => {
            let name = match how {
                How::Other(n) => n.as_str(),
                h => h.name(),
            };
            format!(
                "{head}: positions {first}..{end} ({} jobs), {name} ({}), {} from {}",
                end - first,
                how.meaning(),
                took(*dur),
                at(e.ts)
            )
        }
        Kind::Idle { dur, found } => format!(
            "{head}: wait for work, {} from {}{}",
            took(*dur),
            at(e.ts),
            match found {
                Some(true) => ", found work",
                Some(false) => ", found none",
                None => "",
            }
        ),
        _ => head,
    }
}

fn jobs_of(e: &Event) -> u64 {
    match e.kind {
        Kind::Jobs { first, end, .. } => end - first,
        _ => 0,
    }
}

/// A mark's tooltip: whom from, what came of it, when.
fn mark_title(rank: u64, g: &Group<&'static str, &Event>) -> String {
    let e = g.items[0];
    if g.items.len() > 1 {
        let last = g.items.iter().map(|e| e.ts).fold(e.ts, f64::max);
        let what = match g.key {
            NO_MORE => "no more",
            REMOTE_TAKE => "remote takes and knocks",
            _ => "steal attempts",
        };
        return format!(
            "rank {rank}: {} {what} ({g_key}), {} to {}",
            g.items.len(),
            at(e.ts),
            at(last),
            g_key = g.key
        );
    }
    let head = format!("rank {rank}, run {}", e.run);
    let from = |v: &Option<u64>| v.map_or_else(String::new, |v| format!(" from rank {v}"));
    match &e.kind {
        Kind::Steal {
            victim,
            outcome,
            latency_us,
            units,
        } => {
            let mut s = format!("{head}: steal{}: {}", from(victim), outcome.name());
            if let Some(u) = units {
                s += &format!(", {u} units");
            }
            if let Some(l) = latency_us {
                s += &format!(", took {}", took(*l));
            }
            s + &format!(", at {}", at(e.ts))
        }
        Kind::RemoteTake { victim } => {
            format!("{head}: remote take{} at {}", from(victim), at(e.ts))
        }
        Kind::Knock { victim, .. } => {
            format!("{head}: knock{} at {}", from(victim), at(e.ts))
        }
        Kind::NoMore => format!("{head}: no more at {}", at(e.ts)),
        _ => head,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Rank;

    fn trace() -> Trace {
        let mut t = Trace::default();
        for (rank, node) in [(0, 0), (1, 1), (2, 0)] {
            t.ranks.insert(rank, Rank { node, name: None });
            t.nodes.insert(node, None);
        }
        let mut push = |rank, ts, kind| {
            let index = t.events.len();
            t.events.push(Event {
                index,
                rank,
                run: 0,
                ts,
                kind,
            })
        };
        push(
            0,
            0.0,
            Kind::Jobs {
                how: How::Claim,
                first: 0,
                end: 3,
                dur: 1000.0,
            },
        );
        push(
            2,
            500.0,
            Kind::Idle {
                dur: 500.0,
                found: None,
            },
        );
        push(2, 700.0, Kind::NoMore);
        t
    }

    fn options() -> Options {
        Options {
            run: None,
            width: 1000.0,
            name: "t<1>.json".into(),
        }
    }

    #[test]
    fn rows_follow_nodes_then_ranks() {
        let svg = render(&trace(), &options()).unwrap();
        let order: Vec<usize> = ["data-rank=\"0\"", "data-rank=\"2\"", "data-rank=\"1\""]
            .iter()
            .map(|k| svg.find(k).unwrap())
            .collect();
        assert!(order[0] < order[1] && order[1] < order[2], "{svg}");
        assert!(svg.contains("dlb trace: t&lt;1&gt;.json"));
        // Rank 0's chunk spans the whole axis.
        assert!(
            svg.contains("class=\"claim\" x=\"100\" y=\"") && svg.contains("width=\"1000\""),
            "{svg}"
        );
        assert!(svg.contains("rank 2, run 0: no more at 0.700 ms"), "{svg}");
    }

    #[test]
    fn unknown_run_is_an_error() {
        let o = Options {
            run: Some(3),
            ..options()
        };
        assert!(render(&trace(), &o).unwrap_err().contains("run 3"));
    }
}
