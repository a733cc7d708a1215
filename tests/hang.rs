//! The hang watchdog: with `DLB_TIMEOUT=3`, a rank that stops calling
//! `give_more` (or never comes to `setup`) for 30 s while the others wait
//! ends the job with a non-zero exit within 15 s, and the waiting ranks name
//! it. Without the watchdog the same job would run 30 s and succeed, so a
//! watchdog that does not fire fails these tests.

mod common;

use common::{is_child, mpiexec};
use std::time::{Duration, Instant};

/// The rank that goes silent in most tests.
const SILENT: usize = 1;

#[test]
fn hang_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    let me = dlb.rank();
    let silent: usize = std::env::var("DLB_TEST_SILENT_RANK")
        .unwrap()
        .parse()
        .unwrap();
    let in_setup = std::env::var("DLB_TEST_SILENT_IN").is_ok_and(|v| v == "setup");
    if in_setup && me == silent {
        std::thread::sleep(Duration::from_secs(30));
    }
    let mut run = dlb.setup(20_000).unwrap();
    let mut chunks = 0;
    while let Some(_ids) = run.give_more(4).unwrap() {
        chunks += 1;
        if !in_setup && me == silent && chunks == 3 {
            // Holds its chunk and calls nothing: a rank stuck in its own code.
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

/// Runs the child on 3 ranks with `env`, rank `silent` going silent;
/// asserts the job failed within 15 s and a waiting rank named it.
fn assert_watchdog_ends(silent: usize, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().unwrap();
    let args = ["hang_child", "--exact", "--nocapture", "--test-threads=1"];
    let silent_rank = silent.to_string();
    let mut all_env = vec![
        ("DLB_TEST_CHILD", "1"),
        ("DLB_TIMEOUT", "3"),
        ("DLB_TEST_SILENT_RANK", &silent_rank),
    ];
    all_env.extend_from_slice(env);
    let started = Instant::now();
    let job = mpiexec(3, &exe.to_string_lossy(), &args, &all_env);
    let took = started.elapsed();
    let text = job.text();
    assert!(
        !job.status.success(),
        "the job succeeded with {env:?}:\n{text}"
    );
    assert!(
        took < Duration::from_secs(15),
        "the job took {took:?} to end with {env:?}:\n{text}"
    );
    assert!(
        text.contains(&format!("silent: rank {silent} ")),
        "no rank named rank {silent} as silent with {env:?}:\n{text}"
    );
    let report = text
        .lines()
        .find(|l| l.contains("DLB_TIMEOUT"))
        .unwrap_or_default();
    eprintln!(
        "{env:?}: ended in {took:.1?} with {:?}: {report}",
        job.status
    );
}

/// On the default path (`ci/multinode` runs this across nodes too).
#[test]
fn a_rank_silent_in_its_own_code_is_named_and_the_job_ends() {
    if is_child() {
        return;
    }
    assert_watchdog_ends(SILENT, &[]);
}

/// Rank 0, which holds the done count that the others' counts go to, and
/// which ends runs across nodes.
#[test]
fn rank_0_silent_in_its_own_code_is_named_and_the_job_ends() {
    if is_child() {
        return;
    }
    assert_watchdog_ends(0, &[]);
}

/// On MPI atomics; under `OMPI_MCA_osc=pt2pt` (software RMA) the silent
/// rank does not even answer the reads of its heartbeat.
#[test]
fn a_silent_rank_on_mpi_atomics() {
    if is_child() {
        return;
    }
    assert_watchdog_ends(SILENT, &[("DLB_ATOMICS", "mpi")]);
}

#[test]
fn a_silent_rank_on_simulated_nodes() {
    if is_child() {
        return;
    }
    assert_watchdog_ends(
        SILENT,
        &[("DLB_ATOMICS", "hybrid"), ("DLB_RANKS_PER_NODE", "1")],
    );
}

#[test]
fn a_rank_that_never_comes_to_setup_is_named_and_the_job_ends() {
    if is_child() {
        return;
    }
    assert_watchdog_ends(SILENT, &[("DLB_TEST_SILENT_IN", "setup")]);
}
