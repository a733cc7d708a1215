//! Runs a test's body on N ranks: the `#[test]` relaunches its own test
//! binary under `$DLB_MPIEXEC -n N <exe> <test> --exact` with
//! `DLB_TEST_CHILD=1`; each rank then runs the body and writes records to
//! `$DLB_TEST_OUT/rank-<r>.txt`, which the parent reads back and checks.
//!
//! `DLB_MPIEXEC` defaults to `mpiexec`; `ci/test` sets it per MPI (for Open
//! MPI as root: `mpirun --oversubscribe` with the run-as-root variables).
//! Every launch runs under `timeout`, so a hang fails instead of blocking CI.
#![allow(dead_code)]

use std::fmt::Display;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds a launch may take before it counts as hung.
const LAUNCH_TIMEOUT_S: u32 = 240;

/// Whether this process is a rank launched by [`launch`].
pub fn is_child() -> bool {
    std::env::var_os("DLB_TEST_CHILD").is_some()
}

/// A rank launched by [`launch`] starts here: MPI and dlb (on the world,
/// the default variant) up, and its [`Recorder`]; `None` in the parent
/// test. Bound in this order (`let Some((_mpi, dlb, rec)) = ...`), the
/// recorder closes first and MPI last.
pub fn start_child() -> Option<(dlb::Mpi, dlb::Dlb, Recorder)> {
    if !is_child() {
        return None;
    }
    let mpi = dlb::Mpi::init().unwrap();
    let dlb = dlb::Dlb::init().unwrap();
    let rec = Recorder::new(dlb.rank());
    Some((mpi, dlb, rec))
}

/// What a launch left behind.
pub struct Launch {
    /// Records of each rank, in rank order.
    pub ranks: Vec<Vec<String>>,
    pub output: String,
}

/// Runs `test` (this binary's test of that name) on `ranks` ranks with
/// `env` added; panics with the ranks' output if the job fails.
pub fn launch(test: &str, ranks: usize, env: &[(&str, &str)]) -> Launch {
    let out = std::env::temp_dir().join(format!(
        "dlb-test-{}-{test}-{ranks}-{}",
        std::process::id(),
        nanos()
    ));
    fs::create_dir_all(&out).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out_dir = out.to_string_lossy().into_owned();
    let mut all_env = vec![("DLB_TEST_CHILD", "1"), ("DLB_TEST_OUT", out_dir.as_str())];
    all_env.extend_from_slice(env);
    let args = [test, "--exact", "--nocapture", "--test-threads=1"];
    let job = mpiexec(ranks, &exe.to_string_lossy(), &args, &all_env);
    let output = job.text();
    let code = job.status.code();
    assert!(
        job.status.success(),
        "{test} on {ranks} ranks with {env:?} failed (exit {code:?}{}):\n{output}",
        if code == Some(124) { ", timed out" } else { "" }
    );
    let ranks: Vec<Vec<String>> = (0..ranks)
        .map(|r| {
            let path = out.join(format!("rank-{r}.txt"));
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("rank {r} wrote no records:\n{output}"));
            text.lines().map(str::to_owned).collect()
        })
        .collect();
    let _ = fs::remove_dir_all(&out);
    Launch { ranks, output }
}

/// What an `mpiexec` job printed and how it ended.
pub struct Job {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Job {
    pub fn text(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs the child test `test` of this test binary on `ranks` ranks (with
/// `DLB_TEST_CHILD=1`, no output directory) and checks that the job ends
/// with an error, as the launcher ends a job one of whose processes died,
/// within a minute: not successfully, and not by the launch timeout (a
/// hang). The job, for further checks.
pub fn expect_job_to_fail(test: &str, ranks: usize) -> Job {
    let exe = std::env::current_exe().unwrap();
    let args = [test, "--exact", "--nocapture", "--test-threads=1"];
    let started = Instant::now();
    let job = mpiexec(
        ranks,
        &exe.to_string_lossy(),
        &args,
        &[("DLB_TEST_CHILD", "1")],
    );
    let took = started.elapsed();
    assert!(!job.status.success(), "the job succeeded:\n{}", job.text());
    assert_ne!(
        job.status.code(),
        Some(124),
        "the job hung until the launch timeout:\n{}",
        job.text()
    );
    assert!(
        took < Duration::from_secs(60),
        "the job took {took:?} to end:\n{}",
        job.text()
    );
    eprintln!("{test}: the job ended in {took:.1?} with {:?}", job.status);
    job
}

/// Runs `program args` on `ranks` ranks under `$DLB_MPIEXEC` (default
/// `mpiexec`) and `timeout`, with `env` added.
pub fn mpiexec(ranks: usize, program: &str, args: &[&str], env: &[(&str, &str)]) -> Job {
    let launcher = std::env::var("DLB_MPIEXEC").unwrap_or_else(|_| "mpiexec".to_owned());
    let mut words = launcher.split_whitespace();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "10", &LAUNCH_TIMEOUT_S.to_string()])
        .arg(words.next().expect("DLB_MPIEXEC is empty"));
    cmd.args(words)
        .args(["-n", &ranks.to_string()])
        .arg(program)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let result = cmd.output().expect("cannot run timeout/mpiexec");
    Job {
        status: result.status,
        stdout: String::from_utf8_lossy(&result.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&result.stderr).into_owned(),
    }
}

/// A rank's record file. When it is closed without a panic, it also writes
/// `rank-<r>.done`: the rank has finished its work (declared after `Mpi`, a
/// recorder closes before `MPI_Finalize`). `ci/multinode` uses the markers to
/// tell MPICH's known hang in `MPI_Finalize` from a job that never finished.
pub struct Recorder {
    file: BufWriter<File>,
    done: PathBuf,
}

impl Recorder {
    pub fn new(rank: usize) -> Recorder {
        let dir =
            PathBuf::from(std::env::var_os("DLB_TEST_OUT").expect("DLB_TEST_OUT is set by launch"));
        Recorder {
            file: BufWriter::new(File::create(dir.join(format!("rank-{rank}.txt"))).unwrap()),
            done: dir.join(format!("rank-{rank}.done")),
        }
    }

    pub fn record(&mut self, fields: &[&dyn Display]) {
        let line: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        writeln!(self.file, "{}", line.join(" ")).unwrap();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.file.flush().unwrap();
        if !std::thread::panicking() {
            File::create(&self.done).unwrap();
        }
    }
}

/// Wall-clock nanoseconds: the ranks share one machine, so their clocks agree.
pub fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A run that rank 1 leaves: every rank runs jobs of 1 ms from a run of
/// 10^6 on `dlb` (far longer than a test allows, so a job that does not
/// end fails it), and rank 1 calls `leave` after 20 chunks, holding jobs.
/// Reaching the end of the run means the departed rank's jobs were never
/// waited for: it panics then.
pub fn rank_1_leaves_mid_run(dlb: &mut dlb::Dlb, leave: impl Fn()) {
    let me = dlb.rank();
    let mut run = dlb.setup(1_000_000).unwrap();
    let mut chunks = 0;
    while let Some(_ids) = run.give_more(1).unwrap() {
        chunks += 1;
        if me == 1 && chunks == 20 {
            leave();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("rank {me} was told 'no more' although rank 1 left holding jobs");
}
