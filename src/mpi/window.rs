//! RMA windows of `u64` words (MPI-4.0 chapter 12): creation in three
//! flavors, one passive-target epoch for MPI atomics, and direct access to
//! the words of a shared-memory window for CPU atomics.
//!
//! The window holds the raw handle of the communicator it was created on but
//! does not own it: its owner (`Dlb`) declares the window before the
//! communicator, so the window is freed first.

use super::comm::Comm;
use super::environment::{check, is_finalized};
use super::request_null;
use crate::error::{Error, ErrorKind, Result};
use atomic::Atomic;
use dlb_sys as ffi;
use std::ffi::{c_int, c_void, CString};
use std::ptr;

/// How the RMA window holding dlb's counters is created.
///
/// Chosen with [`Builder::window`](crate::Builder::window) or
/// `DLB_WINDOW=allocate|shared|create`; by default dlb picks one (see
/// [`Builder`](crate::Builder)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowFlavor {
    /// `MPI_Win_allocate` (MPI-4.0 §12.2.2): MPI allocates, any set of ranks.
    Allocate,
    /// `MPI_Win_allocate_shared` (§12.2.3): one node only; every rank can
    /// address every other rank's words.
    Shared,
    /// `MPI_Alloc_mem` + `MPI_Win_create` (§12.2.1).
    Create,
}

impl WindowFlavor {
    /// The name used by `DLB_WINDOW`.
    pub fn name(self) -> &'static str {
        match self {
            WindowFlavor::Allocate => "allocate",
            WindowFlavor::Shared => "shared",
            WindowFlavor::Create => "create",
        }
    }
}

/// Words each rank's window holds beyond the caller's, for the lock that
/// makes `MPI_Compare_and_swap` atomic on SimGrid's SMPI (see
/// [`Window::compare_and_swap`]); none elsewhere.
const SMPI_CAS_LOCK_WORDS: usize = if cfg!(dlb_smpi) { 2 } else { 0 };

/// A window of `words_per_rank` zero-initialized `u64`s on every rank.
#[derive(Debug)]
pub(crate) struct Window {
    raw: ffi::MPI_Win,
    /// The communicator the window was created on (not owned).
    comm: ffi::MPI_Comm,
    flavor: WindowFlavor,
    words_per_rank: usize,
    /// Memory from `MPI_Alloc_mem` (Create flavor), freed after the window.
    alloc_mem: *mut c_void,
    /// Base of every rank's words (Shared flavor only).
    shared_bases: Vec<*mut u64>,
    /// This rank's words, and whether the memory model is
    /// `MPI_WIN_UNIFIED` (only then may it read them with loads: `peek`).
    own_base: *mut u64,
    unified: bool,
    epoch_open: bool,
    /// Atomics on this window complete without the target's help, so
    /// `progress` has nothing to do: Open MPI's shared windows (osc/sm does
    /// them with CPU atomics).
    passive: bool,
    /// A receive that never matches, posted with the epoch when the window
    /// is not passive: testing it drives MPI's progress engine on every
    /// stack (see `progress`).
    hook: Option<ProgressHook>,
}

/// A posted `MPI_Irecv` that no message matches, and its (unused) buffer.
#[derive(Debug)]
struct ProgressHook {
    request: std::cell::Cell<ffi::MPI_Request>,
    _buffer: Box<u64>,
}

/// The tag of the progress hook: dlb sends no messages on its private
/// communicator, and MPI guarantees tags up to 32767.
const HOOK_TAG: c_int = 32_767;
/// `MPI_Test` calls per [`Window::progress`].
const PROGRESS_CALLS: usize = 3;

const U64_BYTES: usize = std::mem::size_of::<u64>();

/// Window hints. `accumulate_ordering=none`: dlb flushes after every atomic,
/// so MPI need not order them. `same_size`/`same_disp_unit`: true here and
/// lets MPI skip exchanging them. `acc_single_intrinsic` (Open MPI 5's
/// osc/ucx and osc/rdma; other MPIs ignore a key they do not know): every
/// accumulate dlb makes is one element of an intrinsic type, so each atomic
/// may be one network atomic instead of a remote lock on the target's window,
/// the operation and an unlock. Open MPI 4.1's osc/ucx has no such key and
/// always locks; over TCP, where each step waits for the target to enter
/// MPI, contended atomics there take tens to hundreds of milliseconds.
const INFO_HINTS: [(&str, &str); 4] = [
    ("accumulate_ordering", "none"),
    ("same_size", "true"),
    ("same_disp_unit", "true"),
    ("acc_single_intrinsic", "true"),
];

/// An `MPI_Info` freed on drop (§10).
struct Info(ffi::MPI_Info);

impl Info {
    fn hints() -> Result<Info> {
        // SAFETY: MPI_INFO_NULL is an immutable predefined handle.
        let mut raw = unsafe { ffi::RSMPI_INFO_NULL };
        // SAFETY: valid out-handle.
        check("MPI_Info_create", unsafe { ffi::MPI_Info_create(&mut raw) })?;
        let info = Info(raw);
        for (key, value) in INFO_HINTS {
            let (k, v) = (
                CString::new(key).expect("no NUL"),
                CString::new(value).expect("no NUL"),
            );
            // SAFETY: valid info handle and NUL-terminated strings that outlive
            // the call (MPI copies them).
            check("MPI_Info_set", unsafe {
                ffi::MPI_Info_set(info.0, k.as_ptr(), v.as_ptr())
            })?;
        }
        Ok(info)
    }
}

