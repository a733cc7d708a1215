//! The seam between the steal protocol and the memory it runs on: one trait
//! of atomic operations on `(rank, slot)`, and the word layout every
//! implementation shares.
//!
//! Implementations:
//! - [`MpiAtomics`]: `MPI_Compare_and_swap` / `MPI_Fetch_and_op` + flush on
//!   any window flavor, inside one `MPI_Win_lock_all(MPI_MODE_NOCHECK)` epoch,
//!   and request-based `MPI_Rget_accumulate` for [`Atomics::start`];
//! - [`ShmAtomics`]: CPU atomics on an `MPI_Win_allocate_shared` window;
//! - [`HybridAtomics`]: the node-level words ([`Level::Node`]) in a shared
//!   window of the node with CPU atomics, the cross-node words
//!   ([`Level::Cross`]) in an MPI window over all ranks with MPI atomics;
//! - [`LocalAtomics`]: plain process memory, for tests and model checking,
//!   with software RMA's delays on cross-node words.
//!
//! MPI-3 makes concurrent accumulates atomic only among themselves, and by
//! default (`accumulate_ops=same_op_no_op`) only when they use one operation.
//! So each slot has exactly one operation, fixed by [`Slot::op`]: the range
//! word sees only compare-and-swap, the counters only fetch-and-add, the
//! offer only swap, and [`Atomics::load`] reads with that same operation (a
//! compare-and-swap whose new value equals its compare value) or with
//! `MPI_NO_OP`. A word never sees both CPU and MPI atomics: a window belongs
//! to one kind, and [`HybridAtomics`] places each slot in one window by its
//! level. (The one CPU access to an MPI window's word is
//! [`Atomics::peek`]: a plain load by the word's owner, a hint that a
//! read-modify-write never relies on. [`Atomics::glance`] is the other
//! non-atomic access: an `MPI_Get`, also only a hint.)

mod hybrid;
#[cfg(test)]
mod local;
mod mpi;
mod pending;
pub(crate) mod primitive;
mod shm;

pub(crate) use hybrid::HybridAtomics;
#[cfg(test)]
pub(crate) use local::LocalAtomics;
pub(crate) use mpi::MpiAtomics;
pub(crate) use pending::{poll_all, Pending};
pub(crate) use shm::ShmAtomics;

use crate::error::Result;
use crate::protocol::Topology;
use atomic::Atomic;
use static_assertions::{assert_eq_align, assert_eq_size, const_assert, const_assert_eq};

/// Bytes in a cache line on the machines dlb targets (x86-64, aarch64 with
/// 64-byte lines; a larger line only costs some false sharing).
pub(crate) const CACHE_LINE: usize = 64;
/// `u64` words in one cache line.
const WORDS_PER_LINE: usize = CACHE_LINE / std::mem::size_of::<u64>();
/// Words per rank: one cache line per slot, so the owner's claims on its
/// range do not contend with counter updates on the same line.
pub(crate) const WORDS_PER_RANK: usize = Slot::COUNT * WORDS_PER_LINE;

const_assert_eq!(
    WORDS_PER_RANK * std::mem::size_of::<u64>(),
    Slot::COUNT * CACHE_LINE
);
// Shared-memory words are accessed as `Atomic<u64>` in place of `u64`.
assert_eq_size!(Atomic<u64>, u64);
assert_eq_align!(Atomic<u64>, u64);
const_assert!(Atomic::<u64>::is_lock_free());

