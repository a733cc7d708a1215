//! MPI's environment: initialization state, error strings and the
//! [`Mpi`] guard for programs that let dlb initialize MPI (MPI-4.0 §11.2).

#[cfg(test)]
use crate::error::ErrorKind;
use crate::error::{Error, Result};
use dlb_sys as ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Turns an MPI return code into a `Result`, with the text of
/// `MPI_Error_string` (MPI-4.0 §9.4). Every raw call goes through here.
pub(crate) fn check(call: &'static str, code: c_int) -> Result<()> {
    if code == ffi::DLB_MPI_SUCCESS {
        return Ok(());
    }
    Err(Error::mpi(call, code, &error_string(code)))
}

/// The text MPI gives for `code`. MPI-3.1 (Open MPI 4) allows
/// `MPI_Error_string` only between init and finalize, so outside that window
/// only the number is known.
fn error_string(code: c_int) -> String {
    if !matches!((is_initialized(), is_finalized()), (Ok(true), Ok(false))) {
        return "(MPI is not active, so it cannot describe the code)".to_owned();
    }
    let mut buf = vec![0 as c_char; ffi::DLB_MPI_MAX_ERROR_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `buf` holds MPI_MAX_ERROR_STRING + 1 chars as the standard
    // requires; `len` is a valid out-pointer; MPI is initialized and not
    // finalized (checked above).
    let rc = unsafe { ffi::MPI_Error_string(code, buf.as_mut_ptr(), &mut len) };
    if rc == ffi::DLB_MPI_SUCCESS {
        // SAFETY: MPI wrote a NUL-terminated string of `len` chars into `buf`,
        // and the extra element guarantees a terminator even at full length.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    } else {
        "unknown error".to_owned()
    }
}

/// Whether `MPI_Init` has been called (MPI-4.0 §11.2.1).
fn is_initialized() -> Result<bool> {
    let mut flag: c_int = 0;
    // SAFETY: MPI_Initialized may be called at any time; `flag` is valid.
    check("MPI_Initialized", unsafe {
        ffi::MPI_Initialized(&mut flag)
    })?;
    Ok(flag != 0)
}

/// Whether `MPI_Finalize` has completed (MPI-4.0 §11.2.2).
pub(crate) fn is_finalized() -> Result<bool> {
    let mut flag: c_int = 0;
    // SAFETY: MPI_Finalized may be called at any time; `flag` is valid.
    check("MPI_Finalized", unsafe { ffi::MPI_Finalized(&mut flag) })?;
    Ok(flag != 0)
}

/// Set when `MPI_Finalize` begins, by the delete callback of dlb's
/// attribute on `MPI_COMM_SELF`: MPI_Finalize deletes that communicator's
/// attributes first thing, while MPI still works ("Allowing User Functions
/// at Process Termination", MPI-3.1 §8.7.1).
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// Whether the attribute is set (once per process: MPI starts only once).
static WATCHING: Mutex<bool> = Mutex::new(false);

/// Makes [`ensure_active`] see `MPI_Finalize`: sets an attribute on
/// `MPI_COMM_SELF` whose delete callback raises [`FINALIZING`]. Once per
/// process; called by every init, while MPI is initialized and not
/// finalized.
pub(crate) fn watch_finalize() -> Result<()> {
    let mut watching = WATCHING.lock().unwrap_or_else(|e| e.into_inner());
    if *watching {
        return Ok(());
    }
    let mut keyval: c_int = 0;
    // SAFETY: both callbacks have the signatures MPI-3.1 §6.7.2 gives them
    // and never unwind; `keyval` is a valid out-parameter; the extra state
    // is never read.
    check("MPI_Comm_create_keyval", unsafe {
        ffi::MPI_Comm_create_keyval(
            Some(not_copied),
            Some(on_finalize),
            &mut keyval,
            std::ptr::null_mut(),
        )
    })?;
    // SAFETY: MPI is initialized and not finalized (the caller's contract),
    // so MPI_COMM_SELF (read by dlb-sys's shim: on SMPI it is no constant)
    // is valid; `keyval` was just created for communicators; the attribute
    // value is never dereferenced.
    check("MPI_Comm_set_attr", unsafe {
        ffi::MPI_Comm_set_attr(ffi::dlb_mpi_comm_self(), keyval, std::ptr::null_mut())
    })?;
    *watching = true;
    Ok(())
}

/// The attribute's copy callback: a duplicate of `MPI_COMM_SELF` does not
/// carry it (what `MPI_COMM_NULL_COPY_FN` does; MPICH defines that one as a
/// null pointer, Open MPI as a function, so dlb writes its own).
unsafe extern "C" fn not_copied(
    _comm: ffi::MPI_Comm,
    _keyval: c_int,
    _extra: *mut c_void,
    _value_in: *mut c_void,
    _value_out: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    // SAFETY: MPI passes a valid pointer to the flag it reads back.
    unsafe { *flag = 0 };
    ffi::DLB_MPI_SUCCESS
}

/// The attribute's delete callback: `MPI_Finalize` has begun, and dlb
/// makes no MPI call from now on.
unsafe extern "C" fn on_finalize(
    _comm: ffi::MPI_Comm,
    _keyval: c_int,
    _value: *mut c_void,
    _extra: *mut c_void,
) -> c_int {
    FINALIZING.store(true, Ordering::Release);
    ffi::DLB_MPI_SUCCESS
}

/// Fails once `MPI_Finalize` has begun: any MPI call of dlb's would then
/// make the MPI abort the job, and its shared-memory windows are unmapped.
/// One load, for `give_more`'s path; [`watch_finalize`] arms it at init.
pub(crate) fn ensure_active() -> Result<()> {
    if FINALIZING.load(Ordering::Acquire) {
        return Err(Error::invalid_state(
            "MPI is finalized: dlb cannot be used after MPI_Finalize (finalize dlb first)",
        ));
    }
    Ok(())
}

/// Ends the whole job: `MPI_Abort` on `MPI_COMM_WORLD` with error code 3
/// (§9.5); exits the process should MPI return. dlb calls it only when its
/// hang watchdog found a hang (and printed why).
pub(crate) fn abort() -> ! {
    abort_with(3)
}

/// Ends the whole job with `code` (see [`abort`]); called only while MPI is
/// up, by a running dlb that printed why.
pub(crate) fn abort_with(code: c_int) -> ! {
    ABORTING.store(true, Ordering::SeqCst);
    // SAFETY: called only while MPI is initialized and not finalized (from
    // a running dlb); MPI_COMM_WORLD is a valid predefined communicator.
    unsafe { ffi::MPI_Abort(ffi::dlb_mpi_comm_world(), code) };
    std::process::exit(code)
}

/// Fails with a clear message unless MPI is initialized and not finalized.
pub(crate) fn ensure_initialized() -> Result<()> {
    if !is_initialized()? {
        return Err(Error::invalid_state(
            "MPI is not initialized: call MPI_Init (or dlb::Mpi::init) before dlb's init",
        ));
    }
    if is_finalized()? {
        return Err(Error::invalid_state("MPI is already finalized"));
    }
    Ok(())
}

/// The MPI library's version string (`MPI_Get_library_version`, MPI-4.0
/// §9.1.1); callable before `MPI_Init`.
///
/// ```no_run
/// println!("{}", dlb::library_version()?);
/// # Ok::<(), dlb::Error>(())
/// ```
pub fn library_version() -> Result<String> {
    let mut buf = vec![0 as c_char; ffi::DLB_MPI_MAX_LIBRARY_VERSION_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: the buffer has MPI_MAX_LIBRARY_VERSION_STRING + 1 chars and
    // `len` is valid; the call is allowed before MPI_Init.
    check("MPI_Get_library_version", unsafe {
        ffi::MPI_Get_library_version(buf.as_mut_ptr(), &mut len)
    })?;
    // SAFETY: MPI wrote a NUL-terminated string; the buffer has room for it.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .trim()
        .to_owned())
}

/// An initialized MPI environment, finalized on drop.
///
/// For programs that do not initialize MPI themselves (programs using rsmpi
/// keep rsmpi's `Universe` instead). dlb needs no threads, so MPI is
/// initialized with `MPI_THREAD_SINGLE`.
///
/// ```no_run
/// let mpi = dlb::Mpi::init()?;
/// let mut dlb = dlb::Dlb::init()?;
/// // ... runs ...
/// dlb.finalize()?;
/// drop(mpi); // MPI_Finalize
/// # Ok::<(), dlb::Error>(())
/// ```
#[derive(Debug)]
pub struct Mpi {
    _private: (),
}

impl Mpi {
    /// Calls `MPI_Init_thread(MPI_THREAD_SINGLE)`. Fails if MPI was
    /// initialized before.
    pub fn init() -> Result<Mpi> {
        if is_initialized()? {
            return Err(Error::invalid_state("MPI is already initialized"));
        }
        let mut provided: c_int = 0;
        // SAFETY: null argc/argv are allowed by MPI-4.0 §11.2.1; MPI is not
        // yet initialized (checked above) and `provided` is valid.
        check("MPI_Init_thread", unsafe {
            ffi::MPI_Init_thread(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                ffi::DLB_MPI_THREAD_SINGLE,
                &mut provided,
            )
        })?;
        GUARDED.store(true, Ordering::SeqCst);
        Ok(Mpi { _private: () })
    }

    /// The MPI library's version string, as `MPI_Get_library_version` gives it.
    pub fn library_version(&self) -> Result<String> {
        library_version()
    }
}

/// Set when a `Dlb` was dropped with its run unfinished on this rank
/// ([`end_job_at_exit`]).
static SKIP_FINALIZE: AtomicBool = AtomicBool::new(false);

/// Set by [`abort_with`]: an `exit` inside `MPI_Abort` must not abort
/// again at exit.
static ABORTING: AtomicBool = AtomicBool::new(false);

/// Whether an [`Mpi`] guard started MPI in this process.
static GUARDED: AtomicBool = AtomicBool::new(false);

/// Whether MPI was started by an [`Mpi`] guard, which then finalizes it.
pub(crate) fn guarded() -> bool {
    GUARDED.load(Ordering::SeqCst)
}

/// Arranges for this rank to end the whole job when its process exits: a
/// `Dlb` left an unfinished run (by a panic, or dropped and not joined by
/// the others' cleanup within 10 s) while other ranks may wait for it. For
/// an unfinished run the [`Mpi`] guard also skips `MPI_Finalize`, which
/// would wait for them (a panic skips it anyway). At the process's exit,
/// after the program's own panic or error message, `MPI_Abort` then ends
/// the job, under any launcher: some (MPICH's Hydra across nodes) let the
/// other ranks run on after a process exits without `MPI_Finalize`. Only
/// where a guard started MPI ([`guarded`]); elsewhere the program's
/// `MPI_Finalize` would come first.
pub(crate) fn end_job_at_exit(skip_finalize: bool) {
    if skip_finalize {
        SKIP_FINALIZE.store(true, Ordering::SeqCst);
    }
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: `abort_at_exit` is an `extern "C" fn()` that never
        // unwinds; atexit only stores the pointer. A refusal (no room)
        // leaves the launcher to end the job, as before.
        if unsafe { libc::atexit(abort_at_exit) } != 0 {
            eprintln!("dlb: could not register the job's end at exit (atexit)");
        }
    });
}

