//! [`Dlb`], the public handle: init and finalize, what init chose, and
//! `setup`, `setup_color` and `setup_rr`, which start a [`Run`]. The
//! interface of the Fortran DLB library, in Rust; the rest of `Dlb`'s
//! methods live with what they are about: init's choices in `src/init.rs`,
//! runs in `src/run.rs`, statistics in `src/report.rs`, diagnostics in
//! `src/diagnostics.rs`, and the options in `src/builder.rs`.

use crate::atomics::{Atomics, WindowAtomics};
use crate::builder::Builder;
use crate::config::{AtomicsPath, Variant};
use crate::dispenser::Dispenser;
use crate::error::Result;
use crate::mapping::{Colors, Contiguous, RoundRobin};
use crate::mpi::{self, Comm, WindowFlavor};
use crate::run::Run;
use std::time::Duration;

/// The largest job count: DLB's `idlb_kind` is a signed 8-byte integer.
pub const MAX_JOBS: u64 = i64::MAX as u64;

/// The state of one rank: a private communicator, the window with this
/// rank's counters, and the current run.
///
/// ```no_run
/// let _mpi = dlb::Mpi::init()?;
/// let mut dlb = dlb::Dlb::init()?;
/// let mut run = dlb.setup(20)?;
/// while let Some(jobs) = run.give_more(2)? {
///     for id in jobs {
///         println!("rank {} does job {id}", dlb.rank());
///     }
/// #   break;
/// }
/// # Ok::<(), dlb::Error>(())
/// ```
#[derive(Debug)]
pub struct Dlb {
    // Declared before `comm`: the window inside is freed before the
    // communicator it was created on.
    pub(crate) dispenser: Dispenser<WindowAtomics>,
    pub(crate) variant: Variant,
    pub(crate) path: Option<AtomicsPath>,
    pub(crate) flavor: Option<WindowFlavor>,
    /// Whether `quiesce` ran (it runs once, at finalize or drop).
    pub(crate) quiesced: bool,
    /// Simulated nodes of this many ranks (`Builder::ranks_per_node` or
    /// `DLB_RANKS_PER_NODE`, as resolved at init).
    pub(crate) ranks_per_node: Option<usize>,
    pub(crate) comm: Comm,
}

/// How long a rank whose `Dlb` is dropped inside an unfinished run waits
/// for the other ranks to drop theirs too (see `Drop for Dlb`).
const LEAVE_WAIT: Duration = Duration::from_secs(10);

/// Dropped on every rank alike (the end of a scope), a `Dlb` frees its
/// windows and communicator, collectively, as `finalize` does.
///
/// Dropped by a panic that unwinds through it, it makes no MPI call: the
/// other ranks do not share that moment (they may wait in `give_more` for
/// this rank's jobs), so a collective would hang the job where the panic
/// should end it. Its windows and communicator are then left to
/// `MPI_Finalize` or to the process's end.
///
/// Dropped inside an unfinished run of the RMA variant (set up, and
/// `give_more` has not answered "no more": `?` returned an error from the
/// loop, or between `setup` and the loop, or from a `setup` that failed on
/// this rank after the others began the run), it waits up to 10 seconds for
/// the other ranks' cleanup: if every rank left the run alike, they all
/// come and it ends collectively as above. Otherwise they never come: they
/// wait in `give_more` for this rank's jobs (those it was handed and did
/// not report, and units only it can hand out), or compute the run without
/// it and then wait for it in a later collective. It says so and leaves
/// without MPI calls, like a panic.
///
/// In both cases, where a [`crate::Mpi`] guard started MPI, the guard then
/// skips `MPI_Finalize` (which would wait for the others) and, at the
/// process's exit, after the panic's or `main`'s error message,
/// `MPI_Abort` ends the job: launchers do not all end a job when one of
/// its processes exits without `MPI_Finalize`. Where MPI was started
/// otherwise (rsmpi's universe, the program's own `MPI_Init`), a `Dlb`
/// left inside an unfinished run, by a panic or after those 10 seconds,
/// ends the job with `MPI_Abort` at once: the program's `MPI_Finalize`
/// would wait first (a panic's message is printed before it unwinds).
impl Drop for Dlb {
    fn drop(&mut self) {
        let in_run = self.in_open_run();
        if std::thread::panicking() {
            self.abandon("a panic unwound through dlb");
            if in_run {
                if mpi::guarded() {
                    mpi::end_job_at_exit(false);
                } else {
                    // The panic's message is out (the hook runs before
                    // unwinding); the program's MPI_Finalize, on the way
                    // out, would wait for ranks that wait for this one.
                    self.end_the_job_now();
                }
            }
            return;
        }
        if in_run {
            // Every rank left this run alike, or the others wait for this
            // rank: in give_more for its jobs, or in a later collective.
            if self.quiesce_within(Some(LEAVE_WAIT)).is_ok() {
                return;
            }
            self.leave_the_job();
            return;
        }
        if let Err(e) = self.quiesce() {
            eprintln!("{e}");
        }
    }
}

