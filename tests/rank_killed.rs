//! A rank killed with SIGKILL in the middle of a run ends the job with a
//! non-zero exit within a minute, on both MPIs: dlb holds no lock and
//! sends no message that another rank could wait on forever, and the
//! launcher (Open MPI's mpirun, MPICH's Hydra) tears the job down when one
//! of its processes dies. So does a rank that panics: the unwinding drops
//! its `Dlb` and `Mpi` without collectives (before, they waited for the
//! other ranks, which waited for its jobs, until the launch timeout). And
//! so does a rank that returns an error from the middle of a run (`?` in
//! the loop, or between `setup` and the loop): its `Dlb`, dropped with the
//! run unfinished, and its `Mpi`
//! leave without collectives too, once the others did not come to the
//! cleanup within 10 s. Both then end the job with `MPI_Abort` at the
//! process's exit (across nodes MPICH's Hydra let the other ranks run on
//! after a process exited without `MPI_Finalize`). And a run that every
//! rank leaves alike, each holding jobs, still ends collectively, without
//! an abort.

mod common;

use common::{expect_job_to_fail, is_child};
use std::time::Duration;

/// [`common::rank_1_leaves_mid_run`] on the world, MPI started by
/// `dlb::Mpi`.
fn rank_1_leaves(leave: impl Fn()) {
    let _mpi = dlb::Mpi::init().unwrap();
    let mut dlb = dlb::Dlb::init().unwrap();
    common::rank_1_leaves_mid_run(&mut dlb, leave);
}

#[test]
fn rank_killed_child() {
    if !is_child() {
        return;
    }
    rank_1_leaves(|| {
        // The hard way out: no unwinding, no MPI_Finalize, no goodbye.
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        std::thread::sleep(Duration::from_secs(60));
    });
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    if is_child() {
        return;
    }
    expect_job_to_fail("rank_killed_child", 4);
}

#[test]
fn rank_panics_child() {
    if !is_child() {
        return;
    }
    // A bug in the user's code: the panic unwinds through `dlb` and the
    // `Mpi` guard.
    rank_1_leaves(|| panic!("rank 1 panics on purpose, holding jobs"));
}

/// A rank that panics (and unwinds) in the middle of a run ends the job
/// with an error as a killed one does: its `Dlb` and `Mpi` do not wait on
/// the way out for ranks that wait for its jobs.
#[test]
fn a_panicking_rank_ends_the_job_with_an_error() {
    if is_child() {
        return;
    }
    let job = expect_job_to_fail("rank_panics_child", 4);
    let text = job.text();
    // (Not dlb's own lines, printed just before MPI_Abort: a launcher may
    // lose the last output of a job it tears down.)
    assert!(
        text.contains("rank 1 panics on purpose"),
        "the panic's message is not in the output:\n{text}"
    );
}

/// Rank 1 returns an error from the middle of its loop after 20 chunks,
/// holding jobs, as `?` does; the others go on.
fn rank_1_returns_an_error() -> Result<(), Box<dyn std::error::Error>> {
    let _mpi = dlb::Mpi::init()?;
    let mut dlb = dlb::Dlb::init()?;
    let me = dlb.rank();
    let mut run = dlb.setup(1_000_000)?;
    let mut chunks = 0;
    while let Some(_ids) = run.give_more(1)? {
        chunks += 1;
        if me == 1 && chunks == 20 {
            return Err("rank 1 returns an error on purpose, holding jobs".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("rank {me} was told 'no more' although rank 1 left holding jobs");
}

#[test]
fn rank_errs_child() -> Result<(), Box<dyn std::error::Error>> {
    if !is_child() {
        return Ok(());
    }
    rank_1_returns_an_error()
}

/// A rank that returns an error from the middle of a run ends the job with
/// an error, the error's message printed, instead of waiting on the way
/// out for the ranks that wait for its jobs.
#[test]
fn a_rank_returning_an_error_mid_run_ends_the_job() {
    if is_child() {
        return;
    }
    let job = expect_job_to_fail("rank_errs_child", 4);
    let text = job.text();
    // (Not dlb's line printed just before MPI_Abort: a launcher may lose
    // the last output of a job it tears down.)
    for part in [
        "rank 1 returns an error on purpose",
        "rank 1: dropped in an unfinished run",
    ] {
        assert!(
            text.contains(part),
            "'{part}' is not in the output:\n{text}"
        );
    }
}

/// Rank 1 returns an error after `setup`, before its first `give_more`:
/// it holds no job handed out, only its own range, which on one node its
/// node-mates steal; the others go on with their jobs (far more than the
/// test allows).
fn rank_1_errs_before_its_first_give_more() -> Result<(), Box<dyn std::error::Error>> {
    let _mpi = dlb::Mpi::init()?;
    let mut dlb = dlb::Dlb::init()?;
    let me = dlb.rank();
    let mut run = dlb.setup(1_000_000)?;
    if me == 1 {
        return Err("rank 1 returns an error on purpose, before its first give_more".into());
    }
    while let Some(_ids) = run.give_more(1)? {
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("rank {me} was told 'no more' although rank 1 left its range to the others");
}

#[test]
fn rank_errs_early_child() -> Result<(), Box<dyn std::error::Error>> {
    if !is_child() {
        return Ok(());
    }
    rank_1_errs_before_its_first_give_more()
}

/// A rank that returns an error between `setup` and its first `give_more`
/// ends the job too: before, holding no job handed out, it waited in its
/// cleanup for the others, which had the whole run to compute (and, across
/// nodes on a node of its own, waited for its range, which only its answers
/// hand out).
#[test]
fn a_rank_returning_an_error_before_its_first_give_more_ends_the_job() {
    if is_child() {
        return;
    }
    let job = expect_job_to_fail("rank_errs_early_child", 4);
    let text = job.text();
    for part in [
        "rank 1 returns an error on purpose, before its first give_more",
        "rank 1: dropped in an unfinished run",
    ] {
        assert!(
            text.contains(part),
            "'{part}' is not in the output:\n{text}"
        );
    }
}

/// Every rank leaves the run alike after 5 chunks, holding jobs, and drops
/// its `Dlb` and `Mpi`: they all come to the cleanup, which ends the job
/// normally.
#[test]
fn all_leave_child() {
    let Some((_mpi, mut dlb, mut rec)) = common::start_child() else {
        return;
    };
    let me = dlb.rank();
    {
        let mut run = dlb.setup(1_000_000).unwrap();
        for _ in 0..5 {
            assert!(run.give_more(1).unwrap().is_some());
            // Ranks leave up to 0.3 s apart.
            std::thread::sleep(Duration::from_millis(100 * me as u64));
        }
    }
    drop(dlb);
    rec.record(&[&"left"]);
}

#[test]
fn a_run_that_every_rank_leaves_alike_ends_the_job_normally() {
    if is_child() {
        return;
    }
    let launch = common::launch("all_leave_child", 4, &[]);
    for (rank, records) in launch.ranks.iter().enumerate() {
        assert_eq!(records, &["left"], "rank {rank}:\n{}", launch.output);
    }
    assert!(!launch.output.contains("MPI_Abort"), "{}", launch.output);
}
