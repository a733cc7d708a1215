//! [`Dlb`], its [`Builder`], and [`Run`]: the public interface of the
//! Fortran DLB library, in Rust.

use crate::atomics::{MpiAtomics, ShmAtomics, WindowAtomics, WORDS_PER_RANK};
use crate::config::{self, AtomicsPath, Variant};
use crate::dispenser::Dispenser;
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{Colors, Contiguous, Layout, RoundRobin, Strided};
use crate::mpi::{self, Comm, Window, WindowFlavor};
use crate::protocol::{Protocol, MAX_UNITS};
use dlb_sys as ffi;
use std::ops::Range;

/// Per-rank protocol counters of one run, from [`Dlb::statistics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Steal attempts (each a read of a victim's range, maybe a CAS).
    pub steal_attempts: u64,
    /// Successful steals.
    pub steals: u64,
    /// Units taken by successful steals (one unit is one job unless a run
    /// has more than 2^32 - 1 jobs).
    pub units_stolen: u64,
    /// Claims from the own range that lost a race with a thief and retried.
    pub claim_retries: u64,
    /// Additions to the global done counter.
    pub reports: u64,
    /// Time spent looking for work after the own range ran dry.
    pub idle: std::time::Duration,
}

/// The largest job count: DLB's `idlb_kind` is a signed 8-byte integer.
pub const MAX_JOBS: u64 = i64::MAX as u64;

/// Options for [`Dlb`]. Each option left unset is read from the
/// environment, then defaulted:
///
/// | option | environment | default |
/// |---|---|---|
/// | [`variant`](Builder::variant) | `DLB_VARIANT=rma\|static` | `rma` |
/// | [`atomics`](Builder::atomics) | `DLB_ATOMICS=mpi\|shm` | `shm` when all ranks share a node, else `mpi` |
/// | [`window`](Builder::window) | `DLB_WINDOW=allocate\|shared\|create` | `shared` for `shm`; `allocate` for `mpi` (Open MPI 4 on one node: `shared`, then `allocate`) |
///
/// ```no_run
/// use dlb::{AtomicsPath, Dlb, Variant};
/// let _mpi = dlb::Mpi::init()?;
/// let dlb = Dlb::builder().variant(Variant::Rma).atomics(AtomicsPath::Mpi).init()?;
/// # Ok::<(), dlb::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    variant: Option<Variant>,
    atomics: Option<AtomicsPath>,
    window: Option<WindowFlavor>,
    seed: u64,
    max_units: Option<u64>,
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

    /// Initializes dlb on `MPI_COMM_WORLD`. Collective.
    pub fn init(self) -> Result<Dlb> {
        mpi::ensure_initialized()?;
        // SAFETY: MPI is initialized and not finalized (checked above), so
        // MPI_COMM_WORLD is a valid communicator.
        unsafe { self.init_with(ffi::RSMPI_COMM_WORLD) }
    }

    /// Initializes dlb on a duplicate of `comm`. Collective over `comm`.
    ///
    /// # Safety
    /// `comm` must be a valid, not freed communicator handle of the MPI
    /// dlb was built against (rsmpi's `as_raw()` gives one).
    pub unsafe fn init_with(self, comm: ffi::MPI_Comm) -> Result<Dlb> {
        mpi::ensure_initialized()?;
        // SAFETY: forwarded from this function's contract.
        let comm = unsafe { Comm::duplicate(comm) }?;
        Dlb::new(self, comm)
    }
}

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
    dispenser: Dispenser<WindowAtomics>,
    variant: Variant,
    path: Option<AtomicsPath>,
    flavor: Option<WindowFlavor>,
    comm: Comm,
}

