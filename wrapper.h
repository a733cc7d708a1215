/*
 * wrapper.h: what dlb needs from MPI-3 that mpi-sys does not export.
 *
 * bindgen reads this file (sys/build.rs) and generates Rust declarations for
 * the DLB_* names only; the MPI types themselves (MPI_Op, MPI_Comm, ...) are
 * taken from mpi-sys so that handles pass between rsmpi and dlb without casts.
 *
 * - Handles that are link-time globals in Open MPI and cast macros in MPICH
 *   (MPI_NO_OP, MPI_REPLACE) are exported as `extern const`, defined in
 *   sys/src/shim.c, which is compiled with the same MPI's mpicc; so is
 *   dlb_mpi_comm_world() and dlb_mpi_comm_self(), for MPIs whose
 *   MPI_COMM_WORLD and MPI_COMM_SELF are no constants.
 * - Integer constants whose name and type differ between MPIs are normalized
 *   to `int` in an enum: bindgen evaluates them, so no C code is needed.
 * - The probe values at the end let the Rust side check at compile time that
 *   mpi-sys and dlb-sys were built against the same MPI.
 */
#ifndef DLB_WRAPPER_H
#define DLB_WRAPPER_H

#include <mpi.h>
#include <stdint.h>

extern const MPI_Op DLB_MPI_NO_OP;
extern const MPI_Op DLB_MPI_REPLACE;
extern const MPI_Datatype DLB_MPI_CHAR;

/* MPI_COMM_WORLD, read at run time: in SimGrid's SMPI it is a variable, so
 * mpi-sys's RSMPI_COMM_WORLD (a constant initialized from it) cannot be
 * built there as it is (see ci/smpi.d/smpicc). */
MPI_Comm dlb_mpi_comm_world(void);
/* MPI_COMM_SELF, read at run time for the same reason (a function call in
 * SMPI). */
MPI_Comm dlb_mpi_comm_self(void);

/* A monotonic clock in nanoseconds, and a sleep. dlb uses them only when
 * built against SimGrid's SMPI: shim.c is compiled with smpicc there, whose
 * pre-included smpi_helpers.h turns clock_gettime and nanosleep into the
 * simulation's virtual-time versions. */
uint64_t dlb_mpi_clock_ns(void);
void dlb_mpi_sleep_ns(uint64_t ns);

enum dlb_mpi_int_constants {
    DLB_MPI_LOCK_SHARED = MPI_LOCK_SHARED,
    DLB_MPI_LOCK_EXCLUSIVE = MPI_LOCK_EXCLUSIVE,
    DLB_MPI_MODE_NOCHECK = MPI_MODE_NOCHECK,
    DLB_MPI_WIN_MODEL = MPI_WIN_MODEL,
    DLB_MPI_WIN_UNIFIED = MPI_WIN_UNIFIED,
    DLB_MPI_WIN_SEPARATE = MPI_WIN_SEPARATE,
    DLB_MPI_WIN_CREATE_FLAVOR = MPI_WIN_CREATE_FLAVOR,
    DLB_MPI_COMM_TYPE_SHARED = MPI_COMM_TYPE_SHARED,
    DLB_MPI_SUCCESS = MPI_SUCCESS,
    DLB_MPI_MAX_ERROR_STRING = MPI_MAX_ERROR_STRING,
    DLB_MPI_MAX_LIBRARY_VERSION_STRING = MPI_MAX_LIBRARY_VERSION_STRING,
    DLB_MPI_THREAD_SINGLE = MPI_THREAD_SINGLE,
    DLB_MPI_UNDEFINED = MPI_UNDEFINED,
    DLB_MPI_VERSION = MPI_VERSION,
    DLB_MPI_SUBVERSION = MPI_SUBVERSION,
    /* Compile-time probes of the MPI this header was read against. */
    DLB_SIZEOF_MPI_COMM = sizeof(MPI_Comm),
    DLB_SIZEOF_MPI_AINT = sizeof(MPI_Aint),
#if defined(OPEN_MPI)
    DLB_MPI_IS_OPEN_MPI = 1,
    DLB_OMPI_MAJOR_VERSION = OMPI_MAJOR_VERSION,
#else
    DLB_MPI_IS_OPEN_MPI = 0,
    DLB_OMPI_MAJOR_VERSION = 0,
#endif
#if defined(MPICH)
    DLB_MPI_IS_MPICH = 1
#else
    DLB_MPI_IS_MPICH = 0
#endif
};

#endif /* DLB_WRAPPER_H */