/// The words of a rank's block, each on its own cache line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The rank's remaining range, packed as a `RangeWord`. CAS only.
    Range,
    /// How many runs have been declared finished to this rank. Add only.
    Finished,
    /// Jobs completed on this node and not yet added to `Done` (used on
    /// node leaders only, across nodes). CAS only.
    Unsent,
    /// The rank hunting on other nodes for this node, plus one, or 0 (used
    /// on node leaders only). CAS only.
    Hunter,
    /// How many of this node's ranks are looking for work (used on node
    /// leaders only, across nodes). Add only.
    Idle,
    /// Empty, or the hunger mark of a rank on another node that asks this
    /// rank for units (see the protocol). Swap only.
    Offer,
    /// The answers to this rank's hunger marks, one word per mark in use:
    /// nothing yet, "none", or units (see the protocol). Swap only.
    Inbox0,
    Inbox1,
    Inbox2,
    Inbox3,
    /// Runs declared finished to this node by a rank on another node (used
    /// on node leaders only). Add only.
    Told,
    /// Jobs completed over all runs (used on rank 0 only; across two
    /// nodes on both leaders, see the protocol's "Flat end"; below rank 0
    /// in the node tree, counts passing through). Add only.
    Done,
    /// The rank's heartbeat, written only when a hang timeout is set (see
    /// `protocol::watchdog`): twice the beats so far, plus one while the
    /// rank waits inside dlb. Add only, except where init chose knocks
    /// (starts wait for their targets): there, on every rank, the rank
    /// stores it with [`Atomics::publish`] and others read it with looks,
    /// and no atomic touches it.
    Heartbeat,
    /// 1 while the rank waits in `give_more` for work, 2 while its own
    /// range is empty otherwise (it computes its last units, or was told
    /// "no more"), else 0; used across nodes. Written by the rank alone,
    /// with [`Atomics::publish`] (a plain store to its own window memory),
    /// and read by others only with looks ([`Atomics::start_look`]): no
    /// atomic of dlb's touches it (see the protocol's module doc on what
    /// an MPI may do under a get).
    Waiting,
    /// The last *knock* of a hunter on another node that asks this rank
    /// for units (see the protocol's "Knocks"): written by other ranks
    /// only with [`Atomics::start_knock`] (an `MPI_Rput`), read by the rank
    /// alone with [`Atomics::peek`]; no atomic of dlb's touches it. A
    /// hint: a knock decides only where a gift goes, never what moves.
    Knock,
    /// Units given to this rank by a rank on another node that it knocked
    /// on: empty (0) or a nonempty range word. Swap only.
    Gift,
    /// Jobs completed on this node in the current run (used on node
    /// leaders only, where a run across two nodes ends flat: see the
    /// protocol's "Flat end"). CAS only.
    Kept,
    /// Scratch word for benchmarks' raw compare-and-swap (feature `bench`
    /// only: a user's window holds only the protocol's words). CAS only.
    #[cfg(feature = "bench")]
    BenchCas,
    /// Scratch word for benchmarks' raw fetch-and-add and the global-counter
    /// baseline (feature `bench` only). Add only.
    #[cfg(feature = "bench")]
    BenchAdd,
}

/// The one atomic operation a slot is accessed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    CompareAndSwap,
    FetchAdd,
    Swap,
}

/// Who accesses a slot: only node-mates, or ranks on any node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Read and written by the ranks of one node only (and by any rank
    /// when all share a node).
    Node,
    /// Accessed across nodes. Blocking operations on these words target
    /// only the caller's own words; other ranks' are reached with
    /// [`Atomics::start`], so no rank ever waits on another node.
    Cross,
}

/// An update started with [`Atomics::start`], applied atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Update {
    /// Fetch-and-add (add slots).
    Add(u64),
    /// Swap in a value (swap slots).
    Swap(u64),
    /// Read (`MPI_NO_OP`), any slot but CAS slots.
    Read,
}

impl Slot {
    const COUNT: usize = if cfg!(feature = "bench") { 19 } else { 17 };
    /// The inbox words, in order.
    pub(crate) const INBOX: [Slot; 4] = [Slot::Inbox0, Slot::Inbox1, Slot::Inbox2, Slot::Inbox3];

    /// Index of the slot's word within the rank's block.
    pub(crate) const fn index(self) -> usize {
        (self as usize) * WORDS_PER_LINE
    }

    /// The operation every access to this slot uses.
    pub(crate) const fn op(self) -> Op {
        match self {
            Slot::Range | Slot::Unsent | Slot::Hunter | Slot::Kept => Op::CompareAndSwap,
            Slot::Finished | Slot::Idle | Slot::Told | Slot::Done | Slot::Heartbeat => Op::FetchAdd,
            Slot::Offer
            | Slot::Inbox0
            | Slot::Inbox1
            | Slot::Inbox2
            | Slot::Inbox3
            | Slot::Gift => Op::Swap,
            // (Never an atomic: see the slots.)
            Slot::Waiting | Slot::Knock => Op::Swap,
            #[cfg(feature = "bench")]
            Slot::BenchCas => Op::CompareAndSwap,
            #[cfg(feature = "bench")]
            Slot::BenchAdd => Op::FetchAdd,
        }
    }

