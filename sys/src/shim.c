/* Definitions of the handles declared in ../wrapper.h. Compiled with the
 * MPI's own mpicc so that each initializer is that MPI's definition. */
#include "wrapper.h"

const MPI_Op DLB_MPI_NO_OP = MPI_NO_OP;
const MPI_Op DLB_MPI_REPLACE = MPI_REPLACE;
const MPI_Datatype DLB_MPI_CHAR = MPI_CHAR;
