"""Under ``mpirun -n P``: a test that fails on one rank aborts the job.

The tests are collective. A failure on one rank alone (an assertion the
others did not reach) would otherwise leave the others waiting in the
test's next collective until CI's timeout, and pytest's report of the
failure would never be printed. So the failing rank prints its report at
once and calls ``MPI_Abort``.
"""

import sys

import pytest
from mpi4py import MPI


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or MPI.Is_finalized() or MPI.COMM_WORLD.Get_size() == 1:
        return
    rank = MPI.COMM_WORLD.Get_rank()
    sys.stderr.write(
        f"\n=== rank {rank}: {item.nodeid} failed ({report.when}); "
        f"aborting the job so that no rank waits in a collective\n"
        f"{report.longreprtext}\n"
    )
    sys.stderr.flush()
    MPI.COMM_WORLD.Abort(1)
