//! The private communicator dlb works on: a duplicate of the user's, with
//! `MPI_ERRORS_RETURN` so that failures come back as values (MPI-4.0 §6.4.2,
//! §9.3).

use super::environment::{check, is_finalized};
use super::request_null;
use crate::error::Result;
use dlb_sys as ffi;
use std::ffi::{c_int, c_void};
use std::time::Duration;

/// The reduction operations dlb uses.
#[derive(Clone, Copy)]
enum Reduction {
    Max,
    Sum,
}

impl Reduction {
    fn handle(self) -> ffi::MPI_Op {
        // SAFETY: reads of immutable predefined handles of the mpi-sys shim.
        unsafe {
            match self {
                Reduction::Max => ffi::RSMPI_MAX,
                Reduction::Sum => ffi::RSMPI_SUM,
            }
        }
    }
}

/// An owned duplicate of a user communicator, freed on drop.
#[derive(Debug)]
pub(crate) struct Comm {
    raw: ffi::MPI_Comm,
    rank: usize,
    size: usize,
}

impl Comm {
    /// `MPI_Comm_dup` of `user` (§6.4.2), with `MPI_ERRORS_RETURN` set on the
    /// duplicate only: the user's error handler is left alone.
    ///
    /// # Safety
    /// `user` must be a valid communicator handle of the running MPI (not
    /// `MPI_COMM_NULL`, not freed), and this is collective over it.
    pub(crate) unsafe fn duplicate(user: ffi::MPI_Comm) -> Result<Comm> {
        // SAFETY: MPI_COMM_NULL is an immutable global of the shim.
        if user == unsafe { ffi::RSMPI_COMM_NULL } {
            return Err(crate::Error::invalid_argument(
                "the communicator is MPI_COMM_NULL",
            ));
        }
        // An intercommunicator has two groups: its collectives fill buffers
        // sized by the remote group, which dlb sizes by its own. Refused on
        // every rank alike (the property belongs to the communicator).
        let mut inter: std::ffi::c_int = 0;
        // SAFETY: the caller guarantees `user` is valid; `inter` is a valid
        // out-flag.
        check("MPI_Comm_test_inter", unsafe {
            ffi::MPI_Comm_test_inter(user, &mut inter)
        })?;
        if inter != 0 {
            return Err(crate::Error::invalid_argument(
                "the communicator is an intercommunicator: dlb needs an intracommunicator",
            ));
        }
        let mut raw = user;
        // SAFETY: the caller guarantees `user` is valid; `raw` is a valid
        // out-handle.
        check("MPI_Comm_dup", unsafe { ffi::MPI_Comm_dup(user, &mut raw) })?;
        Comm::adopt(raw)
    }

    /// The raw handle, for the window module.
    pub(super) fn raw(&self) -> ffi::MPI_Comm {
        self.raw
    }

    /// This process's rank in the communicator.
    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Element-wise maximum over all ranks, in place (`MPI_Allreduce`, §6.9.6).
    pub(crate) fn allreduce_max(&self, values: &mut [u64]) -> Result<()> {
        self.allreduce(values, Reduction::Max)
    }

    fn allreduce(&self, values: &mut [u64], op: Reduction) -> Result<()> {
        let send = values.to_vec();
        // SAFETY: both buffers hold `values.len()` u64s matching
        // MPI_UINT64_T; the communicator is valid; the call is collective and
        // every rank passes the same count (callers use fixed-size arrays).
        check("MPI_Allreduce", unsafe {
            ffi::MPI_Allreduce(
                send.as_ptr() as *const c_void,
                values.as_mut_ptr() as *mut c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                op.handle(),
                self.raw,
            )
        })
    }

    /// Element-wise sum over all ranks, in place (`MPI_Allreduce`, §6.9.6).
    pub(crate) fn allreduce_sum(&self, values: &mut [u64]) -> Result<()> {
        self.allreduce(values, Reduction::Sum)
    }

