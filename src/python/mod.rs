//! The Python extension module `dlb._dlb` (feature `python`; built by the
//! `python/` package with maturin): a handle on one `Dlb`, made from an
//! mpi4py communicator's Fortran handle, with the three interfaces' setup
//! and `give_more`, statistics, and dlb's errors as the `dlb.DlbError`
//! exceptions. The Pythonic layer (`dlb.Dlb`, context manager, `chunks()`
//! iterators, the mpi4py checks) is `python/dlb/__init__.py`.
//!
//! A handle is used only on the thread that made it (`unsendable`: another
//! thread gets PyO3's `PanicException`). Every call that may wait for other
//! ranks (init, setup, `give_more`, `print_statistics`, finalize) releases
//! the GIL, so Python threads keep running meanwhile. A handle freed
//! unfinalized runs no collective (see `Drop for Handle`). Like the C API,
//! this is an FFI boundary: a panic becomes a Python exception (PyO3 catches
//! it), never an unwind into the interpreter.

use crate::error::{Error, ErrorKind};
use crate::mapping::{Colors, Contiguous, Mapping, RoundRobin};
use crate::{AtomicsPath, Builder, Dlb, Variant};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(dlb, DlbError, PyException, "Any error dlb reports.");
create_exception!(
    dlb,
    InvalidArgument,
    DlbError,
    "An argument is out of range."
);
create_exception!(dlb, InvalidState, DlbError, "The call is not allowed now.");
create_exception!(
    dlb,
    Mismatch,
    DlbError,
    "Ranks called a collective with different arguments."
);
create_exception!(
    dlb,
    Unsupported,
    DlbError,
    "The configuration is not available here."
);
create_exception!(dlb, MpiError, DlbError, "An MPI call failed.");
create_exception!(
    dlb,
    InternalError,
    DlbError,
    "dlb found a broken invariant of its own."
);

/// dlb's error as the exception of its kind, with dlb's message.
fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::InvalidArgument => InvalidArgument::new_err(message),
        ErrorKind::InvalidState => InvalidState::new_err(message),
        ErrorKind::Mismatch => Mismatch::new_err(message),
        ErrorKind::Unsupported => Unsupported::new_err(message),
        ErrorKind::Mpi => MpiError::new_err(message),
        _ => InternalError::new_err(message),
    }
}

/// The interface of the current run, and its mapping.
enum PyRun {
    Plain(Contiguous),
    Color(Colors),
    Rr(RoundRobin),
}

/// What `Python::detach` may carry: this handle's `Dlb` and run.
struct Detached<'a>(&'a mut Option<Dlb>, &'a mut Option<PyRun>);

// SAFETY: `Python::detach` runs its closure on the calling thread, before it
// returns; the handle that owns these (an `unsendable` pyclass, borrowed
// mutably for the call) is used on that thread only. Nothing moves to or is
// shared with another thread: the bound only lets the GIL be released.
unsafe impl Send for Detached<'_> {}

/// One dlb instance: `dlb._dlb.Handle(comm, ...)` on an mpi4py
/// communicator.
#[pyclass(unsendable, module = "dlb._dlb")]
pub struct Handle {
    dlb: Option<Dlb>,
    run: Option<PyRun>,
}

/// A handle dropped unfinalized (garbage collected, or left by an
/// exception) must not run `Dlb`'s collective drop: the other ranks are
/// not there, and the GIL is held. Its window and communicator are leaked
/// instead, with a warning; MPI frees them at its end.
impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(dlb) = self.dlb.take() {
            eprintln!(
                "dlb: rank {}: a dlb.Dlb was not finalized (use `with dlb.Dlb(...)` or call \
                 finalize() on every rank); its window is left to MPI_Finalize",
                dlb.rank()
            );
            std::mem::forget(dlb);
        }
    }
}

