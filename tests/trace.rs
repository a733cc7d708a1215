//! Tracing (`DLB_TRACE`) under real `mpiexec` jobs: on 4 ranks of one node
//! and on 2x2 simulated nodes, the file parses as JSON, holds the fields
//! of Chrome's trace-event format that Perfetto reads, one thread per rank
//! and one process per node, every position of every run in exactly one
//! chunk, a "no more" per rank and run, and the provenance; misuse fails
//! at init on every rank.

mod common;

use common::{is_child, launch, Recorder};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The runs the child makes: (interface, positions).
const RUNS: [(&str, u64); 4] = [("plain", 300), ("color", 211), ("rr", 97), ("plain", 2)];

/// Runs `RUNS` with jobs of uneven length, so that ranks steal.
#[test]
fn trace_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    let me = dlb.rank();
    let mut rec = Recorder::new(me);
    let spin = |id: u64| {
        if id % 7 == me as u64 {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    };
    for (interface, n) in RUNS {
        match interface {
            "plain" => {
                let mut run = dlb.setup(n).unwrap();
                while let Some(r) = run.give_more(3).unwrap() {
                    r.for_each(spin);
                }
            }
            "color" => {
                // An empty color in the middle.
                let mut run = dlb.setup_color(&[100, 0, n - 100]).unwrap();
                while let Some((_, r)) = run.give_more(5).unwrap() {
                    r.for_each(spin);
                }
            }
            _ => {
                let mut run = dlb.setup_rr(n).unwrap();
                while let Some(s) = run.give_more(2).unwrap() {
                    s.iter().for_each(spin);
                }
            }
        }
    }
    let asked = std::env::var_os("DLB_TRACE").map(PathBuf::from);
    assert_eq!(dlb.trace_path(), asked.as_deref());
    rec.record(&[&"done"]);
    dlb.finalize().unwrap();
}

fn trace_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dlb-trace-{}-{name}.json", std::process::id()))
}

/// Runs the child on `ranks` ranks with `env` and returns the trace.
fn traced_run(name: &str, ranks: usize, env: &[(&str, &str)]) -> Value {
    let file = trace_file(name);
    let path = file.to_string_lossy().into_owned();
    let mut all = vec![("DLB_TRACE", path.as_str())];
    all.extend_from_slice(env);
    let launch = launch("trace_child", ranks, &all);
    assert!(
        launch.ranks.iter().all(|r| r == &["done"]),
        "{}",
        launch.output
    );
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no trace at {path} ({e}):\n{}", launch.output));
    std::fs::remove_file(&file).expect("the trace file is removed");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the trace is not JSON ({e}):\n{text}"))
}

/// The fields of Chrome's trace-event format (JSON Object Format) that
/// Perfetto's importer reads, for the phases dlb writes.
fn check_format(trace: &Value) {
    let unit = &trace["displayTimeUnit"];
    assert!(unit == "ms" || unit == "ns", "displayTimeUnit {unit}");
    let events = trace["traceEvents"]
        .as_array()
        .expect("traceEvents is an array");
    for e in events {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("no ph: {e}"));
        assert!(e["pid"].is_u64() && e["tid"].is_u64(), "pid and tid: {e}");
        assert!(e["name"].is_string(), "name: {e}");
        match ph {
            "M" => {
                let name = e["name"].as_str().unwrap();
                assert!(
                    [
                        "process_name",
                        "thread_name",
                        "process_sort_index",
                        "thread_sort_index"
                    ]
                    .contains(&name),
                    "{e}"
                );
                assert!(e["args"].is_object(), "{e}");
            }
            "X" => {
                assert!(
                    e["ts"].is_number() && e["dur"].as_f64().is_some_and(|d| d >= 0.0),
                    "{e}"
                );
                assert!(e["cat"].is_string() && e["args"]["run"].is_u64(), "{e}");
            }
            "i" => {
                assert!(e["ts"].is_number(), "{e}");
                assert!(
                    ["t", "p", "g"].contains(&e["s"].as_str().unwrap_or("")),
                    "{e}"
                );
            }
            other => panic!("phase {other} is not one dlb writes: {e}"),
        }
    }
}

/// One thread per rank and one process per node, named; every event of a
/// rank in its node's process.
fn check_layout(trace: &Value, node_of: &[u64]) {
    let events = trace["traceEvents"].as_array().unwrap();
    let named = |what: &str| -> BTreeMap<u64, (u64, String)> {
        events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == what)
            .map(|e| {
                let id = if what == "thread_name" {
                    &e["tid"]
                } else {
                    &e["pid"]
                };
                let label = e["args"]["name"].as_str().unwrap().to_owned();
                (id.as_u64().unwrap(), (e["pid"].as_u64().unwrap(), label))
            })
            .collect()
    };
    let threads = named("thread_name");
    assert_eq!(threads.len(), node_of.len(), "one thread per rank");
    for (rank, (pid, label)) in &threads {
        assert_eq!(label, &format!("rank {rank}"));
        assert_eq!(
            *pid, node_of[*rank as usize],
            "rank {rank}'s process is its node"
        );
    }
    let nodes = named("process_name");
    let expected = node_of.iter().max().unwrap() + 1;
    assert_eq!(nodes.len() as u64, expected, "one process per node");
    for e in events.iter().filter(|e| e["ph"] != "M") {
        let rank = e["tid"].as_u64().unwrap() as usize;
        assert_eq!(e["pid"].as_u64(), Some(node_of[rank]), "{e}");
    }
}

