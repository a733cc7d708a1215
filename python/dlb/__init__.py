"""dlb for Python: dynamic load balancing for MPI programs, on every rank.

An MPI program has N jobs (IDs 0..N) whose costs differ. dlb hands the IDs
out in chunks, every ID exactly once, with MPI-3 one-sided atomics: each rank
starts with a block and steals from the others when it runs dry. There is
no master rank and no message.

    from mpi4py import MPI
    import dlb

    with dlb.Dlb(MPI.COMM_WORLD) as d:
        for jobs in d.setup(1000).chunks(4):   # range objects
            for job in jobs:
                work(job)

The three interfaces of the Fortran DLB library are iterators:

* ``d.setup(n).chunks(maxjobs)`` yields ``range`` objects (half-open, 0-based);
* ``d.setup_color(distr).chunks(maxjobs)`` yields ``(color, range)``, the
  range counting the jobs of that color from 0;
* ``d.setup_rr(n).chunks(maxjobs)`` yields ``range`` objects whose step is
  the number of ranks (round-robin IDs).

Each setup is collective: every rank calls it with the same arguments, and
every rank drains its iterator; the iterator ends on a rank when every job
is done on every rank. While dlb waits for work it releases the GIL, so
Python threads keep running. Errors are ``dlb.DlbError`` exceptions.
"""

import threading

from . import _dlb

__version__ = _dlb.__version__

DlbError = _dlb.DlbError
InvalidArgument = _dlb.InvalidArgument
InvalidState = _dlb.InvalidState
Mismatch = _dlb.Mismatch
Unsupported = _dlb.Unsupported
MpiError = _dlb.MpiError
InternalError = _dlb.InternalError

__all__ = [
    "Dlb",
    "Run",
    "DlbError",
    "InvalidArgument",
    "InvalidState",
    "Mismatch",
    "Unsupported",
    "MpiError",
    "InternalError",
    "library_version",
]


def library_version():
    """The MPI library dlb was built with (``MPI_Get_library_version``)."""
    return _dlb.library_version()


