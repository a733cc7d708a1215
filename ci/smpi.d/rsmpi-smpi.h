/* Pre-included (after mpi.h) only when ci/smpi.d/smpicc compiles mpi-sys's
 * C shim, rsmpi.c. SMPI's MPI_COMM_WORLD is a variable and MPI_COMM_SELF a
 * function call, so the shim's `const MPI_Comm RSMPI_COMM_WORLD =
 * MPI_COMM_WORLD;` does not compile as C. Here both become MPI_COMM_NULL:
 * dlb never reads RSMPI_COMM_WORLD or RSMPI_COMM_SELF (it asks dlb-sys's
 * shim, dlb_mpi_comm_world(), at run time), and a Rust program on SMPI
 * must not either. */
#undef MPI_COMM_WORLD
#define MPI_COMM_WORLD MPI_COMM_NULL
#undef MPI_COMM_SELF
#define MPI_COMM_SELF MPI_COMM_NULL
