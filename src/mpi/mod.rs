//! The safe layer over MPI: the only module (with the future C API) that
//! contains `unsafe`.
//!
//! It owns three things: turning MPI return codes into [`Error`]s (no code is
//! ever discarded), the private communicator ([`Comm`]), and RMA windows with
//! their atomics ([`Window`]). Each wrapper names the section of the MPI-4.0
//! standard it wraps. Every `unsafe` block carries a `// SAFETY:` comment.

mod comm;
mod environment;
#[cfg(feature = "simulate")]
pub(crate) mod host_threads;
#[cfg(dlb_smpi)]
pub(crate) mod simulated;
mod timer_slack;
mod tool;
mod window;

#[cfg(feature = "python")]
pub(crate) use comm::comm_from_fortran;
pub(crate) use comm::Comm;
pub use environment::library_version;
pub use environment::Mpi;
pub(crate) use environment::{
    abort, abort_with, end_job_at_exit, ensure_active, ensure_initialized, guarded, watch_finalize,
};
pub(crate) use timer_slack::PreciseSleeps;
pub(crate) use tool::cvar_string;
pub use window::WindowFlavor;
pub(crate) use window::{RmaOp, RmaRequest, Window};

/// `MPI_REQUEST_NULL`: the handle of a request not started, or completed.
fn request_null() -> dlb_sys::MPI_Request {
    // SAFETY: a read of an immutable predefined handle (mpi-sys's shim,
    // initialized when the library is loaded).
    unsafe { dlb_sys::RSMPI_REQUEST_NULL }
}