impl Drop for Info {
    fn drop(&mut self) {
        // SAFETY: the handle was created by MPI_Info_create and is freed once.
        let rc = unsafe { ffi::MPI_Info_free(&mut self.0) };
        if let Err(e) = check("MPI_Info_free", rc) {
            eprintln!("{e}");
        }
    }
}

impl Window {
    /// Creates the window collectively over `comm` and zeroes this rank's
    /// words. Returns after a barrier, so no rank can access a word before
    /// its owner zeroed it.
    pub(crate) fn new(comm: &Comm, flavor: WindowFlavor, words_per_rank: usize) -> Result<Window> {
        if cfg!(dlb_smpi) && flavor == WindowFlavor::Shared {
            // Same answer on every rank, so no rank is left in a collective.
            return Err(Error::new(
                ErrorKind::Unsupported,
                "SimGrid's SMPI gives every rank of a shared window the same memory: use \
                 DLB_ATOMICS=mpi (the default path falls back to it)",
            ));
        }
        let bytes = ((words_per_rank + SMPI_CAS_LOCK_WORDS) * U64_BYTES) as ffi::MPI_Aint;
        let info = Info::hints()?;
        let mut base: *mut c_void = ptr::null_mut();
        // SAFETY: MPI_WIN_NULL is an immutable predefined handle.
        let mut raw = unsafe { ffi::RSMPI_WIN_NULL };
        let mut alloc_mem: *mut c_void = ptr::null_mut();
        // MPI_Win_allocate and MPI_Win_allocate_shared take the same arguments.
        type Allocator = unsafe extern "C" fn(
            ffi::MPI_Aint,
            c_int,
            ffi::MPI_Info,
            ffi::MPI_Comm,
            *mut c_void,
            *mut ffi::MPI_Win,
        ) -> c_int;
        let mut allocate = |call: &'static str, allocator: Allocator| {
            // SAFETY: `comm` is a valid communicator, `info` a valid info,
            // `base`/`raw` valid out-pointers; sizes are non-negative and the
            // same on every rank (collective call).
            let rc = unsafe {
                allocator(
                    bytes,
                    U64_BYTES as c_int,
                    info.0,
                    comm.raw(),
                    &mut base as *mut *mut c_void as *mut c_void,
                    &mut raw,
                )
            };
            (call, rc)
        };
        let (call, rc) = match flavor {
            WindowFlavor::Allocate => allocate("MPI_Win_allocate", ffi::MPI_Win_allocate),
            WindowFlavor::Shared => {
                allocate("MPI_Win_allocate_shared", ffi::MPI_Win_allocate_shared)
            }
            WindowFlavor::Create => {
                // SAFETY: MPI_Alloc_mem with a valid size, MPI_INFO_NULL and a
                // valid out-pointer (§9.2).
                check("MPI_Alloc_mem", unsafe {
                    ffi::MPI_Alloc_mem(
                        bytes,
                        ffi::RSMPI_INFO_NULL,
                        &mut alloc_mem as *mut *mut c_void as *mut c_void,
                    )
                })?;
                base = alloc_mem;
                // SAFETY: `base` points to `bytes` bytes that live until the
                // window is freed (Drop frees the window first).
                ("MPI_Win_create", unsafe {
                    ffi::MPI_Win_create(
                        base,
                        bytes,
                        U64_BYTES as c_int,
                        info.0,
                        comm.raw(),
                        &mut raw,
                    )
                })
            }
        };
        let mut win = Window {
            raw,
            comm: comm.raw(),
            flavor,
            words_per_rank,
            alloc_mem,
            shared_bases: Vec::new(),
            own_base: ptr::null_mut(),
            unified: false,
            epoch_open: false,
            passive: flavor == WindowFlavor::Shared && ffi::DLB_MPI_IS_OPEN_MPI == 1,
            hook: None,
        };
        check(call, rc).map_err(|e| window_error(e, flavor))?;
        win.initialize(comm, base, call)?;
        Ok(win)
    }

    /// After creation (collective): errors returned, not fatal; the memory
    /// model checked where CPU atomics will run; the epoch opened; this
    /// rank's words zeroed and made visible before any rank accesses them.
    fn initialize(&mut self, comm: &Comm, base: *mut c_void, call: &str) -> Result<()> {
        // SAFETY: `self.raw` is the window just created.
        check("MPI_Win_set_errhandler", unsafe {
            ffi::MPI_Win_set_errhandler(self.raw, ffi::RSMPI_ERRORS_RETURN)
        })?;
        if (base as usize) % U64_BYTES != 0 {
            return Err(Error::internal(format!(
                "{call} returned memory not aligned to 8 bytes"
            )));
        }
        self.own_base = base as *mut u64;
        let unified = self.require_unified();
        self.unified = unified.is_ok();
        if self.flavor == WindowFlavor::Shared {
            // Agreed: a rank that returned alone would leave the others
            // waiting in the barrier below (MPICH lets a shared window span
            // nodes and then answers the query with 0 bytes).
            let bases = unified.and_then(|()| {
                (0..comm.size())
                    .map(|r| self.shared_query(r))
                    .collect::<Result<Vec<_>>>()
            });
            let mut failed = [u64::from(bases.is_err())];
            comm.allreduce_max(&mut failed)?;
            self.shared_bases = bases?;
            if failed[0] != 0 {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "another rank cannot use the shared window (shared-memory windows need \
                     every rank on one node)",
                ));
            }
        }
        self.open_epoch()?;
        // SAFETY: `base` points to this rank's `words_per_rank` u64s (and the
        // SMPI lock words after them), which no other process touches before
        // the barrier below.
        unsafe {
            ptr::write_bytes(
                base as *mut u64,
                0,
                self.words_per_rank + SMPI_CAS_LOCK_WORDS,
            )
        };
        // The zeros are stores to the window: make them part of its public
        // copy before any rank may access it (§12.7, the unified model's
        // store-then-sync-then-barrier rule), and see the others' zeros.
        self.sync()?;
        comm.barrier()?;
        self.sync()
    }

    /// Fails unless the window's memory model is `MPI_WIN_UNIFIED`
    /// (`MPI_WIN_MODEL`, §12.4): CPU atomics on a window's memory are
    /// defined only where the public and private copies are one.
    fn require_unified(&self) -> Result<()> {
        let mut model: *mut c_int = ptr::null_mut();
        let mut flag: c_int = 0;
        // SAFETY: valid window; MPI_WIN_MODEL is a predefined window
        // attribute whose value MPI stores as a pointer to an int; both
        // out-pointers are valid.
        check("MPI_Win_get_attr", unsafe {
            ffi::MPI_Win_get_attr(
                self.raw,
                ffi::DLB_MPI_WIN_MODEL as c_int,
                &mut model as *mut *mut c_int as *mut c_void,
                &mut flag,
            )
        })?;
        // SAFETY: when `flag` is set, `model` points to the attribute's int,
        // which MPI keeps while the window exists.
        let unified =
            flag != 0 && !model.is_null() && unsafe { *model } == ffi::DLB_MPI_WIN_UNIFIED as c_int;
        if unified {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Unsupported,
                "this MPI's shared window is not MPI_WIN_UNIFIED, so CPU atomics on it \
                 are not allowed: use DLB_ATOMICS=mpi",
            ))
        }
    }

    /// `MPI_Win_lock_all(MPI_MODE_NOCHECK)` (§12.5.3): opens the one
    /// passive-target epoch the window lives in, until it is freed. No
    /// round trip: with NOCHECK no rank ever takes an exclusive lock.
    fn open_epoch(&mut self) -> Result<()> {
        // SAFETY: valid window; no epoch is open (`epoch_open` is false).
        check("MPI_Win_lock_all", unsafe {
            ffi::MPI_Win_lock_all(ffi::DLB_MPI_MODE_NOCHECK, self.raw)
        })?;
        self.epoch_open = true;
        Ok(())
    }

    /// `MPI_Win_sync` (§12.5.4): orders this rank's stores to the window
    /// with respect to other processes' accesses after a synchronization.
    fn sync(&self) -> Result<()> {
        // SAFETY: valid window inside its passive-target epoch.
        check("MPI_Win_sync", unsafe { ffi::MPI_Win_sync(self.raw) })
    }

    /// `MPI_Win_shared_query` (§12.2.3): the base of `rank`'s words.
    fn shared_query(&self, rank: usize) -> Result<*mut u64> {
        let mut size: ffi::MPI_Aint = 0;
        let mut disp: c_int = 0;
        let mut base: *mut c_void = ptr::null_mut();
        // SAFETY: valid shared window; valid out-pointers.
        check("MPI_Win_shared_query", unsafe {
            ffi::MPI_Win_shared_query(
                self.raw,
                rank as c_int,
                &mut size,
                &mut disp,
                &mut base as *mut *mut c_void as *mut c_void,
            )
        })?;
        if (size as usize) < self.words_per_rank * U64_BYTES || (base as usize) % U64_BYTES != 0 {
            return Err(Error::internal(format!(
                "MPI_Win_shared_query gave {size} bytes at {base:p} for rank {rank}"
            )));
        }
        Ok(base as *mut u64)
    }

    /// Whether MPI atomics on this window complete without the target's
    /// help (Open MPI's osc/sm: CPU atomics on shared memory).
    pub(crate) fn is_passive(&self) -> bool {
        self.passive
    }

    pub(crate) fn flavor(&self) -> WindowFlavor {
        self.flavor
    }

    /// Prepares the window for MPI atomics (its epoch is open since
    /// creation): where they may need this rank's help, posts the receive
    /// that `progress` tests.
    pub(crate) fn serve_atomics(&mut self) -> Result<()> {
        if !self.passive && self.hook.is_none() {
            self.post_hook()?;
        }
        Ok(())
    }

    fn check_index(&self, index: usize) {
        debug_assert!(self.epoch_open, "MPI atomics outside the lock_all epoch");
        debug_assert!(
            index < self.words_per_rank,
            "word {index} out of the window"
        );
    }

    /// `MPI_Compare_and_swap` on `target`'s word `index`, completed with
    /// `MPI_Win_flush` (§12.3.4, §12.5.4). Returns the previous value.
    ///
    /// On SimGrid's SMPI 3.32 (`cfg(dlb_smpi)`) the call alone is not
    /// atomic: it reads the word under the target window's mutex but
    /// releases it before its write lands, so a concurrent one reads the old
    /// value (8 ranks doing 100 compare-and-swap increments each left 450 of
    /// 800). There each one runs under a ticket lock on the target, two
    /// words after the caller's taken and released with `MPI_Fetch_and_op`,
    /// which SMPI does atomically; it costs three more round trips.
    pub(crate) fn compare_and_swap(
        &self,
        target: usize,
        index: usize,
        expected: u64,
        new: u64,
    ) -> Result<u64> {
        self.check_index(index);
        #[cfg(dlb_smpi)]
        {
            // Released also when the operation fails: a lock left taken
            // would leave every other rank's operation on `target` waiting.
            let ticket = self.smpi_lock(target)?;
            let result = self.compare_and_swap_flushed(target, index, expected, new);
            let unlocked = self.smpi_unlock(target, ticket);
            let old = result?;
            unlocked?;
            Ok(old)
        }
        #[cfg(not(dlb_smpi))]
        self.compare_and_swap_flushed(target, index, expected, new)
    }

    /// The `MPI_Compare_and_swap` and `MPI_Win_flush` of
    /// [`Window::compare_and_swap`].
    fn compare_and_swap_flushed(
        &self,
        target: usize,
        index: usize,
        expected: u64,
        new: u64,
    ) -> Result<u64> {
        let mut old: u64 = 0;
        let compare = &expected as *const u64 as *const c_void;
        // SimGrid's SMPI 3.32 declares the compare buffer without `const`;
        // it only reads it, as the standard says.
        #[cfg(dlb_smpi)]
        let compare = compare.cast_mut();
        // SAFETY: origin, compare and result point to live u64s that stay
        // valid until the flush below completes the operation; the target
        // displacement is inside the window (checked in debug builds, fixed
        // by the callers' layout); an epoch is open.
        check("MPI_Compare_and_swap", unsafe {
            ffi::MPI_Compare_and_swap(
                &new as *const u64 as *const c_void,
                compare,
                &mut old as *mut u64 as *mut c_void,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                self.raw,
            )
        })?;
        self.flush(target)?;
        Ok(old)
    }

    /// Takes the ticket lock of `target`'s window (SMPI only, see
    /// [`Window::compare_and_swap`]); returns the ticket.
    #[cfg(dlb_smpi)]
    fn smpi_lock(&self, target: usize) -> Result<u64> {
        let (next, serving) = (self.words_per_rank, self.words_per_rank + 1);
        let ticket = self.fetch_op_at(target, next, 1, RmaOp::Sum)?;
        let mut pause = std::time::Duration::from_micros(1);
        while self.fetch_op_at(target, serving, 0, RmaOp::NoOp)? != ticket {
            crate::clock::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_micros(64));
        }
        Ok(ticket)
    }

    /// Releases the lock that [`Window::smpi_lock`] took with `ticket`.
    #[cfg(dlb_smpi)]
    fn smpi_unlock(&self, target: usize, ticket: u64) -> Result<()> {
        let serving = self.words_per_rank + 1;
        let was = self.fetch_op_at(target, serving, 1, RmaOp::Sum)?;
        debug_assert_eq!(was, ticket, "the SMPI lock was not held");
        Ok(())
    }

    /// `MPI_Fetch_and_op` with `op` on `target`'s word `index`, completed
    /// with `MPI_Win_flush` (§12.3.4). Returns the previous value.
    pub(crate) fn fetch_op(
        &self,
        target: usize,
        index: usize,
        value: u64,
        op: RmaOp,
    ) -> Result<u64> {
        self.check_index(index);
        self.fetch_op_at(target, index, value, op)
    }

    /// [`Window::fetch_op`] on any word of the window, the SMPI lock words
    /// included.
    fn fetch_op_at(&self, target: usize, index: usize, value: u64, op: RmaOp) -> Result<u64> {
        let mut old: u64 = 0;
        // SAFETY: as in `compare_and_swap` (`index` is inside the window:
        // below `words_per_rank` or one of the lock words after them); the
        // op handle is predefined.
        check("MPI_Fetch_and_op", unsafe {
            ffi::MPI_Fetch_and_op(
                &value as *const u64 as *const c_void,
                &mut old as *mut u64 as *mut c_void,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                op.handle(),
                self.raw,
            )
        })?;
        self.flush(target)?;
        Ok(old)
    }

    /// `MPI_Get` of `target`'s word `index`, completed with `MPI_Win_flush`
    /// (§12.3.3, §12.5.4): a read that is not an atomic. While an atomic
    /// update of the word is in progress MPI leaves the value it returns
    /// undefined (§12.7: a conflicting access, not an erroneous one since
    /// MPI-3), so callers use it only as a hint that an atomic confirms.
    /// Unlike an atomic it takes no lock where an MPI runs atomics under
    /// one (Open MPI 4.1's osc/ucx; dlb's own on SMPI, see
    /// [`Window::compare_and_swap`]).
    pub(crate) fn get(&self, target: usize, index: usize) -> Result<u64> {
        self.check_index(index);
        let mut value: u64 = 0;
        // SAFETY: the origin buffer is a live u64 that stays valid until the
        // flush below completes the get; one MPI_UINT64_T at a displacement
        // inside the window (checked in debug builds, fixed by the callers'
        // layout); an epoch is open.
        check("MPI_Get", unsafe {
            ffi::MPI_Get(
                &mut value as *mut u64 as *mut c_void,
                1,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                1,
                ffi::RSMPI_UINT64_T,
                self.raw,
            )
        })?;
        self.flush(target)?;
        Ok(value)
    }

    /// Starts `MPI_Rget` (§12.3.5) of `target`'s word `index`: a read that
    /// completes later, when [`RmaRequest::test`] says so. Its value may be
    /// stale or, while an atomic update of the word is in progress, any
    /// value (a get is no atomic). Unlike the atomics, it takes no lock on
    /// the target's window where an MPI serializes atomics behind one:
    /// measured on Open MPI 4.1's osc/ucx across simulated nodes, an
    /// `MPI_Rget` on a rank that sleeps 450 ms outside MPI returns in
    /// 0.1 ms, where `MPI_Rget_accumulate` spins inside the call until the
    /// target wakes.
    pub(crate) fn start_get(&self, target: usize, index: usize) -> Result<RmaRequest> {
        self.check_index(index);
        let mut req = RmaRequest::unstarted(0);
        let result = req.result_ptr();
        // SAFETY: the result points into a heap block owned by the request,
        // which is never moved or freed while the request is active (its
        // Drop leaks the block if MPI still owns it); one MPI_UINT64_T at a
        // displacement inside the window; an epoch is open.
        check("MPI_Rget", unsafe {
            ffi::MPI_Rget(
                result,
                1,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                1,
                ffi::RSMPI_UINT64_T,
                self.raw,
                &mut req.raw,
            )
        })?;
        Ok(req)
    }

    /// Starts `MPI_Rput` (§12.3.5) of `value` into `target`'s word
    /// `index`: a write that completes later, when [`RmaRequest::test`]
    /// says so (its result is then 0). By MPI's letter that completion is
    /// local (the origin buffer may be reused); Open MPI 4.1's osc/ucx
    /// completes it with a fence and a fetch-and-add of 0 on a word of the
    /// target's window state (osc/ucx's own, not the word written), so
    /// there it says the target received the put. A put is no atomic: it
    /// must not meet atomics on the same word, and one that overlaps
    /// another write or a read leaves, or returns, an undefined value
    /// (§12.7). Like
    /// `MPI_Rget`, it takes no lock on the target's window where an MPI
    /// serializes atomics behind one (Open MPI 4.1's osc/ucx).
    pub(crate) fn start_put(&self, target: usize, index: usize, value: u64) -> Result<RmaRequest> {
        self.check_index(index);
        let mut req = RmaRequest::unstarted(value);
        let origin = req.origin_ptr();
        // SAFETY: the origin points into a heap block owned by the request,
        // which is never moved or freed while the request is active (its
        // Drop leaks the block if MPI still owns it); one MPI_UINT64_T at a
        // displacement inside the window; an epoch is open.
        check("MPI_Rput", unsafe {
            ffi::MPI_Rput(
                origin,
                1,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                1,
                ffi::RSMPI_UINT64_T,
                self.raw,
                &mut req.raw,
            )
        })?;
        Ok(req)
    }

    /// Starts `MPI_Rget_accumulate` with `op` on `target`'s word `index`
    /// (§12.3.5, §12.3.4): an atomic fetch-and-op that completes later,
    /// when [`RmaRequest::test`] says so, so the caller never blocks on a
    /// target that is busy outside MPI.
    pub(crate) fn start_fetch_op(
        &self,
        target: usize,
        index: usize,
        value: u64,
        op: RmaOp,
    ) -> Result<RmaRequest> {
        self.check_index(index);
        let mut req = RmaRequest::unstarted(value);
        let origin = req.origin_ptr();
        let result = req.result_ptr();
        // SAFETY: origin and result point into a heap block owned by the
        // request, which is never moved or freed while the request is active
        // (its Drop leaks the block if MPI still owns it); one MPI_UINT64_T
        // each; the displacement is inside the window; an epoch is open.
        check("MPI_Rget_accumulate", unsafe {
            ffi::MPI_Rget_accumulate(
                origin,
                1,
                ffi::RSMPI_UINT64_T,
                result,
                1,
                ffi::RSMPI_UINT64_T,
                target as c_int,
                index as ffi::MPI_Aint,
                1,
                ffi::RSMPI_UINT64_T,
                op.handle(),
                self.raw,
                &mut req.raw,
            )
        })?;
        Ok(req)
    }

    /// `MPI_Win_flush` (§12.5.4): completes this rank's operations on `target`.
    fn flush(&self, target: usize) -> Result<()> {
        // SAFETY: valid window with an open passive-target epoch.
        check("MPI_Win_flush", unsafe {
            ffi::MPI_Win_flush(target as c_int, self.raw)
        })
    }

    /// Lets MPI progress operations that other ranks target at this one.
    ///
    /// With software RMA (Open MPI osc/pt2pt and osc/ucx without hardware
    /// atomics, MPICH over TCP) incoming atomics are served only while the
    /// target is inside MPI. Measured across simulated nodes, `MPI_Test` on a
    /// posted receive served them on every stack, where `MPI_Iprobe`, a
    /// flush or an operation on oneself did not on Open MPI osc/ucx; so
    /// dlb tests a receive that no message matches (§3.7.3).
    ///
    /// An incoming atomic needs two or three of the target's MPI calls
    /// (request, operation, answer: measured on osc/pt2pt, osc/ucx and
    /// MPICH), so each call here tests [`PROGRESS_CALLS`] times: within a
    /// node, where a round trip takes well under a microsecond, an operation
    /// that was waiting completes in one `give_more`.
    pub(crate) fn progress(&self) -> Result<()> {
        let Some(hook) = &self.hook else {
            return Ok(());
        };
        for _ in 0..PROGRESS_CALLS {
            let mut request = hook.request.get();
            let mut flag: c_int = 0;
            // SAFETY: `request` is the active receive posted in `lock_all`,
            // whose buffer lives in `hook`; `flag` is valid; the status is
            // ignored. No message matches it, so it stays active.
            let rc = unsafe { ffi::MPI_Test(&mut request, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
            hook.request.set(request);
            check("MPI_Test", rc)?;
            if flag != 0 {
                return Err(Error::internal(
                    "a message matched dlb's progress receive: something sent on dlb's communicator",
                ));
            }
        }
        Ok(())
    }

    /// Posts the progress hook (see `progress`).
    fn post_hook(&mut self) -> Result<()> {
        let mut buffer = Box::new(0u64);
        let mut request = request_null();
        // SAFETY: the buffer is a heap u64 kept alive in the hook until the
        // receive is cancelled and completed in Drop; count 0 never writes
        // it; the communicator outlives the window; the source wildcard is
        // predefined; `request` is a valid out-handle.
        check("MPI_Irecv", unsafe {
            ffi::MPI_Irecv(
                &mut *buffer as *mut u64 as *mut c_void,
                0,
                ffi::RSMPI_UINT64_T,
                ffi::RSMPI_ANY_SOURCE,
                HOOK_TAG,
                self.comm,
                &mut request,
            )
        })?;
        self.hook = Some(ProgressHook {
            request: std::cell::Cell::new(request),
            _buffer: buffer,
        });
        Ok(())
    }

    /// Sleeps up to `timeout`, or until another process wakes this word
    /// after changing it: a futex on the word's low 32 bits (Linux; a plain
    /// sleep elsewhere). The caller saw `seen` in the word; if the word no
    /// longer holds it, returns at once. Shared windows only.
    pub(crate) fn wait_on_shared(
        &self,
        rank: usize,
        index: usize,
        seen: u64,
        timeout: std::time::Duration,
    ) {
        // (On SMPI every rank is a simulated process of one real thread: a
        // futex wait would stop the whole simulation. A virtual sleep there.)
        #[cfg(all(target_os = "linux", not(dlb_smpi)))]
        {
            let word = low_half(self.shared_word(rank, index));
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: `word` points to 4 aligned bytes inside a live shared
            // mapping (the low half of an aligned u64); FUTEX_WAIT only reads
            // it and sleeps while it equals `seen`'s low half, at most `ts`
            // (a valid timespec on the stack). Not FUTEX_PRIVATE: the word is
            // shared between processes. The result (woken, timeout, EAGAIN,
            // EINTR) needs no handling: the caller re-reads the word anyway.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word,
                    libc::FUTEX_WAIT,
                    seen as u32,
                    &ts as *const libc::timespec,
                );
            }
        }
        #[cfg(any(not(target_os = "linux"), dlb_smpi))]
        {
            let _ = (rank, index, seen);
            crate::clock::sleep(timeout);
        }
    }

    /// Wakes every process waiting in [`Window::wait_on_shared`] on this word.
    pub(crate) fn wake_shared(&self, rank: usize, index: usize) {
        #[cfg(all(target_os = "linux", not(dlb_smpi)))]
        {
            let word = low_half(self.shared_word(rank, index));
            // SAFETY: as in `wait_on_shared`; FUTEX_WAKE neither reads nor
            // writes the word, it only wakes waiters queued on its address.
            unsafe {
                libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, i32::MAX);
            }
        }
        #[cfg(any(not(target_os = "linux"), dlb_smpi))]
        let _ = (rank, index);
    }

    /// Whether [`Window::peek_own`] reads with a CPU load (the unified
    /// memory model, and this rank has memory in the window), not `None`.
    pub(crate) fn loads_own(&self) -> bool {
        self.unified && !self.own_base.is_null()
    }

    /// This rank's word `index` read with a CPU load after `MPI_Win_sync`,
    /// or `None` where the memory model is not unified. Only a hint, which
    /// callers confirm with an MPI atomic before acting on it: MPI leaves
    /// the value a load returns undefined while a remote update of the word
    /// is in progress (§12.7), but once none is, a load after
    /// `MPI_Win_sync` returns the word's value (the unified model). Unlike
    /// an MPI atomic on one's own word, it never waits for a remote rank
    /// that holds the window (Open MPI 4.1's osc/ucx serializes every
    /// atomic on a window behind a lock that remote ranks take).
    pub(crate) fn peek_own(&self, index: usize) -> Result<Option<u64>> {
        if !self.unified || self.own_base.is_null() {
            return Ok(None);
        }
        assert!(
            index < self.words_per_rank,
            "word {index} out of the window"
        );
        self.sync()?;
        // SAFETY: `own_base` is this rank's memory of the live window
        // (`words_per_rank` u64s, 8-byte aligned, checked in `initialize`);
        // `Atomic<u64>` has the size and alignment of u64. An atomic load
        // is not an atomic read-modify-write, so it takes nothing from the
        // atomicity of MPI's operations on the word; the memory lives until
        // `free`, which clears `own_base` first, and no `&mut` aliases it.
        let word = unsafe { &*(self.own_base.add(index) as *const Atomic<u64>) };
        Ok(Some(word.load(std::sync::atomic::Ordering::Acquire)))
    }

    /// Stores `value` in this rank's own word `index` with a CPU store,
    /// then `MPI_Win_sync`, so that other ranks' gets read it (the unified
    /// model); whether it did (`false` where the window is not unified, or
    /// has no memory of this rank). Only for words that no atomic touches:
    /// a store is no part of MPI's atomicity. A get that overlaps the store
    /// reads an undefined value by MPI's letter (§12.7), so such words are
    /// hints.
    pub(crate) fn poke_own(&self, index: usize, value: u64) -> Result<bool> {
        if !self.unified || self.own_base.is_null() {
            return Ok(false);
        }
        assert!(
            index < self.words_per_rank,
            "word {index} out of the window"
        );
        // SAFETY: as in `peek_own`: this rank's memory of the live window,
        // aligned, accessed as an atomic (a store, no read-modify-write),
        // and no `&mut` aliases it.
        let word = unsafe { &*(self.own_base.add(index) as *const Atomic<u64>) };
        word.store(value, std::sync::atomic::Ordering::Release);
        self.sync()?;
        Ok(true)
    }

    /// Word `index` of `rank` in a shared-memory window, for CPU atomics.
    pub(crate) fn shared_word(&self, rank: usize, index: usize) -> &Atomic<u64> {
        assert!(
            index < self.words_per_rank,
            "word {index} out of the window"
        );
        let base = self.shared_bases[rank];
        // SAFETY: `base` is rank's segment of a live shared window (checked
        // in `shared_query` to hold `words_per_rank` u64s, 8-byte aligned);
        // `Atomic<u64>` has the size and alignment of u64 (asserted in
        // `atomics`); the memory lives as long as `self`, and every access
        // to it goes through atomics, so no `&mut` aliases it.
        unsafe { &*(base.add(index) as *const Atomic<u64>) }
    }
}

