//! The C API declared in `include/dlbrma.h`: DLB's interface for C programs,
//! and for Fortran through `fortran/dlb.f90`.
//!
//! One dlb instance per process lives in thread-local state (dlb needs
//! only `MPI_THREAD_SINGLE`, so C calls it from one thread; a call from
//! another thread is told so). Every function
//! returns 0 or 1 on success and a negative `DLB_ERR_*` code on failure,
//! with the message available from `dlb_strerror`; a Rust panic is caught
//! and returned as `DLB_ERR_PANIC`, never unwound into C. Arguments that
//! are wrong on some ranks only still take part in the collective setup, so
//! every rank fails instead of some waiting forever.
//!
//! The instance is never dropped by the thread-local's destructor: a rank
//! that calls `exit()` (or Fortran's `STOP`) without `dlb_finalize` would
//! otherwise run dlb's collective cleanup from glibc's exit handlers and
//! wait there for ranks that never come, instead of letting the MPI launcher
//! end the job. Only `dlb_finalize` frees it.

use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{Colors, Contiguous, Mapping, RoundRobin};
use crate::{Builder, Dlb};
use dlb_sys as ffi;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// DLB's `idlb_kind`: job counts and IDs are 8-byte signed integers.
pub type DlbInt = i64;

/// An argument is out of range.
pub const DLB_ERR_INVALID_ARGUMENT: c_int = -1;
/// The call is not allowed now (not initialized, no setup, mixed interfaces, ...).
pub const DLB_ERR_INVALID_STATE: c_int = -2;
/// Ranks called a collective with different arguments.
pub const DLB_ERR_MISMATCH: c_int = -3;
/// The configuration is not available here.
pub const DLB_ERR_UNSUPPORTED: c_int = -4;
/// An MPI call failed.
pub const DLB_ERR_MPI: c_int = -5;
/// dlb found a broken invariant of its own.
pub const DLB_ERR_INTERNAL: c_int = -6;
/// A panic inside dlb was caught at the boundary.
pub const DLB_ERR_PANIC: c_int = -7;

/// The interface of the current run, and its mapping.
enum CRun {
    Plain(Contiguous),
    Color(Colors),
    Rr(RoundRobin),
}

struct State {
    /// Freed by `dlb_finalize` alone (see the module doc).
    dlb: ManuallyDrop<Dlb>,
    run: Option<CRun>,
}

/// The thread that called `dlb_init`, while an instance lives: a call from
/// another thread finds no state in its own thread-local, and is told why.
static INIT_THREAD: std::sync::Mutex<Option<std::thread::ThreadId>> = std::sync::Mutex::new(None);

fn set_init_thread(thread: Option<std::thread::ThreadId>) {
    // (A poisoned lock holds a plain value: use it.)
    *INIT_THREAD.lock().unwrap_or_else(|e| e.into_inner()) = thread;
}

/// Whether an instance lives on another thread than this one.
fn initialized_elsewhere() -> bool {
    let owner = *INIT_THREAD.lock().unwrap_or_else(|e| e.into_inner());
    owner.is_some_and(|t| t != std::thread::current().id())
}

fn on_another_thread() -> Error {
    Error::invalid_state(
        "dlb was initialized on another thread: call dlb's C API from the thread that called \
         dlb_init (dlb is single-threaded; in OpenMP, outside parallel regions or in a master \
         region)",
    )
}

/// The error of a call that finds no instance on this thread.
fn not_initialized() -> Error {
    if initialized_elsewhere() {
        on_another_thread()
    } else {
        Error::invalid_state("dlb_init has not been called (or dlb_finalize was)")
    }
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    static LAST_ERROR: RefCell<(c_int, CString)> = RefCell::new((0, CString::default()));
}

fn code_of(kind: ErrorKind) -> c_int {
    match kind {
        ErrorKind::InvalidArgument => DLB_ERR_INVALID_ARGUMENT,
        ErrorKind::InvalidState => DLB_ERR_INVALID_STATE,
        ErrorKind::Mismatch => DLB_ERR_MISMATCH,
        ErrorKind::Unsupported => DLB_ERR_UNSUPPORTED,
        ErrorKind::Mpi => DLB_ERR_MPI,
        _ => DLB_ERR_INTERNAL,
    }
}

fn remember(code: c_int, message: String) -> c_int {
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = (code, text));
    code
}

/// Runs `f`, turning errors and panics into codes.
fn guard(f: impl FnOnce() -> Result<c_int>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => remember(code_of(e.kind()), e.to_string()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            remember(
                DLB_ERR_PANIC,
                format!("dlb: internal panic caught at the C boundary: {what}"),
            )
        }
    }
}

