//! MPI atomics on a window of any flavor: each operation is one
//! `MPI_Compare_and_swap` or `MPI_Fetch_and_op` followed by `MPI_Win_flush`,
//! all inside the single `MPI_Win_lock_all(MPI_MODE_NOCHECK)` epoch opened
//! here and closed when the window is freed.

use super::{Atomics, Op, Slot};
use crate::error::Result;
use crate::mpi::Window;

/// Atomics through MPI-3 RMA.
#[derive(Debug)]
pub(crate) struct MpiAtomics {
    win: Window,
    rank: usize,
    size: usize,
}

impl MpiAtomics {
    /// Opens the passive-target epoch on `win`.
    pub(crate) fn new(mut win: Window, rank: usize, size: usize) -> Result<MpiAtomics> {
        win.lock_all()?;
        Ok(MpiAtomics { win, rank, size })
    }
}

impl Atomics for MpiAtomics {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    #[inline]
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        debug_assert_eq!(slot.op(), Op::CompareAndSwap, "{slot:?} is not a CAS slot");
        self.win
            .compare_and_swap(target, slot.index(), expected, new)
    }
    fn progress(&self) -> Result<()> {
        self.win.progress()
    }
    #[inline]
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        debug_assert_eq!(slot.op(), Op::FetchAdd, "{slot:?} is not an add slot");
        self.win.fetch_add(target, slot.index(), delta)
    }
}

impl MpiAtomics {
    /// The flavor of the underlying window.
    pub(crate) fn flavor(&self) -> crate::mpi::WindowFlavor {
        self.win.flavor()
    }
}
