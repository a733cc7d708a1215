//! dlb's C and Fortran library: `libdlbrma.so` and `libdlbrma.a`, the C API
//! of the [`dlb`] crate (its `capi` feature, declared in
//! `include/dlbrma.h`; Fortran through `fortran/dlb.f90`).
//!
//! The library is named `dlbrma`, not `dlb`, so that a cluster can install
//! it beside the Barcelona Supercomputing Center's DLB (dynamic load
//! balancing for MPI+OpenMP), which Spack and EasyBuild package as `dlb`
//! with `libdlb.so`, `dlb.h` and `dlb.pc`. The C functions keep their
//! `dlb_` prefix (BSC DLB's are `DLB_`), and the Fortran module keeps the
//! name `dlb`, for source compatibility with programs written for the
//! Fortran DLB library.
//!
//! This crate holds no code of its own: building it (`cargo build --release
//! -p dlbrma`, which the repository's plain `cargo build` includes) links
//! the C API's symbols into the two libraries and writes `dlbrma.pc`.

pub use dlb::capi::*;
