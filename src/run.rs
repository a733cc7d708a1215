//! [`Run`]: one run from `setup` until `give_more` answers `None`, and its
//! `give_more` for each mapping (contiguous, colors, round-robin). Also the
//! crate-private steps both `Run` and the C API (src/capi/) take: starting a
//! run without borrowing the `Dlb` (`start_plain`, `start_color`,
//! `start_rr`, and `begin`, their collective part) and taking the next
//! chunk (`next_chunk`).

use crate::dlb::{Dlb, MAX_JOBS};
use crate::error::{Error, ErrorKind, Result};
use crate::init::{agreed, with_complements};
use crate::mapping::{Colors, Contiguous, Mapping, RoundRobin, Strided};
use std::ops::Range;

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
    pub(crate) dlb: &'a mut Dlb,
    pub(crate) mapping: M,
}

impl<M> Run<'_, M> {
    fn next(&mut self, maxjobs: u64) -> Result<Option<Range<u64>>>
    where
        M: Mapping,
    {
        self.dlb.next_chunk(&self.mapping, maxjobs)
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

impl Dlb {
    /// `setup` without the borrow, for the C API: the caller keeps the
    /// mapping and passes it to [`Dlb::next_chunk`].
    pub(crate) fn start_plain(&mut self, jobs: u64) -> Result<Contiguous> {
        let valid = (jobs <= MAX_JOBS).then(|| Contiguous::new(jobs));
        self.begin(valid, || format!("setup({jobs}): at most {MAX_JOBS} jobs"))
    }

    /// `setup_color` without the borrow (see [`Dlb::start_plain`]).
    pub(crate) fn start_color(&mut self, distr: &[u64]) -> Result<Colors> {
        let valid = Colors::new(distr, MAX_JOBS);
        self.begin(valid, || {
            format!(
                "setup_color: the {} colors hold more than {MAX_JOBS} jobs",
                distr.len()
            )
        })
    }

    /// `setup_rr` without the borrow (see [`Dlb::start_plain`]).
    pub(crate) fn start_rr(&mut self, jobs: u64) -> Result<RoundRobin> {
        let ranks = self.size() as u64;
        let valid = (jobs <= MAX_JOBS).then(|| RoundRobin::new(jobs, ranks));
        self.begin(valid, || {
            format!("setup_rr({jobs}): at most {MAX_JOBS} jobs")
        })
    }

    /// The next chunk of the run started with `mapping`, as positions.
    pub(crate) fn next_chunk<M: Mapping>(
        &mut self,
        mapping: &M,
        maxjobs: u64,
    ) -> Result<Option<Range<u64>>> {
        crate::mpi::ensure_active()?;
        self.dispenser.next(mapping, maxjobs)
    }

    /// The collective part of every setup: agree on the arguments, check
    /// that no rank is inside an unfinished run, and start the run. Every
    /// rank takes part even when its own arguments are invalid, so all ranks
    /// fail together instead of some waiting forever.
    fn begin<M: Mapping>(&mut self, mapping: Option<M>, invalid: impl Fn() -> String) -> Result<M> {
        crate::mpi::ensure_active()?;
        let fingerprint = mapping.as_ref().map_or([0; 3], Mapping::fingerprint);
        // One all-reduce: the flags, then the fingerprint and its
        // complements (`agreed`). It sleeps after a short spin, so that on
        // oversubscribed cores the first ranks to arrive leave the cores to
        // the late ones (a blocking MPICH all-reduce busy-polls: at 8 ranks
        // on 2 cores two of them took 40 ms).
        let mut words = vec![
            u64::from(mapping.is_none()),
            u64::from(self.dispenser.is_open()),
        ];
        words.extend(with_complements(&fingerprint));
        // An error of this rank's after the all-reduce, when the others go
        // on to begin the run (`Dispenser::fail_begin`).
        let mut late = Ok(());
        match self.dispenser.protocol_mut().filter(|p| p.watching()) {
            None => self.comm.allreduce_max_serving(&mut words, || Ok(()))?,
            // The hang watchdog watches the wait for the others here too.
            Some(protocol) => {
                protocol.wait_begins("in setup for the other ranks")?;
                self.comm
                    .allreduce_max_serving(&mut words, || protocol.watch())?;
                late = protocol.wait_ends();
            }
        }
        let (flags, fingerprints) = words.split_at(2);
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
        if !agreed(fingerprints) {
            return Err(Error::new(
                ErrorKind::Mismatch,
                "ranks called setup with different interfaces, job counts or colors",
            ));
        }
        if let Err(e) = late {
            self.dispenser.fail_begin(mapping.jobs());
            return Err(e);
        }
        self.dispenser.begin(mapping.jobs())?;
        Ok(mapping)
    }
}
