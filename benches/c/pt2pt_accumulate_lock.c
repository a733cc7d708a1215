/* Open MPI 4.1's osc/pt2pt between two ranks of one node: does a fetching
 * atomic keep its target's window locked while its origin computes?
 *
 * Rank 0 starts MPI_Rget_accumulate (or, with the argument `raccumulate`,
 * MPI_Raccumulate, which fetches nothing) on a word of rank 1 and sleeps
 * 1 s outside MPI. Rank 1 sleeps 100 ms, then serves the operation
 * (MPI_Win_sync every millisecond for 100 ms), reads whether its update is
 * visible in its memory, then makes MPI_Fetch_and_op on a word of its own
 * window and MPI_Win_flush, and prints how long each took and the CPU time
 * used.
 *
 *   mpicc.openmpi -O2 -o pt2pt_accumulate_lock benches/c/pt2pt_accumulate_lock.c
 *   OMPI_MCA_osc=pt2pt mpiexec.openmpi -n 2 ./pt2pt_accumulate_lock
 *   OMPI_MCA_osc=pt2pt mpiexec.openmpi -n 2 ./pt2pt_accumulate_lock raccumulate
 *   OMPI_MCA_osc=pt2pt OMPI_MCA_btl=self,tcp mpiexec.openmpi -n 2 ./pt2pt_accumulate_lock
 *   OMPI_MCA_osc=sm mpiexec.openmpi -n 2 ./pt2pt_accumulate_lock
 *   mpicc.mpich -O2 -o pt2pt_accumulate_lock_mpich benches/c/pt2pt_accumulate_lock.c
 *   mpiexec.mpich -n 2 ./pt2pt_accumulate_lock_mpich
 *
 * Measured here (Open MPI 4.1.4, 2026-12-06): on osc/pt2pt over btl/vader
 * (the default within a node) the fetch-and-op took 0.79-0.92 s, 0.3 s to
 * all of it CPU (it yields; less when other processes want the cores), and
 * the update was not visible yet (osc/pt2pt applies a fetching accumulate
 * once its reply has been sent); 0.000 s over btl/tcp (update visible), on
 * osc/sm, on MPICH 4.0.2, and with `raccumulate` (whose operation stays in
 * rank 0's buffer until something sends it: not visible either). See
 * BENCHMARKS.md, "Idle CPU". */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
           1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static void check(int rc, const char *what)
{
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "%s failed (%d)\n", what, rc);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int main(int argc, char **argv)
{
    check(MPI_Init(&argc, &argv), "MPI_Init");
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0)
            fprintf(stderr, "run on 2 ranks of one node\n");
        MPI_Finalize();
        return 2;
    }
    int fetching = !(argc > 1 && strcmp(argv[1], "raccumulate") == 0);
    uint64_t *base;
    MPI_Win win;
    check(MPI_Win_allocate(2 * sizeof(uint64_t), sizeof(uint64_t), MPI_INFO_NULL,
                           MPI_COMM_WORLD, &base, &win), "MPI_Win_allocate");
    base[0] = base[1] = 0;
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, win), "MPI_Win_lock_all");
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    uint64_t one = 1, result;
    if (rank == 0) {
        MPI_Request request;
        int done;
        if (fetching)
            check(MPI_Rget_accumulate(&one, 1, MPI_UINT64_T, &result, 1, MPI_UINT64_T, 1, 0, 1,
                                      MPI_UINT64_T, MPI_SUM, win, &request),
                  "MPI_Rget_accumulate");
        else
            check(MPI_Raccumulate(&one, 1, MPI_UINT64_T, 1, 0, 1, MPI_UINT64_T, MPI_SUM, win,
                                  &request),
                  "MPI_Raccumulate");
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        sleep_ms(1000); /* computing, outside MPI */
        check(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait");
    } else {
        sleep_ms(100);
        for (int i = 0; i < 100; i++) { /* serve rank 0's operation */
            check(MPI_Win_sync(win), "MPI_Win_sync");
            sleep_ms(1);
        }
        check(MPI_Win_sync(win), "MPI_Win_sync");
        /* A load of a word of one's own window after MPI_Win_sync (the
         * unified model): 1 once rank 0's operation was applied. */
        int arrived = base[0] == 1;
        double t0 = MPI_Wtime(), c0 = cpu_seconds();
        check(MPI_Fetch_and_op(&one, &result, MPI_UINT64_T, 1, 1, MPI_SUM, win),
              "MPI_Fetch_and_op");
        double t1 = MPI_Wtime();
        check(MPI_Win_flush(1, win), "MPI_Win_flush");
        double t2 = MPI_Wtime();
        printf("rank 1: fetch-and-op on its own word took %.3f s, the flush %.3f s, %.3f s of CPU "
               "(rank 0 sleeps 1 s after its %s on rank 1, which %s)\n",
               t1 - t0, t2 - t1, cpu_seconds() - c0,
               fetching ? "MPI_Rget_accumulate" : "MPI_Raccumulate",
               arrived ? "had arrived" : "had NOT arrived");
    }
    check(MPI_Win_unlock_all(win), "MPI_Win_unlock_all");
    check(MPI_Win_free(&win), "MPI_Win_free");
    MPI_Finalize();
    return 0;
}
