"""Calls after MPI_Finalize: dlb's errors, not a crash or an MPI abort.

This file runs last (pytest takes files in name order): it finalizes MPI
for the process.
"""

import pytest
from mpi4py import MPI

import dlb


def test_calls_after_mpi_finalize_are_errors_not_crashes():
    d = dlb.Dlb(MPI.COMM_WORLD)
    chunks = d.setup(10 * MPI.COMM_WORLD.Get_size()).chunks(1)
    next(chunks)  # every rank has jobs of its own: nobody waits
    MPI.Finalize()
    # Before, the next chunk segfaulted (shared-memory atomics) or made
    # the MPI abort the job, and so did a setup or print_statistics.
    with pytest.raises(dlb.InvalidState, match="MPI is finalized"):
        next(chunks)
    with pytest.raises(dlb.InvalidState, match="MPI is finalized"):
        d.setup(3)
    with pytest.raises(dlb.InvalidState, match="MPI is finalized"):
        d.print_statistics(1)
    d.finalize()  # nothing left to free after MPI_Finalize, and no error
    assert repr(d) == "<dlb.Dlb finalized>"
