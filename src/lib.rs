//! Dynamic load balancing for MPI programs with nothing but MPI-3 one-sided
//! atomics.
//!
//! A program has `N` jobs whose costs differ. dlb hands job IDs out in
//! chunks, each ID exactly once: every rank starts with a block of IDs and
//! exposes what is left of it in an RMA window; it claims chunks from its own
//! block, and a rank that runs dry steals half of another rank's remainder.
//! Claims and steals are single-word compare-and-swaps, inside one
//! passive-target epoch: lock-free, no messages, no threads. `give_more`
//! answers "no more" on a rank only when every job has been completed on
//! every rank. On one node the same protocol runs on CPU atomics over an
//! MPI shared-memory window.
//!
//! The interface follows the Fortran DLB library: init and finalize, then
//! any number of runs, each a `setup` (plain, color or round-robin) and
//! `give_more` until it answers `None`.
//!
//! ```no_run
//! let _mpi = dlb::Mpi::init()?;
//! let mut dlb = dlb::Dlb::init()?;
//!
//! let mut run = dlb.setup(20)?;
//! while let Some(jobs) = run.give_more(2)? {
//!     for id in jobs { /* job `id` */ }
//! }
//!
//! let mut run = dlb.setup_color(&[10, 13, 0, 9])?;
//! while let Some((color, jobs)) = run.give_more(3)? {
//!     for id in jobs { /* job `id` of `color` */ }
//! }
//!
//! let mut run = dlb.setup_rr(20)?;
//! while let Some(jobs) = run.give_more(2)? {
//!     for id in jobs.iter() { /* job `id` */ }
//! }
//! dlb.finalize()?;
//! # Ok::<(), dlb::Error>(())
//! ```
//!
//! How the protocol works and why it hands out every job exactly once is
//! explained at the top of `src/protocol/mod.rs`.
#![warn(missing_docs)]
// No function in src/ over clippy.toml's 80 lines.
#![warn(clippy::too_many_lines)]

mod atomics;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
mod builder;
#[doc(hidden)]
#[cfg(feature = "capi")]
pub mod capi;
mod clock;
pub mod collectives;
mod config;
mod diagnostics;
mod dispenser;
mod dlb;
mod error;
mod init;
mod json;
mod mapping;
mod model_check;
mod mpi;
mod passive_probe;
mod protocol;
mod provenance;
#[cfg(feature = "python")]
#[doc(hidden)]
pub mod python;
mod report;
#[doc(hidden)]
pub mod rng;
mod run;
#[cfg(feature = "simulate")]
pub mod simulate;
mod stats;
mod trace;
mod verbose;
#[doc(hidden)]
pub mod workloads;

pub use crate::builder::Builder;
pub use crate::config::{AtomicsPath, Schedule, Variant};
pub use crate::dlb::{Dlb, MAX_JOBS};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::mapping::{Colors, Contiguous, RoundRobin, Strided};
pub use crate::mpi::{library_version, Mpi, WindowFlavor};
pub use crate::run::Run;
pub use crate::stats::Statistics;

/// Raw MPI bindings (mpi-sys plus what it lacks), for `Builder::init_with`.
pub use dlb_sys as sys;

/// This library's version (the crate's), for reports and provenance.
///
/// ```
/// assert!(dlb::VERSION.starts_with("0."));
/// ```
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
