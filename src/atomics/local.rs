//! In-process atomics: every "rank" is a thread (or a model-checker task)
//! sharing one array of words laid out like a window.

use super::{Atomics, Slot, WORDS_PER_RANK};
use crate::error::Result;
use atomic::{Atomic, Ordering::SeqCst};
use std::sync::Arc;

/// One rank's view of a shared in-process word array.
#[derive(Clone, Debug)]
pub(crate) struct LocalAtomics {
    words: Arc<[Atomic<u64>]>,
    rank: usize,
    size: usize,
}

impl LocalAtomics {
    /// `size` views of one zeroed array, one per rank.
    pub(crate) fn group(size: usize) -> Vec<LocalAtomics> {
        let words: Arc<[Atomic<u64>]> =
            (0..size * WORDS_PER_RANK).map(|_| Atomic::new(0)).collect();
        (0..size)
            .map(|rank| LocalAtomics {
                words: Arc::clone(&words),
                rank,
                size,
            })
            .collect()
    }

    fn word(&self, target: usize, slot: Slot) -> &Atomic<u64> {
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
        Ok(w.compare_exchange(expected, new, SeqCst, SeqCst)
            .unwrap_or_else(|old| old))
    }
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        Ok(self.word(target, slot).fetch_add(delta, SeqCst))
    }
}