/// Every position of every run in exactly one chunk; a setup with the
/// run's positions and a "no more" per rank and run; chunks named by how they were obtained.
fn check_runs(trace: &Value, ranks: u64) {
    let events = trace["traceEvents"].as_array().unwrap();
    for (run, (interface, n)) in RUNS.iter().enumerate() {
        let run = run as u64;
        let mut seen = vec![0u32; *n as usize];
        let mut no_more = vec![0u32; ranks as usize];
        let mut setups = vec![0u32; ranks as usize];
        for e in events.iter().filter(|e| e["args"]["run"] == run) {
            match (e["ph"].as_str(), e["cat"].as_str()) {
                (Some("X"), Some("jobs")) => {
                    let how = e["name"].as_str().unwrap();
                    assert!(["claim", "ahead", "steal", "remote"].contains(&how), "{e}");
                    let (first, end) = (
                        e["args"]["first"].as_u64().unwrap(),
                        e["args"]["end"].as_u64().unwrap(),
                    );
                    assert!(first < end && end <= *n, "{interface} run {run}: {e}");
                    (first..end).for_each(|p| seen[p as usize] += 1);
                }
                (Some("i"), Some("run")) if e["name"] == "no more" => {
                    no_more[e["tid"].as_u64().unwrap() as usize] += 1;
                }
                (Some("i"), Some("run")) if e["name"] == "setup" => {
                    assert_eq!(e["args"]["positions"].as_u64(), Some(*n), "{e}");
                    setups[e["tid"].as_u64().unwrap() as usize] += 1;
                }
                _ => {}
            }
        }
        let wrong: Vec<(usize, u32)> = seen
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, c)| c != 1)
            .take(5)
            .collect();
        assert!(
            wrong.is_empty(),
            "{interface} run {run}: positions not once: {wrong:?}"
        );
        assert!(
            no_more.iter().all(|&c| c == 1),
            "{interface} run {run}: no more {no_more:?}"
        );
        assert!(
            setups.iter().all(|&c| c == 1),
            "{interface} run {run}: setups {setups:?}"
        );
    }
}

fn check_provenance(trace: &Value, ranks: u64, nodes: u64) {
    let p = &trace["otherData"];
    assert_eq!(p["dlb_version"], dlb::VERSION, "{p}");
    assert!(
        p["git_revision"].as_str().is_some_and(|r| !r.is_empty()),
        "{p}"
    );
    assert!(
        p["mpi_library"].as_str().is_some_and(|l| l.contains("MPI")),
        "{p}"
    );
    assert_eq!(p["variant"], "rma", "{p}");
    assert!(p["atomics"].is_string() && p["window"].is_string(), "{p}");
    assert_eq!(
        (
            p["ranks"].as_u64(),
            p["nodes"].as_u64(),
            p["hosts"].as_u64()
        ),
        (Some(ranks), Some(nodes), Some(1)),
        "{p}"
    );
    let date = p["date"].as_str().unwrap_or("");
    assert!(
        date.len() == 20 && date.starts_with("20") && date.ends_with('Z'),
        "{p}"
    );
}

#[test]
fn a_trace_on_one_node_holds_every_position_once() {
    if is_child() {
        return;
    }
    let trace = traced_run("one-node", 4, &[]);
    check_format(&trace);
    check_layout(&trace, &[0, 0, 0, 0]);
    check_runs(&trace, 4);
    check_provenance(&trace, 4, 1);
    let steals = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cat"] == "steal")
        .count();
    assert!(
        steals > 0,
        "uneven jobs on 4 ranks and no steal attempt traced"
    );
}

#[test]
fn a_trace_on_two_simulated_nodes_has_a_process_per_node() {
    if is_child() {
        return;
    }
    let env = [("DLB_ATOMICS", "hybrid"), ("DLB_RANKS_PER_NODE", "2")];
    let trace = traced_run("two-nodes", 4, &env);
    check_format(&trace);
    check_layout(&trace, &[0, 0, 1, 1]);
    check_runs(&trace, 4);
    check_provenance(&trace, 4, 2);
    assert_eq!(trace["otherData"]["atomics"], "hybrid");
}

