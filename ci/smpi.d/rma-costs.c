/* What SMPI charges for one-sided atomics, measured in its virtual time
 * (`ci/smpi --rma-costs`; the simulator's `smpi` latency profile,
 * src/simulate/latency.rs, takes its figures from here). Rank 0 times:
 * MPI_Fetch_and_op + flush on its own window and on a rank of another node
 * (rank 8: the hostfile puts 8 ranks on a node), and MPI_Rget_accumulate
 * alone (whether starting an operation blocks its maker); then every other
 * rank adds to rank 0 50 times (how fast one target serves them). */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

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
    double c0 = MPI_Wtime();
    if (rank != 0)
        for (int i = 0; i < 50; i++) {
            MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 0, 0, MPI_SUM, win);
            MPI_Win_flush(0, win);
        }
    double mine = MPI_Wtime() - c0, worst;
    MPI_Reduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("{\"bench\":\"smpi_rma_costs\",\"ranks\":%d,\"origins\":%d,\"served_per_fop_us\":%.2f}\n", size,
               size - 1, worst * 1e6 / (50.0 * (size - 1)));
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_unlock_all(win);
    MPI_Win_free(&win);
    MPI_Finalize();
    return 0;
}