/// One run: from `setup` until `give_more` answers `None`. Borrows the
/// [`Dlb`], so a new run cannot start inside this one:
///
/// ```compile_fail
/// # fn f(dlb: &mut dlb::Dlb) -> dlb::Result<()> {
/// let mut run = dlb.setup(10)?;
/// let other = dlb.setup(5)?; // error: `dlb` is still borrowed by `run`
/// run.give_more(1)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a run must be drained with give_more until it answers None"]
pub struct Run<'a, M> {
    dlb: &'a mut Dlb,
    mapping: M,
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

    fn new(builder: Builder, comm: Comm) -> Result<Dlb> {
        let variant = match builder.variant {
            Some(v) => v,
            None => config::variant_from_env()?.unwrap_or(Variant::Rma),
        };
        let asked_path = match builder.atomics {
            Some(p) => Some(p),
            None => config::atomics_from_env()?,
        };
        let asked_window = match builder.window {
            Some(w) => Some(w),
            None => config::window_from_env()?,
        };
        agree(
            &comm,
            [
                variant as u64,
                asked_path.map_or(9, |p| p as u64),
                asked_window.map_or(9, |w| w as u64),
            ],
        )?;
        let (rank, size) = (comm.rank(), comm.size());
        let max_units = builder.max_units.unwrap_or(MAX_UNITS);
        let (protocol, path, flavor) = match variant {
            Variant::Static => (None, None, None),
            Variant::Rma => {
                let atomics = open_atomics(&comm, asked_path, asked_window)?;
                let (path, flavor) = match &atomics {
                    WindowAtomics::Mpi(a) => (AtomicsPath::Mpi, a.flavor()),
                    WindowAtomics::Shm(_) => (AtomicsPath::Shm, WindowFlavor::Shared),
                };
                (
                    Some(Protocol::new(atomics, builder.seed)),
                    Some(path),
                    Some(flavor),
                )
            }
        };
        Ok(Dlb {
            dispenser: Dispenser::new(protocol, rank, size, max_units),
            variant,
            path,
            flavor,
            comm,
        })
    }

    /// This rank in dlb's communicator.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Every rank's `value`, in rank order: a collective on dlb's private
    /// communicator, for reports (jobs per rank, busy time, ...).
    ///
    /// ```no_run
    /// # fn f(dlb: &dlb::Dlb) -> dlb::Result<()> {
    /// let jobs_per_rank = dlb.allgather(42)?;
    /// assert_eq!(jobs_per_rank.len(), dlb.size());
    /// # Ok(()) }
    /// ```
    pub fn allgather(&self, value: u64) -> Result<Vec<u64>> {
        self.comm.allgather(value)
    }

    /// What the protocol did on this rank in the current or last run
    /// (reset at every setup). All zero for the static variant.
    pub fn statistics(&self) -> Statistics {
        let c = self.dispenser.counters();
        Statistics {
            steal_attempts: c.steal_attempts,
            steals: c.steals,
            units_stolen: c.units_stolen,
            claim_retries: c.claim_retries,
            reports: c.reports,
            idle: c.idle,
        }
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

    /// Starts a run of `jobs` jobs with IDs `0..jobs`; rank `k` of `p` first
    /// owns DLB's block `q*k + min(r, k)..` (`q = jobs / p`, `r = jobs % p`).
    /// Collective: every rank must pass the same `jobs`.
    pub fn setup(&mut self, jobs: u64) -> Result<Run<'_, Contiguous>> {
        let valid = (jobs <= MAX_JOBS).then(|| Contiguous::new(jobs));
        self.begin(valid, || format!("setup({jobs}): at most {MAX_JOBS} jobs"))
    }

    /// Starts a run over colors: color `i` has `distr[i]` jobs with IDs
    /// `0..distr[i]`; chunks never mix colors, and empty colors are never
    /// returned. Collective: every rank must pass the same `distr`.
    pub fn setup_color(&mut self, distr: &[u64]) -> Result<Run<'_, Colors>> {
        let valid = Colors::new(distr, MAX_JOBS);
        self.begin(valid, || {
            format!(
                "setup_color: the {} colors hold more than {MAX_JOBS} jobs",
                distr.len()
            )
        })
    }

    /// Starts a round-robin run: rank `r` of `p` first owns IDs `r, r+p, ...`;
    /// chunks (also stolen ones) are strided by `p`. Collective.
    pub fn setup_rr(&mut self, jobs: u64) -> Result<Run<'_, RoundRobin>> {
        let ranks = self.size() as u64;
        let valid = (jobs <= MAX_JOBS).then(|| RoundRobin::new(jobs, ranks));
        self.begin(valid, || {
            format!("setup_rr({jobs}): at most {MAX_JOBS} jobs")
        })
    }

    /// The collective part of every setup: agree on the arguments, check
    /// that no rank is inside an unfinished run, and start the run. Every
    /// rank takes part even when its own arguments are invalid, so all ranks
    /// fail together instead of some waiting forever.
    fn begin<M: Layout>(
        &mut self,
        mapping: Option<M>,
        invalid: impl Fn() -> String,
    ) -> Result<Run<'_, M>> {
        let fingerprint = mapping.as_ref().map_or([0; 3], Layout::fingerprint);
        let mut flags = [
            u64::from(mapping.is_none()),
            u64::from(self.dispenser.is_open()),
        ];
        self.comm.allreduce_max(&mut flags)?;
        let Some(mapping) = mapping else {
            return Err(Error::invalid_argument(invalid()));
        };
        if flags[0] != 0 {
            return Err(Error::new(
                ErrorKind::Mismatch,
                "another rank passed invalid arguments to setup",
            ));
        }
        if flags[1] != 0 {
            return Err(Error::invalid_state(
                "a previous run is unfinished on some rank: every rank must call give_more until it \
                 answers no more before the next setup (finalize and init again to recover)",
            ));
        }
        agree(&self.comm, fingerprint).map_err(|_| {
            Error::new(
                ErrorKind::Mismatch,
                "ranks called setup with different interfaces, job counts or colors",
            )
        })?;
        self.dispenser.begin(mapping.jobs())?;
        Ok(Run { dlb: self, mapping })
    }

    /// Frees the window and the private communicator. Collective. Dropping a
    /// `Dlb` does the same but can only print errors.
    pub fn finalize(self) -> Result<()> {
        drop(self);
        Ok(())
    }
}