/// Runs `f` on the initialized state, while MPI is (after `MPI_Finalize`
/// any MPI call of dlb's would make the MPI abort the job). The check is
/// one load of a flag that `MPI_Finalize` raises (`ensure_active`), cheap
/// enough for `dlb_give_more`.
fn with_state<T>(f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    if STATE.with(|s| s.borrow().is_some()) {
        crate::mpi::ensure_active().map_err(|_| {
            Error::invalid_state(
                "MPI is finalized: call dlb_finalize before MPI_Finalize, and dlb after neither",
            )
        })?;
    }
    STATE.with(|s| match s.borrow_mut().as_mut() {
        Some(state) => f(state),
        None => Err(not_initialized()),
    })
}

fn init(comm: ffi::MPI_Comm) -> c_int {
    guard(|| {
        if initialized_elsewhere() {
            return Err(on_another_thread());
        }
        if STATE.with(|s| s.borrow().is_some()) {
            return Err(Error::invalid_state(
                "dlb_init called twice without dlb_finalize",
            ));
        }
        // SAFETY: dlbrma.h documents that `comm` must be a valid communicator
        // of the MPI dlb was built against; MPI's own initialization is
        // checked inside.
        let dlb = unsafe { Builder::default().init_with(comm) }?;
        STATE.with(|s| {
            *s.borrow_mut() = Some(State {
                dlb: ManuallyDrop::new(dlb),
                run: None,
            })
        });
        set_init_thread(Some(std::thread::current().id()));
        Ok(0)
    })
}

/// `int dlb_init(MPI_Comm comm)`: collective over `comm`, which dlb
/// duplicates.
///
/// # Safety
/// `comm` must be a valid communicator handle.
#[no_mangle]
pub unsafe extern "C" fn dlb_init(comm: ffi::MPI_Comm) -> c_int {
    init(comm)
}

/// `int dlb_init_f(MPI_Fint comm)`: `dlb_init` for a Fortran communicator.
/// Fails with `DLB_ERR_INVALID_STATE` before `MPI_Init` or after
/// `MPI_Finalize`, where `MPI_Comm_f2c` may not be called.
///
/// # Safety
/// `comm` must be a valid Fortran communicator handle.
#[no_mangle]
pub unsafe extern "C" fn dlb_init_f(comm: ffi::RSMPI_Fint) -> c_int {
    let ready = guard(|| crate::mpi::ensure_initialized().map(|()| 0));
    if ready != 0 {
        return ready;
    }
    // SAFETY: MPI is initialized and not finalized (checked above), and
    // MPI_Comm_f2c is defined for every Fortran handle value; the caller
    // guarantees it names a communicator.
    init(unsafe { ffi::RSMPI_Comm_f2c(comm) })
}

/// `int dlb_finalize(void)`: collective.
#[no_mangle]
pub extern "C" fn dlb_finalize() -> c_int {
    guard(|| {
        let Some(state) = STATE.with(|s| s.borrow_mut().take()) else {
            return Err(if initialized_elsewhere() {
                on_another_thread()
            } else {
                Error::invalid_state("dlb_finalize without dlb_init")
            });
        };
        set_init_thread(None);
        if crate::mpi::ensure_initialized().is_err() {
            // Freeing its windows and communicator would call MPI after
            // MPI_Finalize, which aborts the job: leave them (the process
            // ends anyway) and say so.
            return Err(Error::invalid_state(
                "dlb_finalize after MPI_Finalize: call dlb_finalize first (dlb's resources were left to the process's end)",
            ));
        }
        ManuallyDrop::into_inner(state.dlb).finalize().map(|()| 0)
    })
}

/// A count from C: negative values are passed on as invalid (`u64::MAX`,
/// above any limit), so that the collective setup fails on every rank.
fn count(n: DlbInt) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Replaces the "too many jobs" message for counts that were negative.
fn explain_negative(result: Result<c_int>, negative: bool, what: &str) -> Result<c_int> {
    result.map_err(|e| {
        if negative && e.kind() == ErrorKind::InvalidArgument {
            Error::invalid_argument(format!("{what} must not be negative"))
        } else {
            e
        }
    })
}