impl Handle {
    /// Runs `f` on the `Dlb` and run with the GIL released.
    fn detached<T: Send>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut Dlb, &mut Option<PyRun>) -> crate::Result<T> + Send,
    ) -> PyResult<T> {
        // `f` is Send (it captures no Python object); `Detached` carries
        // the `Dlb`, and the call completes on this thread.
        // After MPI_Finalize (mpi4py's, or the program's) any MPI call of
        // dlb's would crash or abort the job.
        if self.dlb.is_some() {
            crate::mpi::ensure_active().map_err(|_| {
                to_py(Error::invalid_state(
                    "MPI is finalized: finalize dlb first (d.finalize(), or a with block)",
                ))
            })?;
        }
        let state = Detached(&mut self.dlb, &mut self.run);
        py.detach(move || {
            let state = state;
            match state.0.as_mut() {
                Some(dlb) => f(dlb, state.1),
                None => Err(Error::invalid_state(
                    "dlb was finalized (create a new dlb.Dlb)",
                )),
            }
        })
        .map_err(to_py)
    }
}

/// A `Dlb` (or the result of making one) carried through
/// `Python::detach`, which needs Send: a `Dlb` is not (its window holds
/// raw pointers).
struct OnThisThread<T>(T);

// SAFETY: `Python::detach` runs its closure on the calling thread before it
// returns, so the value never reaches another thread; it is a `Dlb` or a
// `Result<Dlb>`, which holds no Python object (no GIL-bound data is used
// without the GIL).
unsafe impl Send for OnThisThread<crate::Result<Dlb>> {}
// SAFETY: as above, for the `Dlb` that `finalize` consumes.
unsafe impl Send for OnThisThread<Dlb> {}

fn variant_of(name: &str) -> PyResult<Variant> {
    match name {
        "rma" => Ok(Variant::Rma),
        "static" => Ok(Variant::Static),
        other => Err(InvalidArgument::new_err(format!(
            "variant '{other}': use 'rma' or 'static'"
        ))),
    }
}

fn atomics_of(name: &str) -> PyResult<AtomicsPath> {
    match name {
        "shm" => Ok(AtomicsPath::Shm),
        "mpi" => Ok(AtomicsPath::Mpi),
        "hybrid" => Ok(AtomicsPath::Hybrid),
        other => Err(InvalidArgument::new_err(format!(
            "atomics '{other}': use 'shm', 'mpi' or 'hybrid'"
        ))),
    }
}