    /// Which ranks access this slot.
    pub(crate) const fn level(self) -> Level {
        match self {
            Slot::Range
            | Slot::Finished
            | Slot::Unsent
            | Slot::Hunter
            | Slot::Idle
            | Slot::Kept => Level::Node,
            Slot::Offer
            | Slot::Inbox0
            | Slot::Inbox1
            | Slot::Inbox2
            | Slot::Inbox3
            | Slot::Told
            | Slot::Done
            | Slot::Heartbeat
            | Slot::Waiting
            | Slot::Knock
            | Slot::Gift => Level::Cross,
            #[cfg(feature = "bench")]
            Slot::BenchCas | Slot::BenchAdd => Level::Cross,
        }
    }
}

// The slot count covers every slot, and the window no more.
#[cfg(not(feature = "bench"))]
static_assertions::const_assert_eq!(Slot::COUNT, Slot::Kept as usize + 1);
#[cfg(feature = "bench")]
static_assertions::const_assert_eq!(Slot::COUNT, Slot::BenchAdd as usize + 1);

/// Atomic operations on the words of all ranks.
///
/// Every blocking operation is complete (visible at the target, and its
/// result final) when it returns, and all operations on one word are
/// linearizable; a started one takes effect atomically at some instant
/// before [`Pending::poll`] first returns its result.
pub(crate) trait Atomics {
    /// Which ranks share a node (and which rank this is).
    fn topology(&self) -> &Topology;
    /// This rank.
    fn rank(&self) -> usize {
        self.topology().rank()
    }
    /// The number of ranks.
    fn size(&self) -> usize {
        self.topology().size()
    }
    /// If `target`'s `slot` holds `expected`, stores `new`; returns the value
    /// it held before either way.
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64>;
    /// Adds `delta` (wrapping) to `target`'s `slot`; returns the previous value.
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64>;
    /// Stores `new` in `target`'s `slot`; returns the previous value.
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64>;
    /// Starts `update` on `target`'s `slot` without waiting for it: the
    /// caller polls the result, and never blocks on a busy target.
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending>;
    /// Starts a *look* at `target`'s `slot`: a read whose value is only a
    /// hint (see [`Atomics::glance`]) and whose completion says that
    /// `target` served it. Where starting an atomic waits for its target
    /// (Open MPI 4.1's osc/ucx, which takes a lock on the target's window
    /// inside `MPI_Rget_accumulate`), a look does not: it is an `MPI_Rget`
    /// on MPI windows. The protocol starts a take only on a rank that
    /// answered a look there (see its module doc, "Looks"). Completes at
    /// once by default (CPU atomics, in-process models, the simulator,
    /// oneself).
    fn start_look(&self, target: usize, slot: Slot) -> Result<Pending> {
        let _ = (target, slot);
        Ok(Pending::ready(0))
    }
    /// Starts a *knock*: writes `value` into `target`'s `slot`, a word
    /// that no atomic touches and that only its owner reads (with
    /// [`Atomics::peek`]), without waiting for the target; its completion
    /// (result 0) says that the put left this rank, and on Open MPI 4.1's
    /// osc/ucx, which ends an `MPI_Rput` with a fence and a fetch-and-add
    /// of 0 on a word of the target's window state (its own, not the word
    /// written), that `target` received it. An
    /// `MPI_Rput` on MPI windows, which takes no lock where an MPI runs
    /// atomics under one (Open MPI 4.1's osc/ucx). Writes from several
    /// ranks may overlap and the owner's read may overlap a write: by
    /// MPI's letter (§12.7) the word then holds, and the read returns, an
    /// undefined value, so a knock is a hint (see the protocol's
    /// "Knocks"). Does nothing and completes at once by default (where
    /// hunters do not knock).
    fn start_knock(&self, target: usize, slot: Slot, value: u64) -> Result<Pending> {
        let _ = (target, slot, value);
        Ok(Pending::ready(0))
    }
    /// Whether [`Atomics::peek`] of this rank's own `slot` is a CPU load,
    /// no atomic: a word that puts write ([`Atomics::start_knock`]) may be
    /// read only so. Not where an MPI window's memory model is not unified
    /// (there a peek is an atomic read). True by default.
    fn peeks_are_loads(&self, slot: Slot) -> bool {
        let _ = slot;
        true
    }
    /// Stores `value` in this rank's own `slot`, a word that no atomic
    /// touches, for other ranks' looks: on MPI windows a plain store to the
    /// rank's window memory followed by `MPI_Win_sync` (the unified model;
    /// elsewhere nothing, and looks read the word's initial 0). A look that
    /// overlaps the store may read either value or, by MPI's letter, any:
    /// looks are hints. Does nothing by default (where looks complete at
    /// once with 0). Whether it stored the value.
    fn publish(&self, slot: Slot, value: u64) -> Result<bool> {
        let _ = (slot, value);
        Ok(false)
    }
    /// Serves other ranks' pending operations on this rank's words, where
    /// that needs this rank's help (software RMA). A no-op elsewhere.
    fn progress(&self) -> Result<()> {
        Ok(())
    }
    /// Whether operations on node-mates' words are CPU atomics on shared
    /// memory (passive and cheap: no wait for a busy node-mate), so that an
    /// idle rank may look at every node-mate in one go.
    fn node_words_passive(&self) -> bool {
        true
    }
    /// How many writes to any word this atomics object has seen, where it
    /// counts them (model-checking builds of [`LocalAtomics`]); 0 elsewhere.
    fn writes(&self) -> u64 {
        0
    }
    /// Like [`Atomics::writes`], but counting only writes that move units
    /// or counts (range CAS, units swapped in or out, non-zero adds), not
    /// hunger marks or queue traffic; 0 where writes are not counted.
    fn content_writes(&self) -> u64 {
        0
    }
    /// Blocks until [`Atomics::writes`] differs from `seen`, where writes
    /// are counted; returns at once elsewhere.
    fn wait_for_write(&self, seen: u64) {
        let _ = seen;
    }
    /// Sleeps up to `timeout` on this rank's `slot`, which held `seen`;
    /// where the memory allows it, returns early when another rank changes
    /// the word and calls [`Atomics::wake`]. A plain sleep by default.
    fn wait(&self, slot: Slot, seen: u64, timeout: std::time::Duration) {
        let _ = (slot, seen);
        crate::clock::sleep(timeout);
    }
    /// Wakes `target` if it waits on `slot` (after this rank changed it).
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        let _ = (target, slot);
        Ok(())
    }
    /// Reads `target`'s `slot` with the slot's own operation (a
    /// compare-and-swap that changes nothing, an add of zero, or, for swap
    /// slots, a read).
    fn load(&self, target: usize, slot: Slot) -> Result<u64> {
        match slot.op() {
            Op::CompareAndSwap => self.compare_and_swap(target, slot, 0, 0),
            Op::FetchAdd => self.fetch_add(target, slot, 0),
            Op::Swap => self.read(target, slot),
        }
    }
    /// An atomic read (`MPI_NO_OP`) of a swap slot.
    fn read(&self, target: usize, slot: Slot) -> Result<u64>;
    /// `target`'s `slot` as a hint for a compare-and-swap's compare value:
    /// it may be stale or, while an atomic update of the word is in
    /// progress, any value (an `MPI_Get` on MPI windows), which costs
    /// nothing but a failed compare-and-swap, since one succeeds only where
    /// the word held the value. Unlike [`Atomics::load`] it takes no lock
    /// where an MPI serializes atomics behind one on the target (Open MPI
    /// 4.1's osc/ucx; dlb's compare-and-swap on SMPI), so a thief's look
    /// does not queue its victim's claims. An atomic [`Atomics::load`] by
    /// default.
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        self.load(target, slot)
    }
    /// This rank's own `slot` as a hint: on MPI windows a CPU load (see
    /// `Window::peek_own`), which may be stale or, while a remote update
    /// is in progress, any value; confirm with an atomic before acting on
    /// it. Once no update is in flight, it returns the word's value. An
    /// atomic [`Atomics::load`] by default.
    fn peek(&self, slot: Slot) -> Result<u64> {
        self.load(self.rank(), slot)
    }
}

