/*
 * dlbrma.h: the C interface of dlb, dynamic load balancing for MPI programs
 * with MPI-3 one-sided atomics. DLB's interface (the Fortran DLB library),
 * with 0-based IDs and half-open ranges. The library is libdlbrma (not
 * libdlb) so that it can be installed beside BSC's DLB, which installs
 * libdlb and dlb.h.
 *
 * Build:  cargo build --release -p dlbrma
 * Link:   mpicc prog.c $(pkg-config --cflags --libs target/release/dlbrma.pc)
 *
 * Every function but dlb_strerror returns a non-negative value on success
 * and a negative DLB_ERR_* code on failure; dlb_strerror() gives the
 * message. All calls are made from the thread that called dlb_init (dlb
 * needs MPI_THREAD_SINGLE; from another thread a call is
 * DLB_ERR_INVALID_STATE), between MPI_Init and MPI_Finalize: after
 * MPI_Finalize every call is DLB_ERR_INVALID_STATE. Collective calls check
 * their arguments together, so that bad ones fail on every rank; misuse of
 * the order of calls (dlb_init or dlb_finalize twice) fails only on the
 * ranks that make it, while the others wait in the collective. A rank that
 * exits without dlb_finalize runs no collective cleanup on its way out.
 * Checked against the Rust definitions at build time (build.rs runs bindgen
 * over this file).
 */
#ifndef DLBRMA_H
#define DLBRMA_H

#include <mpi.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t dlb_int; /* DLB's idlb_kind: 8 bytes */

#define DLB_ERR_INVALID_ARGUMENT (-1) /* an argument is out of range */
#define DLB_ERR_INVALID_STATE (-2)    /* not initialized, no setup, mixed interfaces, ... */
#define DLB_ERR_MISMATCH (-3)         /* ranks passed different arguments to a collective */
#define DLB_ERR_UNSUPPORTED (-4)      /* not available on this machine or MPI */
#define DLB_ERR_MPI (-5)              /* an MPI call failed */
#define DLB_ERR_INTERNAL (-6)         /* dlb found a broken invariant of its own */
#define DLB_ERR_PANIC (-7)            /* a panic inside dlb, caught at the boundary */

/* Collective over comm (duplicated privately). 0 or a negative error code. */
int dlb_init(MPI_Comm comm);
/* dlb_init for a Fortran communicator handle (used by fortran/dlb.f90). */
int dlb_init_f(MPI_Fint comm);
/* Collective. */
int dlb_finalize(void);

/* Collective: a run of njobs jobs, IDs 0 <= id < njobs. */
int dlb_setup(dlb_int njobs);
/* 1: run the 0-based IDs jobs[0] <= id < jobs[1] (1..maxjobs of them);
 * 0: no more, ever (every job of the run is done on every rank); <0: error. */
int dlb_give_more(dlb_int maxjobs, dlb_int jobs[2]);

/* Collective: color c has distr[c] jobs. */
int dlb_setup_color(const dlb_int *distr, dlb_int ncolors);
/* color is 0-based (-1 when 0 is returned); IDs are 0-based within the color. */
int dlb_give_more_color(dlb_int maxjobs, dlb_int *color, dlb_int jobs[2]);

/* Collective: rank r of p starts with the IDs r, r + p, r + 2p, ... */
int dlb_setup_rr(dlb_int njobs);
/* 1: run IDs jobs[0], jobs[0]+jobs[2], ... while < jobs[1];
 * 0: no more, ever (jobs[0] = jobs[1] = 0, jobs[2] = 1); <0: error. */
int dlb_give_more_rr(dlb_int maxjobs, dlb_int jobs[3]);

/* Collective at every level; prints on rank 0. Ranks that pass different
 * levels all get DLB_ERR_MISMATCH; a rank that passes a negative level
 * gets DLB_ERR_INVALID_ARGUMENT (and the others DLB_ERR_MISMATCH). */
int dlb_print_statistics(int level);

/* The message for a negative code (the last error's own text if err is its
 * code). Valid until the next failing call. */
const char *dlb_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* DLBRMA_H */
