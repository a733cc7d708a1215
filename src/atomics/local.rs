//! In-process atomics: every "rank" is a thread (or a model-checker task)
//! sharing one array of words laid out like a window. Built on
//! [`super::primitive`], so loom and shuttle can run the real protocol.
//!
//! Node-level words, and any word of a node-mate, behave like shared memory:
//! every operation takes effect at once. Cross-node words of other nodes
//! behave like software RMA, the worst case of MPI: an operation started on
//! another node's word is queued at its rank
//! and takes effect only when it calls [`Atomics::progress`] (in `give_more`
//! or while idle), never while it "computes", and never after it left.

use super::primitive::{Arc, AtomicU64, Condvar, Mutex, Ordering::SeqCst, MODEL_CHECKING};
use super::{Atomics, Level, Pending, Slot, Update, WORDS_PER_RANK};
use crate::error::{Error, Result};
use crate::protocol::Topology;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, AtomicU8, Ordering::Relaxed};

/// Kinds of access a word has seen (see `LocalAtomics::note`): an atomic
/// (compare-and-swap, add, swap, atomic read; MPI atomics on MPI windows),
/// or a plain store ([`Atomics::publish`], [`Atomics::start_knock`]: a
/// store or an `MPI_Put`). Gets (glances, looks) and peeks (loads of one's
/// own word) are neither.
const ATOMIC: u8 = 1;
const STORE: u8 = 2;

/// Whether swapping `new` over `old` in `slot` moves units: only an
/// inbox or gift word that receives or gives up units (anything but
/// "nothing yet", zero, and "none", all ones; see the protocol) does.
/// Offer words hold hunger marks only, knock words knocks.
fn moves_units(slot: Slot, old: u64, new: u64) -> bool {
    let no_units = |v: u64| v == 0 || v == u64::MAX;
    (Slot::INBOX.contains(&slot) || slot == Slot::Gift) && !(no_units(old) && no_units(new))
}

/// The result cell of a queued operation.
#[derive(Clone, Debug)]
pub(crate) struct Ticket(Arc<Mutex<Option<u64>>>);

impl Ticket {
    pub(crate) fn result(&self) -> Option<u64> {
        *self.0.lock().unwrap()
    }
}

/// An operation waiting at its target.
#[derive(Debug)]
struct Queued {
    word: usize,
    slot: Slot,
    update: Update,
    ticket: Ticket,
}

/// One rank's view of a shared in-process word array.
#[derive(Clone, Debug)]
pub(crate) struct LocalAtomics {
    words: Arc<Vec<AtomicU64>>,
    /// Operations queued at each rank, served by its `progress`.
    queues: Arc<Vec<Mutex<VecDeque<Queued>>>>,
    /// Writes so far and a condition to wait for the next one; kept only
    /// under a model checker (see `Atomics::wait_for_write`).
    writes: Arc<(Mutex<u64>, Condvar)>,
    /// Writes that moved units or counts (see `Atomics::content_writes`).
    content: Arc<StdAtomicU64>,
    topology: Topology,
    /// Whether [`Atomics::glance`] returns what an `MPI_Get` may: now and
    /// then a stale value (this view's previous glance) or, as if it
    /// overlapped an update, arbitrary bits (see `with_noisy_glances`).
    noisy_glances: bool,
    /// Glances made by this view, and the value of the last one.
    glances: Arc<(StdAtomicU64, StdAtomicU64)>,
    /// Whether [`Atomics::peek`] of the `Knock` word returns what a load
    /// that overlaps a put may: now and then the value before, or a torn
    /// mix of the two (see `with_noisy_knocks`).
    noisy_knocks: bool,
    /// Peeks of the `Knock` word made by this view, and the value of the
    /// last one.
    knock_peeks: Arc<(StdAtomicU64, StdAtomicU64)>,
    /// The kinds of access each word has seen (`ATOMIC`, `STORE`).
    kinds: Arc<Vec<AtomicU8>>,
    /// Slots (bit `slot as u32`) on which this view refuses atomics with
    /// an error (see `with_atomics_refused`).
    refused: u32,
}

impl LocalAtomics {
    /// `size` views of one zeroed array, one per rank, all on one node.
    pub(crate) fn group(size: usize) -> Vec<LocalAtomics> {
        LocalAtomics::nodes(size, size)
    }

    /// `size` views of one zeroed array, in nodes of `per_node`
    /// consecutive ranks.
    pub(crate) fn nodes(size: usize, per_node: usize) -> Vec<LocalAtomics> {
        let words = Arc::new(
            (0..size * WORDS_PER_RANK)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>(),
        );
        let queues = Arc::new((0..size).map(|_| Mutex::new(VecDeque::new())).collect());
        let writes = Arc::new((Mutex::new(0), Condvar::new()));
        let content = Arc::new(StdAtomicU64::new(0));
        let kinds = Arc::new(
            (0..size * WORDS_PER_RANK)
                .map(|_| AtomicU8::new(0))
                .collect(),
        );
        (0..size)
            .map(|rank| LocalAtomics {
                words: Arc::clone(&words),
                queues: Arc::clone(&queues),
                writes: Arc::clone(&writes),
                content: Arc::clone(&content),
                topology: Topology::blocks(rank, size, per_node),
                noisy_glances: false,
                glances: Arc::new((StdAtomicU64::new(0), StdAtomicU64::new(0))),
                noisy_knocks: false,
                knock_peeks: Arc::new((StdAtomicU64::new(0), StdAtomicU64::new(0))),
                kinds: Arc::clone(&kinds),
                refused: 0,
            })
            .collect()
    }