/// The operation of an atomic fetch-and-op on a window word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RmaOp {
    /// `MPI_SUM`: fetch-and-add.
    Sum,
    /// `MPI_REPLACE`: atomic swap.
    Replace,
    /// `MPI_NO_OP`: atomic read.
    NoOp,
}

impl RmaOp {
    fn handle(self) -> ffi::MPI_Op {
        // SAFETY: reads of immutable predefined handles (mpi-sys's shim and
        // dlb-sys's, initialized at load time).
        unsafe {
            match self {
                RmaOp::Sum => ffi::RSMPI_SUM,
                RmaOp::Replace => ffi::DLB_MPI_REPLACE,
                RmaOp::NoOp => ffi::DLB_MPI_NO_OP,
            }
        }
    }
}

/// A request-based operation in flight (`MPI_Rget_accumulate`, `MPI_Rget`
/// or `MPI_Rput`), with the buffers MPI reads and writes until it
/// completes.
#[derive(Debug)]
pub(crate) struct RmaRequest {
    raw: ffi::MPI_Request,
    /// The origin value and the result.
    buffers: Box<[u64; 2]>,
}

impl RmaRequest {
    /// A request not started yet (`MPI_REQUEST_NULL`), with `origin` in
    /// the buffer an operation reads from. The buffers live on the heap, so
    /// the pointers handed to MPI stay valid when the request moves.
    fn unstarted(origin: u64) -> RmaRequest {
        RmaRequest {
            raw: request_null(),
            buffers: Box::new([origin, 0]),
        }
    }

