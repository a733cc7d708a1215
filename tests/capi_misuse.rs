//! The C API's misuse, as a table: every entry point with bad arguments and
//! in the wrong order answers the documented `DLB_ERR_*` code (include/dlbrma.h)
//! on every rank, never a crash or a hang, and dlb stays usable afterwards.
//! Run on real `mpiexec` jobs of 1 and 3 ranks.

mod common;

use common::{expect_job_to_fail, is_child, launch, Recorder};
use dlb::capi::*;
use std::ffi::CStr;
use std::ptr;

/// One row: what was called, the code it must answer, the code it gave.
fn row(rec: &mut Recorder, what: &str, expected: i32, got: i32) {
    // SAFETY: dlb_strerror returns a NUL-terminated string valid until the
    // next failing call on this thread; it is copied at once.
    let text = unsafe { CStr::from_ptr(dlb_strerror(got)) }
        .to_string_lossy()
        .into_owned();
    assert!(!text.is_empty(), "{what}: no message for {got}");
    let verdict = if got == expected { "ok" } else { "WRONG" };
    rec.record(&[&verdict, &what.replace(' ', "_"), &expected, &got]);
}

/// Safe wrappers: each passes null or a pointer to enough writable values.
type Jobs = [dlb_int_t; 3];

fn ptr_of(jobs: Option<&mut Jobs>) -> *mut dlb_int_t {
    jobs.map_or(ptr::null_mut(), |j| j.as_mut_ptr())
}

fn give_more(maxjobs: dlb_int_t, jobs: Option<&mut Jobs>) -> i32 {
    // SAFETY: null (which dlb checks) or 3 writable values (2 are needed).
    unsafe { dlb_give_more(maxjobs, ptr_of(jobs)) }
}

fn give_more_rr(maxjobs: dlb_int_t, jobs: Option<&mut Jobs>) -> i32 {
    // SAFETY: null (which dlb checks) or 3 writable values.
    unsafe { dlb_give_more_rr(maxjobs, ptr_of(jobs)) }
}

fn give_more_color(
    maxjobs: dlb_int_t,
    color: Option<&mut dlb_int_t>,
    jobs: Option<&mut Jobs>,
) -> i32 {
    let color = color.map_or(ptr::null_mut(), |c| c as *mut dlb_int_t);
    // SAFETY: each pointer is null (which dlb checks) or writable: 1 color,
    // 3 job values (2 are needed).
    unsafe { dlb_give_more_color(maxjobs, color, ptr_of(jobs)) }
}

fn setup_color(distr: Option<&[dlb_int_t]>, ncolors: dlb_int_t) -> i32 {
    let p = distr.map_or(ptr::null(), <[dlb_int_t]>::as_ptr);
    // SAFETY: `p` is null or points to `distr.len()` values, and every
    // call passes `ncolors` no larger than that (or negative, or with null).
    unsafe { dlb_setup_color(p, ncolors) }
}

fn init_world() -> i32 {
    // SAFETY: MPI is initialized (the caller did) and MPI_COMM_WORLD is a
    // valid communicator of the MPI dlb was built with.
    unsafe { dlb_init(dlb::sys::RSMPI_COMM_WORLD) }
}

