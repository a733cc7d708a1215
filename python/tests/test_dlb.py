"""dlb from Python, under ``mpirun -n P python -m pytest python/tests``.

Every rank runs every test in the same order (the tests are collective).
Results are all-gathered and checked identically on every rank, so a
failure fails on all ranks instead of leaving some waiting in a collective.
"""

import gc
import pickle
import random
import threading
import time

import pytest
from mpi4py import MPI

import dlb

COMM = MPI.COMM_WORLD
P = COMM.Get_size()
ME = COMM.Get_rank()


def gathered(values):
    """Every rank's values, concatenated, on every rank."""
    return [v for part in COMM.allgather(list(values)) for v in part]


def all_ok(problems):
    """Asserts, on every rank, that no rank found a problem (so that a
    failure never leaves other ranks waiting in a run or a collective)."""
    every = gathered(problems)
    assert not every, every[:5]


@pytest.fixture()
def d():
    with dlb.Dlb(COMM) as handle:
        yield handle


@pytest.mark.parametrize("n", [0, 1, max(P - 1, 1), 100, 1000])
@pytest.mark.parametrize("maxjobs", [1, 3, 64])
def test_plain_every_id_exactly_once(d, n, maxjobs):
    mine, problems = [], []
    for jobs in d.setup(n).chunks(maxjobs):
        if not (isinstance(jobs, range) and jobs.step == 1 and 1 <= len(jobs) <= maxjobs):
            problems.append(repr(jobs))
        mine.extend(jobs)
    all_ok(problems)
    assert sorted(gathered(mine)) == list(range(n))


@pytest.mark.parametrize("distr", [[5, 0, 17, 0, 3], [0, 0], [], [0, 5], [1], [40, 40, 1]])
def test_color_every_id_exactly_once(d, distr):
    mine, problems = [], []
    for color, jobs in d.setup_color(distr).chunks(4):
        if not (0 <= color < len(distr) and distr[color] > 0):
            problems.append(f"color {color} returned")
        elif not (isinstance(jobs, range) and 0 <= jobs.start < jobs.stop <= distr[color]):
            problems.append(f"color {color}: {jobs!r}")
        mine.extend((color, j) for j in jobs)
    all_ok(problems)
    expected = [(c, j) for c, n in enumerate(distr) for j in range(n)]
    assert sorted(gathered(mine)) == expected


@pytest.mark.parametrize("n", [0, 2, 97, 500])
def test_round_robin_every_id_exactly_once(d, n):
    mine, problems = [], []
    for jobs in d.setup_rr(n).chunks(5):
        if not (isinstance(jobs, range) and jobs.step == P):
            problems.append(repr(jobs))
        mine.extend(jobs)
    all_ok(problems)
    assert sorted(gathered(mine)) == list(range(n))


def test_many_runs_of_every_interface(d):
    rng = random.Random(7)  # the same on every rank
    for _ in range(30):
        n = rng.randrange(0, 300)
        maxjobs = rng.randrange(1, 9)
        kind = rng.choice(["plain", "color", "rr"])
        mine = []
        if kind == "color":
            distr = [rng.randrange(0, 50) for _ in range(rng.randrange(1, 5))]
            for color, jobs in d.setup_color(distr).chunks(maxjobs):
                mine.extend((color, j) for j in jobs)
            expected = [(c, j) for c, k in enumerate(distr) for j in range(k)]
        else:
            run = d.setup(n) if kind == "plain" else d.setup_rr(n)
            for jobs in run.chunks(maxjobs):
                mine.extend(jobs)
            expected = list(range(n))
        assert sorted(gathered(mine)) == expected, kind


