//! [`Builder`]: the options a program may set before init (variant, atomics
//! path, window flavor, seed and testing aids), and the two ways to init
//! with them, on `MPI_COMM_WORLD` or on a duplicate of a given communicator.
//! What init makes of these options is in `src/init.rs`.

use crate::config::{AtomicsPath, DirectSteals, Schedule, Variant};
use crate::dlb::Dlb;
use crate::error::Result;
use crate::mpi::{self, Comm, WindowFlavor};
use dlb_sys as ffi;
use std::path::PathBuf;
use std::time::Duration;

/// Options for [`Dlb`]. Each option left unset is read from the
/// environment, then defaulted:
///
/// | option | environment | default |
/// |---|---|---|
/// | [`variant`](Builder::variant) | `DLB_VARIANT=rma\|static` | `rma` |
/// | [`atomics`](Builder::atomics) | `DLB_ATOMICS=mpi\|shm\|hybrid` | `shm` when all ranks share a node, else `hybrid` |
/// | [`window`](Builder::window) | `DLB_WINDOW=allocate\|shared\|create` | `shared` for `shm`; `allocate` for `mpi` and for `hybrid`'s window over all ranks (Open MPI 4 on one node: `shared`, then `allocate`) |
/// | [`timeout`](Builder::timeout) | `DLB_TIMEOUT=<seconds>` | off |
/// | [`claim_ahead`](Builder::claim_ahead) | `DLB_CLAIM_AHEAD=<n>` | 32 |
/// | [`per_call_timing`](Builder::per_call_timing) | `DLB_PER_CALL_TIMING=1\|0` | 0 |
/// | [`schedule`](Builder::schedule) | `DLB_SCHEDULE=fixed\|guided\|factoring` | `fixed` |
/// | [`direct_steals`](Builder::direct_steals), [`direct_steals_if_passive`](Builder::direct_steals_if_passive) | `DLB_DIRECT_STEALS=1\|0\|probe` | `probe` across real nodes; 0 on simulated nodes (`DLB_RANKS_PER_NODE`); 1 on SimGrid's SMPI |
/// | [`trace`](Builder::trace) | `DLB_TRACE=<file>` | off |
/// | [`verbose`](Builder::verbose) | `DLB_VERBOSE=1\|0` | 0 |
///
/// ```no_run
/// use dlb::{AtomicsPath, Dlb, Variant};
/// let _mpi = dlb::Mpi::init()?;
/// let dlb = Dlb::builder().variant(Variant::Rma).atomics(AtomicsPath::Mpi).init()?;
/// # Ok::<(), dlb::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    pub(crate) variant: Option<Variant>,
    pub(crate) atomics: Option<AtomicsPath>,
    pub(crate) window: Option<WindowFlavor>,
    pub(crate) seed: u64,
    pub(crate) max_units: Option<u64>,
    pub(crate) ranks_per_node: Option<usize>,
    pub(crate) tree_fan_out: Option<usize>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) claim_ahead: Option<u64>,
    pub(crate) per_call_timing: Option<bool>,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) direct_steals: Option<DirectSteals>,
    pub(crate) trace: Option<PathBuf>,
    pub(crate) verbose: Option<bool>,
    /// This rank's caller refused its own arguments (the Python layer): init
    /// still takes part in its first collective, and fails on every rank.
    pub(crate) refused: bool,
}

impl Builder {
    /// Chooses the variant.
    pub fn variant(mut self, variant: Variant) -> Builder {
        self.variant = Some(variant);
        self
    }

    /// Chooses the atomics path of the RMA variant.
    pub fn atomics(mut self, path: AtomicsPath) -> Builder {
        self.atomics = Some(path);
        self
    }

    /// Chooses how the window is created.
    pub fn window(mut self, flavor: WindowFlavor) -> Builder {
        self.window = Some(flavor);
        self
    }

