# Sourced by the ci/ scripts: launcher settings per MPI.
# Open MPI refuses root without these, needs --oversubscribe for more ranks
# than cores, and spins idle ranks unless told to yield.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_rmaps_base_oversubscribe=1

# use_mpi openmpi|mpich: selects the MPI for cargo (one target dir each, as
# mpi-sys does not rebuild when the selection changes) and the launcher the
# tests use.
use_mpi() {
    case "$1" in
    openmpi)
        export MPICC=mpicc.openmpi MPIFC=mpif90.openmpi
        export CARGO_TARGET_DIR="$PWD/target/openmpi"
        export DLB_MPIEXEC="mpirun.openmpi --oversubscribe"
        ;;
    mpich)
        export MPICC=mpicc.mpich MPIFC=mpif90.mpich
        export CARGO_TARGET_DIR="$PWD/target/mpich"
        export DLB_MPIEXEC="mpiexec.mpich"
        ;;
    *) echo "use_mpi: unknown MPI $1" >&2; return 1 ;;
    esac
}
