//! Misuse gets a clear error on every rank: never a hang, a panic or a
//! wrong answer. Each check runs on a real multi-rank job and asserts inside
//! the ranks; the job fails if any rank's assertion fails.

mod common;

use common::{is_child, launch, start_child, Recorder};
use dlb::{Dlb, ErrorKind, Variant, MAX_JOBS};

/// Drains a plain run and returns how many jobs this rank got.
fn drain(dlb: &mut Dlb, jobs: u64) -> u64 {
    let mut run = dlb.setup(jobs).unwrap();
    let mut got = 0;
    while let Some(r) = run.give_more(4).unwrap() {
        got += r.end - r.start;
    }
    got
}

#[test]
fn misuse_child() {
    let Some((_mpi, mut dlb, mut rec)) = start_child() else {
        return;
    };
    let (me, p) = (dlb.rank(), dlb.size());

    // maxjobs 0: an argument error; the run goes on.
    let mut run = dlb.setup(10).unwrap();
    let err = run.give_more(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("maxjobs"), "{err}");
    while run.give_more(1).unwrap().is_some() {}

    // Different job counts on different ranks: every rank gets Mismatch,
    // and the next run works.
    if p > 1 {
        let err = dlb.setup(100 + me as u64).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Mismatch, "{err}");
    }
    assert!(drain(&mut dlb, 50 * p as u64) > 0);

    // Different interfaces on different ranks.
    if p > 1 {
        let err = if me == 0 {
            dlb.setup_rr(8).map(|_| ())
        } else {
            dlb.setup(8).map(|_| ())
        }
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Mismatch, "{err}");
        // Same totals, different colors.
        let distr: Vec<u64> = if me == 0 { vec![1, 2] } else { vec![2, 1] };
        let err = dlb.setup_color(&distr).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Mismatch, "{err}");
    }

    // Too many jobs on one rank only: that rank learns why, the others that
    // another rank was wrong; nobody waits forever.
    let jobs = if me == p - 1 { MAX_JOBS + 1 } else { 10 };
    let err = dlb.setup(jobs).map(|_| ()).unwrap_err();
    let expected = if me == p - 1 {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Mismatch
    };
    assert_eq!(err.kind(), expected, "{err}");
    let err = dlb.setup_color(&[MAX_JOBS, 1]).map(|_| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("colors"), "{err}");
    drain(&mut dlb, 7);

    // A run dropped before it answered "no more": the next setup fails on
    // every rank, and keeps failing; finalize and init recover.
    drop(dlb.setup(20).unwrap());
    for _ in 0..2 {
        let err = dlb.setup(5).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        assert!(err.to_string().contains("unfinished"), "{err}");
    }
    dlb.finalize().unwrap();
    let mut dlb = Dlb::init().unwrap();
    let got = drain(&mut dlb, 30);
    dlb.finalize().unwrap();

    // Ranks that choose different variants: Mismatch at init, on all ranks.
    let variant = if me == 0 {
        Variant::Static
    } else {
        Variant::Rma
    };
    let result = Dlb::builder().variant(variant).init();
    if p > 1 {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Mismatch);
    }

    // A bad environment value is named.
    std::env::set_var("DLB_ATOMICS", "gpu");
    let err = Dlb::init().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("DLB_ATOMICS=gpu"), "{err}");
    std::env::remove_var("DLB_ATOMICS");

    // Ranks that disagree on direct steals mismatch.
    let result = Dlb::builder().direct_steals(me == 0).init();
    if p > 1 {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Mismatch);
    }

    rec.record(&[&"ok", &got]);
}

#[test]
fn misuse_fails_cleanly_on_every_rank() {
    if is_child() {
        return;
    }
    for ranks in [1, 2, 3] {
        let launch = launch("misuse_child", ranks, &[]);
        let total: u64 = launch
            .ranks
            .iter()
            .map(|lines| {
                let f: Vec<&str> = lines.last().expect("a record").split(' ').collect();
                assert_eq!(f[0], "ok", "{}", launch.output);
                f[1].parse::<u64>().unwrap()
            })
            .sum();
        assert_eq!(total, 30, "the run after re-init hands out all 30 jobs");
    }
}