    /// The ranks that share memory with this one, as a communicator of
    /// their own (`MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)`, §7.4.2),
    /// ordered by rank in `self`. Collective.
    pub(crate) fn split_node(&self) -> Result<Comm> {
        let mut node = self.raw;
        // SAFETY: valid communicator; MPI_INFO_NULL is predefined; `node` is
        // a valid out-handle.
        check("MPI_Comm_split_type", unsafe {
            ffi::MPI_Comm_split_type(
                self.raw,
                ffi::DLB_MPI_COMM_TYPE_SHARED,
                self.rank as c_int,
                ffi::RSMPI_INFO_NULL,
                &mut node,
            )
        })?;
        Comm::adopt(node)
    }

    /// Takes ownership of a communicator MPI just created: sets
    /// `MPI_ERRORS_RETURN` and reads rank and size; freed on drop, also on
    /// the error paths here.
    fn adopt(raw: ffi::MPI_Comm) -> Result<Comm> {
        let mut comm = Comm {
            raw,
            rank: 0,
            size: 0,
        };
        // SAFETY: `comm.raw` is a valid communicator; ERRORS_RETURN is a
        // predefined handler.
        check("MPI_Comm_set_errhandler", unsafe {
            ffi::MPI_Comm_set_errhandler(comm.raw, ffi::RSMPI_ERRORS_RETURN)
        })?;
        let (mut rank, mut size): (c_int, c_int) = (0, 0);
        // SAFETY: valid communicator and out-pointers.
        check("MPI_Comm_rank", unsafe {
            ffi::MPI_Comm_rank(comm.raw, &mut rank)
        })?;
        // SAFETY: as above.
        check("MPI_Comm_size", unsafe {
            ffi::MPI_Comm_size(comm.raw, &mut size)
        })?;
        comm.rank = rank as usize;
        comm.size = size as usize;
        Ok(comm)
    }

    /// `MPI_Comm_split` (§6.4.2) by `color`, ordered by rank in `self`.
    /// Collective.
    pub(crate) fn split(&self, color: usize) -> Result<Comm> {
        let mut raw = self.raw;
        // SAFETY: valid communicator; `raw` is a valid out-handle; color and
        // key are non-negative ints.
        check("MPI_Comm_split", unsafe {
            ffi::MPI_Comm_split(self.raw, color as c_int, self.rank as c_int, &mut raw)
        })?;
        Comm::adopt(raw)
    }

    /// The node of every rank: node `i` is the `i`-th group of ranks that
    /// share memory, numbered in the order of their lowest rank, and this
    /// rank's node as a communicator. With `ranks_per_node`, nodes are
    /// blocks of that many consecutive ranks of each real node instead (a
    /// testing aid: it simulates nodes within one; a block never spans two
    /// real nodes, whose ranks share no memory). Collective.
    pub(crate) fn node_map(&self, ranks_per_node: Option<usize>) -> Result<(Vec<usize>, Comm)> {
        let node = match ranks_per_node {
            Some(k) => {
                let real = self.split_node()?;
                real.split(real.rank() / k.max(1))?
            }
            None => self.split_node()?,
        };
        // The lowest rank of my node names it: gather my node's ranks.
        let mates = node.allgather(&[self.rank as u64])?;
        let lowest = mates.iter().copied().min().unwrap_or(self.rank as u64);
        let lowest_of_each = self.allgather(&[lowest])?;
        let mut leaders: Vec<u64> = lowest_of_each.clone();
        leaders.sort_unstable();
        leaders.dedup();
        let map = lowest_of_each
            .iter()
            .map(|l| leaders.binary_search(l).expect("a leader of its own node"))
            .collect();
        Ok((map, node))
    }

    /// The number of nodes the ranks span: the leaders (rank 0) of the
    /// node groups, counted. Collective.
    pub(crate) fn node_count(&self) -> Result<usize> {
        let node = self.split_node()?;
        let mut leaders = [u64::from(node.rank() == 0)];
        self.allreduce_sum(&mut leaders)?;
        Ok(leaders[0] as usize)
    }
}

