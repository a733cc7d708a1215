//! SimGrid's SMPI (`cfg(dlb_smpi)`): the simulation's virtual clock and
//! sleep, through dlb-sys's shim (see `wrapper.h`). Under SMPI every rank is
//! a simulated process of one real thread: a real sleep would stop the
//! whole simulation, and real time says nothing about the simulated one.

use dlb_sys as ffi;
use std::time::Duration;

/// Virtual nanoseconds since the simulation began.
pub(crate) fn clock_ns() -> u64 {
    // SAFETY: takes no arguments and only reads the simulation's clock
    // (clock_gettime, redirected by smpicc's smpi_helpers.h).
    unsafe { ffi::dlb_mpi_clock_ns() }
}

/// Lets `d` of virtual time pass for this rank; the others run meanwhile.
pub(crate) fn sleep(d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: takes a plain integer; nanosleep is redirected to SMPI's.
    unsafe { ffi::dlb_mpi_sleep_ns(ns) }
}
