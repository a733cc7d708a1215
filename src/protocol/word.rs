//! [`RangeWord`]: a rank's remaining range `[start, end)` packed in one
//! 64-bit word, so that one compare-and-swap updates both ends at once (MPI
//! has no 128-bit atomics).
//!
//! Bit layout: `start` in bits 63..32, `end` in bits 31..0, both in units
//! (see `dispenser::units::UnitPlan`). The word is empty when
//! `start >= end`; dlb never stores a word with `start > end`, but reading
//! one as empty keeps the arithmetic total.

use std::ops::Range;

/// The largest unit index a half-word can hold.
pub(crate) const MAX_UNITS: u64 = u32::MAX as u64;

/// A packed `[start, end)` range of units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct RangeWord(u64);

impl RangeWord {
    /// Packs `units`; both ends must be at most [`MAX_UNITS`].
    pub(crate) fn new(units: Range<u64>) -> RangeWord {
        assert!(
            units.start <= MAX_UNITS && units.end <= MAX_UNITS,
            "unit range {units:?} does not fit a half-word"
        );
        RangeWord((units.start << 32) | units.end)
    }

    pub(crate) const fn from_bits(bits: u64) -> RangeWord {
        RangeWord(bits)
    }

    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    pub(crate) const fn start(self) -> u64 {
        self.0 >> 32
    }

    pub(crate) const fn end(self) -> u64 {
        self.0 & MAX_UNITS
    }

    pub(crate) const fn is_empty(self) -> bool {
        self.start() >= self.end()
    }

    /// Units left (0 when empty).
    pub(crate) const fn len(self) -> u64 {
        self.end().saturating_sub(self.start())
    }

    /// The word after the owner takes `n` units from the front, and the
    /// units taken. `n` is clipped to what is left.
    pub(crate) fn take_front(self, n: u64) -> (RangeWord, Range<u64>) {
        let n = n.min(self.len());
        let mid = self.start() + n;
        (RangeWord::new(mid..self.end()), self.start()..mid)
    }

    /// The word after a thief takes the back half (rounded up, so a single
    /// unit can be stolen from a rank stuck in a long job), and the units
    /// taken.
    pub(crate) fn take_back_half(self) -> (RangeWord, Range<u64>) {
        let n = self.len().div_ceil(2);
        let mid = self.end() - n;
        (RangeWord::new(self.start()..mid), mid..self.end())
    }
}

impl RangeWord {
    /// A guess at this word after its owner claims again as much as it
    /// did between `earlier` and `self`; `self` when only the start moved is
    /// not what happened, or when the guess would be empty.
    pub(crate) fn after_same_claim(self, earlier: RangeWord) -> RangeWord {
        if self.end() != earlier.end() || self.start() <= earlier.start() {
            return self;
        }
        let next = self.start() + (self.start() - earlier.start());
        if next >= self.end() {
            return self;
        }
        RangeWord::new(next..self.end())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn predicts_one_more_claim_of_the_same_size() {
        let a = RangeWord::new(10..50);
        let b = RangeWord::new(13..50);
        assert_eq!(b.after_same_claim(a), RangeWord::new(16..50));
        assert_eq!(
            RangeWord::new(13..40).after_same_claim(a),
            RangeWord::new(13..40),
            "a thief moved the end"
        );
        assert_eq!(
            RangeWord::new(48..50).after_same_claim(RangeWord::new(10..50)),
            RangeWord::new(48..50)
        );
    }

    use super::*;

    #[test]
    fn packs_both_ends_into_one_word() {
        let w = RangeWord::new(3..MAX_UNITS);
        assert_eq!((w.start(), w.end(), w.len()), (3, MAX_UNITS, MAX_UNITS - 3));
        assert_eq!(RangeWord::from_bits(w.bits()), w);
        assert!(RangeWord::new(5..5).is_empty());
        assert!(RangeWord::from_bits((9 << 32) | 4).is_empty());
        assert_eq!(RangeWord::from_bits((9 << 32) | 4).len(), 0);
    }

    #[test]
    fn front_and_back_partition_the_range() {
        for len in 1..40u64 {
            let w = RangeWord::new(100..100 + len);
            let (rest, back) = w.take_back_half();
            assert_eq!(rest.start()..rest.end(), 100..back.start);
            assert_eq!(back.end, 100 + len);
            assert_eq!(back.end - back.start, len.div_ceil(2));
            let (rest, front) = w.take_front(7);
            assert_eq!(front, 100..100 + len.min(7));
            assert_eq!(rest.start(), front.end);
            assert_eq!(rest.end(), 100 + len);
        }
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn refuses_units_beyond_a_half_word() {
        let _ = RangeWord::new(0..MAX_UNITS + 1);
    }
}
