/* The SMPI driver of ci/smpi: one job runs the same workload under dlb (its
 * C API) and under the baselines, with job costs in SimGrid's virtual time
 * (smpi_execute), and checks that every job ID ran exactly once under each.
 *
 *   driver WORKLOAD JOBS_PER_RANK MEAN_MS
 *
 * WORKLOAD: uniform (0.5-1.5 x mean), ramp (cost grows with the ID),
 * block (the first eighth of the IDs cost 8 x the rest), seed (the seed
 * example's 1-8 units). Strategies, in this order, each after a barrier:
 *   dlb            dlb_setup + dlb_give_more(1) (dlb's RMA variant), as
 *                  by default: on SMPI with direct steals (idle ranks of a
 *                  dry node steal from other nodes' ranges over MPI atomics)
 *   dlb_marks      the same with DLB_DIRECT_STEALS=0 (ranks of different
 *                  nodes move work by hunger marks that owners answer), in
 *                  a dlb initialized for it before the timed run
 *   static         block split, no communication
 *   global_counter one MPI_Fetch_and_op counter on rank 0
 *   master_worker  rank 0 hands out one ID per message and computes nothing
 *   lock_steal     the Fortran DLB library's RMA variant in outline: ranges
 *                  changed under exclusive locks, a done counter on rank 0
 * DRIVER_STRATEGIES (a comma-separated list of those names; unset or empty:
 * all) runs only those, in the same order, so that ci/smpi can run the slow
 * ones as jobs of their own beside the others.
 * Rank 0 prints one JSON line per strategy: makespan (virtual seconds, from
 * the first rank's start to the last rank's end), the lower bound
 * max(total / P, longest job), their ratio, and whether every ID ran
 * exactly once. Exit status 1 if any ID did not. */
#include <dlbrma.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rank, size;
static int64_t njobs;
static double *cost; /* seconds per job, the same on every rank */
static int *ran;     /* how often this rank ran each job */

