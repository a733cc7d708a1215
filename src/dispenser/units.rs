//! Units: how many jobs one half-word unit of a range word stands for. The
//! dispenser decides it per run (one job per unit, unless a run has more
//! jobs than a half-word can count) and converts between units, which the
//! protocol moves, and positions, which the mappings turn into job IDs.

use crate::protocol::MAX_UNITS;
use std::ops::Range;

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