/// Which path a `Dlb` runs on, chosen at init.
#[derive(Debug)]
pub(crate) enum WindowAtomics {
    Mpi(MpiAtomics),
    Shm(ShmAtomics),
    Hybrid(Box<HybridAtomics>),
}

/// Forwards a call to the path in use.
macro_rules! each_path {
    ($self:ident, $a:ident => $call:expr) => {
        match $self {
            WindowAtomics::Mpi($a) => $call,
            WindowAtomics::Shm($a) => $call,
            WindowAtomics::Hybrid($a) => $call,
        }
    };
}

impl WindowAtomics {
    /// Frees the windows (and communicators) of the path (collective); the
    /// first error is returned.
    pub(crate) fn free(&mut self) -> Result<()> {
        each_path!(self, a => a.free())
    }

    /// Gives the windows up without MPI calls (see `Window::abandon`).
    pub(crate) fn abandon(&mut self) {
        each_path!(self, a => a.abandon())
    }

    /// A compare-and-swap that changes nothing (0 for 0) on `target`'s
    /// `Range` word in the window of MPI atomics (on the hybrid path also
    /// without direct steals, where that word is otherwise unused; it only
    /// ever takes MPI atomics), for init's probe of direct steals' operation
    /// (`crate::passive_probe`); CPU atomics on the shm path.
    pub(crate) fn mpi_range_cas(&self, target: usize) -> Result<u64> {
        match self {
            WindowAtomics::Mpi(a) => a.compare_and_swap(target, Slot::Range, 0, 0),
            WindowAtomics::Shm(a) => a.compare_and_swap(target, Slot::Range, 0, 0),
            WindowAtomics::Hybrid(a) => a.cross().compare_and_swap(target, Slot::Range, 0, 0),
        }
    }
}