impl Dlb {
    /// Initializes dlb on `MPI_COMM_WORLD` with options from the
    /// environment. Collective. Shorthand for `Dlb::builder().init()`.
    pub fn init() -> Result<Dlb> {
        Builder::default().init()
    }

    /// Options for init.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// This rank in dlb's communicator.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// The variant in use.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The atomics path in use (`None` for the static variant).
    pub fn atomics_path(&self) -> Option<AtomicsPath> {
        self.path
    }

    /// The window flavor in use (`None` for the static variant).
    pub fn window_flavor(&self) -> Option<WindowFlavor> {
        self.flavor
    }

    /// Whether idle ranks steal directly from other nodes' ranges (see
    /// [`Builder::direct_steals`]): asked for, or found passive by
    /// [`Builder::direct_steals_if_passive`]'s probe (which init runs by
    /// default across real nodes), and the ranks span several nodes. The
    /// same on every rank.
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().direct_steals(false).init()?;
    /// assert!(!dlb.direct_steals());
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn direct_steals(&self) -> bool {
        self.dispenser.direct_steals()
    }

    /// The file this `Dlb`'s trace goes to at [`finalize`](Dlb::finalize)
    /// (rank 0 writes it), when tracing: the name asked for the first
    /// `Dlb` of a process, with `.1`, `.2`, ... for later ones (see
    /// [`Builder::trace`]).
    ///
    /// ```no_run
    /// let _mpi = dlb::Mpi::init()?;
    /// let dlb = dlb::Dlb::builder().trace("run.json").init()?;
    /// assert_eq!(dlb.trace_path(), Some(std::path::Path::new("run.json")));
    /// # Ok::<(), dlb::Error>(())
    /// ```
    pub fn trace_path(&self) -> Option<&std::path::Path> {
        self.dispenser.trace_path()
    }