/// Ends the job at the process's exit (registered by [`end_job_at_exit`]),
/// unless MPI is no longer up or dlb aborts already. (`exit` may run on
/// another thread than the one that started MPI, as under libtest; MPI_Abort
/// is meant to work from any state, and did in `tests/rank_killed.rs` on
/// both MPIs.)
extern "C" fn abort_at_exit() {
    if !ABORTING.swap(true, Ordering::SeqCst)
        && matches!(is_initialized(), Ok(true))
        && matches!(is_finalized(), Ok(false))
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let _ = writeln!(
            std::io::stderr(),
            "dlb: ending the job (MPI_Abort): this rank left a run that other ranks wait for \
             (see above)"
        );
        // A moment for the launcher to pass the output on (the program's
        // error message, just printed) before MPI_Abort tears the job down.
        std::thread::sleep(std::time::Duration::from_millis(200));
        // SAFETY: MPI is initialized and not finalized (checked above);
        // MPI_COMM_WORLD is a valid predefined communicator.
        unsafe { ffi::MPI_Abort(ffi::dlb_mpi_comm_world(), 1) };
    }
}

/// Finalizes MPI, except when a panic unwinds through the guard or a `Dlb`
/// dropped inside an unfinished run left it (the other ranks did not come
/// to its cleanup within 10 s):
/// `MPI_Finalize` waits for the other ranks (Open MPI's does), which may be
/// waiting for this one, so the process leaves without it and, at its
/// exit, ends the job with `MPI_Abort`.
impl Drop for Mpi {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("dlb: a panic unwound through dlb::Mpi; MPI_Finalize is skipped");
            return;
        }
        if SKIP_FINALIZE.load(Ordering::SeqCst) {
            eprintln!(
                "dlb: MPI_Finalize is skipped: a Dlb was dropped with its run unfinished (see \
                 above)"
            );
            return;
        }
        // A second finalize (the program called MPI_Finalize itself) would be
        // erroneous: check first.
        if matches!(is_finalized(), Ok(false)) {
            // SAFETY: MPI is initialized (this guard exists) and not finalized.
            let rc = unsafe { ffi::MPI_Finalize() };
            if let Err(e) = check("MPI_Finalize", rc) {
                eprintln!("{e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_calls_become_errors_even_without_mpi() {
        let err = check("MPI_Fake", 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Mpi);
        assert_eq!(err.mpi_code(), Some(1));
        assert!(
            err.to_string()
                .starts_with("dlb: MPI_Fake failed with MPI error 1: "),
            "{err}"
        );
        assert!(err.message().contains("not active"), "{err}");
        assert!(check("MPI_Fake", 0).is_ok());
    }

    #[test]
    fn init_is_required() {
        let err = ensure_initialized().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert!(err.message().contains("not initialized"));
    }
}