#[pymethods]
impl Handle {
    /// Initializes dlb on a duplicate of the mpi4py intracommunicator
    /// `comm` (through `comm.py2f()`, mpi4py's documented conversion).
    /// Collective. The Python layer checks first that mpi4py runs on dlb's
    /// MPI library.
    #[new]
    #[pyo3(signature = (comm, variant=None, atomics=None, seed=0, trace=None, verbose=None, refuse=false))]
    // (pyo3 takes Python's keyword arguments one by one.)
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        comm: &Bound<'_, PyAny>,
        variant: Option<&str>,
        atomics: Option<&str>,
        seed: u64,
        trace: Option<String>,
        verbose: Option<bool>,
        refuse: bool,
    ) -> PyResult<Handle> {
        let mpi = py.import("mpi4py.MPI")?;
        if !comm.is_instance(&mpi.getattr("Intracomm")?)? {
            return Err(PyTypeError::new_err(
                "dlb needs an mpi4py intracommunicator (such as MPI.COMM_WORLD)",
            ));
        }
        let fcomm: dlb_sys::RSMPI_Fint = comm.call_method0("py2f")?.extract()?;
        let mut builder = Builder::default().seed(seed);
        // A wrong name (or, with `refuse`, an argument the Python layer
        // refused) still takes part in init's first collective, so that
        // every rank fails instead of the others waiting; then its own
        // error is raised.
        let mut wrong = None;
        match variant.map(variant_of).transpose() {
            Ok(v) => builder.variant = v,
            Err(e) => wrong = Some(e),
        }
        match atomics.map(atomics_of).transpose() {
            Ok(a) => builder.atomics = a,
            Err(e) => wrong = wrong.or(Some(e)),
        }
        builder.refused = refuse || wrong.is_some();
        if let Some(t) = trace {
            builder = builder.trace(t);
        }
        if let Some(on) = verbose {
            builder = builder.verbose(on);
        }
        let dlb = py.detach(move || {
            // SAFETY: `fcomm` is what mpi4py's `py2f()` gave for an
            // intracommunicator object (checked above), which mpi4py keeps
            // alive while the object lives (it is borrowed for this call);
            // the Python layer has checked that mpi4py's MPI is dlb's and is
            // initialized; MPI_COMM_NULL is refused by `init_from_fortran`.
            OnThisThread(unsafe { builder.init_from_fortran(fcomm) })
        });
        if let Some(e) = wrong {
            return Err(e);
        }
        Ok(Handle {
            dlb: Some(dlb.0.map_err(to_py)?),
            run: None,
        })
    }

    /// This rank in dlb's communicator.
    #[getter]
    fn rank(&self) -> PyResult<usize> {
        self.alive().map(Dlb::rank)
    }

    /// The number of ranks.
    #[getter]
    fn size(&self) -> PyResult<usize> {
        self.alive().map(Dlb::size)
    }

    /// The variant in use: 'rma' or 'static'.
    #[getter]
    fn variant(&self) -> PyResult<&'static str> {
        self.alive().map(|d| d.variant().name())
    }

    /// The atomics path ('shm', 'mpi', 'hybrid'), None for 'static'.
    #[getter]
    fn atomics(&self) -> PyResult<Option<&'static str>> {
        self.alive().map(|d| d.atomics_path().map(|p| p.name()))
    }

    /// Starts a run of `jobs` jobs (IDs 0..jobs). Collective.
    fn setup(&mut self, py: Python<'_>, jobs: u64) -> PyResult<()> {
        self.detached(py, |dlb, run| {
            *run = Some(PyRun::Plain(dlb.start_plain(jobs)?));
            Ok(())
        })
    }

    /// Starts a run over colors: color `i` has `distr[i]` jobs. Collective.
    fn setup_color(&mut self, py: Python<'_>, distr: Vec<u64>) -> PyResult<()> {
        self.detached(py, move |dlb, run| {
            *run = Some(PyRun::Color(dlb.start_color(&distr)?));
            Ok(())
        })
    }

    /// Starts a round-robin run of `jobs` jobs. Collective.
    fn setup_rr(&mut self, py: Python<'_>, jobs: u64) -> PyResult<()> {
        self.detached(py, |dlb, run| {
            *run = Some(PyRun::Rr(dlb.start_rr(jobs)?));
            Ok(())
        })
    }

    /// The next chunk as `(color, start, stop, step)` (color -1 for the
    /// plain and round-robin interfaces), or None when every job of the run
    /// is done on every rank.
    fn give_more(
        &mut self,
        py: Python<'_>,
        maxjobs: u64,
    ) -> PyResult<Option<(i64, u64, u64, u64)>> {
        self.detached(py, |dlb, run| match run {
            None => Err(Error::invalid_state(
                "give_more before setup (call setup, setup_color or setup_rr first)",
            )),
            Some(PyRun::Plain(m)) => Ok(dlb
                .next_chunk(m, maxjobs)?
                .map(|p| m.chunk(p))
                .map(|r| (-1, r.start, r.end, 1))),
            Some(PyRun::Color(m)) => Ok(dlb
                .next_chunk(m, maxjobs)?
                .map(|p| m.chunk(p))
                .map(|(c, r)| (c as i64, r.start, r.end, 1))),
            Some(PyRun::Rr(m)) => Ok(dlb
                .next_chunk(m, maxjobs)?
                .map(|p| m.chunk(p))
                .map(|s| (-1, s.start, s.end, s.stride))),
        })
    }

    /// This rank's figures for the last run, as a dict (seconds as floats).
    fn statistics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.alive()?.statistics();
        let d = PyDict::new(py);
        let secs = |x: std::time::Duration| x.as_secs_f64();
        d.set_item("jobs", s.jobs)?;
        d.set_item("calls", s.calls)?;
        d.set_item("time_in_give_more", secs(s.time_in_give_more))?;
        d.set_item("final_call", secs(s.final_call))?;
        d.set_item("longest_wait", secs(s.longest_wait))?;
        d.set_item("total_wait", secs(s.total_wait))?;
        d.set_item("busy", secs(s.busy))?;
        d.set_item("setup_to_end", s.setup_to_end.map(secs))?;
        d.set_item("steal_attempts", s.steal_attempts)?;
        d.set_item("steals", s.steals)?;
        d.set_item("units_stolen", s.units_stolen)?;
        d.set_item("claims", s.claims)?;
        d.set_item("claim_retries", s.claim_retries)?;
        d.set_item("reports", s.reports)?;
        d.set_item("last_slices", s.last_slices.map(|x| x.map(secs)).to_vec())?;
        d.set_item("longest_slice", s.longest_slice.map(secs))?;
        d.set_item("shortest_slice", s.shortest_slice.map(secs))?;
        d.set_item("last_done_ns", s.last_done_ns)?;
        d.set_item("told_ns", s.told_ns)?;
        Ok(d)
    }

    /// DLB's print_statistics: collective, printed on rank 0 (levels 0-4).
    /// `None` is the level of a rank whose level the Python layer refused:
    /// it takes part (the others then fail on the mismatch) and prints
    /// nothing.
    #[pyo3(signature = (level))]
    fn print_statistics(&mut self, py: Python<'_>, level: Option<u32>) -> PyResult<()> {
        let report = self.detached(py, move |dlb, _| match level {
            Some(level) => dlb.statistics_report(level),
            None => dlb.refuse_statistics().map(|()| None),
        })?;
        if let Some(text) = report {
            // Through Python's sys.stdout, so that it interleaves with print().
            py.import("sys")?
                .getattr("stdout")?
                .call_method1("write", (text,))?;
        }
        Ok(())
    }

    /// Frees dlb's window and communicator. Collective; once (later calls
    /// do nothing).
    fn finalize(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(dlb) = self.dlb.take() else {
            return Ok(());
        };
        self.run = None;
        let dlb = OnThisThread(dlb);
        py.detach(move || {
            let dlb = dlb;
            dlb.0.finalize()
        })
        .map_err(to_py)
    }

    /// Whether `finalize` has not run yet.
    #[getter]
    fn active(&self) -> bool {
        self.dlb.is_some()
    }
}

