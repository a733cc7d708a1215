//! CPU atomics on an `MPI_Win_allocate_shared` window: every rank of the
//! node maps every other rank's words, so a steal is one hardware
//! compare-and-swap. Truly passive whatever the MPI: no rank has to enter
//! MPI for another's operation to complete, so a started operation is done
//! at once.

use super::{Atomics, Pending, Slot, Update};
use crate::error::Result;
use crate::mpi::Window;
use crate::protocol::Topology;
use atomic::Atomic;
use atomic::Ordering::SeqCst;

/// Atomics on a shared-memory window whose ranks are the node-mates of
/// `topology` (all ranks, when used alone).
#[derive(Debug)]
pub(crate) struct ShmAtomics {
    win: Window,
    topology: Topology,
}

impl ShmAtomics {
    /// Wraps a window of flavor `Shared` created over the node-mates of
    /// `topology`, in rank order.
    pub(crate) fn new(win: Window, topology: Topology) -> ShmAtomics {
        debug_assert_eq!(win.flavor(), crate::mpi::WindowFlavor::Shared);
        ShmAtomics { win, topology }
    }

    /// Frees the window (collective over the node).
    pub(crate) fn free(&mut self) -> Result<()> {
        self.win.free()
    }

    /// Gives the window up without MPI calls (see `Window::abandon`).
    pub(crate) fn abandon(&mut self) {
        self.win.abandon();
    }

    /// The word of node-mate `target` (a rank of the whole communicator).
    fn word(&self, target: usize, slot: Slot) -> Result<&Atomic<u64>> {
        let Some(index) = self.topology.mate_index(target) else {
            return Err(crate::Error::internal(format!(
                "rank {target} does not share rank {}'s node",
                self.topology.rank()
            )));
        };
        Ok(self.win.shared_word(index, slot.index()))
    }
}

impl Atomics for ShmAtomics {
    fn topology(&self) -> &Topology {
        &self.topology
    }
    #[inline]
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        Ok(self
            .word(target, slot)?
            .compare_exchange(expected, new, SeqCst, SeqCst)
            .unwrap_or_else(|old| old))
    }
    #[inline]
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        Ok(self.word(target, slot)?.fetch_add(delta, SeqCst))
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        Ok(self.word(target, slot)?.swap(new, SeqCst))
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        Ok(self.word(target, slot)?.load(SeqCst))
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        let old = match update {
            Update::Add(d) => self.fetch_add(target, slot, d)?,
            Update::Swap(v) => self.swap(target, slot, v)?,
            Update::Read => self.read(target, slot)?,
        };
        Ok(Pending::ready(old))
    }
    fn wait(&self, slot: Slot, seen: u64, timeout: std::time::Duration) {
        let me = self
            .topology
            .mate_index(self.rank())
            .expect("a rank is its own mate");
        self.win.wait_on_shared(me, slot.index(), seen, timeout);
    }
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        let Some(index) = self.topology.mate_index(target) else {
            return Ok(()); // not on this node: nothing sleeps on our memory
        };
        self.win.wake_shared(index, slot.index());
        Ok(())
    }
}