#[test]
fn window_that_cannot_be_created_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let err = Dlb::init().unwrap_err();
    let mut rec = Recorder::new(0);
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(
        err.to_string().contains("cannot create the shared window"),
        "{err}"
    );
    rec.record(&[&"ok"]);
}

#[test]
fn window_that_cannot_be_created_is_an_error() {
    if is_child() || dlb::sys::DLB_MPI_IS_OPEN_MPI == 0 {
        // MPICH creates every flavor on one node; Open MPI's osc/pt2pt
        // cannot make shared windows, which is how this test forces a failure.
        return;
    }
    let env = [
        ("OMPI_MCA_osc", "pt2pt"),
        ("DLB_ATOMICS", "mpi"),
        ("DLB_WINDOW", "shared"),
    ];
    let launch = launch("window_that_cannot_be_created_child", 1, &env);
    assert_eq!(launch.ranks[0], ["ok"]);
}

#[test]
fn init_without_mpi_is_an_error() {
    if is_child() {
        return;
    }
    // This process never initializes MPI.
    let err = Dlb::init().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains("MPI is not initialized"), "{err}");
}

#[test]
#[cfg(feature = "capi")]
fn c_init_without_mpi_is_an_error() {
    if is_child() {
        return;
    }
    // This process never initializes MPI: the Fortran entry point must not
    // reach MPI_Comm_f2c, and both entry points answer with a code.
    use dlb::capi::{dlb_init_f, dlb_strerror, DLB_ERR_INVALID_STATE};
    // SAFETY: 0 is a Fortran handle value; dlb checks MPI's state first.
    let code = unsafe { dlb_init_f(0) };
    assert_eq!(code, DLB_ERR_INVALID_STATE);
    // SAFETY: dlb_strerror returns a NUL-terminated string that lives until
    // the next failing call on this thread.
    let text = unsafe { std::ffi::CStr::from_ptr(dlb_strerror(code)) };
    assert!(
        text.to_string_lossy().contains("MPI is not initialized"),
        "{text:?}"
    );
}

#[test]
fn known_crash_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let err = Dlb::init().unwrap_err();
    let rank: usize = std::env::var("OMPI_COMM_WORLD_RANK").map_or(0, |r| r.parse().unwrap());
    let mut rec = Recorder::new(rank);
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(
        err.to_string().contains("OMPI_MCA_osc=ucx") && err.to_string().contains("ompi#7967"),
        "{err}"
    );
    rec.record(&[&"ok"]);
}

#[test]
fn a_window_that_would_crash_open_mpi_4_is_refused() {
    if is_child() || dlb::sys::DLB_OMPI_MAJOR_VERSION != 4 {
        // Only Open MPI 4's osc/rdma crashes on 8-byte compare-and-swap.
        return;
    }
    // Debian's default selection (osc = ^ucx,pt2pt) leaves osc/rdma, which
    // segfaults on the first MPI_Compare_and_swap of an allocated window.
    let env = [
        ("DLB_ATOMICS", "mpi"),
        ("DLB_WINDOW", "allocate"),
        ("OMPI_MCA_osc", "^ucx,pt2pt"),
    ];
    let launch = launch("known_crash_child", 2, &env);
    assert_eq!(launch.ranks[0], ["ok"], "{}", launch.output);
}

