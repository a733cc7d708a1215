"""dlb from Python against the master-worker program users write with mpi4py.

Two figures, each measured in the same run for both (the machines are
shared and noisy: compare the ratio, not the times):

* ``overhead``: per chunk, with jobs that cost nothing: dlb's
  ``chunks(1)`` on every rank against one master-worker round trip (a
  worker's request and the master's answer, pickled mpi4py send/recv);
* ``makespan``: the seed's scenario ((P - 1) * 4 tasks of 1-8 units, units
  scaled to milliseconds), averaged over task seeds: dlb on all P ranks
  against master-worker (P - 1 workers).

    mpirun -n 4 python benches/python/bench.py [--seeds 10] [--unit-ms 10] [--jobs 20000]

Rank 0 prints a table and appends JSON rows to target/bench/python.jsonl.
"""

import argparse
import json
import os
import statistics
import sys
import time

from mpi4py import MPI

import dlb

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))
from seed_scenario import master_worker, task_units, with_dlb  # noqa: E402

COMM = MPI.COMM_WORLD


def dlb_per_chunk(jobs):
    """Seconds per chunk of one job on this rank, and the chunks it got."""
    with dlb.Dlb(COMM) as d:
        COMM.Barrier()
        start = time.perf_counter()
        n = 0
        for _ in d.setup(jobs).chunks(1):
            n += 1
        elapsed = time.perf_counter() - start
    return elapsed, n


def master_worker_per_task(jobs):
    """Master-worker with empty tasks: seconds on this rank, tasks done."""
    units = [0] * jobs
    COMM.Barrier()
    start = time.perf_counter()
    done, _ = master_worker(COMM, units, 0.0)
    return time.perf_counter() - start, len(done)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--unit-ms", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=20000)
    args = ap.parse_args()
    me, p = COMM.Get_rank(), COMM.Get_size()
    if p < 2:
        # Master-worker's master would wait for workers that do not exist.
        sys.exit("bench.py: master-worker needs at least 2 ranks (mpirun -n 2 or more)")

    # Per chunk: on each rank, its time over its chunks; the mean over the
    # ranks that did any (master-worker: the workers).
    rows = []
    e, n = dlb_per_chunk(args.jobs)
    dlb_us = [1e6 * t / k for t, k in COMM.allgather((e, n)) if k]
    e, n = master_worker_per_task(args.jobs)
    mw_us = [1e6 * t / k for t, k in COMM.allgather((e, n)) if k]

    ratios, dlb_ms, mw_ms = [], [], []
    for seed in range(args.seeds):
        units = task_units((p - 1) * 4, seed)
        _, mw_end = master_worker(COMM, units, args.unit_ms / 1000)
        _, dlb_end = with_dlb(COMM, units, args.unit_ms / 1000)
        mw = max(COMM.allgather(mw_end))
        dl = max(COMM.allgather(dlb_end))
        mw_ms.append(1000 * mw)
        dlb_ms.append(1000 * dl)
        ratios.append(dl / mw)

    if me != 0:
        return
    provenance = {
        "dlb_version": dlb.__version__,
        "mpi_library": MPI.Get_library_version().replace("\x00", "").splitlines()[0],
        "python": sys.version.split()[0],
        "ranks": p,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    per_chunk = statistics.mean(dlb_us)
    round_trip = statistics.mean(mw_us)
    rows.append({"bench": "python", "metric": "overhead_per_chunk_us", "ranks": p,
                 "dlb": per_chunk, "master_worker": round_trip, "ratio": per_chunk / round_trip,
                 "jobs": args.jobs, "provenance": provenance})
    rows.append({"bench": "python", "metric": "seed_makespan_ms", "ranks": p, "seeds": args.seeds,
                 "unit_ms": args.unit_ms, "dlb": statistics.mean(dlb_ms),
                 "master_worker": statistics.mean(mw_ms), "ratio": statistics.mean(ratios),
                 "ratios": ratios, "provenance": provenance})
    print(f"# dlb from Python, {p} ranks, {provenance['mpi_library']}")
    print(f"per chunk (empty jobs, {args.jobs}): dlb chunks(1) {per_chunk:.2f} us, "
          f"master-worker round trip {round_trip:.2f} us: {per_chunk / round_trip:.3f}x")
    print(f"seed scenario ({(p - 1) * 4} tasks of 1-8 x {args.unit_ms:g} ms, {args.seeds} seeds): "
          f"dlb {statistics.mean(dlb_ms):.1f} ms, master-worker {statistics.mean(mw_ms):.1f} ms, "
          f"dlb / master-worker {statistics.mean(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    out = os.path.join(os.path.dirname(__file__), "..", "..", "target", "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "python.jsonl"), "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
