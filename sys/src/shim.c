/* Definitions of the handles and functions declared in ../wrapper.h.
 * Compiled with the MPI's own mpicc so that each initializer is that MPI's
 * definition (and, on SMPI, the clock and the sleep are virtual). */
#include "wrapper.h"

#include <time.h>

const MPI_Op DLB_MPI_NO_OP = MPI_NO_OP;
const MPI_Op DLB_MPI_REPLACE = MPI_REPLACE;
const MPI_Datatype DLB_MPI_CHAR = MPI_CHAR;

MPI_Comm dlb_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Comm dlb_mpi_comm_self(void) { return MPI_COMM_SELF; }

uint64_t dlb_mpi_clock_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dlb_mpi_sleep_ns(uint64_t ns) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    (void)nanosleep(&ts, NULL);
}