    /// Starts a run of `jobs` jobs with IDs `0..jobs`; rank `k` of `p` first
    /// owns DLB's block `q*k + min(r, k)..` (`q = jobs / p`, `r = jobs % p`).
    /// Collective: every rank must pass the same `jobs`. It is one
    /// all-reduce, during which a rank that waits for others sleeps after
    /// 50 µs (so oversubscribed ranks leave the cores to the late ones).
    pub fn setup(&mut self, jobs: u64) -> Result<Run<'_, Contiguous>> {
        let mapping = self.start_plain(jobs)?;
        Ok(Run { dlb: self, mapping })
    }

    /// Starts a run over colors: color `i` has `distr[i]` jobs with IDs
    /// `0..distr[i]`; chunks never mix colors, and empty colors are never
    /// returned. Collective: every rank must pass the same `distr`.
    pub fn setup_color(&mut self, distr: &[u64]) -> Result<Run<'_, Colors>> {
        let mapping = self.start_color(distr)?;
        Ok(Run { dlb: self, mapping })
    }

    /// Starts a round-robin run: rank `r` of `p` first owns IDs `r, r+p, ...`;
    /// chunks (also stolen ones) are strided by `p`. Collective.
    pub fn setup_rr(&mut self, jobs: u64) -> Result<Run<'_, RoundRobin>> {
        let mapping = self.start_rr(jobs)?;
        Ok(Run { dlb: self, mapping })
    }

    /// Completes this rank's operations in flight, writes the trace when
    /// tracing (every rank's records gathered to rank 0, which writes the
    /// file; an error writing it is returned on rank 0 only), then frees the
    /// window and the private communicator. Collective. An error in any
    /// step is returned (the first one; the later steps still run, so every
    /// rank takes part in every collective). Dropping a `Dlb` does the same
    /// but writes no trace and can only print errors.
    pub fn finalize(mut self) -> Result<()> {
        let quiesced = self.quiesce();
        // Every rank takes part, whatever its quiesce said, so that the
        // collectives of the trace match (nothing when not tracing).
        let traced = self.write_trace();
        let windows = match self.dispenser.protocol_mut() {
            Some(protocol) => protocol.atomics_mut().free(),
            None => Ok(()),
        };
        let comm = self.comm.free();
        quiesced.and(traced).and(windows).and(comm)
    }

    /// Gives the windows and the communicator up without an MPI call, for
    /// a drop by a panic or inside an unfinished run (see `Drop for Dlb`),
    /// saying why.
    fn abandon(&mut self, why: &str) {
        self.quiesced = true;
        if let Some(protocol) = self.dispenser.protocol_mut() {
            protocol.atomics_mut().abandon();
        }
        self.comm.abandon();
        eprintln!(
            "dlb: rank {}: {why}; it leaves its windows to MPI_Finalize without a collective \
             cleanup",
            self.rank()
        );
    }

    /// Whether this rank, its `Dlb` not finalized and MPI up, is inside an
    /// unfinished run of the RMA variant, which other ranks wait for (see
    /// `Dispenser::in_open_run`).
    fn in_open_run(&self) -> bool {
        !self.quiesced
            && self.size() > 1
            && self.dispenser.in_open_run()
            && mpi::ensure_active().is_ok()
    }

    /// Leaves a run whose other ranks did not come to the cleanup (see
    /// `Drop for Dlb`): no more MPI calls here, and the job ends.
    fn leave_the_job(&mut self) {
        self.abandon(&format!(
            "dropped in an unfinished run (before give_more answered 'no more': an error \
             returned from the loop, or between setup and the loop, or from a setup that \
             failed here?), and the other ranks did \
             not leave the run within {} s: they wait for this rank's jobs, or will wait for it \
             in a collective",
            LEAVE_WAIT.as_secs()
        ));
        if mpi::guarded() {
            mpi::end_job_at_exit(true);
        } else {
            // The program's own MPI_Finalize would wait for the others
            // before any exit: end the job now.
            self.end_the_job_now();
        }
    }

    /// Ends the job with `MPI_Abort` at once, for a rank that leaves a run
    /// where MPI was not started by `dlb::Mpi`, saying why.
    fn end_the_job_now(&self) -> ! {
        eprintln!(
            "dlb: rank {}: ending the job (MPI_Abort): MPI was not started by dlb::Mpi, and its \
             MPI_Finalize would wait for ranks that wait for this one",
            self.rank()
        );
        mpi::abort_with(1)
    }

    /// Completes this rank's operations still in flight (takes, answers,
    /// notices and reports started before the last run ended), then waits
    /// until every rank did, serving theirs meanwhile: only then may the
    /// window be freed. Once.
    fn quiesce(&mut self) -> Result<()> {
        self.quiesce_within(None)
    }

    /// [`Dlb::quiesce`], failing after `limit` if given (the barrier's
    /// request then stays pending: only for a rank that leaves the job).
    fn quiesce_within(&mut self, limit: Option<Duration>) -> Result<()> {
        if self.quiesced || mpi::ensure_initialized().is_err() {
            return Ok(());
        }
        self.quiesced = true;
        let Some(protocol) = self.dispenser.protocol_mut() else {
            return Ok(());
        };
        let began = crate::clock::Instant::now();
        let in_time = || match limit {
            Some(limit) if began.elapsed() > limit => Err(crate::error::Error::invalid_state(
                "the other ranks did not come to the cleanup in time",
            )),
            _ => Ok(()),
        };
        while protocol.ops_in_flight() {
            protocol.poll_outside_run()?;
            in_time()?;
            crate::clock::sleep(Duration::from_micros(20));
        }
        self.comm.barrier_serving(|| {
            protocol.atomics().progress()?;
            in_time()
        })
    }
}