    /// Where MPI reads the origin value (puts and accumulates).
    fn origin_ptr(&self) -> *const c_void {
        &self.buffers[0] as *const u64 as *const c_void
    }

    /// Where MPI writes the result (gets and fetching accumulates).
    fn result_ptr(&mut self) -> *mut c_void {
        &mut self.buffers[1] as *mut u64 as *mut c_void
    }

    /// `MPI_Test` (§3.7.3): the value the target word held before the
    /// operation, once it has completed at the target; `None` until then.
    /// Completing also lets MPI progress, so a rank that tests serves
    /// operations targeted at it where that needs its help.
    pub(crate) fn test(&mut self) -> Result<Option<u64>> {
        if self.raw == request_null() {
            return Ok(Some(self.buffers[1]));
        }
        let mut flag: c_int = 0;
        // SAFETY: `raw` is an active request created by MPI_Rget_accumulate,
        // MPI_Rget or MPI_Rput;
        // `flag` is valid; the status is ignored. On completion MPI sets
        // `raw` to MPI_REQUEST_NULL and the result buffer holds the value.
        check("MPI_Test", unsafe {
            ffi::MPI_Test(&mut self.raw, &mut flag, ffi::RSMPI_STATUS_IGNORE)
        })?;
        Ok((flag != 0).then(|| self.buffers[1]))
    }
}

