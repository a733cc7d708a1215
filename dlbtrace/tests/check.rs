//! `dlbtrace check`: OK on the sample trace; a duplicated position, a
//! missing position, malformed events and files that are not traces fail
//! with exit status 1 and say what is wrong; bad arguments exit with 2.

mod common;

use common::{dlbtrace, sample, scratch, trace_of, write, EVENTS};

fn check(test: &str, text: &str) -> common::Output {
    let dir = scratch(test);
    let input = write(&dir, "trace.json", text);
    dlbtrace(&["check", input.to_str().unwrap()])
}

fn last_line(out: &common::Output) -> &str {
    out.stdout.lines().next_back().unwrap_or("")
}

#[test]
fn the_sample_is_ok() {
    let out = check("ok", &sample());
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        last_line(&out),
        "dlbtrace: OK: 39 events, 4 rank(s) on 2 node(s), 2 run(s), 4 of unknown kinds skipped"
    );
    assert!(out
        .stdout
        .contains("  run 0: positions 0..16 in 6 chunk(s)\n"));
    assert!(out
        .stdout
        .contains("  run 1: positions 0..10 in 5 chunk(s)\n"));
}

#[test]
fn a_duplicated_position_fails() {
    let mut events = EVENTS.to_vec();
    // Rank 3 also ran positions 4..6 of run 0 (rank 0's second chunk).
    events.push(r#"{"ph":"X","cat":"jobs","name":"steal","pid":1,"tid":3,"ts":20,"dur":5,"args":{"run":0,"first":4,"end":6}}"#);
    let out = check("duplicate", &trace_of(&events));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("  run 0: positions 4..6 handed out twice (events 10 and 39)\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        last_line(&out).split(';').next(),
        Some("dlbtrace: FAIL: 1 problem(s)")
    );
}

#[test]
fn a_missing_position_fails() {
    // Without rank 1's stolen chunk, positions 10..12 of run 0 never ran.
    let events: Vec<&str> = EVENTS
        .iter()
        .copied()
        .filter(|e| !e.contains(r#""first":10,"end":12"#))
        .collect();
    assert_eq!(events.len(), EVENTS.len() - 1);
    let out = check("missing", &trace_of(&events));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("  run 0: positions 10..12 missing\n"),
        "{}",
        out.stdout
    );
    // One position short in run 1 too: position 3.
    let events: Vec<String> = events
        .iter()
        .map(|e| e.replace(r#""first":2,"end":4"#, r#""first":2,"end":3"#))
        .collect();
    let refs: Vec<&str> = events.iter().map(String::as_str).collect();
    let out = check("missing2", &trace_of(&refs));
    assert!(
        out.stdout.contains("  run 1: position 3 missing\n"),
        "{}",
        out.stdout
    );
    assert!(
        last_line(&out).starts_with("dlbtrace: FAIL: 2 problem(s)"),
        "{}",
        out.stdout
    );
}

#[test]
fn malformed_events_fail() {
    let mut events = EVENTS.to_vec();
    events.extend([
        r#"{"ph":"X","cat":"idle","name":"wait for work","pid":0,"ts":1,"dur":1}"#,
        r#"{"cat":"run","name":"no more","pid":0,"tid":0,"ts":1}"#,
        r#"{"ph":"X","cat":"custom","name":"x","pid":0,"tid":0,"ts":1,"dur":-2}"#,
        r#"{"ph":"X","cat":"custom","name":"x","pid":0,"tid":0,"dur":2}"#,
    ]);
    let out = check("malformed", &trace_of(&events));
    assert_eq!(out.code, Some(1));
    for said in [
        "  event 39: no tid\n",
        "  event 40: no ph\n",
        "  event 41: X event with negative dur -2\n",
        "  event 42: X event without ts\n",
    ] {
        assert!(out.stdout.contains(said), "{said:?} in\n{}", out.stdout);
    }
    assert!(last_line(&out).starts_with("dlbtrace: FAIL: 4 problem(s)"));
    // gantt and summary leave them out, with a warning.
    let dir = scratch("malformed-summary");
    let input = write(&dir, "trace.json", &trace_of(&events));
    let s = dlbtrace(&["summary", input.to_str().unwrap()]);
    assert_eq!(s.code, Some(0));
    assert!(
        s.stderr.contains("4 malformed event(s) left out"),
        "{}",
        s.stderr
    );
}

#[test]
fn files_that_are_not_traces_fail() {
    for (name, text, says) in [
        ("not-json", "{\"traceEvents\": [", "not a trace"),
        (
            "no-events",
            r#"{"otherData":{"variant":"rma"}}"#,
            "missing field `traceEvents`",
        ),
        ("empty", "", "not a trace"),
    ] {
        let out = check(name, text);
        assert_eq!(out.code, Some(1), "{name}");
        assert!(out.stdout.contains(says), "{name}: {}", out.stdout);
        assert_eq!(last_line(&out), "dlbtrace: FAIL: cannot read the trace");
    }
    let out = dlbtrace(&["check", "/nonexistent/trace.json"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("cannot open /nonexistent/trace.json"));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["check"][..],
        &["frobnicate", "x"],
        &[],
        &["gantt", "t.json"],
    ] {
        let out = dlbtrace(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("Usage"), "{args:?}: {}", out.stderr);
    }
    let out = dlbtrace(&["--help"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("EXAMPLES:"));
}

/// With setup events (as dlb writes them), N is the run's, so positions
/// missing at the very end are caught too; ranks that disagree on N fail.
#[test]
fn setups_name_the_runs_positions() {
    let setup = |rank: u32, n: u32| {
        format!(
            r#"{{"ph":"i","s":"t","cat":"run","name":"setup","pid":0,"tid":{rank},"ts":0,"args":{{"run":0,"positions":{n}}}}}"#
        )
    };
    let chunk = |rank: u32, first: u32, end: u32| {
        format!(
            r#"{{"ph":"X","cat":"jobs","name":"claim","pid":0,"tid":{rank},"ts":1,"dur":2,"args":{{"run":0,"first":{first},"end":{end}}}}}"#
        )
    };
    let run = |events: &[String]| {
        let refs: Vec<&str> = events.iter().map(String::as_str).collect();
        trace_of(&refs)
    };
    let whole = [setup(0, 10), setup(1, 10), chunk(0, 0, 6), chunk(1, 6, 10)];
    let out = check("setup-ok", &run(&whole));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("  run 0: positions 0..10 in 2 chunk(s)\n"),
        "{}",
        out.stdout
    );

    let short = [setup(0, 10), setup(1, 10), chunk(0, 0, 6), chunk(1, 6, 9)];
    let out = check("setup-tail", &run(&short));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("  run 0: position 9 missing\n"),
        "{}",
        out.stdout
    );

    let disagree = [setup(0, 10), setup(1, 12), chunk(0, 0, 6), chunk(1, 6, 10)];
    let out = check("setup-disagree", &run(&disagree));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("setups disagree on the positions: [10, 12]"),
        "{}",
        out.stdout
    );

    let beyond = [setup(0, 8), setup(1, 8), chunk(0, 0, 6), chunk(1, 6, 10)];
    let out = check("setup-beyond", &run(&beyond));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("positions 8..10 beyond the run's 8"),
        "{}",
        out.stdout
    );

    // A run set up with no positions, and nothing handed out: fine.
    let empty = [setup(0, 0), setup(1, 0)];
    let out = check("setup-empty", &run(&empty));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
}