impl Comm {
    /// Frees the duplicate (collective). Once; nothing is freed after
    /// `MPI_Finalize`, where the handle is simply gone.
    pub(crate) fn free(&mut self) -> Result<()> {
        // SAFETY: MPI_COMM_NULL is an immutable predefined handle.
        let null = unsafe { ffi::RSMPI_COMM_NULL };
        if self.raw == null || !matches!(is_finalized(), Ok(false)) {
            return Ok(());
        }
        // SAFETY: `raw` is our own duplicate, freed only here (MPI sets the
        // handle to MPI_COMM_NULL).
        let rc = unsafe { ffi::MPI_Comm_free(&mut self.raw) };
        self.raw = null;
        check("MPI_Comm_free", rc)
    }

    /// Gives the duplicate up without an MPI call (`MPI_Comm_free` is
    /// collective), for a rank that leaves by a panic (see
    /// `Window::abandon`).
    pub(crate) fn abandon(&mut self) {
        // SAFETY: MPI_COMM_NULL is an immutable predefined handle.
        self.raw = unsafe { ffi::RSMPI_COMM_NULL };
    }
}

impl Drop for Comm {
    fn drop(&mut self) {
        if let Err(e) = self.free() {
            eprintln!("{e}");
        }
    }
}

impl Comm {
    /// A barrier that keeps calling `serve` while it waits (`MPI_Ibarrier`,
    /// §6.12.1, and `MPI_Test`): on software RMA other ranks' operations on
    /// this rank's window complete only while it calls MPI. Collective.
    pub(crate) fn barrier_serving(&self, mut serve: impl FnMut() -> Result<()>) -> Result<()> {
        self.ibarrier(&mut serve, Duration::ZERO, Duration::from_micros(20))
    }

    /// `MPI_Ibarrier` (§6.12.1), completed by [`complete_serving`].
    fn ibarrier(
        &self,
        serve: &mut impl FnMut() -> Result<()>,
        spin: Duration,
        longest: Duration,
    ) -> Result<()> {
        let mut request = request_null();
        // SAFETY: valid communicator and out-handle; collective.
        check("MPI_Ibarrier", unsafe {
            ffi::MPI_Ibarrier(self.raw, &mut request)
        })?;
        complete_serving(&mut request, serve, spin, longest)
    }

    /// Element-wise maximum over all ranks, in place, calling `serve` while
    /// it waits (`MPI_Iallreduce`, §6.12.8, and `MPI_Test`). It tests
    /// without a pause for the first 50 µs (on dedicated cores, the whole
    /// wait when the ranks arrive together), then sleeps between tests, for
    /// a sixteenth of the wait so far, up to a millisecond: a rank may wait
    /// here long for a late one, and on oversubscribed cores a busy-polling
    /// wait takes the core from the very ranks it waits for. Collective.
    pub(crate) fn allreduce_max_serving(
        &self,
        values: &mut [u64],
        mut serve: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        // Buffers of our own, not `values`: if the wait below fails (an
        // error of `serve`, say the hang watchdog's, or of MPI_Test), the
        // request may still be active, and MPI may still read and write
        // them; they are leaked then.
        let send = values.to_vec();
        let mut receive = vec![0u64; values.len()];
        let mut request = request_null();
        // SAFETY: both buffers hold `values.len()` u64s matching
        // MPI_UINT64_T and live until the request completes (the wait
        // below returns Ok only then) or forever (leaked on an error);
        // valid communicator and out-handle; collective, with the same
        // count on every rank.
        check("MPI_Iallreduce", unsafe {
            ffi::MPI_Iallreduce(
                send.as_ptr() as *const c_void,
                receive.as_mut_ptr() as *mut c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                Reduction::Max.handle(),
                self.raw,
                &mut request,
            )
        })?;
        match complete_serving(&mut request, &mut serve, SPIN, Duration::from_millis(1)) {
            Ok(()) => {
                values.copy_from_slice(&receive);
                Ok(())
            }
            Err(e) => {
                std::mem::forget(send);
                std::mem::forget(receive);
                Err(e)
            }
        }
    }

