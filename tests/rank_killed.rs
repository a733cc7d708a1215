//! A rank killed with SIGKILL in the middle of a run ends the job with a
//! non-zero exit within a minute, on both MPIs: dlb holds no lock and
//! sends no message that another rank could wait on forever, and the
//! launcher (Open MPI's mpirun, MPICH's Hydra) tears the job down when one
//! of its processes dies. So does a rank that panics: the unwinding drops
//! its `Dlb` and `Mpi` without collectives (before, they waited for the
//! other ranks, which waited for its jobs, until the launch timeout).

mod common;

use common::{is_child, mpiexec};
use std::time::{Duration, Instant};

#[test]
fn rank_killed_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    let me = dlb.rank();
    let mut run = dlb.setup(1_000_000).unwrap();
    let mut chunks = 0;
    while let Some(_ids) = run.give_more(1).unwrap() {
        chunks += 1;
        if me == 1 && chunks == 20 {
            // The hard way out: no unwinding, no MPI_Finalize, no goodbye.
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            std::thread::sleep(Duration::from_secs(60));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // 10^6 jobs of 1 ms take far longer than the test allows (so without
    // the kill it fails); reaching here means the dead rank's jobs were
    // never waited for.
    panic!("rank {me} was told 'no more' although rank 1 died holding jobs");
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    if is_child() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let args = [
        "rank_killed_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ];
    let started = Instant::now();
    let job = mpiexec(4, &exe.to_string_lossy(), &args, &[("DLB_TEST_CHILD", "1")]);
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
    eprintln!(
        "killed rank: the job ended in {took:.1?} with {:?}",
        job.status
    );
}

#[test]
fn rank_panics_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    let me = dlb.rank();
    let mut run = dlb.setup(1_000_000).unwrap();
    let mut chunks = 0;
    while let Some(_ids) = run.give_more(1).unwrap() {
        chunks += 1;
        if me == 1 && chunks == 20 {
            // A bug in the user's code: the panic unwinds through `dlb` and
            // the `Mpi` guard.
            panic!("rank 1 panics on purpose, holding jobs");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("rank {me} was told 'no more' although rank 1 panicked holding jobs");
}

/// A rank that panics (and unwinds) in the middle of a run ends the job
/// with an error as a killed one does: its `Dlb` and `Mpi` do not wait on
/// the way out for ranks that wait for its jobs.
#[test]
fn a_panicking_rank_ends_the_job_with_an_error() {
    if is_child() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let args = [
        "rank_panics_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ];
    let started = Instant::now();
    let job = mpiexec(4, &exe.to_string_lossy(), &args, &[("DLB_TEST_CHILD", "1")]);
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
    assert!(
        job.text().contains("rank 1 panics on purpose"),
        "the panic's message is not in the output:\n{}",
        job.text()
    );
}
