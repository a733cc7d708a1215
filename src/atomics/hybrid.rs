//! The node-aware path: node-level words ([`Level::Node`]) live in a shared
//! window of the node and take CPU atomics, truly passive; cross-node words
//! ([`Level::Cross`]) live in an MPI window over all ranks and take MPI
//! atomics. No word is in both, so no word ever sees both kinds of atomics
//! (an owner's peek at its own cross-node word is a load, not an atomic).
//! With direct steals (see the protocol's module doc) the `Range` words
//! are taken out of the node window: every rank, the owner and its
//! node-mates included, reaches them with MPI atomics only.

use super::{Atomics, Level, MpiAtomics, Pending, ShmAtomics, Slot, Update};
use crate::error::Result;
use crate::mpi::Comm;
use crate::protocol::Topology;

/// CPU atomics within the node, MPI atomics across nodes.
#[derive(Debug)]
pub(crate) struct HybridAtomics {
    // The windows are declared before the node communicator: they are
    // freed first.
    node: ShmAtomics,
    cross: MpiAtomics,
    /// The communicator `node`'s window was created on.
    node_comm: Comm,
    /// Direct steals: `Range` words are in the MPI window.
    ranges_cross: bool,
}

impl HybridAtomics {
    /// `node` over this rank's node-mates (created on `node_comm`), `cross`
    /// over all ranks; both with the same topology. With `ranges_cross`
    /// (direct steals) every `Range` word is reached in `cross`.
    pub(crate) fn new(
        node: ShmAtomics,
        cross: MpiAtomics,
        node_comm: Comm,
        ranges_cross: bool,
    ) -> HybridAtomics {
        debug_assert_eq!(node.topology(), cross.topology());
        HybridAtomics {
            node,
            cross,
            node_comm,
            ranges_cross,
        }
    }

    /// Frees both windows, then the node communicator (collective); the
    /// first error is returned, and every step runs.
    pub(crate) fn free(&mut self) -> Result<()> {
        let node = self.node.free();
        let cross = self.cross.free();
        let comm = self.node_comm.free();
        node.and(cross).and(comm)
    }

    /// Gives both windows and the node communicator up without MPI calls
    /// (see `Window::abandon`).
    pub(crate) fn abandon(&mut self) {
        self.node.abandon();
        self.cross.abandon();
        self.node_comm.abandon();
    }

    /// Moves the `Range` words to the MPI window (direct steals turned on
    /// after init's probe). Only before the first run: both windows' words
    /// are still 0.
    pub(crate) fn set_ranges_cross(&mut self) {
        self.ranges_cross = true;
    }

    /// Whether the `Range` words are in the MPI window (direct steals).
    pub(crate) fn ranges_cross(&self) -> bool {
        self.ranges_cross
    }

    /// The MPI atomics on the window over all ranks.
    pub(crate) fn cross(&self) -> &MpiAtomics {
        &self.cross
    }

    /// The flavor of the cross-node window.
    pub(crate) fn cross_flavor(&self) -> crate::mpi::WindowFlavor {
        self.cross.flavor()
    }

    fn of(&self, slot: Slot) -> &dyn Atomics {
        match slot.level() {
            Level::Node if !(self.ranges_cross && slot == Slot::Range) => &self.node,
            _ => &self.cross,
        }
    }
}

impl Atomics for HybridAtomics {
    fn topology(&self) -> &Topology {
        self.cross.topology()
    }
    #[inline]
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        self.of(slot).compare_and_swap(target, slot, expected, new)
    }
    #[inline]
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        self.of(slot).fetch_add(target, slot, delta)
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        self.of(slot).swap(target, slot, new)
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        self.of(slot).read(target, slot)
    }
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        self.of(slot).glance(target, slot)
    }
    fn peek(&self, slot: Slot) -> Result<u64> {
        self.of(slot).peek(slot)
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        self.of(slot).start(target, slot, update)
    }
    fn start_look(&self, target: usize, slot: Slot) -> Result<Pending> {
        self.of(slot).start_look(target, slot)
    }
    fn start_knock(&self, target: usize, slot: Slot, value: u64) -> Result<Pending> {
        self.of(slot).start_knock(target, slot, value)
    }
    fn peeks_are_loads(&self, slot: Slot) -> bool {
        self.of(slot).peeks_are_loads(slot)
    }
    fn publish(&self, slot: Slot, value: u64) -> Result<bool> {
        self.of(slot).publish(slot, value)
    }
    fn progress(&self) -> Result<()> {
        self.cross.progress()
    }
    fn wait(&self, slot: Slot, seen: u64, timeout: std::time::Duration) {
        self.of(slot).wait(slot, seen, timeout)
    }
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        self.of(slot).wake(target, slot)
    }
}
