//! CPU atomics on an `MPI_Win_allocate_shared` window: every rank of the
//! node maps every other rank's words, so a steal is one hardware
//! compare-and-swap. Truly passive whatever the MPI: no rank has to enter
//! MPI for another's operation to complete.

use super::{Atomics, Slot};
use crate::error::Result;
use crate::mpi::Window;
use atomic::Ordering::SeqCst;

/// Atomics on a shared-memory window.
#[derive(Debug)]
pub(crate) struct ShmAtomics {
    win: Window,
    rank: usize,
    size: usize,
}

impl ShmAtomics {
    /// Wraps a window of flavor `Shared`.
    pub(crate) fn new(win: Window, rank: usize, size: usize) -> ShmAtomics {
        debug_assert_eq!(win.flavor(), crate::mpi::WindowFlavor::Shared);
        ShmAtomics { win, rank, size }
    }
}

impl Atomics for ShmAtomics {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    #[inline]
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        let w = self.win.shared_word(target, slot.index());
        Ok(w.compare_exchange(expected, new, SeqCst, SeqCst)
            .unwrap_or_else(|old| old))
    }
    fn wait(&self, slot: Slot, seen: u64, timeout: std::time::Duration) {
        self.win
            .wait_on_shared(self.rank, slot.index(), seen, timeout);
    }
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        self.win.wake_shared(target, slot.index());
        Ok(())
    }
    #[inline]
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        Ok(self
            .win
            .shared_word(target, slot.index())
            .fetch_add(delta, SeqCst))
    }
}
