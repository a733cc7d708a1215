//! In-process atomics: every "rank" is a thread (or a model-checker task)
//! sharing one array of words laid out like a window. Built on
//! [`super::primitive`], so loom and shuttle can run the real protocol.

use super::primitive::{Arc, AtomicU64, Condvar, Mutex, Ordering::SeqCst, MODEL_CHECKING};
use super::{Atomics, Slot, WORDS_PER_RANK};
use crate::error::Result;

/// One rank's view of a shared in-process word array.
#[derive(Clone, Debug)]
pub(crate) struct LocalAtomics {
    words: Arc<Vec<AtomicU64>>,
    /// Writes so far and a condition to wait for the next one; kept only
    /// under a model checker (see `Atomics::wait_for_write`).
    writes: Arc<(Mutex<u64>, Condvar)>,
    rank: usize,
    size: usize,
}

impl LocalAtomics {
    /// `size` views of one zeroed array, one per rank.
    pub(crate) fn group(size: usize) -> Vec<LocalAtomics> {
        let words = Arc::new(
            (0..size * WORDS_PER_RANK)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>(),
        );
        let writes = Arc::new((Mutex::new(0), Condvar::new()));
        (0..size)
            .map(|rank| LocalAtomics {
                words: Arc::clone(&words),
                writes: Arc::clone(&writes),
                rank,
                size,
            })
            .collect()
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
}

impl Atomics for LocalAtomics {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        let w = self.word(target, slot);
        let old = w
            .compare_exchange(expected, new, SeqCst, SeqCst)
            .unwrap_or_else(|old| old);
        if old == expected && new != expected {
            self.wrote();
        }
        Ok(old)
    }
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        let old = self.word(target, slot).fetch_add(delta, SeqCst);
        if delta != 0 {
            self.wrote();
        }
        Ok(old)
    }
    fn writes(&self) -> u64 {
        if !MODEL_CHECKING {
            return 0;
        }
        *self.writes.0.lock().unwrap()
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