    /// A barrier that sleeps while it waits (`MPI_Ibarrier` and `MPI_Test`,
    /// paced as in [`Comm::allreduce_max_serving`] but with sleeps of at
    /// most 250 µs), so that ranks that arrive early leave the cores to
    /// those still working when ranks oversubscribe them (MPICH's blocking
    /// calls busy-poll). The shorter cap is for software RMA, where other
    /// ranks' operations on this rank's window progress only while it
    /// calls MPI. Collective.
    pub(crate) fn barrier_sleeping(&self) -> Result<()> {
        self.ibarrier(&mut || Ok(()), SPIN, Duration::from_micros(250))
    }

    /// `MPI_Barrier` (§6.3).
    pub(crate) fn barrier(&self) -> Result<()> {
        // SAFETY: valid communicator; collective.
        check("MPI_Barrier", unsafe { ffi::MPI_Barrier(self.raw) })
    }
}

impl Comm {
    /// Every rank's `values`, concatenated in rank order (`MPI_Allgather`,
    /// §6.7). Every rank must pass the same number of values.
    pub(crate) fn allgather(&self, values: &[u64]) -> Result<Vec<u64>> {
        let mut all = vec![0u64; self.size * values.len()];
        // SAFETY: `values.len()` u64s sent and as many received from each of
        // `size` ranks into a buffer of that size, matching MPI_UINT64_T; the
        // buffers live across the blocking call; collective.
        check("MPI_Allgather", unsafe {
            ffi::MPI_Allgather(
                values.as_ptr() as *const c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                all.as_mut_ptr() as *mut c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                self.raw,
            )
        })?;
        Ok(all)
    }
}

/// The C handle of the communicator whose Fortran handle is `fcomm`
/// (`MPI_Comm_f2c`, §19.3.4, through mpi-sys's shim: a macro in MPICH),
/// for the Python module (mpi4py's `py2f`). What it returns for a handle
/// that names no live communicator is the MPI's business (MPI_COMM_NULL,
/// or a null pointer in Open MPI): callers pass only handles of live
/// communicators.
#[cfg(feature = "python")]
pub(crate) fn comm_from_fortran(fcomm: ffi::RSMPI_Fint) -> ffi::MPI_Comm {
    // SAFETY: a conversion of handles that reads no memory of ours; callers
    // call it only while MPI is initialized.
    unsafe { ffi::RSMPI_Comm_f2c(fcomm) }
}

impl Comm {
    /// Every rank's `values` on rank 0, one vector per rank in rank order
    /// (`None` on the other ranks): `MPI_Allgather` of the counts (so that
    /// every rank sees a count too large, and fails with the others), then
    /// `MPI_Gatherv` (§6.5). Ranks may pass different numbers of values;
    /// each at most `i32::MAX`, and on rank 0 their sum too (an error
    /// otherwise, on every rank). Collective.
    pub(crate) fn gather_to_root(&self, values: &[u64]) -> Result<Option<Vec<Vec<u64>>>> {
        let counts = self.allgather(&[values.len() as u64])?;
        let total: u64 = counts.iter().sum();
        if counts.iter().any(|&c| c > i32::MAX as u64) || total > i32::MAX as u64 {
            return Err(crate::error::Error::invalid_argument(format!(
                "gather: {total} values in all, more than MPI's int counts hold"
            )));
        }
        let root = self.rank == 0;
        let c_counts: Vec<c_int> = counts.iter().map(|&c| c as c_int).collect();
        let displs: Vec<c_int> = c_counts
            .iter()
            .scan(0, |at, &c| Some(std::mem::replace(at, *at + c)))
            .collect();
        let mut all = vec![0u64; if root { total as usize } else { 0 }];
        // SAFETY: every rank sends its `values.len()` u64s (MPI_UINT64_T),
        // the count every rank agreed through the allgather above; on rank 0
        // the receive buffer holds the sum of the counts and `displs` are
        // their prefix sums, all within i32 (checked), so each rank's block
        // lands inside it; the receive arguments are significant only at the
        // root, and elsewhere point to valid (empty) vectors; buffers live
        // across the blocking call; collective.
        check("MPI_Gatherv", unsafe {
            ffi::MPI_Gatherv(
                values.as_ptr() as *const c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                all.as_mut_ptr() as *mut c_void,
                c_counts.as_ptr(),
                displs.as_ptr(),
                ffi::RSMPI_UINT64_T,
                0,
                self.raw,
            )
        })?;
        if !root {
            return Ok(None);
        }
        Ok(Some(
            c_counts
                .iter()
                .zip(&displs)
                .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
                .collect(),
        ))
    }
}