    /// This view, which fails every atomic on `slots` (of any rank) with
    /// an error: for tests of code that must reach a word only with stores
    /// and gets where starting an atomic would wait for its target.
    #[cfg(all(test, not(any(dlb_loom, dlb_shuttle))))]
    pub(crate) fn with_atomics_refused(mut self, slots: &[Slot]) -> LocalAtomics {
        for &slot in slots {
            self.refused |= 1 << slot as u32;
        }
        self
    }

    /// Records an access of `kind` to `target`'s `slot`; panics if the word
    /// has now seen both atomics and plain stores, which MPI leaves
    /// undefined (MPI-3.1 §11.7: a put and an accumulate on one location
    /// conflict) and which dlb never makes.
    fn note(&self, target: usize, slot: Slot, kind: u8) {
        let before = self.kinds[target * WORDS_PER_RANK + slot.index()].fetch_or(kind, Relaxed);
        assert!(
            before | kind != ATOMIC | STORE,
            "rank {target}'s {slot:?} word saw both atomics and plain stores"
        );
    }

    /// Records an atomic on `target`'s `slot`, or refuses it (see
    /// `with_atomics_refused`).
    fn atomic(&self, target: usize, slot: Slot) -> Result<()> {
        if self.refused & (1 << slot as u32) != 0 {
            return Err(Error::internal(format!(
                "an atomic on rank {target}'s {slot:?} word, which this test refuses"
            )));
        }
        self.note(target, slot, ATOMIC);
        Ok(())
    }

    /// This view, with glances that are one time in three stale and one in
    /// three arbitrary bits, as an `MPI_Get` of a word under update may
    /// return: what `glance`'s callers must survive.
    pub(crate) fn with_noisy_glances(mut self) -> LocalAtomics {
        self.noisy_glances = true;
        self
    }

    /// This view, with peeks of its `Knock` word that are one time in
    /// three the value the previous peek saw and one in three a torn mix
    /// (the high half of the word now, the low half of before), as a load
    /// that overlaps another rank's put may return: knocks are hints, and
    /// a torn one may name any rank.
    pub(crate) fn with_noisy_knocks(mut self) -> LocalAtomics {
        self.noisy_knocks = true;
        self
    }

    /// Counts a write that changed a word, after it happened.
    fn wrote(&self) {
        if MODEL_CHECKING {
            let (count, changed) = &*self.writes;
            *count.lock().unwrap() += 1;
            changed.notify_all();
        }
    }

    fn word(&self, target: usize, slot: Slot) -> &AtomicU64 {
        &self.words[target * WORDS_PER_RANK + slot.index()]
    }

    /// Applies `update` to `target`'s `slot` at once where that is shared
    /// memory (node-level words, node-mates' words), else queues it at
    /// `target` until its next `progress`.
    fn queue(&self, target: usize, slot: Slot, update: Update) -> Pending {
        if slot.level() == Level::Node || self.topology.is_mate(target) {
            let old = self.apply(self.word(target, slot), slot, update);
            self.wrote();
            return Pending::ready(old);
        }
        let ticket = Ticket(Arc::new(Mutex::new(None)));
        self.queues[target].lock().unwrap().push_back(Queued {
            word: target * WORDS_PER_RANK + slot.index(),
            slot,
            update,
            ticket: ticket.clone(),
        });
        self.wrote();
        Pending::local(ticket)
    }

    fn apply(&self, word: &AtomicU64, slot: Slot, update: Update) -> u64 {
        let (old, moved) = match update {
            Update::Add(d) => (word.fetch_add(d, SeqCst), d != 0),
            Update::Swap(v) => {
                let old = word.swap(v, SeqCst);
                (old, moves_units(slot, old, v))
            }
            Update::Read => (word.load(SeqCst), false),
        };
        if moved {
            self.content.fetch_add(1, Relaxed);
        }
        old
    }
}

