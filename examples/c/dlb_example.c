/* DLB's README example in C: every job ID of three runs (plain, color, round
 * robin), printed 0-based.
 *   mpicc examples/c/dlb_example.c $(pkg-config --cflags --libs target/release/dlbrma.pc) */
#include <dlbrma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const char *call) {
    if (rc < 0) {
        fprintf(stderr, "%s failed (%d): %s\n", call, rc, dlb_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int main(int argc, char **argv) {
    int provided, rc;
    dlb_int jobs[3], color, i;
    const dlb_int distr[4] = {10, 13, 1, 9};

    MPI_Init_thread(&argc, &argv, MPI_THREAD_SINGLE, &provided);
    check(dlb_init(MPI_COMM_WORLD), "dlb_init");

    check(dlb_setup(20), "dlb_setup");
    while ((rc = dlb_give_more(2, jobs)) == 1)
        for (i = jobs[0]; i < jobs[1]; i++) printf("plain %lld\n", (long long)i);
    check(rc, "dlb_give_more");

    check(dlb_setup_color(distr, 4), "dlb_setup_color");
    while ((rc = dlb_give_more_color(3, &color, jobs)) == 1)
        for (i = jobs[0]; i < jobs[1]; i++) printf("color %lld %lld\n", (long long)color, (long long)i);
    check(rc, "dlb_give_more_color");

    check(dlb_setup_rr(20), "dlb_setup_rr");
    while ((rc = dlb_give_more_rr(2, jobs)) == 1)
        for (i = jobs[0]; i < jobs[1]; i += jobs[2]) printf("rr %lld\n", (long long)i);
    check(rc, "dlb_give_more_rr");

    /* Misuse is an error code with a message, never a crash. */
    rc = dlb_give_more(0, jobs);
    if (rc != DLB_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "maxjobs 0 gave %d\n", rc);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    rc = dlb_give_more_color(1, &color, jobs); /* the last run was round robin */
    if (rc != DLB_ERR_INVALID_STATE) {
        fprintf(stderr, "mixing interfaces gave %d\n", rc);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    rc = dlb_setup(-5); /* collective: every rank gets the error */
    if (rc != DLB_ERR_INVALID_ARGUMENT || !strstr(dlb_strerror(rc), "must not be negative")) {
        fprintf(stderr, "dlb_setup(-5) gave %d: %s\n", rc, dlb_strerror(rc));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    check(dlb_print_statistics(1), "dlb_print_statistics");
    check(dlb_finalize(), "dlb_finalize");
    MPI_Finalize();
    return 0;
}
