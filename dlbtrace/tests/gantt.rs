//! `dlbtrace gantt` on the sample trace: one row group per rank, grouped by
//! node; the SVG parses as XML; the legend has the six ways; each chunk is
//! a bar with a tooltip; the marks are where the events are; `--run`
//! selects; a large trace is merged and says so.

mod common;

use common::{dlbtrace, sample, scratch, trace_of, write};
use roxmltree::{Document, Node};

/// Draws `trace` with `extra` arguments; returns the SVG's text.
fn draw(test: &str, trace: &str, extra: &[&str]) -> String {
    let dir = scratch(test);
    let input = write(&dir, "trace.json", trace);
    let out = dir.join("chart.svg");
    let mut args = vec![
        "gantt",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let run = dlbtrace(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    std::fs::read_to_string(out).unwrap()
}

fn class_is<'a>(n: &Node<'a, 'a>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

/// The elements of `class` under `root`.
fn with_class<'a>(root: Node<'a, 'a>, class: &'a str) -> Vec<Node<'a, 'a>> {
    root.descendants().filter(|n| class_is(n, class)).collect()
}

/// The `<title>` text of an element.
fn tooltip<'a>(n: &Node<'a, 'a>) -> &'a str {
    n.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or("")
}

#[test]
fn one_row_per_rank_grouped_by_node() {
    let svg = draw("rows", &sample(), &[]);
    assert_eq!(svg.matches("class=\"rank\"").count(), 4, "{svg}");
    let doc = Document::parse(&svg).expect("the SVG is well-formed XML");
    let rows = with_class(doc.root(), "rank");
    let ranks: Vec<(&str, &str)> = rows
        .iter()
        .map(|g| {
            assert!(g.has_tag_name("g"));
            let node = g.parent().unwrap();
            assert!(
                class_is(&node, "node"),
                "a rank's row is inside its node's group"
            );
            (
                g.attribute("data-rank").unwrap(),
                node.attribute("data-node").unwrap(),
            )
        })
        .collect();
    assert_eq!(ranks, [("0", "0"), ("1", "0"), ("2", "1"), ("3", "1")]);
    let labels: Vec<&str> = with_class(doc.root(), "rank-label")
        .iter()
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(labels, ["rank 0", "rank 1", "rank 2", "rank 3"]);
    let nodes: Vec<&str> = with_class(doc.root(), "node-label")
        .iter()
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(nodes, ["node 0", "node 1"]);
}

#[test]
fn legend_names_the_six_ways_and_the_marks() {
    let svg = draw("legend", &sample(), &[]);
    let doc = Document::parse(&svg).unwrap();
    let keys: Vec<&str> = with_class(doc.root(), "legend-item")
        .iter()
        .map(|n| n.attribute("data-key").unwrap())
        .collect();
    for key in [
        "claim",
        "ahead",
        "steal",
        "remote",
        "given",
        "static",
        "idle",
        "steal-ok",
        "steal-empty",
        "steal-retry",
        "remote-take",
        "no-more",
    ] {
        assert!(
            keys.contains(&key),
            "{key} missing from the legend {keys:?}"
        );
    }
    // No unknown way in the sample: no "other" entry.
    assert!(!keys.contains(&"other"));
    // Six distinct colours for the six ways.
    let colours: std::collections::BTreeSet<&str> =
        ["claim", "ahead", "steal", "remote", "given", "static"]
            .iter()
            .map(|c| {
                let at = svg.find(&format!(".{c}{{fill:")).unwrap() + c.len() + 7;
                &svg[at..at + 7]
            })
            .collect();
    assert_eq!(colours.len(), 6, "{colours:?}");
}

#[test]
fn chunks_waits_and_marks_with_tooltips() {
    let svg = draw("bars", &sample(), &[]);
    let doc = Document::parse(&svg).unwrap();
    let rows = with_class(doc.root(), "rank");
    let in_rows = |class: &'static str| -> Vec<Node> {
        rows.iter().flat_map(|r| with_class(*r, class)).collect()
    };
    let count = |class: &'static str| in_rows(class).len();
    // 11 chunks by how they were obtained.
    let hows = [
        ("claim", 4),
        ("steal", 1),
        ("remote", 1),
        ("static", 4),
        ("given", 1),
        ("ahead", 0),
    ];
    for (how, n) in hows {
        assert_eq!(count(how), n, "{how}");
    }
    assert_eq!(count("idle"), 3);
    assert_eq!(count("steal-ok"), 1);
    assert_eq!(count("steal-empty"), 2);
    assert_eq!(count("steal-retry"), 1);
    assert_eq!(count("remote-take"), 1);
    assert_eq!(count("no-more"), 8);
    // Every bar and mark explains itself.
    for class in [
        "claim", "steal", "remote", "static", "given", "idle", "steal-ok", "no-more",
    ] {
        for n in in_rows(class) {
            assert!(
                tooltip(&n).starts_with("rank "),
                "{class}: {:?}",
                tooltip(&n)
            );
        }
    }
    let stolen = &in_rows("steal")[0];
    assert_eq!(
        tooltip(stolen),
        "rank 1, run 0: positions 10..12 (2 jobs), steal (stolen from a node-mate), 15.0 µs from 0.055 ms"
    );
    assert!(tooltip(&in_rows("steal-ok")[0]).contains("steal from rank 0: success, 2 units"));
    // Bars sit on their rank's row, in time order along x.
    let x = |n: &Node| n.attribute("x").unwrap().parse::<f64>().unwrap();
    let w = |n: &Node| n.attribute("width").unwrap().parse::<f64>().unwrap();
    let statics = in_rows("static");
    let claims = in_rows("claim");
    assert!(x(&claims[0]) < x(&statics[0]));
    // Rank 1's static chunk (120 µs) is 1.5 times rank 2's (80 µs).
    let ratio = w(&statics[1]) / w(&statics[2]);
    assert!((ratio - 1.5).abs() < 0.01, "{ratio}");
}