/// Tracing on some ranks only: init fails everywhere (no hang).
#[test]
fn tracing_on_one_rank_only_fails_at_init() {
    if !is_child() {
        let launch = launch("tracing_on_one_rank_only_fails_at_init", 3, &[]);
        for (rank, records) in launch.ranks.iter().enumerate() {
            assert_eq!(records, &["Mismatch"], "rank {rank}:\n{}", launch.output);
        }
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let rank = world_rank();
    let mut builder = dlb::Dlb::builder();
    if rank == 1 {
        builder = builder.trace(trace_file("one-rank"));
    }
    let kind = builder.init().map(|_| ()).unwrap_err().kind();
    Recorder::new(rank).record(&[&format!("{kind:?}")]);
}

/// A trace file that cannot be created: init fails on every rank.
#[test]
fn an_unwritable_trace_file_fails_at_init() {
    if !is_child() {
        let env = [("DLB_TRACE", "/nonexistent-dir/trace.json")];
        let launch = launch("an_unwritable_trace_file_fails_at_init", 2, &env);
        for records in &launch.ranks {
            assert_eq!(records[0], "InvalidArgument", "{}", launch.output);
            assert!(
                records[1].contains("/nonexistent-dir/trace.json"),
                "{}",
                launch.output
            );
        }
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let e = dlb::Dlb::init().map(|_| ()).unwrap_err();
    let mut rec = Recorder::new(world_rank());
    rec.record(&[&format!("{:?}", e.kind())]);
    rec.record(&[&e.to_string()]);
}

/// The world rank, from the launcher (for children that record before or
/// without a `Dlb`).
fn world_rank() -> usize {
    std::env::var("OMPI_COMM_WORLD_RANK")
        .or_else(|_| std::env::var("PMI_RANK"))
        .expect("launched by mpiexec")
        .parse()
        .expect("a rank")
}

/// `Builder::ranks_per_node` (not only `DLB_RANKS_PER_NODE`) makes the
/// trace's processes; two `Dlb`s one after another write `FILE` and
/// `FILE.1`, the name every rank reports.
#[test]
fn builder_nodes_and_a_second_trace_file() {
    if !is_child() {
        let file = trace_file("builder");
        let path = file.to_string_lossy().into_owned();
        let launch = launch(
            "builder_nodes_and_a_second_trace_file",
            4,
            &[("DLB_TEST_TRACE", path.as_str())],
        );
        let second = format!("{path}.1");
        for records in &launch.ranks {
            assert_eq!(
                records,
                &[path.clone(), second.clone()],
                "{}",
                launch.output
            );
        }
        for (name, node_of) in [(&path, [0, 0, 1, 1]), (&second, [0, 0, 0, 0])] {
            let text = std::fs::read_to_string(name).expect("a trace");
            std::fs::remove_file(name).expect("removed");
            let trace: Value = serde_json::from_str(&text).expect("JSON");
            check_format(&trace);
            check_layout(&trace, &node_of);
        }
        return;
    }
    let file = PathBuf::from(std::env::var("DLB_TEST_TRACE").unwrap());
    let _mpi = dlb::Mpi::init().unwrap();
    let mut rec = Recorder::new(world_rank());
    for per_node in [Some(2), None] {
        let mut builder = dlb::Dlb::builder().trace(&file);
        if let Some(k) = per_node {
            builder = builder.ranks_per_node(k).atomics(dlb::AtomicsPath::Hybrid);
        }
        let mut dlb = builder.init().unwrap();
        rec.record(&[&dlb.trace_path().unwrap().display()]);
        let mut run = dlb.setup(40).unwrap();
        while run.give_more(3).unwrap().is_some() {}
        dlb.finalize().unwrap();
    }
}

/// `finalize` after `MPI_Finalize` (an rsmpi universe dropped first, a C
/// program calling MPI_Finalize itself): an error, and no MPI call.
#[test]
fn finalize_after_mpi_finalize_is_an_error_not_an_abort() {
    if !is_child() {
        let file = trace_file("late");
        let path = file.to_string_lossy().into_owned();
        let launch = launch(
            "finalize_after_mpi_finalize_is_an_error_not_an_abort",
            2,
            &[("DLB_TRACE", path.as_str())],
        );
        for records in &launch.ranks {
            assert_eq!(records[0], "InvalidState", "{}", launch.output);
            assert!(
                records[1].contains("MPI was finalized"),
                "{}",
                launch.output
            );
        }
        // Rank 0 created it at init, and wrote nothing into it.
        std::fs::remove_file(&file).expect("created at init");
        return;
    }
    let mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    let mut rec = Recorder::new(dlb.rank());
    let mut run = dlb.setup(10).unwrap();
    while run.give_more(3).unwrap().is_some() {}
    drop(mpi);
    let e = dlb.finalize().unwrap_err();
    rec.record(&[&format!("{:?}", e.kind())]);
    rec.record(&[&e.to_string()]);
}