    /// Seeds the victim choice (mixed with the rank).
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = seed;
        self
    }

    /// Testing aid: caps the units a range word counts, to exercise the
    /// coarse-unit path of huge runs with small job counts.
    #[doc(hidden)]
    pub fn max_units_per_word(mut self, max_units: u64) -> Builder {
        self.max_units = Some(max_units);
        self
    }

    /// Turns on the hang watchdog (also `DLB_TIMEOUT=<seconds>`; off by
    /// default): a rank that waits in `give_more` or `setup` longer than
    /// `timeout` while another rank has not called into dlb for that long
    /// prints what it knows, names the silent rank, and aborts the job
    /// (`MPI_Abort`, exit code 3). Choose it above your longest job, which
    /// would look like a hang. For diagnosing hangs; the RMA variant only.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().timeout(Duration::from_secs(60)).init()?;
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = Some(timeout);
        self
    }

    /// At most `chunks` chunks per claim from the rank's own range (also
    /// `DLB_CLAIM_AHEAD=<n>`; default 32, at most 1024; 1 turns it off).
    ///
    /// A claim is an atomic on the shared range word; when the chunks of
    /// the last claim were done within 2 µs of its return, the next claim takes
    /// twice as many (up to `chunks`), and later calls hand them out
    /// without an atomic, each still at most `maxjobs` jobs. Chunks claimed
    /// ahead cannot be stolen; they were predicted to take under about 4 µs in
    /// all. A slow chunk, a thief, or a wait for work brings it back to one.
    /// Turn it off when a job far longer than the ones before it may follow
    /// a run of jobs shorter than a microsecond.
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().claim_ahead(1).init()?; // one chunk per claim
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn claim_ahead(mut self, chunks: u64) -> Builder {
        self.claim_ahead = Some(chunks);
        self
    }

    /// Times every `give_more` call for [`Statistics`](crate::Statistics)
    /// (also `DLB_PER_CALL_TIMING=1`; always on for the static variant).
    /// By default the clock is read only when a call visits the shared
    /// range (to claim or to wait), twice per visit: calls served from
    /// chunks claimed ahead (or from one coarse unit of a run of more than
    /// 2^32 - 1 jobs) take a few nanoseconds, less than a clock read, and
    /// count as no time in `give_more`, and their work slices are counted
    /// as one.
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().per_call_timing(true).init()?;
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn per_call_timing(mut self, on: bool) -> Builder {
        self.per_call_timing = Some(on);
        self
    }

    /// Lets idle ranks steal directly from the ranges of ranks on other
    /// nodes (also `DLB_DIRECT_STEALS=1`), or never (`false`, also
    /// `DLB_DIRECT_STEALS=0`), instead of the default, which across real
    /// nodes lets init measure whether they suit the network
    /// ([`Builder::direct_steals_if_passive`]). For networks that do MPI
    /// atomics in hardware (RDMA atomics, which complete without the
    /// target's CPU: check `dlbcheck`'s "passive progress" line). Without
    /// them, ranks on different nodes move work only by a hunger mark that
    /// the owner answers in its next `give_more`, because on software RMA
    /// an operation on a rank busy outside MPI waits for it. With direct
    /// steals every rank's range word takes MPI atomics, also from its owner
    /// and its node-mates (the other words stay where they are; on the `mpi`
    /// path node-mates then steal from each other directly too), and the
    /// idle ranks of a node that ran dry steal from random ranks of other
    /// nodes with a read and a compare-and-swap, as from a node-mate. In the
    /// simulator's hardware-RDMA model (nodes of 8) that took a workload
    /// whose expensive jobs all start on one node from 1.22 to 1.03 times
    /// the lower bound at 64 ranks, and uniform jobs at 1,024 ranks from
    /// 1.033 to 1.015 (see BENCHMARKS.md). On software RMA a steal from a
    /// busy rank waits for it, and a rank told "no more" that computes
    /// outside MPI holds such a thief until it enters MPI again: leave it
    /// off there. Where an MPI locks the target's window for every atomic
    /// (Open MPI 4.1's osc/ucx; SimGrid's SMPI) thieves' compare-and-swaps
    /// also delay owners' claims (a thief reads with `MPI_Get`, which takes
    /// no lock); on SMPI it still took uniform jobs at 256 ranks from 1.19
    /// to 1.11-1.12 of the bound. On one node it changes nothing.
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().direct_steals(true).init()?;
    /// # let _ = dlb;
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn direct_steals(mut self, on: bool) -> Builder {
        self.direct_steals = Some(if on {
            DirectSteals::On
        } else {
            DirectSteals::Off
        });
        self
    }

    /// Turns direct steals ([`Builder::direct_steals`]) on only where MPI
    /// atomics across nodes turn out to be passive (also
    /// `DLB_DIRECT_STEALS=probe`). Where the ranks span several nodes, init
    /// then times two MPI atomics of rank 0 (an add, and a compare-and-swap
    /// as steals make) on a rank of another node, 10 ms into that rank's
    /// 20 ms asleep outside MPI (about 25 ms of init); both under 5 ms, with
    /// the target still asleep when they completed (a read of a word it set
    /// before its sleep says so), means hardware (or shared-memory) atomics,
    /// or a progress thread, and turns them on; anything longer means
    /// software RMA and leaves them off.
    /// Every rank follows rank 0's measurement.
    /// [`Dlb::direct_steals`](crate::Dlb::direct_steals) says what it chose,
    /// and `DLB_VERBOSE=1` the time it measured. On one node nothing is
    /// probed and nothing changes.
    ///
    /// This is the default across real nodes. Where nothing is set and
    /// dlb's nodes are simulated (`DLB_RANKS_PER_NODE`: blocks of one
    /// machine, whose probe would measure its shared memory), direct
    /// steals stay off; this option probes there too. On SimGrid's SMPI,
    /// whose MPI atomics are passive (as the probe finds, at the cost of
    /// about a minute of SMPI's wall time at 256 ranks), they are on by
    /// default, unprobed. Direct steals are measured in simulation (SMPI, and dlb's
    /// virtual-time simulator) and across software-RMA nodes, where the
    /// probe leaves them off; not yet on real RDMA hardware (BENCHMARKS.md).
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().direct_steals_if_passive().init()?;
    /// println!("direct steals: {}", dlb.direct_steals());
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn direct_steals_if_passive(mut self) -> Builder {
        self.direct_steals = Some(DirectSteals::IfPassive);
        self
    }

    /// Chooses how many jobs a claim from the rank's own range takes (also
    /// `DLB_SCHEDULE=fixed|guided|factoring`; default [`Schedule::Fixed`]).
    /// `maxjobs` stays the cap of every chunk: with `Guided` or
    /// `Factoring`, pass a large `maxjobs` (up to [`MAX_JOBS`](crate::MAX_JOBS))
    /// and chunks start large and shrink as the range empties, which saves
    /// calls on cheap jobs while keeping the last chunks small. The RMA
    /// variant only (the static variant hands out its block in `maxjobs`
    /// chunks); each rank applies its own choice.
    ///
    /// ```no_run
    /// use dlb::{Dlb, Schedule};
    /// let _mpi = dlb::Mpi::init()?;
    /// let mut dlb = Dlb::builder().schedule(Schedule::Guided).init()?;
    /// let mut run = dlb.setup(1_000_000)?;
    /// while let Some(jobs) = run.give_more(dlb::MAX_JOBS)? {
    ///     for _id in jobs { /* ... */ }
    /// }
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn schedule(mut self, schedule: Schedule) -> Builder {
        self.schedule = Some(schedule);
        self
    }

    /// Records a trace of every run (also `DLB_TRACE=<file>`; off by
    /// default): each chunk handed out (positions, how it was obtained:
    /// claim, ahead, steal, remote, static), each wait for work, each steal
    /// attempt (victim, outcome, latency), each take on another node and
    /// its answer, each run's setup and "no more".
    /// At [`finalize`](Dlb::finalize) rank 0 writes `file` in Chrome's
    /// trace-event JSON format (Perfetto, chrome://tracing; `dlbtrace gantt`
    /// draws it): one process per node, one thread per rank, times aligned
    /// at a barrier at init, and the provenance (versions, MPI library,
    /// paths, ranks, nodes, date). Costs one or two clock reads and 48
    /// bytes per `give_more` call while on; see `src/trace/mod.rs`. Every rank must
    /// trace or none (init fails with
    /// [`ErrorKind::Mismatch`](crate::ErrorKind) otherwise); rank 0 creates
    /// the file at init (an error on every rank if it cannot) and writes it.
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let mut dlb = dlb::Dlb::builder().trace("dlb-trace.json").init()?;
    /// let mut run = dlb.setup(100)?;
    /// while let Some(jobs) = run.give_more(4)? {
    ///     for _id in jobs { /* ... */ }
    /// }
    /// dlb.finalize()?; // rank 0 writes dlb-trace.json
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn trace(mut self, file: impl Into<PathBuf>) -> Builder {
        self.trace = Some(file.into());
        self
    }

    /// Every rank prints one line to standard error at init (also
    /// `DLB_VERBOSE=1`; off by default): the variant, the atomics path and
    /// how each level reaches the counters, the window flavor, claiming
    /// ahead, the schedule, tracing and the MPI library, each with why
    /// (set by the program, by an environment variable, or the default and
    /// the fact it rests on, such as "all 8 ranks share one node").
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// // dlb: rank 0 of 8: variant rma (default); atomics shm (default: all 8 ranks share one node); ...
    /// let dlb = dlb::Dlb::builder().verbose(true).init()?;
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn verbose(mut self, on: bool) -> Builder {
        self.verbose = Some(on);
        self
    }

    /// Testing aid: treats blocks of `k` consecutive ranks of each real node
    /// as nodes (a block never spans real nodes), so that the node-aware
    /// protocol can be exercised on one machine. Also `DLB_RANKS_PER_NODE=k`.
    #[doc(hidden)]
    pub fn ranks_per_node(mut self, k: usize) -> Builder {
        self.ranks_per_node = Some(k);
        self
    }

    /// Testing aid: `k` children per node in the tree over the nodes that
    /// carries counts of completed jobs up to rank 0 and "finished" down
    /// (16 by default; 1 to 2^20), so that few nodes make a deep tree.
    /// Also `DLB_TREE_FAN_OUT=k`.
    #[doc(hidden)]
    pub fn tree_fan_out(mut self, k: usize) -> Builder {
        self.tree_fan_out = Some(k);
        self
    }

    /// Initializes dlb on a duplicate of the communicator whose Fortran
    /// handle is `fcomm` (`MPI_Comm_f2c`), for the Python module. Collective.
    ///
    /// # Safety
    /// `fcomm` must be the Fortran handle of a communicator that is valid
    /// (not freed) in this process's MPI. MPI_COMM_NULL is refused.
    #[cfg(feature = "python")]
    pub(crate) unsafe fn init_from_fortran(self, fcomm: ffi::RSMPI_Fint) -> Result<Dlb> {
        mpi::ensure_initialized()?;
        let comm = mpi::comm_from_fortran(fcomm);
        // SAFETY: forwarded from this function's contract (init_with
        // refuses MPI_COMM_NULL and intercommunicators).
        unsafe { self.init_with(comm) }
    }

    /// Initializes dlb on `MPI_COMM_WORLD`. Collective.
    pub fn init(self) -> Result<Dlb> {
        mpi::ensure_initialized()?;
        // SAFETY: MPI is initialized and not finalized (checked above), so
        // MPI_COMM_WORLD (read by dlb-sys's shim: on SMPI it is no
        // constant) is a valid communicator.
        unsafe { self.init_with(ffi::dlb_mpi_comm_world()) }
    }

    /// Initializes dlb on a duplicate of `comm`. Collective over `comm`.
    ///
    /// # Safety
    /// `comm` must be a valid, not freed communicator handle of the MPI
    /// dlb was built against (rsmpi's `as_raw()` gives one).
    pub unsafe fn init_with(self, comm: ffi::MPI_Comm) -> Result<Dlb> {
        mpi::ensure_initialized()?;
        mpi::watch_finalize()?;
        // SAFETY: forwarded from this function's contract.
        let comm = unsafe { Comm::duplicate(comm) }?;
        Dlb::new(self, comm)
    }

    /// Initializes dlb on a duplicate of an [rsmpi](https://docs.rs/mpi)
    /// communicator: the world, a split, any `Communicator`. Collective over
    /// `comm`. Feature `rsmpi`; rsmpi 0.8 shares its `mpi-sys` with dlb, so
    /// the two see one MPI.
    ///
    /// ```no_run
    /// use mpi::traits::*;
    ///
    /// let universe = mpi::initialize().expect("MPI initializes once");
    /// let world = universe.world();
    /// let mut dlb = dlb::Dlb::builder().init_on(&world)?;
    /// let mut run = dlb.setup(100)?;
    /// while let Some(jobs) = run.give_more(4)? {
    ///     for id in jobs {
    ///         println!("rank {} runs job {id}", world.rank());
    ///     }
    /// }
    /// # Ok::<(), dlb::Error>(())
    /// ```
    #[cfg(feature = "rsmpi")]
    pub fn init_on<C>(self, comm: &C) -> Result<Dlb>
    where
        C: ::mpi::topology::Communicator + ::mpi::raw::AsRaw<Raw = ffi::MPI_Comm>,
    {
        // Before the handle is read: an rsmpi communicator value can outlive
        // its universe (MPI finalized), and then its handle is dead.
        mpi::ensure_initialized()?;
        // SAFETY: rsmpi hands out communicator values only for communicators
        // that exist (it frees a user communicator when its value drops, and
        // never makes one from MPI_COMM_NULL), `comm` is borrowed for the
        // call, and MPI is initialized and not finalized (checked above), so
        // the handle is valid; rsmpi 0.8's `mpi_sys::MPI_Comm` is dlb-sys's
        // (one mpi-sys, one MPI).
        unsafe { self.init_with(comm.as_raw()) }
    }
}