#[test]
fn capi_misuse_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let mut rec = Recorder::new(launcher_rank());
    let mut jobs: Jobs = [0; 3];
    let mut color: dlb_int_t = 0;
    let (state, arg) = (DLB_ERR_INVALID_STATE, DLB_ERR_INVALID_ARGUMENT);

    // Before dlb_init: every call but init is out of order.
    row(&mut rec, "setup before init", state, dlb_setup(10));
    row(&mut rec, "setup_rr before init", state, dlb_setup_rr(10));
    let got = setup_color(Some(&[1]), 1);
    row(&mut rec, "setup_color before init", state, got);
    let got = give_more(1, Some(&mut jobs));
    row(&mut rec, "give_more before init", state, got);
    row(
        &mut rec,
        "print_statistics before init",
        state,
        dlb_print_statistics(1),
    );
    row(&mut rec, "finalize before init", state, dlb_finalize());

    let got = init_world();
    row(&mut rec, "init", 0, got);
    let got = init_world();
    row(&mut rec, "init twice", state, got);

    // From another thread: an error that says so.
    let (got, text) = std::thread::spawn(|| {
        let got = dlb_setup(4);
        // SAFETY: as in `row`; copied at once.
        let text = unsafe { CStr::from_ptr(dlb_strerror(got)) }
            .to_string_lossy()
            .into_owned();
        (got, text)
    })
    .join()
    .unwrap();
    let said = text.contains("another thread");
    row(&mut rec, "setup from another thread", state, got);
    row(&mut rec, "which says so", 1, i32::from(said));

    // No run yet.
    let got = give_more(1, Some(&mut jobs));
    row(&mut rec, "give_more before setup", state, got);
    let got = give_more_rr(1, Some(&mut jobs));
    row(&mut rec, "give_more_rr before setup", state, got);
    let got = give_more_color(1, Some(&mut color), Some(&mut jobs));
    row(&mut rec, "give_more_color before setup", state, got);

    // Bad arguments to the collective setups (the same on every rank).
    row(&mut rec, "setup negative", arg, dlb_setup(-1));
    row(&mut rec, "setup_rr negative", arg, dlb_setup_rr(-5));
    let got = setup_color(None, 3);
    row(&mut rec, "setup_color null", arg, got);
    let got = setup_color(Some(&[2, -1]), 2);
    row(&mut rec, "setup_color negative count", arg, got);
    let got = setup_color(Some(&[2]), -1);
    row(&mut rec, "setup_color negative ncolors", arg, got);
    row(
        &mut rec,
        "print_statistics negative",
        arg,
        dlb_print_statistics(-1),
    );

    // A plain run: bad arguments to give_more, and the other interfaces.
    row(&mut rec, "setup", 0, dlb_setup(6));
    let got = give_more(0, Some(&mut jobs));
    row(&mut rec, "give_more maxjobs 0", arg, got);
    let got = give_more(-3, Some(&mut jobs));
    row(&mut rec, "give_more maxjobs negative", arg, got);
    let got = give_more(1, None);
    row(&mut rec, "give_more jobs null", arg, got);
    let got = give_more_rr(1, Some(&mut jobs));
    row(&mut rec, "give_more_rr in a plain run", state, got);
    let got = give_more_color(1, Some(&mut color), Some(&mut jobs));
    row(&mut rec, "give_more_color in a plain run", state, got);
    let got = give_more_color(1, None, Some(&mut jobs));
    row(&mut rec, "give_more_color color null", arg, got);
    let got = give_more_rr(1, None);
    row(&mut rec, "give_more_rr jobs null", arg, got);
    // The run still works after all that: drain it.
    let mut ok = true;
    loop {
        match give_more(2, Some(&mut jobs)) {
            1 => continue,
            0 => break,
            _ => {
                ok = false;
                break;
            }
        }
    }
    row(
        &mut rec,
        "give_more drains after misuse",
        0,
        if ok { 0 } else { -100 },
    );
    let got = give_more(1, Some(&mut jobs));
    row(&mut rec, "give_more after no more", 0, got);
    // A setup that fails leaves no run: give_more says so, rather than
    // answering "no more" from the run before.
    row(&mut rec, "setup negative after a run", arg, dlb_setup(-2));
    let got = give_more(1, Some(&mut jobs));
    row(&mut rec, "give_more after a failed setup", state, got);

    // A negative level on rank 0 only: it still joins the collective, so
    // the others fail (different levels) instead of waiting for it.
    let me = launcher_rank();
    let (level, expected) = match me {
        0 => (-1, arg),
        _ => (1, DLB_ERR_MISMATCH),
    };
    let got = dlb_print_statistics(level);
    row(
        &mut rec,
        "print_statistics negative on rank 0",
        expected,
        got,
    );

    row(&mut rec, "finalize", 0, dlb_finalize());
    row(&mut rec, "finalize twice", state, dlb_finalize());
    row(&mut rec, "setup after finalize", state, dlb_setup(3));

    // After MPI_Finalize (before dlb_finalize): errors, not an MPI abort.
    row(&mut rec, "init again", 0, init_world());
    row(&mut rec, "setup again", 0, dlb_setup(3));
    // SAFETY: MPI is initialized and not finalized; the `Mpi` guard checks
    // before it finalizes again.
    let rc = unsafe { dlb::sys::MPI_Finalize() };
    row(&mut rec, "MPI_Finalize", 0, rc);
    let got = give_more(1, Some(&mut jobs));
    row(&mut rec, "give_more after MPI_Finalize", state, got);
    row(&mut rec, "setup after MPI_Finalize", state, dlb_setup(3));
    let got = dlb_print_statistics(1);
    row(&mut rec, "print_statistics after MPI_Finalize", state, got);
    row(
        &mut rec,
        "finalize after MPI_Finalize",
        state,
        dlb_finalize(),
    );
    row(&mut rec, "finalize after that", state, dlb_finalize());
}

/// Rank 0 exits (`exit(3)`, as C's `exit` or Fortran's `STOP`) after
/// `dlb_init` and a setup, without `dlb_finalize`; the others wait for it
/// in a barrier of their own (in `dlb_finalize` they would meet the
/// collective cleanup that the exit ran before this was fixed, and the job
/// would end).
#[test]
fn exit_without_finalize_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    assert_eq!(init_world(), 0);
    assert_eq!(dlb_setup(100), 0);
    if launcher_rank() == 0 {
        // Runs the exit handlers, thread-locals' destructors among them.
        std::process::exit(3);
    }
    // SAFETY: MPI is initialized; MPI_COMM_WORLD is a valid communicator.
    let rc = unsafe { dlb::sys::MPI_Barrier(dlb::sys::RSMPI_COMM_WORLD) };
    panic!("MPI_Barrier returned {rc} although rank 0 exited before it");
}

/// This process's rank as the launcher numbers it (the C API has no call
/// that tells, and the first rows come before `dlb_init`).
fn launcher_rank() -> usize {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .expect("the launcher sets OMPI_COMM_WORLD_RANK, PMI_RANK or PMIX_RANK")
}

/// The `dlb_int` of include/dlbrma.h.
#[allow(non_camel_case_types)]
type dlb_int_t = i64;

/// A rank that exits without `dlb_finalize` runs no collective cleanup on
/// its way out (which would wait for ranks that never come): it exits, and
/// the launcher ends the job with an error, as without dlb.
#[test]
fn a_rank_that_exits_without_finalize_ends_the_job() {
    if is_child() {
        return;
    }
    expect_job_to_fail("exit_without_finalize_child", 3);
}

#[test]
fn every_c_entry_point_answers_misuse_with_its_documented_code() {
    if is_child() {
        return;
    }
    for ranks in [1, 3] {
        let launch = launch("capi_misuse_child", ranks, &[]);
        for (rank, lines) in launch.ranks.iter().enumerate() {
            assert!(lines.len() >= 25, "rank {rank}: too few rows: {lines:?}");
            let wrong: Vec<&String> = lines.iter().filter(|l| !l.starts_with("ok ")).collect();
            assert!(
                wrong.is_empty(),
                "{ranks} ranks, rank {rank}: (verdict, call, expected, got): {wrong:?}"
            );
        }
    }
}