/// Rank 0 alone has a `DLB_*` variable that init refuses: it gets that
/// error, the others a mismatch, and none waits in init's collectives for
/// it (before, the others hung there). dlb works afterwards.
#[test]
fn bad_variable_on_one_rank_child() {
    if !is_child() {
        return;
    }
    let _mpi = dlb::Mpi::init().unwrap();
    let world = world_rank();
    if world == 0 {
        std::env::set_var("DLB_VARIANT", "dynamic");
    }
    let err = Dlb::init().unwrap_err();
    let mut rec = Recorder::new(world);
    let expected = if world == 0 {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Mismatch
    };
    assert_eq!(err.kind(), expected, "rank {world}: {err}");
    std::env::remove_var("DLB_VARIANT");
    let mut dlb = Dlb::init().unwrap();
    let got = drain(&mut dlb, 40);
    dlb.finalize().unwrap();
    rec.record(&[&"ok", &got]);
}

/// This process's rank in `MPI_COMM_WORLD` (before any `Dlb` exists).
fn world_rank() -> usize {
    let mut rank = 0;
    // SAFETY: MPI is initialized; MPI_COMM_WORLD is valid and `rank` is a
    // valid out-parameter.
    let rc = unsafe { dlb::sys::MPI_Comm_rank(dlb::sys::RSMPI_COMM_WORLD, &mut rank) };
    assert_eq!(rc, 0);
    rank as usize
}

#[test]
fn a_bad_variable_on_one_rank_fails_init_on_every_rank() {
    if is_child() {
        return;
    }
    let launch = launch("bad_variable_on_one_rank_child", 3, &[]);
    let total: u64 = launch
        .ranks
        .iter()
        .map(|lines| {
            let fields: Vec<&str> = lines[0].split(' ').collect();
            assert_eq!(fields[0], "ok", "{lines:?}");
            fields[1].parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(total, 40);
}

/// MPI is finalized under a live `Dlb`, in the middle of a run (the
/// program's `MPI_Finalize`, rsmpi's universe dropped, the `Mpi` guard
/// dropped first): every later call is `InvalidState`, where before
/// `give_more` crashed the process (shared-memory atomics) or made the MPI
/// abort the job.
#[test]
fn calls_after_mpi_finalize_child() {
    if !is_child() {
        return;
    }
    let mpi = dlb::Mpi::init().unwrap();
    let mut dlb = Dlb::init().unwrap();
    let mut rec = Recorder::new(dlb.rank());
    let jobs = 10 * dlb.size() as u64;
    {
        let mut run = dlb.setup(jobs).unwrap();
        // Every rank has jobs of its own: nobody waits for another here.
        assert!(run.give_more(1).unwrap().is_some());
        drop(mpi); // MPI_Finalize, collective, with the run unfinished
        let err = run.give_more(1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        assert!(err.to_string().contains("MPI is finalized"), "{err}");
    }
    for err in [
        dlb.setup(3).map(|_| ()).unwrap_err(),
        dlb.setup_rr(3).map(|_| ()).unwrap_err(),
        dlb.setup_color(&[1, 2]).map(|_| ()).unwrap_err(),
        dlb.print_statistics(1).unwrap_err(),
        dlb.node_count().map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidState, "{err}");
        assert!(err.to_string().contains("MPI is finalized"), "{err}");
    }
    // Nothing is left to free after MPI_Finalize: finalize has no error.
    dlb.finalize().unwrap();
    rec.record(&[&"ok"]);
}

#[test]
fn calls_after_mpi_finalize_are_errors() {
    if is_child() {
        return;
    }
    // MPICH (4.0, over UCX) aborts in MPI_Finalize itself when a window
    // is still alive, before dlb is called again: its MPI-atomics windows
    // cannot be left to MPI_Finalize (its shared windows can).
    let paths: &[&str] = if dlb::sys::DLB_MPI_IS_MPICH == 1 {
        &["shm"]
    } else {
        &["shm", "mpi"]
    };
    for ranks in [1, 3] {
        for &atomics in paths {
            let launch = launch(
                "calls_after_mpi_finalize_child",
                ranks,
                &[("DLB_ATOMICS", atomics)],
            );
            for lines in &launch.ranks {
                assert_eq!(
                    lines,
                    &["ok"],
                    "{ranks} ranks, {atomics}: {}",
                    launch.output
                );
            }
        }
    }
}
