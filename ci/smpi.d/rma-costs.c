/* What SMPI charges for one-sided atomics, measured in its virtual time
 * (`ci/smpi --rma-costs`; the simulator's `smpi` latency profile,
 * src/simulate/latency.rs, takes its figures from here). Rank 0 times:
 * MPI_Fetch_and_op + flush on its own window and on a rank of another node
 * (rank 8: the hostfile puts 8 ranks on a node), and MPI_Rget_accumulate
 * alone (whether starting an operation blocks its maker); then every other
 * rank adds to rank 0 50 times (how fast one target serves them), then
 * reads it (MPI_NO_OP) 50 times; then rank 1 (a node-mate) reads rank 0
 * 50 times while the ranks of other nodes add to it 50 times each, and
 * rank 0 adds to its own window 50 times while they do so again; then
 * rank 0 times a read on rank 8, and an add and a read on a node-mate
 * (rank 1). (Those last come last: made right after the 200
 * started operations, they crashed SMPI 3.32 at 256 ranks and more.) */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

/* Microseconds per MPI_Fetch_and_op (`op`) + flush on `target`, over `n`. */
static double fop_us(MPI_Win win, int target, MPI_Op op, int n) {
    int64_t one = 1, old;
    double t0 = MPI_Wtime();
    for (int i = 0; i < n; i++) {
        MPI_Fetch_and_op(&one, &old, MPI_INT64_T, target, 0, op, win);
        MPI_Win_flush(target, win);
    }
    return (MPI_Wtime() - t0) / n * 1e6;
}

/* How fast rank 0 serves `op` from every other rank, 50 each: microseconds
   per operation served (the slowest origin's time per operation over the
   number of origins; on rank 0). */
static double served_us(MPI_Win win, int rank, int size, MPI_Op op) {
    double mine = rank != 0 ? fop_us(win, 0, op, 50) : 0, worst = 0;
    MPI_Reduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    return worst / (size - 1);
}

/* Rank `who` times 50 `op`s on rank 0 while the ranks of other nodes (8
   and up) add to rank 0 50 times each, and prints it as `name`. */
static void among_fops(MPI_Win win, int rank, int size, int who, MPI_Op op, const char *name) {
    if (rank >= 8)
        fop_us(win, 0, MPI_SUM, 50);
    if (rank == who)
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"origins\":%d,\"%s\":%.2f}\n", size, size - 8,
               name, fop_us(win, 0, op, 50));
    MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int64_t *base;
    MPI_Win win;
    MPI_Win_allocate(64, 8, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
    base[0] = 0;
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
    MPI_Barrier(MPI_COMM_WORLD);
    const int n = 200, remote = size > 8 ? 8 : size - 1;
    int64_t one = 1, old;
    if (rank == 0) {
        double t0 = MPI_Wtime();
        for (int i = 0; i < n; i++) {
            MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 0, 0, MPI_SUM, win);
            MPI_Win_flush(0, win);
        }
        double t1 = MPI_Wtime();
        for (int i = 0; i < n; i++) {
            MPI_Fetch_and_op(&one, &old, MPI_INT64_T, remote, 0, MPI_SUM, win);
            MPI_Win_flush(remote, win);
        }
        double t2 = MPI_Wtime();
        for (int i = 0; i < n; i++) {
            MPI_Request r;
            MPI_Rget_accumulate(&one, 1, MPI_INT64_T, &old, 1, MPI_INT64_T, remote, 0, 1, MPI_INT64_T,
                                MPI_SUM, win, &r);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
        }
        double t3 = MPI_Wtime();
        static MPI_Request reqs[200];
        static int64_t olds[200];
        for (int i = 0; i < n; i++)
            MPI_Rget_accumulate(&one, 1, MPI_INT64_T, &olds[i], 1, MPI_INT64_T, remote, 0, 1, MPI_INT64_T,
                                MPI_SUM, win, &reqs[i]);
        double t4 = MPI_Wtime();
        MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE);
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"self_fop_us\":%.2f,\"remote_fop_us\":%.2f,"
               "\"rget_accumulate_wait_us\":%.2f,\"rget_accumulate_start_us\":%.2f}\n",
               size, (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, (t3 - t2) / n * 1e6, (t4 - t3) / n * 1e6);
    }
    MPI_Win_flush_all(win);
    MPI_Barrier(MPI_COMM_WORLD);
    double fop = served_us(win, rank, size, MPI_SUM);
    if (rank == 0)
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"origins\":%d,\"served_per_fop_us\":%.2f}\n", size,
               size - 1, fop);
    MPI_Barrier(MPI_COMM_WORLD);
    double read = served_us(win, rank, size, MPI_NO_OP);
    if (rank == 0)
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"origins\":%d,\"served_per_read_us\":%.2f}\n", size,
               size - 1, read);
    MPI_Barrier(MPI_COMM_WORLD);
    /* A node-mate's reads of rank 0, and rank 0's adds on its own window,
       while the ranks of other nodes add to it: served in turn with theirs,
       or apart? */
    if (size > 8) {
        among_fops(win, rank, size, 1, MPI_NO_OP, "mate_read_among_fops_us");
        among_fops(win, rank, size, 0, MPI_SUM, "self_fop_among_fops_us");
    }
    if (rank == 0 && size > 8) {
        /* One after another, in this order (not as printf arguments, whose
           order C leaves open). */
        double remote_read = fop_us(win, 8, MPI_NO_OP, 200);
        double mate_fop = fop_us(win, 1, MPI_SUM, 200);
        double mate_read = fop_us(win, 1, MPI_NO_OP, 200);
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"remote_read_us\":%.2f,\"mate_fop_us\":%.2f,"
               "\"mate_read_us\":%.2f}\n",
               size, remote_read, mate_fop, mate_read);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_unlock_all(win);
    MPI_Win_free(&win);
    MPI_Finalize();
    return 0;
}