impl Drop for RmaRequest {
    fn drop(&mut self) {
        if self.raw != request_null() {
            // MPI may still write the result: the buffers must outlive the
            // operation, so they are leaked (16 bytes). dlb completes every
            // request before it drops it; this is the path of an error.
            let buffers = std::mem::replace(&mut self.buffers, Box::new([0; 2]));
            Box::leak(buffers);
        }
    }
}

/// The address of the 32 bits holding the low half of `word`: a futex
/// works on 32-bit words, and a counter that grows by one always changes
/// its low half.
#[cfg(all(target_os = "linux", not(dlb_smpi)))]
fn low_half(word: &Atomic<u64>) -> *const u32 {
    let base = word as *const Atomic<u64> as *const u32;
    if cfg!(target_endian = "little") {
        base
    } else {
        base.wrapping_add(1)
    }
}

/// Names the known causes when a window cannot be created.
fn window_error(e: Error, flavor: WindowFlavor) -> Error {
    let hint = match flavor {
        WindowFlavor::Shared => {
            "shared-memory windows need every rank on one node, and on Open MPI the osc/sm \
             component (OMPI_MCA_osc=pt2pt or ucx alone leaves it out; sm,pt2pt keeps it)"
        }
        _ => {
            "Open MPI: on Debian, /etc/openmpi/openmpi-mca-params.conf excludes osc/ucx and \
             osc/pt2pt; set OMPI_MCA_osc=ucx (with OMPI_MCA_pml=ucx) or OMPI_MCA_osc=pt2pt"
        }
    };
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "cannot create the {} window: {} ({hint})",
            flavor.name(),
            e.message()
        ),
    )
}