/// Starts a run with `start`, remembering its interface; when the input
/// was `invalid` (negative), says so instead of "too many jobs".
fn setup_run(invalid: bool, what: &str, start: impl FnOnce(&mut Dlb) -> Result<CRun>) -> c_int {
    guard(|| {
        let started = with_state(|st| {
            // A failed setup leaves no run behind: `give_more` then says
            // so, instead of answering from the run before.
            st.run = None;
            st.run = Some(start(&mut st.dlb)?);
            Ok(0)
        });
        explain_negative(started, invalid, what)
    })
}

/// `int dlb_setup(dlb_int njobs)`: collective.
#[no_mangle]
pub extern "C" fn dlb_setup(njobs: DlbInt) -> c_int {
    setup_run(njobs < 0, "dlb_setup: njobs", |dlb| {
        Ok(CRun::Plain(dlb.start_plain(count(njobs))?))
    })
}

/// `int dlb_setup_rr(dlb_int njobs)`: collective.
#[no_mangle]
pub extern "C" fn dlb_setup_rr(njobs: DlbInt) -> c_int {
    setup_run(njobs < 0, "dlb_setup_rr: njobs", |dlb| {
        Ok(CRun::Rr(dlb.start_rr(count(njobs))?))
    })
}

/// `int dlb_setup_color(const dlb_int *distr, dlb_int ncolors)`: collective.
///
/// # Safety
/// `distr` must point to `ncolors` readable values (or be null with
/// `ncolors == 0`).
#[no_mangle]
pub unsafe extern "C" fn dlb_setup_color(distr: *const DlbInt, ncolors: DlbInt) -> c_int {
    let counts: Option<Vec<u64>> = match (distr.is_null(), ncolors) {
        (_, 0) => Some(Vec::new()),
        // (More values than an address space holds is a wrong count.)
        (false, n) if n > 0 && n as u64 <= isize::MAX as u64 / 8 => {
            // SAFETY: the caller guarantees `ncolors` readable values.
            let slice = unsafe { std::slice::from_raw_parts(distr, n as usize) };
            slice.iter().map(|&c| u64::try_from(c).ok()).collect()
        }
        _ => None,
    };
    let invalid = counts.is_none();
    // Invalid input still joins the collective, as an overflowing total.
    let counts = counts.unwrap_or_else(|| vec![u64::MAX, u64::MAX]);
    let what = "dlb_setup_color: distr (null, or a negative count or ncolors)";
    setup_run(invalid, what, |dlb| {
        Ok(CRun::Color(dlb.start_color(&counts)?))
    })
}

fn maxjobs_of(maxjobs: DlbInt) -> Result<u64> {
    u64::try_from(maxjobs)
        .ok()
        .filter(|&m| m > 0)
        .ok_or_else(|| {
            Error::invalid_argument(format!("maxjobs must be at least 1, not {maxjobs}"))
        })
}

fn wrong_interface(call: &str) -> Error {
    Error::invalid_state(format!("{call}: no run of this interface (call the matching dlb_setup first; interfaces must not be mixed within a run)"))
}

/// `int dlb_give_more(dlb_int maxjobs, dlb_int jobs[2])`: 1 and the IDs
/// `jobs[0] <= id < jobs[1]`; 0 when no job is left anywhere, ever.
///
/// # Safety
/// `jobs` must point to 2 writable values.
#[no_mangle]
pub unsafe extern "C" fn dlb_give_more(maxjobs: DlbInt, jobs: *mut DlbInt) -> c_int {
    guard(|| {
        if jobs.is_null() {
            return Err(Error::invalid_argument("dlb_give_more: jobs is null"));
        }
        let maxjobs = maxjobs_of(maxjobs)?;
        let chunk = with_state(|st| match &st.run {
            Some(CRun::Plain(m)) => st.dlb.next_chunk(m, maxjobs),
            _ => Err(wrong_interface("dlb_give_more")),
        })?;
        let (a, b) = chunk.map_or((0, 0), |r| (r.start, r.end));
        // SAFETY: the caller guarantees 2 writable values; IDs are below 2^63.
        unsafe {
            *jobs = a as DlbInt;
            *jobs.add(1) = b as DlbInt;
        }
        Ok(c_int::from(b > a))
    })
}