def test_uneven_jobs_are_stolen(d):
    # Rank 0's block is slow: the others must take some of it.
    n = 8 * P
    slow = set(range(n // P))
    mine = []
    for jobs in d.setup(n).chunks(1):
        for j in jobs:
            if j in slow:
                time.sleep(0.005)
            mine.append(j)
    every = COMM.allgather(mine)
    assert sorted(j for part in every for j in part) == list(range(n))
    if P > 1:
        assert any(j in slow for part in every[1:] for j in part), every


def test_static_variant_and_options():
    with dlb.Dlb(COMM, variant="static") as s:
        assert s.variant == "static" and s.atomics is None
        mine = [j for jobs in s.setup(50).chunks(7) for j in jobs]
        assert sorted(gathered(mine)) == list(range(50))
    with dlb.Dlb(COMM, atomics="mpi", seed=3) as m:
        assert (m.variant, m.atomics) == ("rma", "mpi")
        mine = [j for jobs in m.setup(64).chunks(3) for j in jobs]
        assert sorted(gathered(mine)) == list(range(64))


def test_a_split_communicator():
    half = COMM.Split(ME % 2, ME)
    try:
        with dlb.Dlb(half) as h:
            assert (h.rank, h.size) == (half.Get_rank(), half.Get_size())
            mine = [j for jobs in h.setup(77).chunks(2) for j in jobs]
            ids = sorted(j for part in half.allgather(mine) for j in part)
            assert ids == list(range(77))
    finally:
        half.Free()


def test_statistics_and_print(d, capsys):
    for _ in d.setup(40).chunks(2):
        pass
    s = d.statistics()
    assert {"jobs", "calls", "steals", "busy", "total_wait"} <= set(s)
    assert sum(COMM.allgather(s["jobs"])) == 40
    d.print_statistics(2)
    out = capsys.readouterr().out
    if ME == 0:
        ok = "dlb statistics" in out and "jobs per rank" in out
    else:
        ok = out == ""
    all_ok([] if ok else [f"rank {ME} printed {out!r}"])
    if P > 1:
        with pytest.raises(dlb.Mismatch):
            d.print_statistics(ME % 2)  # different levels on different ranks


def test_the_gil_is_released_while_dlb_waits(d):
    # A Python thread on rank 0 must keep running while rank 0 waits in
    # dlb for the other ranks.
    if P < 2:
        pytest.skip("needs 2 ranks")
    ticks = [0]
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    # Every rank first takes its own job (the barrier keeps rank 0 from
    # stealing the others' before they hold them); the others then work on
    # theirs for 0.3 s, and rank 0 waits for them in its last give_more.
    chunks = d.setup(P).chunks(1)
    mine = list(next(chunks))
    COMM.Barrier()
    thread = threading.Thread(target=tick)
    if ME == 0:
        thread.start()
    else:
        time.sleep(0.3)
    start = time.perf_counter()
    mine += [j for jobs in chunks for j in jobs]
    waited = time.perf_counter() - start
    if ME == 0:
        stop.set()
        thread.join()
    assert sorted(gathered(mine)) == list(range(P))
    ticks0, waited0 = COMM.allgather((ticks[0], waited))[0]
    assert waited0 > 0.15, f"rank 0 did not wait ({waited0:.3f} s)"
    # About one tick per millisecond while the GIL is free; a held GIL
    # would allow a handful (the interpreter's switch interval is 5 ms).
    assert ticks0 > 0.1 * waited0 * 1000, f"{ticks0} ticks in {waited0:.3f} s of waiting"


# -- misuse --------------------------------------------------------------


def test_bad_arguments_are_python_errors(d):
    with pytest.raises(ValueError):
        d.setup(-1)
    with pytest.raises(ValueError):
        d.setup_rr(2**64)
    with pytest.raises(TypeError):
        d.setup("ten")
    with pytest.raises(TypeError):
        d.setup(True)
    with pytest.raises(TypeError):
        d.setup_color([1, "x"])
    with pytest.raises(dlb.InvalidArgument):
        d.setup(2**63)  # above dlb's largest job count
    run = d.setup(10)
    with pytest.raises(dlb.InvalidArgument):
        for _ in run.chunks(0):
            pass
    # The run is still open on every rank: drain it.
    mine = [j for jobs in run.chunks(3) for j in jobs]
    assert sorted(gathered(mine)) == list(range(10))
    with pytest.raises(dlb.InvalidArgument):
        dlb.Dlb(COMM, variant="dynamic")


def test_a_bad_argument_on_one_rank_fails_every_rank(d):
    # Rank 0's count is wrong: it gets its ValueError, the others a
    # Mismatch; nobody waits.
    expected = ValueError if ME == 0 else (dlb.Mismatch if P > 1 else ValueError)
    with pytest.raises(expected):
        d.setup(-5 if ME == 0 else 10)
    with pytest.raises(TypeError if ME == 0 else (dlb.Mismatch if P > 1 else TypeError)):
        d.setup_color(["x"] if ME == 0 else [3, 4])
    mine = [j for jobs in d.setup(12).chunks(2) for j in jobs]
    assert sorted(gathered(mine)) == list(range(12))


def test_a_bad_init_argument_on_one_rank_fails_every_rank():
    # Before, rank 0 raised before init's collectives and the others
    # waited in them forever.
    other = dlb.Mismatch if P > 1 else None
    with pytest.raises(dlb.InvalidArgument if ME == 0 else other or dlb.InvalidArgument):
        dlb.Dlb(COMM, variant="dynamic" if ME == 0 else "rma")
    with pytest.raises(dlb.InvalidArgument if ME == 0 else other or dlb.InvalidArgument):
        dlb.Dlb(COMM, atomics="gpu" if ME == 0 else None)
    with pytest.raises(ValueError if ME == 0 else other or ValueError):
        dlb.Dlb(COMM, seed=-1 if ME == 0 else 1)
    with dlb.Dlb(COMM) as again:  # and dlb still works
        mine = [j for jobs in again.setup(7).chunks(2) for j in jobs]
        assert sorted(gathered(mine)) == list(range(7))


def test_a_bad_level_on_one_rank_fails_every_rank(d, capsys):
    mine = [j for jobs in d.setup(5).chunks(1) for j in jobs]
    assert sorted(gathered(mine)) == list(range(5))
    with pytest.raises(ValueError if ME == 0 else (dlb.Mismatch if P > 1 else ValueError)):
        d.print_statistics(-1 if ME == 0 else 1)
    with pytest.raises(ValueError):
        d.print_statistics(2**40)  # on every rank: refused, nothing printed
    assert capsys.readouterr().out == ""
    d.print_statistics(0)  # still in step


def assert_refused_on_another_thread(action):
    """Runs `action` on a new thread: it must raise InvalidState, saying so."""
    got = []

    def other():
        try:
            action()
        except Exception as e:  # noqa: BLE001 - the test records what it is
            got.append(e)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(got) == 1 and isinstance(got[0], dlb.InvalidState), got
    assert "another thread" in str(got[0])


def test_a_dlb_is_used_from_its_own_thread_only(d):
    assert_refused_on_another_thread(lambda: d.setup(3))
    mine = [j for jobs in d.setup(4).chunks(1) for j in jobs]
    assert sorted(gathered(mine)) == list(range(4))


def test_a_run_is_iterated_from_its_own_thread_only(d):
    # A generator made on this thread and resumed on another: before, it
    # reached the extension from there (pyo3's PanicException).
    jobs = 4 * COMM.Get_size()
    run = d.setup(jobs)
    chunks = run.chunks(1)
    # Every rank takes one of its own 4 jobs before any rank goes on (the
    # barrier): without it a fast rank could steal a slow rank's jobs, and
    # the slow rank's first chunk would be "no more" instead.
    mine = list(next(chunks))
    COMM.Barrier()
    assert_refused_on_another_thread(lambda: next(chunks))
    # That generator is finished; the run goes on with a new one.
    mine += [j for ids in run.chunks(1) for j in ids]
    assert sorted(gathered(mine)) == list(range(jobs))


def test_a_stale_run_refuses(d):
    old = d.setup(6)
    for _ in old.chunks(2):
        pass
    new = d.setup_color([4, 4])
    with pytest.raises(dlb.InvalidState, match="this run is over"):
        for _ in old.chunks(2):
            pass
    mine = [(c, j) for c, jobs in new.chunks(2) for j in jobs]
    assert sorted(gathered(mine)) == [(c, j) for c in range(2) for j in range(4)]


def test_an_unfinalized_dlb_is_left_without_a_collective(capfd):
    h = dlb.Dlb(COMM)
    for _ in h.setup(5).chunks(1):
        pass
    del h
    gc.collect()
    err = capfd.readouterr().err
    all_ok([] if "was not finalized" in err else [f"rank {ME}: no warning in {err!r}"])
    with dlb.Dlb(COMM) as again:  # and dlb still works
        mine = [j for jobs in again.setup(9).chunks(2) for j in jobs]
        assert sorted(gathered(mine)) == list(range(9))


def test_different_job_counts_fail_on_every_rank(d):
    if P < 2:
        pytest.skip("needs 2 ranks")
    with pytest.raises(dlb.Mismatch):
        d.setup(10 + ME)
    mine = [j for jobs in d.setup(10).chunks(1) for j in jobs]
    assert sorted(gathered(mine)) == list(range(10))


def test_a_new_setup_inside_a_run_fails_on_every_rank(d):
    run = d.setup(20)
    with pytest.raises(dlb.InvalidState):
        d.setup(20)
    mine = [j for jobs in run.chunks(4) for j in jobs]
    assert sorted(gathered(mine)) == list(range(20))


def test_after_finalize():
    h = dlb.Dlb(COMM)
    h.finalize()
    h.finalize()  # once; later calls do nothing
    with pytest.raises(dlb.InvalidState):
        h.setup(3)
    assert "finalized" in repr(h)


def test_not_a_communicator():
    with pytest.raises(TypeError):
        dlb.Dlb(42)
    with pytest.raises(TypeError):
        dlb.Dlb(MPI.COMM_NULL)
    with pytest.raises(TypeError):
        dlb._dlb.Handle(42)  # the extension module checks too


def test_an_intercommunicator_is_refused():
    if P < 2:
        pytest.skip("needs 2 ranks")
    local = COMM.Split(ME % 2, ME)
    inter = local.Create_intercomm(0, COMM, 1 if ME % 2 == 0 else 0, 7)
    try:
        with pytest.raises(TypeError, match="intercommunicator"):
            dlb.Dlb(inter)
    finally:
        inter.Free()
        local.Free()


def test_a_communicator_of_another_mpi_library_is_refused(monkeypatch):
    # (ci/python-check also loads dlb built for one MPI next to mpi4py of
    # the other.)
    monkeypatch.setattr(MPI, "Get_library_version", lambda: "Other MPI 9.9, not this one")
    with pytest.raises(RuntimeError, match="different MPI libraries"):
        dlb.Dlb(COMM)
    monkeypatch.undo()
    other = "MPICH" if dlb._dlb.mpi_abi()[0] == "Open MPI" else "Open MPI"
    monkeypatch.setattr(MPI, "get_vendor", lambda: (other, (1, 0, 0)))
    with pytest.raises(RuntimeError, match="different MPI libraries"):
        dlb.Dlb(COMM)


def test_errors_are_dlb_errors():
    for e in [dlb.InvalidArgument, dlb.InvalidState, dlb.Mismatch, dlb.Unsupported, dlb.MpiError]:
        assert issubclass(e, dlb.DlbError) and issubclass(e, Exception)
        assert e.__module__ == "dlb"
    back = pickle.loads(pickle.dumps(dlb.Mismatch("ranks disagree")))
    assert isinstance(back, dlb.Mismatch) and str(back) == "ranks disagree"
    assert dlb.__version__ and "MPI" in dlb.library_version()