#[test]
fn time_axis_in_ms() {
    let svg = draw("axis", &sample(), &[]);
    let doc = Document::parse(&svg).unwrap();
    let ticks: Vec<f64> = with_class(doc.root(), "tick")
        .iter()
        .map(|t| t.text().unwrap().parse().unwrap())
        .collect();
    // 0 to 1.13 ms: ticks 0, 0.1, …, 1.1 (or coarser), increasing.
    assert!(ticks.len() >= 4, "{ticks:?}");
    assert_eq!(ticks[0], 0.0);
    assert!(ticks.windows(2).all(|w| w[0] < w[1]));
    assert!(*ticks.last().unwrap() <= 1.13);
    assert!(svg.contains("time (ms"));
    // Two runs on one axis: each start is marked.
    let runs: Vec<&str> = with_class(doc.root(), "run-label")
        .iter()
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(runs, ["run 0", "run 1"]);
}

#[test]
fn one_run_only() {
    let svg = draw("run1", &sample(), &["--run", "1"]);
    let doc = Document::parse(&svg).unwrap();
    assert_eq!(with_class(doc.root(), "rank").len(), 4);
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .filter(|t| t.starts_with("rank "))
        .collect();
    // Run 1: 5 chunks and 4 "no more", nothing of run 0.
    assert_eq!(titles.len(), 9, "{titles:?}");
    assert!(titles.iter().all(|t| t.contains(", run 1")), "{titles:?}");
    assert!(svg.contains("run 1 of 2"));
    // The axis starts at the run's start (1 ms).
    let first_tick: f64 = with_class(doc.root(), "tick")[0]
        .text()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1.0..1.13).contains(&first_tick), "{first_tick}");
}

#[test]
fn unknown_run_fails() {
    let dir = scratch("unknown-run");
    let input = write(&dir, "trace.json", &sample());
    let out = dir.join("chart.svg");
    let run = dlbtrace(&[
        "gantt",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--run",
        "7",
    ]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("run 7 is not in the trace (runs: 0, 1)"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

#[test]
fn to_standard_output_and_unknown_ways() {
    let mut events = common::EVENTS.to_vec();
    events.push(r#"{"ph":"X","cat":"jobs","name":"shrink","pid":0,"tid":0,"ts":2000,"dur":5,"args":{"run":2,"first":0,"end":1}}"#);
    let dir = scratch("stdout");
    let input = write(&dir, "trace.json", &trace_of(&events));
    let run = dlbtrace(&["gantt", input.to_str().unwrap(), "-o", "-"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let doc = Document::parse(&run.stdout).unwrap();
    let other = with_class(doc.root(), "other");
    // The legend's grey and the one bar.
    assert_eq!(other.len(), 2);
    assert!(
        tooltip(&other[1]).contains("shrink"),
        "{}",
        tooltip(&other[1])
    );
}

/// A trace of `chunks` chunks of 0.01 µs... 1 µs on 4 ranks, steals between.
fn large_trace(chunks: usize) -> String {
    let mut events = Vec::with_capacity(chunks * 2);
    let ranks = 4;
    for i in 0..chunks {
        let rank = i % ranks;
        let k = (i / ranks) as f64;
        let how = if i % 7 == 0 { "ahead" } else { "claim" };
        events.push(format!(
            r#"{{"ph":"X","cat":"jobs","name":"{how}","pid":{},"tid":{rank},"ts":{},"dur":1.0,"args":{{"run":0,"first":{i},"end":{}}}}}"#,
            rank / 2,
            k * 1.5,
            i + 1
        ));
        if i % 3 == 0 {
            events.push(format!(
                r#"{{"ph":"i","s":"t","cat":"steal","name":"steal","pid":{},"tid":{rank},"ts":{},"args":{{"run":0,"victim":0,"outcome":"empty"}}}}"#,
                rank / 2,
                k * 1.5 + 1.2
            ));
        }
    }
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    trace_of(&refs)
}

#[test]
fn large_traces_are_merged_and_say_so() {
    let chunks = 60_000;
    let svg = draw("large", &large_trace(chunks), &[]);
    let doc = Document::parse(&svg).expect("well-formed XML");
    assert_eq!(with_class(doc.root(), "rank").len(), 4);
    let subtitle: Vec<&str> = with_class(doc.root(), "subtitle")
        .iter()
        .filter_map(|t| t.text())
        .collect();
    assert!(subtitle[0].contains("60000 chunk(s)"), "{subtitle:?}");
    assert!(
        subtitle[1].starts_with("Large trace (80000 bars and marks)"),
        "{subtitle:?}"
    );
    let bars = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && (class_is(n, "claim") || class_is(n, "ahead")))
        .count();
    assert!(bars < 1_000, "{bars} bars for {chunks} chunks");
    assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    // Merged bars say what they hold.
    let merged = with_class(doc.root(), "merged");
    assert!(!merged.is_empty());
    assert!(
        tooltip(&merged[0]).contains("chunks (claim, own range)"),
        "{}",
        tooltip(&merged[0])
    );
    // Below the limit, every chunk is its own bar.
    let small = draw("small", &large_trace(2_000), &[]);
    assert_eq!(
        small.matches("class=\"claim\"").count() + small.matches("class=\"ahead\"").count(),
        2_000 + 2
    );
    assert!(!small.contains("Large trace"));
}
