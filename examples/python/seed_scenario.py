"""The master-worker example's scenario twice, in one mpirun job.

Tasks sleep 1 to 8 time units (``--unit-ms``, default 20 ms), four per
worker: (P - 1) * 4 tasks on P ranks, as in the master-worker program that
users write by hand with mpi4py (rank 0 sends each task to a worker that
asks for one, and does none itself). Then the same tasks through dlb on
every rank: no master, every rank works. Prints which rank did what and the
makespan of each, and the ratio dlb / master-worker.

    mpirun -n 4 python examples/python/seed_scenario.py [--unit-ms 20] [--seed 1000] [--quiet]

(``ci/demo --python`` runs it.) With ``--json`` rank 0 prints one JSON
object instead of the text.
"""

import argparse
import json
import random
import time

from mpi4py import MPI

import dlb

WORKTAG, DIETAG = 1, 2


def task_units(n, seed):
    """n tasks of 1 to 8 units, the same on every rank."""
    rng = random.Random(seed)
    return [rng.randint(1, 8) for _ in range(n)]


def master_worker(comm, units, unit_s):
    """The hand-written master-worker program: rank 0 hands out tasks."""
    me, p = comm.Get_rank(), comm.Get_size()
    done = []
    comm.Barrier()
    start = MPI.Wtime()
    if me == 0:
        sent = 0
        for worker in range(1, p):
            if sent < len(units):
                comm.send(sent, dest=worker, tag=WORKTAG)
                sent += 1
        for _ in range(len(units)):
            status = MPI.Status()
            comm.recv(source=MPI.ANY_SOURCE, status=status)
            worker = status.Get_source()
            if sent < len(units):
                comm.send(sent, dest=worker, tag=WORKTAG)
                sent += 1
            else:
                comm.send(None, dest=worker, tag=DIETAG)
        # Workers that never got a task (more workers than tasks).
        for worker in range(min(len(units), p - 1) + 1, p):
            comm.send(None, dest=worker, tag=DIETAG)
    else:
        while True:
            status = MPI.Status()
            task = comm.recv(source=0, status=status)
            if status.Get_tag() == DIETAG:
                break
            time.sleep(units[task] * unit_s)
            done.append(task)
            comm.send(task, dest=0)
    end = MPI.Wtime() - start
    return done, end


def with_dlb(comm, units, unit_s):
    """The same tasks through dlb: every rank works, no master."""
    done = []
    with dlb.Dlb(comm) as d:
        comm.Barrier()
        start = MPI.Wtime()
        for jobs in d.setup(len(units)).chunks(1):
            for task in jobs:
                time.sleep(units[task] * unit_s)
                done.append(task)
        end = MPI.Wtime() - start
    return done, end


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unit-ms", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--quiet", action="store_true", help="only the makespans")
    ap.add_argument("--json", action="store_true", help="rank 0 prints one JSON object")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    me, p = comm.Get_rank(), comm.Get_size()
    if p < 2:
        raise SystemExit("run on 2 or more ranks (master-worker needs a worker)")
    units = task_units((p - 1) * 4, args.seed)
    unit_s = args.unit_ms / 1000.0

    results = {}
    for name, scheme in [("master-worker", master_worker), ("dlb", with_dlb)]:
        done, end = scheme(comm, units, unit_s)
        every = comm.gather((done, end), root=0)
        if me == 0:
            ids = sorted(t for d, _ in every for t in d)
            assert ids == list(range(len(units))), f"{name}: tasks not done exactly once: {ids}"
            results[name] = {
                "makespan_ms": max(e for _, e in every) * 1000.0,
                "tasks_per_rank": [len(d) for d, _ in every],
                "units_per_rank": [sum(units[t] for t in d) for d, _ in every],
            }
    if me != 0:
        return
    total = sum(units)
    ideal_dlb = max(total / p, max(units)) * args.unit_ms
    ratio = results["dlb"]["makespan_ms"] / results["master-worker"]["makespan_ms"]
    if args.json:
        print(json.dumps({"ranks": p, "tasks": len(units), "units": units, "unit_ms": args.unit_ms,
                          "seed": args.seed, "dlb_over_master_worker": ratio,
                          "ideal_dlb_ms": ideal_dlb, **results}))
        return
    print(f"{len(units)} tasks of 1-8 units (1 unit = {args.unit_ms:g} ms), {total} units, on {p} ranks: {units}")
    for name, r in results.items():
        if not args.quiet:
            for k, (n, u) in enumerate(zip(r["tasks_per_rank"], r["units_per_rank"])):
                role = "master, no task" if name == "master-worker" and k == 0 else f"{n} tasks, {u} units"
                print(f"  {name:<13} rank {k}: {role}")
        print(f"{name:<13} makespan {r['makespan_ms']:8.1f} ms")
    print(f"dlb / master-worker: {ratio:.3f} (dlb's ideal max(total/P, longest) = {ideal_dlb:.1f} ms)")


if __name__ == "__main__":
    main()