impl Handle {
    fn alive(&self) -> PyResult<&Dlb> {
        self.dlb
            .as_ref()
            .ok_or_else(|| InvalidState::new_err("dlb was finalized (create a new dlb.Dlb)"))
    }
}

/// The MPI library dlb was built with (`MPI_Get_library_version`).
#[pyfunction]
fn library_version() -> PyResult<String> {
    crate::library_version().map_err(to_py)
}

/// What dlb was compiled against, fixed at build time: the MPI's family
/// ('Open MPI' or 'MPICH') and the size of its `MPI_Comm`. Compared with
/// mpi4py's `MPI.get_vendor()` and `MPI._sizeof(MPI.Comm)`: unlike
/// `library_version`, these cannot be answered by another MPI's symbols
/// that happen to be loaded first.
#[pyfunction]
fn mpi_abi() -> (&'static str, usize) {
    let family = if dlb_sys::DLB_MPI_IS_OPEN_MPI == 1 {
        "Open MPI"
    } else {
        "MPICH"
    };
    (family, std::mem::size_of::<dlb_sys::MPI_Comm>())
}

/// The module `dlb._dlb`.
#[pymodule]
pub fn _dlb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Handle>()?;
    m.add_function(wrap_pyfunction!(library_version, m)?)?;
    m.add_function(wrap_pyfunction!(mpi_abi, m)?)?;
    m.add("__version__", crate::VERSION)?;
    m.add("DlbError", py.get_type::<DlbError>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("InvalidState", py.get_type::<InvalidState>())?;
    m.add("Mismatch", py.get_type::<Mismatch>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    m.add("MpiError", py.get_type::<MpiError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
