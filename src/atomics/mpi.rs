//! MPI atomics on a window of any flavor: each blocking operation is one
//! `MPI_Compare_and_swap` or `MPI_Fetch_and_op` followed by `MPI_Win_flush`,
//! each started one an `MPI_Rget_accumulate` completed by `MPI_Test`, all
//! inside the single `MPI_Win_lock_all(MPI_MODE_NOCHECK)` epoch that the
//! window opens when it is created and closes when it is freed.

use super::{Atomics, Op, Pending, Slot, Update};
use crate::error::Result;
use crate::mpi::{RmaOp, Window};
use crate::protocol::Topology;

/// Atomics through MPI-3 RMA.
#[derive(Debug)]
pub(crate) struct MpiAtomics {
    win: Window,
    topology: Topology,
}

impl MpiAtomics {
    /// MPI atomics on `win` (inside the passive-target epoch the window
    /// opened when it was created), a window over the ranks of `topology`.
    pub(crate) fn new(mut win: Window, topology: Topology) -> Result<MpiAtomics> {
        win.serve_atomics()?;
        Ok(MpiAtomics { win, topology })
    }

    /// These atomics over ranks placed as `topology` says (the real nodes
    /// in place of every rank a node of its own: direct steals turned on
    /// after init's probe, before any run).
    pub(crate) fn with_topology(self, topology: Topology) -> MpiAtomics {
        debug_assert_eq!(topology.size(), self.topology.size());
        MpiAtomics { topology, ..self }
    }

    /// Closes the epoch and frees the window (collective).
    pub(crate) fn free(&mut self) -> Result<()> {
        self.win.free()
    }

    /// Gives the window up without MPI calls (see `Window::abandon`).
    pub(crate) fn abandon(&mut self) {
        self.win.abandon();
    }

    /// The flavor of the underlying window.
    pub(crate) fn flavor(&self) -> crate::mpi::WindowFlavor {
        self.win.flavor()
    }
}

/// The MPI operation and operand of `update` on `slot`.
fn rma_op(slot: Slot, update: Update) -> (RmaOp, u64) {
    match update {
        Update::Add(d) => {
            debug_assert_eq!(slot.op(), Op::FetchAdd, "{slot:?} is not an add slot");
            (RmaOp::Sum, d)
        }
        Update::Swap(v) => {
            debug_assert_eq!(slot.op(), Op::Swap, "{slot:?} is not a swap slot");
            (RmaOp::Replace, v)
        }
        Update::Read => {
            debug_assert_ne!(slot.op(), Op::CompareAndSwap, "CAS slots are read by CAS");
            (RmaOp::NoOp, 0)
        }
    }
}

impl Atomics for MpiAtomics {
    fn topology(&self) -> &Topology {
        &self.topology
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
        let (op, value) = rma_op(slot, Update::Add(delta));
        self.win.fetch_op(target, slot.index(), value, op)
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        let (op, value) = rma_op(slot, Update::Swap(new));
        self.win.fetch_op(target, slot.index(), value, op)
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        let (op, value) = rma_op(slot, Update::Read);
        self.win.fetch_op(target, slot.index(), value, op)
    }
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        if target == self.rank() {
            return self.peek(slot);
        }
        self.win.get(target, slot.index())
    }
    fn peek(&self, slot: Slot) -> Result<u64> {
        match self.win.peek_own(slot.index())? {
            Some(value) => Ok(value),
            None => self.load(self.rank(), slot),
        }
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        let (op, value) = rma_op(slot, update);
        if target == self.rank() {
            // An operation on oneself completes locally: no need to wait.
            return Ok(Pending::ready(self.win.fetch_op(
                target,
                slot.index(),
                value,
                op,
            )?));
        }
        Ok(Pending::mpi(self.win.start_fetch_op(
            target,
            slot.index(),
            value,
            op,
        )?))
    }
    fn start_look(&self, target: usize, slot: Slot) -> Result<Pending> {
        if target == self.rank() {
            return Ok(Pending::ready(self.peek(slot)?));
        }
        Ok(Pending::mpi(self.win.start_get(target, slot.index())?))
    }
    fn peeks_are_loads(&self, _slot: Slot) -> bool {
        self.win.loads_own()
    }
    fn start_knock(&self, target: usize, slot: Slot, value: u64) -> Result<Pending> {
        Ok(Pending::mpi(self.win.start_put(
            target,
            slot.index(),
            value,
        )?))
    }
    fn publish(&self, slot: Slot, value: u64) -> Result<bool> {
        self.win.poke_own(slot.index(), value)
    }
}