impl Atomics for LocalAtomics {
    fn topology(&self) -> &Topology {
        &self.topology
    }
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        self.atomic(target, slot)?;
        let w = self.word(target, slot);
        let old = w
            .compare_exchange(expected, new, SeqCst, SeqCst)
            .unwrap_or_else(|old| old);
        if old == expected && new != expected {
            self.content.fetch_add(1, Relaxed);
            self.wrote();
        }
        Ok(old)
    }
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        self.atomic(target, slot)?;
        let old = self.word(target, slot).fetch_add(delta, SeqCst);
        if delta != 0 {
            self.content.fetch_add(1, Relaxed);
            self.wrote();
        }
        Ok(old)
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        self.atomic(target, slot)?;
        let old = self.word(target, slot).swap(new, SeqCst);
        if moves_units(slot, old, new) {
            self.content.fetch_add(1, Relaxed);
        }
        if old != new {
            self.wrote();
        }
        Ok(old)
    }
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        let now = self.word(target, slot).load(SeqCst);
        if !self.noisy_glances {
            return Ok(now);
        }
        let (count, last) = &*self.glances;
        let n = count.fetch_add(1, Relaxed);
        let value = match n % 3 {
            0 => now,
            1 => last.load(Relaxed),
            // A mix of the word's bits and a counter's, spread over both
            // halves (an odd multiplier visits every value).
            _ => now ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        };
        last.store(now, Relaxed);
        Ok(value)
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        self.atomic(target, slot)?;
        Ok(self.word(target, slot).load(SeqCst))
    }
    /// A load of the own word, as on MPI windows (no atomic).
    fn peek(&self, slot: Slot) -> Result<u64> {
        let now = self.word(self.rank(), slot).load(SeqCst);
        if !self.noisy_knocks || slot != Slot::Knock {
            return Ok(now);
        }
        let (count, last) = &*self.knock_peeks;
        let before = last.swap(now, Relaxed);
        Ok(match count.fetch_add(1, Relaxed) % 3 {
            0 => now,
            1 => before,
            _ => (now & !u64::from(u32::MAX)) | (before & u64::from(u32::MAX)),
        })
    }
    /// A look is a read queued at its target like any operation on another
    /// node's word: it completes when the target serves it.
    fn start_look(&self, target: usize, slot: Slot) -> Result<Pending> {
        Ok(self.queue(target, slot, Update::Read))
    }
    fn start_knock(&self, target: usize, slot: Slot, value: u64) -> Result<Pending> {
        // (A put is a store: here one queued at the target like every
        // operation across nodes; its result is not read.)
        self.note(target, slot, STORE);
        Ok(self.queue(target, slot, Update::Swap(value)))
    }
    fn publish(&self, slot: Slot, value: u64) -> Result<bool> {
        self.note(self.rank(), slot, STORE);
        self.word(self.rank(), slot).store(value, SeqCst);
        Ok(true)
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        self.atomic(target, slot)?;
        Ok(self.queue(target, slot, update))
    }
    fn progress(&self) -> Result<()> {
        loop {
            let next = self.queues[self.rank()].lock().unwrap().pop_front();
            let Some(op) = next else {
                return Ok(());
            };
            let old = self.apply(&self.words[op.word], op.slot, op.update);
            *op.ticket.0.lock().unwrap() = Some(old);
            self.wrote();
        }
    }
    fn writes(&self) -> u64 {
        if !MODEL_CHECKING {
            return 0;
        }
        *self.writes.0.lock().unwrap()
    }
    fn content_writes(&self) -> u64 {
        self.content.load(Relaxed)
    }
    fn wait_for_write(&self, seen: u64) {
        if MODEL_CHECKING {
            let (count, changed) = &*self.writes;
            let mut now = count.lock().unwrap();
            while *now == seen {
                now = changed.wait(now).unwrap();
            }
        }
    }
}

#[cfg(all(test, not(any(dlb_loom, dlb_shuttle))))]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn a_word_that_sees_atomics_and_stores_is_a_bug() {
        let a = LocalAtomics::nodes(2, 1).remove(0);
        // Stores and gets on one word, atomics and gets on another: fine.
        a.publish(Slot::Waiting, 1).unwrap();
        a.start_look(1, Slot::Waiting).unwrap();
        a.start_knock(1, Slot::Knock, 5).unwrap();
        a.peek(Slot::Knock).unwrap();
        a.fetch_add(0, Slot::Done, 1).unwrap();
        a.glance(0, Slot::Done).unwrap();
        a.peek(Slot::Done).unwrap();
        // An atomic on a stored word, a store on an atomic word: panics.
        let mixed = |f: &dyn Fn()| catch_unwind(AssertUnwindSafe(f)).is_err();
        assert!(mixed(&|| drop(a.start(1, Slot::Knock, Update::Read))));
        assert!(mixed(&|| drop(a.publish(Slot::Done, 2))));
    }

    #[test]
    fn refused_atomics_are_errors() {
        let a = LocalAtomics::group(2)
            .remove(0)
            .with_atomics_refused(&[Slot::Heartbeat]);
        assert!(a.fetch_add(1, Slot::Heartbeat, 2).is_err());
        assert!(a.start(1, Slot::Heartbeat, Update::Read).is_err());
        assert!(a.publish(Slot::Heartbeat, 2).unwrap());
        assert_eq!(
            a.start_look(1, Slot::Heartbeat).unwrap().poll().unwrap(),
            Some(0)
        );
        assert!(a.fetch_add(1, Slot::Done, 2).is_ok());
    }
}