impl<M> Run<'_, M> {
    fn next(&mut self, maxjobs: u64) -> Result<Option<Range<u64>>>
    where
        M: Layout,
    {
        self.dlb.dispenser.next(&self.mapping, maxjobs)
    }

    /// The `Dlb` this run belongs to (rank, size, ...).
    pub fn dlb(&self) -> &Dlb {
        self.dlb
    }
}

impl Run<'_, Contiguous> {
    /// The next 1..=`maxjobs` job IDs for this rank, or `None` once every
    /// job of the run has been completed on every rank (static variant:
    /// once this rank's own block is done). Asking again counts the
    /// previous chunk as completed. After `None`, always `None`.
    pub fn give_more(&mut self, maxjobs: u64) -> Result<Option<Range<u64>>> {
        self.next(maxjobs)
    }
}

impl Run<'_, Colors> {
    /// The next chunk as `(color, IDs within the color)`; see
    /// [`Run::<Contiguous>::give_more`](Run::give_more).
    pub fn give_more(&mut self, maxjobs: u64) -> Result<Option<(usize, Range<u64>)>> {
        Ok(self.next(maxjobs)?.map(|p| self.mapping.chunk(p)))
    }
}

impl Run<'_, RoundRobin> {
    /// The next chunk as strided IDs; see
    /// [`Run::<Contiguous>::give_more`](Run::give_more).
    pub fn give_more(&mut self, maxjobs: u64) -> Result<Option<Strided>> {
        Ok(self.next(maxjobs)?.map(|p| self.mapping.chunk(p)))
    }
}

/// Fails unless every rank passed the same `values` (one all-reduce of the
/// values and their complements).
fn agree<const N: usize>(comm: &Comm, values: [u64; N]) -> Result<()> {
    let mut both = vec![0u64; 2 * N];
    for (i, v) in values.iter().enumerate() {
        both[i] = *v;
        both[N + i] = !*v;
    }
    comm.allreduce_max(&mut both)?;
    if (0..N).all(|i| both[i] == !both[N + i]) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Mismatch,
            "ranks chose different variants, atomics or windows",
        ))
    }
}

/// Creates the window for the RMA variant and wraps it in its atomics.
fn open_atomics(
    comm: &Comm,
    asked: Option<AtomicsPath>,
    window: Option<WindowFlavor>,
) -> Result<WindowAtomics> {
    let one_node = comm.all_on_one_node()?;
    let path = match asked {
        Some(AtomicsPath::Shm) if !one_node => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "DLB_ATOMICS=shm needs all ranks on one node; these ranks span several",
            ))
        }
        Some(path) => path,
        None if one_node => AtomicsPath::Shm,
        None => AtomicsPath::Mpi,
    };
    let mut last_error = None;
    for flavor in config::flavors(path, window, one_node)? {
        match Window::new(comm, flavor, WORDS_PER_RANK) {
            Ok(win) => {
                return Ok(match path {
                    AtomicsPath::Shm => {
                        WindowAtomics::Shm(ShmAtomics::new(win, comm.rank(), comm.size()))
                    }
                    AtomicsPath::Mpi => {
                        WindowAtomics::Mpi(MpiAtomics::new(win, comm.rank(), comm.size())?)
                    }
                })
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.expect("at least one flavor is tried"))
}