/// `int dlb_give_more_color(dlb_int maxjobs, dlb_int *color, dlb_int jobs[2])`:
/// like `dlb_give_more`, with the 0-based color (-1 when none is left) and
/// IDs counted within it.
///
/// # Safety
/// `color` must point to 1 and `jobs` to 2 writable values.
#[no_mangle]
pub unsafe extern "C" fn dlb_give_more_color(
    maxjobs: DlbInt,
    color: *mut DlbInt,
    jobs: *mut DlbInt,
) -> c_int {
    guard(|| {
        if jobs.is_null() || color.is_null() {
            return Err(Error::invalid_argument(
                "dlb_give_more_color: color or jobs is null",
            ));
        }
        let maxjobs = maxjobs_of(maxjobs)?;
        let chunk = with_state(|st| match &st.run {
            Some(CRun::Color(m)) => Ok(st.dlb.next_chunk(m, maxjobs)?.map(|p| m.chunk(p))),
            _ => Err(wrong_interface("dlb_give_more_color")),
        })?;
        let (c, a, b) = chunk.map_or((-1, 0, 0), |(c, r)| {
            (c as DlbInt, r.start as DlbInt, r.end as DlbInt)
        });
        // SAFETY: the caller guarantees the writable values.
        unsafe {
            *color = c;
            *jobs = a;
            *jobs.add(1) = b;
        }
        Ok(c_int::from(c >= 0))
    })
}

/// `int dlb_give_more_rr(dlb_int maxjobs, dlb_int jobs[3])`: 1 and the IDs
/// `jobs[0], jobs[0] + jobs[2], ...` below `jobs[1]`; 0 when none is left.
///
/// # Safety
/// `jobs` must point to 3 writable values.
#[no_mangle]
pub unsafe extern "C" fn dlb_give_more_rr(maxjobs: DlbInt, jobs: *mut DlbInt) -> c_int {
    guard(|| {
        if jobs.is_null() {
            return Err(Error::invalid_argument("dlb_give_more_rr: jobs is null"));
        }
        let maxjobs = maxjobs_of(maxjobs)?;
        let chunk = with_state(|st| match &st.run {
            Some(CRun::Rr(m)) => Ok(st.dlb.next_chunk(m, maxjobs)?.map(|p| m.chunk(p))),
            _ => Err(wrong_interface("dlb_give_more_rr")),
        })?;
        let (a, b, s) = chunk.map_or((0, 0, 1), |s| {
            (s.start as DlbInt, s.end as DlbInt, s.stride as DlbInt)
        });
        // SAFETY: the caller guarantees 3 writable values.
        unsafe {
            *jobs = a;
            *jobs.add(1) = b;
            *jobs.add(2) = s;
        }
        Ok(c_int::from(chunk.is_some()))
    })
}

/// `int dlb_print_statistics(int level)`: collective at every level; ranks
/// that pass different levels all get `DLB_ERR_MISMATCH`, and a rank that
/// passes a negative one `DLB_ERR_INVALID_ARGUMENT` (it still takes part,
/// as a level no valid call passes, so that the others fail rather than
/// wait for it).
#[no_mangle]
pub extern "C" fn dlb_print_statistics(level: c_int) -> c_int {
    guard(|| {
        let Ok(level) = u32::try_from(level) else {
            // This rank's own error comes first; the collective's (a
            // mismatch, or MPI finalized) is dropped.
            let _joined = with_state(|st| st.dlb.refuse_statistics());
            return Err(Error::invalid_argument("level must not be negative"));
        };
        if let Some(report) = with_state(|st| st.dlb.statistics_report(level))? {
            print!("{report}");
        }
        Ok(0)
    })
}

/// `const char *dlb_strerror(int err)`: the message of the last error if
/// `err` is its code, else a description of the code. The text lives until
/// the next failing call on this thread.
#[no_mangle]
pub extern "C" fn dlb_strerror(err: c_int) -> *const c_char {
    let generic: &'static [u8] = match err {
        0.. => b"dlb: success\0",
        DLB_ERR_INVALID_ARGUMENT => b"dlb: invalid argument\0",
        DLB_ERR_INVALID_STATE => b"dlb: call not allowed in this state\0",
        DLB_ERR_MISMATCH => b"dlb: ranks passed different arguments to a collective call\0",
        DLB_ERR_UNSUPPORTED => b"dlb: not supported on this machine or MPI\0",
        DLB_ERR_MPI => b"dlb: an MPI call failed\0",
        DLB_ERR_INTERNAL => b"dlb: internal error\0",
        DLB_ERR_PANIC => b"dlb: internal panic\0",
        _ => b"dlb: unknown error code\0",
    };
    LAST_ERROR.with(|e| {
        let e = e.borrow();
        if e.0 == err && err < 0 && !e.1.as_bytes().is_empty() {
            // The CString stays in the thread-local until the next error.
            e.1.as_ptr()
        } else {
            generic.as_ptr() as *const c_char
        }
    })
}
mod header_check;