impl Window {
    /// Cancels the progress hook, closes the epoch, frees the window and its
    /// memory (collective over the window's communicator). Every step runs
    /// even when an earlier one failed; the first error is returned. Once:
    /// afterwards (and after `MPI_Finalize`) there is nothing left to free.
    pub(crate) fn free(&mut self) -> Result<()> {
        if !matches!(is_finalized(), Ok(false)) {
            return Ok(()); // after MPI_Finalize nothing may be freed
        }
        let mut first = Ok(());
        let mut keep = |r: Result<()>| {
            if first.is_ok() {
                first = r;
            }
        };
        if let Some(hook) = self.hook.take() {
            let mut request = hook.request.get();
            // SAFETY: the hook's receive is active (nothing matched it);
            // cancelling and then waiting completes it (§3.8.4), after which
            // its buffer may be freed with the hook.
            let rc = unsafe { ffi::MPI_Cancel(&mut request) };
            let cancelled = check("MPI_Cancel", rc);
            if cancelled.is_ok() {
                // SAFETY: as above; the status is ignored.
                let rc = unsafe { ffi::MPI_Wait(&mut request, ffi::RSMPI_STATUS_IGNORE) };
                keep(check("MPI_Wait", rc));
            } else {
                keep(cancelled);
                // The receive may still write into the hook's buffer.
                std::mem::forget(hook);
            }
        }
        // No peek at memory that the window frees below.
        self.own_base = ptr::null_mut();
        self.unified = false;
        if std::mem::take(&mut self.epoch_open) {
            // SAFETY: the epoch opened by `open_epoch` is closed exactly once
            // (`epoch_open` was taken).
            let rc = unsafe { ffi::MPI_Win_unlock_all(self.raw) };
            keep(check("MPI_Win_unlock_all", rc));
        }
        // SAFETY: MPI_WIN_NULL is an immutable predefined handle.
        let null = unsafe { ffi::RSMPI_WIN_NULL };
        if self.raw != null {
            // SAFETY: valid window, freed exactly once (MPI sets the handle
            // to MPI_WIN_NULL); collective over the communicator, as
            // finalize and drop of `Dlb` are on every rank.
            let rc = unsafe { ffi::MPI_Win_free(&mut self.raw) };
            keep(check("MPI_Win_free", rc));
            self.raw = null;
        }
        if !self.alloc_mem.is_null() {
            // SAFETY: memory from MPI_Alloc_mem, no longer exposed by a window,
            // freed once (the pointer is cleared).
            let rc = unsafe { ffi::MPI_Free_mem(self.alloc_mem) };
            keep(check("MPI_Free_mem", rc));
            self.alloc_mem = ptr::null_mut();
        }
        first
    }

    /// Gives the window up without an MPI call (`free` is collective): its
    /// handle, memory and progress hook are left to `MPI_Finalize`, or to
    /// the process's end. For a rank that leaves by a panic, which the
    /// other ranks do not share.
    pub(crate) fn abandon(&mut self) {
        if let Some(hook) = self.hook.take() {
            // Its receive is still posted: the buffer must stay.
            std::mem::forget(hook);
        }
        self.own_base = ptr::null_mut();
        self.unified = false;
        self.epoch_open = false;
        // SAFETY: MPI_WIN_NULL is an immutable predefined handle.
        self.raw = unsafe { ffi::RSMPI_WIN_NULL };
        self.alloc_mem = ptr::null_mut();
    }
}

impl Drop for Window {
    /// Frees what `free` did not; errors can only be printed here.
    fn drop(&mut self) {
        if let Err(e) = self.free() {
            eprintln!("{e}");
        }
    }
}