impl Atomics for WindowAtomics {
    fn topology(&self) -> &Topology {
        each_path!(self, a => a.topology())
    }
    #[inline]
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        each_path!(self, a => a.compare_and_swap(target, slot, expected, new))
    }
    #[inline]
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        each_path!(self, a => a.fetch_add(target, slot, delta))
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        each_path!(self, a => a.swap(target, slot, new))
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        each_path!(self, a => a.read(target, slot))
    }
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        each_path!(self, a => a.glance(target, slot))
    }
    fn peek(&self, slot: Slot) -> Result<u64> {
        each_path!(self, a => a.peek(slot))
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        each_path!(self, a => a.start(target, slot, update))
    }
    fn start_look(&self, target: usize, slot: Slot) -> Result<Pending> {
        each_path!(self, a => a.start_look(target, slot))
    }
    fn start_knock(&self, target: usize, slot: Slot, value: u64) -> Result<Pending> {
        each_path!(self, a => a.start_knock(target, slot, value))
    }
    fn peeks_are_loads(&self, slot: Slot) -> bool {
        each_path!(self, a => a.peeks_are_loads(slot))
    }
    fn publish(&self, slot: Slot, value: u64) -> Result<bool> {
        each_path!(self, a => a.publish(slot, value))
    }
    fn progress(&self) -> Result<()> {
        each_path!(self, a => a.progress())
    }
    fn node_words_passive(&self) -> bool {
        // MPI atomics may be software RMA, where a read waits for a busy
        // target's next call into MPI; with direct steals the hybrid path's
        // range words take MPI atomics too.
        match self {
            WindowAtomics::Mpi(_) => false,
            WindowAtomics::Shm(_) => true,
            WindowAtomics::Hybrid(a) => !a.ranges_cross(),
        }
    }
    fn wait(&self, slot: Slot, seen: u64, timeout: std::time::Duration) {
        each_path!(self, a => a.wait(slot, seen, timeout))
    }
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        each_path!(self, a => a.wake(target, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_sit_on_distinct_cache_lines() {
        let idx = [
            Slot::Range,
            Slot::Finished,
            Slot::Unsent,
            Slot::Hunter,
            Slot::Idle,
            Slot::Offer,
            Slot::Inbox0,
            Slot::Inbox1,
            Slot::Inbox2,
            Slot::Inbox3,
            Slot::Told,
            Slot::Done,
            Slot::Heartbeat,
            Slot::Waiting,
            Slot::Knock,
            Slot::Gift,
            Slot::Kept,
            #[cfg(feature = "bench")]
            Slot::BenchCas,
            #[cfg(feature = "bench")]
            Slot::BenchAdd,
        ]
        .map(Slot::index);
        assert_eq!(idx.len(), Slot::COUNT, "every slot is listed here");
        for (i, a) in idx.iter().enumerate() {
            assert!(*a < WORDS_PER_RANK);
            for b in &idx[i + 1..] {
                assert!(a.abs_diff(*b) * 8 >= CACHE_LINE);
            }
        }
    }

    #[test]
    fn load_uses_the_slot_operation() {
        let a = LocalAtomics::group(2).remove(0);
        a.compare_and_swap(1, Slot::Range, 0, 77).unwrap();
        assert_eq!(a.load(1, Slot::Range).unwrap(), 77);
        a.fetch_add(0, Slot::Done, 5).unwrap();
        assert_eq!(a.load(0, Slot::Done).unwrap(), 5);
        assert_eq!(a.load(1, Slot::Done).unwrap(), 0);
    }
}
