//! The initial split of a run, and units: how many jobs one half-word unit
//! stands for when a run has more jobs than a half-word can count.

use crate::protocol::MAX_UNITS;
use std::ops::Range;

/// DLB's consecutive block split: rank `k` of `p` gets `q*k + min(r, k)`
/// onwards, `q + (k < r)` items, with `q = n div p`, `r = n mod p`.
pub(crate) fn block(n: u64, p: u64, k: u64) -> Range<u64> {
    let (q, r) = (n / p, n % p);
    let start = q * k + r.min(k);
    start..start + q + u64::from(k < r)
}

/// The rank whose block contains `pos` (`pos < n`).
pub(crate) fn block_of(n: u64, p: u64, pos: u64) -> u64 {
    let (q, r) = (n / p, n % p);
    let long = (q + 1) * r; // positions in the r longer blocks
    if pos < long {
        pos / (q + 1)
    } else {
        r + (pos - long) / q
    }
}

/// How a run of `jobs` positions is represented in half-word units.
///
/// With `jobs <= max_units` a unit is one job. Beyond, a unit is
/// `unit = ceil(jobs / max_units)` consecutive jobs, there are
/// `units = jobs / unit` of them, and the `jobs - units * unit < unit` jobs
/// left over (the *remainder*, at the end of the position space) are handed
/// out privately by the last rank, never stolen. Claims and steals then move
/// whole units, so a rank holds up to `unit - 1` jobs that others cannot
/// steal: with 2^63 - 1 jobs and `max_units = 2^32 - 1`, `unit = 2^31 + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UnitPlan {
    pub(crate) unit: u64,
    pub(crate) units: u64,
    pub(crate) jobs: u64,
}

impl UnitPlan {
    pub(crate) fn new(jobs: u64, max_units: u64) -> UnitPlan {
        let max_units = max_units.clamp(1, MAX_UNITS);
        let unit = jobs.div_ceil(max_units).max(1);
        UnitPlan {
            unit,
            units: jobs / unit,
            jobs,
        }
    }

    /// Positions of a range of units.
    pub(crate) fn positions(&self, units: Range<u64>) -> Range<u64> {
        units.start * self.unit..units.end * self.unit
    }

    /// The jobs that fit no whole unit, for the last rank's private start.
    pub(crate) fn remainder(&self) -> Range<u64> {
        self.units * self.unit..self.jobs
    }

    /// Units to claim so that a chunk holds about `want` jobs: at least one.
    pub(crate) fn units_for(&self, want: u64) -> u64 {
        (want / self.unit).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_dlb_and_cover_everything() {
        for n in 0..60u64 {
            for p in 1..9u64 {
                let mut next = 0;
                for k in 0..p {
                    let b = block(n, p, k);
                    assert_eq!(b.start, next);
                    assert_eq!(b.start, (n / p) * k + (n % p).min(k));
                    for pos in b.clone() {
                        assert_eq!(block_of(n, p, pos), k, "n={n} p={p} pos={pos}");
                    }
                    next = b.end;
                }
                assert_eq!(next, n);
            }
        }
        let big = i64::MAX as u64;
        assert_eq!(block(big, 64, 63).end, big);
        assert_eq!(block_of(big, 64, big - 1), 63);
    }

    #[test]
    fn units_are_jobs_until_a_half_word_overflows() {
        let small = UnitPlan::new(1000, MAX_UNITS);
        assert_eq!((small.unit, small.units), (1, 1000));
        assert!(small.remainder().is_empty());

        let huge = UnitPlan::new(i64::MAX as u64, MAX_UNITS);
        assert!(huge.units <= MAX_UNITS);
        assert_eq!(huge.unit, (i64::MAX as u64).div_ceil(MAX_UNITS));
        let rem = huge.remainder();
        assert!(rem.end - rem.start < huge.unit);
        assert_eq!(huge.positions(0..huge.units).end, rem.start);
        assert_eq!(huge.units_for(5), 1);

        let forced = UnitPlan::new(100, 7);
        assert_eq!((forced.unit, forced.units), (15, 6));
        assert_eq!(forced.remainder(), 90..100);
        assert_eq!(forced.units_for(31), 2);
    }
}