/// Point-to-point messages, for the master-worker baseline of the
/// benchmarks only (feature `bench`): dlb itself sends nothing.
#[cfg(feature = "bench")]
impl Comm {
    /// `MPI_Send` of `values` to `dest` with `tag` (§3.2.1). For the
    /// master-worker baseline of the benchmarks; dlb itself sends nothing.
    pub(crate) fn send(&self, values: &[u64], dest: usize, tag: i32) -> Result<()> {
        // SAFETY: the buffer holds `values.len()` u64s matching MPI_UINT64_T
        // and lives across the blocking call; valid communicator.
        check("MPI_Send", unsafe {
            ffi::MPI_Send(
                values.as_ptr() as *const c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                dest as c_int,
                tag,
                self.raw,
            )
        })
    }

    /// `MPI_Recv` from any source with any tag (§3.2.4); returns the source
    /// and the tag.
    pub(crate) fn recv_any(&self, values: &mut [u64]) -> Result<(usize, i32)> {
        // SAFETY: MPI_Status is a plain C struct of integers; all-zero is a
        // valid value and MPI overwrites it.
        let mut status: ffi::MPI_Status = unsafe { std::mem::zeroed() };
        // SAFETY: the buffer holds `values.len()` u64s matching MPI_UINT64_T
        // and lives across the blocking call; the wildcards are predefined;
        // `status` is valid.
        check("MPI_Recv", unsafe {
            ffi::MPI_Recv(
                values.as_mut_ptr() as *mut c_void,
                values.len() as c_int,
                ffi::RSMPI_UINT64_T,
                ffi::RSMPI_ANY_SOURCE,
                ffi::RSMPI_ANY_TAG,
                self.raw,
                &mut status,
            )
        })?;
        Ok((status.MPI_SOURCE as usize, status.MPI_TAG))
    }
}

/// How long a rank waiting in a collective tests without a pause before it
/// sleeps between tests (see [`Comm::allreduce_max_serving`]).
const SPIN: Duration = Duration::from_micros(50);

/// Tests the active nonblocking collective `request` until it completes,
/// calling `serve` between tests. For the first `spin` it tests without a
/// pause (not under SMPI, whose tests take no virtual time); then it sleeps
/// between tests for a sixteenth of the wait so far, at least 8 µs and at
/// most `longest`, so that a rank leaves at most about 6% of its wait (or
/// 8 µs) after the collective completed: see [`Comm::barrier_serving`].
fn complete_serving(
    request: &mut ffi::MPI_Request,
    serve: &mut impl FnMut() -> Result<()>,
    spin: Duration,
    longest: Duration,
) -> Result<()> {
    debug_assert!(longest >= Duration::from_micros(8));
    let spin = if cfg!(dlb_smpi) { Duration::ZERO } else { spin };
    let began = crate::clock::Instant::now();
    loop {
        let mut flag: c_int = 0;
        // SAFETY: `request` is the active request of a collective started
        // by the caller (MPI sets it to MPI_REQUEST_NULL when it completes,
        // after which the loop ends); `flag` is valid; the status is ignored.
        check("MPI_Test", unsafe {
            ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE)
        })?;
        if flag != 0 {
            return Ok(());
        }
        serve()?;
        let waited = began.elapsed();
        if waited < spin {
            std::hint::spin_loop();
            continue;
        }
        crate::clock::sleep((waited / 16).clamp(Duration::from_micros(8), longest));
    }
}