def _check_comm(comm):
    """Refuses what is not an mpi4py intracommunicator of dlb's MPI library."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - mpi4py is a dependency
        raise RuntimeError("dlb needs mpi4py: pip install mpi4py") from e
    if not isinstance(comm, MPI.Comm):
        raise TypeError(
            f"dlb.Dlb needs an mpi4py communicator (such as MPI.COMM_WORLD), not {type(comm).__name__}"
        )
    if not MPI.Is_initialized() or MPI.Is_finalized():
        raise RuntimeError(
            "MPI is not initialized, or already finalized (importing mpi4py.MPI initializes it, "
            "unless mpi4py.rc.initialize is False: then call MPI.Init() first)"
        )
    if comm == MPI.COMM_NULL:
        raise TypeError("dlb.Dlb cannot use MPI.COMM_NULL")
    if comm.Is_inter():
        raise TypeError("dlb.Dlb needs an intracommunicator, not an intercommunicator")
    # What each was compiled against (another MPI's symbols loaded first
    # could answer Get_library_version for both), then the library itself.
    family, comm_size = _dlb.mpi_abi()
    vendor = MPI.get_vendor()[0]
    theirs = MPI.Get_library_version().replace("\x00", "").strip()
    ours = _dlb.library_version().replace("\x00", "").strip()
    # (MPICH's derivatives, Intel MPI or MVAPICH, report their own names.)
    same_family = vendor == family or (family == "MPICH" and vendor != "Open MPI")
    if (
        not same_family
        or MPI._sizeof(MPI.Comm) != comm_size
        or theirs.splitlines()[:1] != ours.splitlines()[:1]
    ):
        raise RuntimeError(
            "mpi4py and dlb use different MPI libraries: mpi4py has "
            f"'{theirs.splitlines()[0] if theirs else vendor}', dlb was built for {family} "
            f"('{ours.splitlines()[0] if ours else '?'}'); build both against one MPI"
        )


class Dlb:
    """dlb on the ranks of an mpi4py communicator (default: ``MPI.COMM_WORLD``).

    Collective. Options (else the ``DLB_*`` environment variables, else the
    defaults): ``variant`` ('rma' or 'static'), ``atomics`` ('shm', 'mpi' or
    'hybrid'), ``seed``, ``trace`` (a file name: ``DLB_TRACE``), ``verbose``.
    Use it as a context manager (``with dlb.Dlb(comm) as d:``), or call
    ``finalize()`` on every rank.
    """

    def __init__(self, comm=None, *, variant=None, atomics=None, seed=0, trace=None, verbose=None):
        if comm is None:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
        _check_comm(comm)
        # A seed that is wrong on this rank still takes part in the
        # collective init (refused there), so that every rank fails instead
        # of the others waiting; then its own error is raised.
        wrong = None
        try:
            seed = _count(seed, "seed")
        except (TypeError, ValueError) as e:
            wrong, seed = e, 0
        try:
            self.__handle = _dlb.Handle(
                comm,
                variant=variant,
                atomics=atomics,
                seed=seed,
                trace=None if trace is None else str(trace),
                verbose=None if verbose is None else bool(verbose),
                refuse=wrong is not None,
            )
        except DlbError:
            if wrong is not None:
                raise wrong from None
            raise
        # dlb runs on one thread (MPI_THREAD_SINGLE): the one that made it.
        self.__owner = threading.get_ident()
        # Runs started so far: a Run of an earlier setup refuses to go on.
        self._runs = 0

    @property
    def _h(self):
        if threading.get_ident() != self.__owner:
            raise InvalidState(
                "this dlb.Dlb was made on another thread: use it from the thread that made it "
                "(dlb needs only MPI_THREAD_SINGLE)"
            )
        return self.__handle

    # -- what init chose ------------------------------------------------
    @property
    def rank(self):
        """This rank in dlb's communicator."""
        return self._h.rank

    @property
    def size(self):
        """The number of ranks."""
        return self._h.size

    @property
    def variant(self):
        """'rma' or 'static'."""
        return self._h.variant

    @property
    def atomics(self):
        """The atomics path ('shm', 'mpi', 'hybrid'); None for 'static'."""
        return self._h.atomics

    # -- runs -----------------------------------------------------------
    def setup(self, jobs):
        """Starts a run of ``jobs`` jobs, IDs ``0..jobs``. Collective."""
        return self._start(_dlb.Handle.setup, "plain", lambda: _count(jobs, "jobs"), _TOO_MANY)

    def setup_color(self, distr):
        """Starts a run over colors: color ``i`` has ``distr[i]`` jobs. Collective."""

        def counts():
            return [_count(c, "distr[%d]" % i) for i, c in enumerate(distr)]

        return self._start(_dlb.Handle.setup_color, "color", counts, [_TOO_MANY])

    def setup_rr(self, jobs):
        """Starts a round-robin run of ``jobs`` jobs. Collective."""
        return self._start(_dlb.Handle.setup_rr, "rr", lambda: _count(jobs, "jobs"), _TOO_MANY)

    def _start(self, method, interface, checked, invalid):
        # An argument that is wrong on this rank still takes part in the
        # collective setup (as one that dlb refuses), so that every rank
        # fails instead of the others waiting; then its own error is raised.
        try:
            arg = checked()
        except (TypeError, ValueError) as e:
            try:
                method(self._h, invalid)
            except DlbError:
                pass
            raise e
        method(self._h, arg)
        self._runs += 1
        return Run(self, interface, self._runs)

    # -- statistics and the end -------------------------------------------
    def statistics(self):
        """This rank's figures for the last run, as a dict."""
        return self._h.statistics()

    def print_statistics(self, level=1):
        """DLB's print_statistics: collective, printed on rank 0 (levels 0-4)."""
        # A level that is wrong on this rank still takes part in the
        # collective (as one no valid call passes), as in `_start`.
        try:
            level = _count(level, "level")
            if level >= 2**32:
                raise ValueError(f"level must be below 2**32, not {level}")
        except (TypeError, ValueError) as e:
            try:
                self._h.print_statistics(None)  # refused: takes part, prints nothing
            except DlbError:
                pass
            raise e
        self._h.print_statistics(level)

    def finalize(self):
        """Frees dlb's window and communicator. Collective; later calls do nothing."""
        self._h.finalize()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finalize()
        # With an exception in flight, other ranks may not reach finalize:
        # a collective here could hang. The handle is then left unfinalized;
        # when it is freed, dlb leaks its window to MPI_Finalize (with a
        # warning) instead of running a collective.
        return False

    def __repr__(self):
        if not self._h.active:
            return "<dlb.Dlb finalized>"
        return f"<dlb.Dlb rank {self.rank} of {self.size}, variant {self.variant}, atomics {self.atomics}>"


class Run:
    """One run, from a setup until its chunks are drained."""

    def __init__(self, dlb, interface, number):
        self._dlb = dlb
        self._interface = interface
        self._number = number

    def chunks(self, maxjobs=1):
        """Yields the chunks of this run for this rank, each of at most
        ``maxjobs`` jobs, until every job is done on every rank (static
        variant: until this rank's block is done). ``give_more`` is not
        collective: a rank that stops iterating early leaves the others
        waiting for its jobs."""
        maxjobs = _count(maxjobs, "maxjobs")
        interface = self._interface
        while True:
            if self._dlb._runs != self._number:
                raise InvalidState(
                    "this run is over: a later setup started another (iterate that one)"
                )
            # `_h` at every step: a generator may be resumed on another thread.
            chunk = self._dlb._h.give_more(maxjobs)
            if chunk is None:
                return
            color, start, stop, step = chunk
            if interface == "color":
                yield color, range(start, stop)
            elif interface == "rr":
                yield range(start, stop, step)
            else:
                yield range(start, stop)

    def __iter__(self):
        return self.chunks(1)


# A count dlb refuses (above its largest job count), for a rank whose own
# argument was wrong: it still takes part in the collective setup.
_TOO_MANY = 2**64 - 1


def _count(value, name):
    """A non-negative int below 2**64, or a clear TypeError/ValueError."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    if not isinstance(value, int):
        import operator

        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value}")
    if value >= 2**64:
        raise ValueError(f"{name} must be below 2**64, not {value}")
    return value