static void die(const char *what, int rc) {
    fprintf(stderr, "driver: rank %d: %s failed (%d)\n", rank, what, rc);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void check_dlb(int rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "driver: rank %d: %s failed (%d): %s\n", rank, what, rc, dlb_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

static uint64_t mix(uint64_t x) { /* splitmix64's finalizer */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static double unit(int64_t id) { return (double)(mix((uint64_t)id) >> 11) / 9007199254740992.0; }

static void make_costs(const char *workload, double mean) {
    for (int64_t i = 0; i < njobs; i++) {
        double c;
        if (!strcmp(workload, "uniform"))
            c = mean * (0.5 + unit(i));
        else if (!strcmp(workload, "ramp"))
            c = mean * 2.0 * (double)(i + 1) / (double)njobs;
        else if (!strcmp(workload, "block"))
            c = i < njobs / 8 ? mean * 8.0 / 1.875 : mean / 1.875;
        else if (!strcmp(workload, "seed"))
            c = mean * (double)(1 + (int)(unit(i) * 8.0)) / 4.5;
        else {
            if (rank == 0) fprintf(stderr, "driver: unknown workload %s\n", workload);
            MPI_Abort(MPI_COMM_WORLD, 2);
            return;
        }
        cost[i] = c;
    }
}

static void work(int64_t id) {
    if (id < 0 || id >= njobs) {
        fprintf(stderr, "driver: rank %d got job %lld of %lld\n", rank, (long long)id, (long long)njobs);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    ran[id]++;
    smpi_execute(cost[id]);
}

static void run_dlb(void) {
    dlb_int jobs[2];
    int rc;
    check_dlb(dlb_setup(njobs), "dlb_setup");
    while ((rc = dlb_give_more(1, jobs)) == 1)
        for (dlb_int i = jobs[0]; i < jobs[1]; i++) work(i);
    check_dlb(rc, "dlb_give_more");
}

/* dlb without direct steals (DLB_DIRECT_STEALS=0: hunger marks across
 * nodes), in a dlb of its own. */
static void run_dlb_marks(void) { run_dlb(); }

/* Re-initializes dlb with marks (DLB_DIRECT_STEALS=0) or as by default,
 * outside the timed run (as dlb_init is for dlb: neither strategy's
 * makespan includes its init). */
static void reinit_dlb(int marks) {
    check_dlb(dlb_finalize(), "dlb_finalize");
    if (marks)
        setenv("DLB_DIRECT_STEALS", "0", 1);
    else
        unsetenv("DLB_DIRECT_STEALS");
    check_dlb(dlb_init(MPI_COMM_WORLD), "dlb_init");
}

static void run_static(void) {
    int64_t lo = njobs * rank / size, hi = njobs * (rank + 1) / size;
    for (int64_t i = lo; i < hi; i++) work(i);
}

static void run_global_counter(void) {
    int64_t *base, one = 1, got;
    MPI_Win win;
    int rc = MPI_Win_allocate(rank == 0 ? sizeof(int64_t) : 0, sizeof(int64_t), MPI_INFO_NULL,
                              MPI_COMM_WORLD, &base, &win);
    if (rc != MPI_SUCCESS) die("MPI_Win_allocate", rc);
    if (rank == 0) *base = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
    for (;;) {
        MPI_Fetch_and_op(&one, &got, MPI_INT64_T, 0, 0, MPI_SUM, win);
        MPI_Win_flush(0, win);
        if (got >= njobs) break;
        work(got);
    }
    MPI_Win_unlock_all(win);
    MPI_Win_free(&win);
}

/* The Fortran DLB library's RMA variant in outline: each rank's remaining
 * range [start, end) in a window, read and changed only while holding its
 * owner's exclusive lock, by the owner (one job from the front) and by
 * thieves (the back half; victims tried in turn from the next rank on);
 * completed jobs added to a counter on rank 0; a rank that found every
 * range empty leaves once that counter reaches the job total. The lock is
 * a ticket lock of two words taken with MPI_Fetch_and_op (with backoff):
 * SMPI 3.32's MPI_Win_lock(MPI_LOCK_EXCLUSIVE) lost updates here and
 * aborted when mixed with shared locks, and its MPI_Compare_and_swap is
 * not atomic (see ci/smpi); its fetch-and-op is. Like MPI_Win_lock, the
 * lock serializes all access to a rank's range. */
enum { START, END, NEXT_TICKET, SERVING, DONE, WORDS };

static int64_t word_op(MPI_Win win, int target, int index, int64_t value, MPI_Op op) {
    int64_t old;
    MPI_Fetch_and_op(&value, &old, MPI_INT64_T, target, index, op, win);
    MPI_Win_flush(target, win);
    return old;
}

static void lock_range(MPI_Win win, int target) {
    int64_t ticket = word_op(win, target, NEXT_TICKET, 1, MPI_SUM);
    for (useconds_t pause = 1; word_op(win, target, SERVING, 0, MPI_NO_OP) != ticket;
         pause = pause < 100 ? 2 * pause : pause)
        smpi_usleep(pause);
}

static void unlock_range(MPI_Win win, int target) { word_op(win, target, SERVING, 1, MPI_SUM); }

static void run_lock_steal(void) {
    int64_t *base, unreported = 0;
    MPI_Win win;
    int rc = MPI_Win_allocate(WORDS * sizeof(int64_t), sizeof(int64_t), MPI_INFO_NULL,
                              MPI_COMM_WORLD, &base, &win);
    if (rc != MPI_SUCCESS) die("MPI_Win_allocate", rc);
    base[START] = njobs * rank / size;
    base[END] = njobs * (rank + 1) / size;
    base[NEXT_TICKET] = base[SERVING] = base[DONE] = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
    for (;;) {
        int64_t job = -1;
        lock_range(win, rank);
        if (word_op(win, rank, START, 0, MPI_NO_OP) < word_op(win, rank, END, 0, MPI_NO_OP))
            job = word_op(win, rank, START, 1, MPI_SUM);
        unlock_range(win, rank);
        if (job >= 0) {
            work(job);
            unreported++;
            continue;
        }
        if (unreported) {
            word_op(win, 0, DONE, unreported, MPI_SUM);
            unreported = 0;
        }
        int stolen = 0;
        for (int k = 1; k < size && !stolen; k++) {
            int v = (rank + k) % size;
            lock_range(win, v);
            int64_t lo = word_op(win, v, START, 0, MPI_NO_OP), hi = word_op(win, v, END, 0, MPI_NO_OP);
            if (lo < hi) {
                int64_t mid = hi - (hi - lo + 1) / 2;
                word_op(win, v, END, mid, MPI_REPLACE);
                unlock_range(win, v);
                lock_range(win, rank);
                word_op(win, rank, START, mid, MPI_REPLACE);
                word_op(win, rank, END, hi, MPI_REPLACE);
                unlock_range(win, rank);
                stolen = 1;
            } else {
                unlock_range(win, v);
            }
        }
        if (stolen) continue;
        if (word_op(win, 0, DONE, 0, MPI_NO_OP) >= njobs) break;
        smpi_usleep(50);
    }
    MPI_Win_unlock_all(win);
    MPI_Win_free(&win);
}

static void run_master_worker(void) {
    const int work_tag = 1, stop_tag = 2;
    int64_t id;
    MPI_Status st;
    if (size == 1) {
        for (int64_t i = 0; i < njobs; i++) work(i);
        return;
    }
    if (rank == 0) {
        int64_t next = 0;
        int stopped = 0;
        while (stopped < size - 1) {
            MPI_Recv(&id, 1, MPI_INT64_T, MPI_ANY_SOURCE, work_tag, MPI_COMM_WORLD, &st);
            if (next < njobs) {
                MPI_Send(&next, 1, MPI_INT64_T, st.MPI_SOURCE, work_tag, MPI_COMM_WORLD);
                next++;
            } else {
                MPI_Send(&next, 1, MPI_INT64_T, st.MPI_SOURCE, stop_tag, MPI_COMM_WORLD);
                stopped++;
            }
        }
    } else {
        for (;;) {
            MPI_Send(&id, 1, MPI_INT64_T, 0, work_tag, MPI_COMM_WORLD);
            MPI_Recv(&id, 1, MPI_INT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
            if (st.MPI_TAG == stop_tag) break;
            work(id);
        }
    }
}

/* The strategies, in the order they run. */
static const char *const names[] = {"dlb",           "dlb_marks",     "static",
                                    "global_counter", "master_worker", "lock_steal"};
enum { STRATEGIES = sizeof names / sizeof names[0] };

/* Which strategies run: all, or those named in `list` (comma-separated);
 * 0 if it names one that does not exist. */
static int wanted_strategies(const char *list, int wanted[STRATEGIES]) {
    for (int s = 0; s < STRATEGIES; s++) wanted[s] = !list || !*list;
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        int known = 0;
        for (int s = 0; s < STRATEGIES; s++)
            if (strlen(names[s]) == len && strncmp(p, names[s], len) == 0) known = wanted[s] = 1;
        if (!known) {
            fprintf(stderr, "driver: DRIVER_STRATEGIES names an unknown strategy: %.*s\n", (int)len, p);
            return 0;
        }
        p += len + (p[len] == ',');
    }
    return 1;
}

int main(int argc, char **argv) {
    int provided, failed = 0;
    if (argc != 4) {
        fprintf(stderr, "usage: driver WORKLOAD JOBS_PER_RANK MEAN_MS\n");
        return 2;
    }
    int wanted[STRATEGIES];
    if (!wanted_strategies(getenv("DRIVER_STRATEGIES"), wanted)) return 2;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SINGLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    njobs = atoll(argv[2]) * size;
    cost = malloc(sizeof(double) * (size_t)njobs);
    ran = malloc(sizeof(int) * (size_t)njobs);
    int *total_ran = rank == 0 ? malloc(sizeof(int) * (size_t)njobs) : NULL;
    if (!cost || !ran || (rank == 0 && !total_ran)) die("malloc", 0);
    make_costs(argv[1], atof(argv[3]) / 1000.0);
    double sum = 0, longest = 0;
    for (int64_t i = 0; i < njobs; i++) {
        sum += cost[i];
        if (cost[i] > longest) longest = cost[i];
    }
    double bound = sum / size > longest ? sum / size : longest;
    check_dlb(dlb_init(MPI_COMM_WORLD), "dlb_init");

    static void (*const runs[])(void) = {run_dlb,            run_dlb_marks,     run_static,
                                         run_global_counter, run_master_worker, run_lock_steal};
    _Static_assert(sizeof runs / sizeof runs[0] == STRATEGIES, "one run function per name");
    for (int s = 0; s < STRATEGIES; s++) {
        if (!wanted[s]) continue;
        memset(ran, 0, sizeof(int) * (size_t)njobs);
        if (runs[s] == run_dlb_marks) reinit_dlb(1);
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        runs[s]();
        double end = MPI_Wtime(), first, last;
        if (runs[s] == run_dlb || runs[s] == run_dlb_marks) /* dlb's own view of its run */
            if (getenv("DRIVER_STATISTICS"))
                check_dlb(dlb_print_statistics(atoi(getenv("DRIVER_STATISTICS"))), "dlb_print_statistics");
        if (runs[s] == run_dlb_marks) reinit_dlb(0);
        MPI_Reduce(&start, &first, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
        MPI_Reduce(&end, &last, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(ran, total_ran, (int)njobs, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            int64_t bad = 0, first_bad = -1;
            for (int64_t i = 0; i < njobs; i++)
                if (total_ran[i] != 1 && bad++ == 0) first_bad = i;
            if (bad) {
                fprintf(stderr, "driver: %s: %lld IDs did not run exactly once (first: %lld, %d times)\n",
                        names[s], (long long)bad, (long long)first_bad, total_ran[first_bad]);
                failed = 1;
            }
            double makespan = last - first;
            printf("{\"bench\":\"smpi\",\"strategy\":\"%s\",\"workload\":\"%s\",\"ranks\":%d,"
                   "\"jobs\":%lld,\"makespan_s\":%.9f,\"bound_s\":%.9f,\"ratio\":%.4f,"
                   "\"exactly_once\":%s}\n",
                   names[s], argv[1], size, (long long)njobs, makespan, bound, makespan / bound,
                   bad ? "false" : "true");
            fflush(stdout);
        }
    }
    check_dlb(dlb_finalize(), "dlb_finalize");
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(cost);
    free(ran);
    free(total_ran);
    MPI_Finalize();
    return failed;
}
