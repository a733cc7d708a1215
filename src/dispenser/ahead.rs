//! Claiming ahead: how many chunks one claim from the own range takes when
//! jobs are very short.
//!
//! A claim is one compare-and-swap on the own range word (one MPI call on
//! the MPI paths, with progress for thieves). For jobs of a few nanoseconds
//! that is most of a `give_more`; so when the chunks of the last claim were
//! done within [`QUICK`] of the claim's return, the next claim takes twice
//! as many chunks (up to the cap, [`DEFAULT_CAP`] unless set; the claim's
//! own time does not count, so a slow MPI does not hold the factor down),
//! and the extra chunks are handed out
//! privately by later calls, each still at most `maxjobs` jobs. As soon as a
//! claim's chunks take longer, a thief interferes, or the rank had to look
//! for work, one chunk per claim again.
//!
//! Chunks claimed ahead cannot be stolen, but they were predicted to take
//! under about twice [`QUICK`] in all (twice a batch that took less), so
//! they cost balance that much at most (unless
//! a job far longer than the ones before it follows very short ones: cap 1
//! turns claiming ahead off). Exactly-once and termination do not depend on
//! it: the units are taken from the shared word before any is handed out,
//! and a job is reported done only at a visit to the protocol after the
//! call that followed it (see the dispenser's module doc).

use crate::clock::Instant;
use std::time::Duration;

/// A claim's chunks done within this long make the next claim larger.
pub(crate) const QUICK: Duration = Duration::from_micros(2);

/// At most this many chunks per claim by default.
pub(crate) const DEFAULT_CAP: u64 = 32;

/// The claim-ahead state of one rank.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ahead {
    cap: u64,
    factor: u64,
    /// When the last uncontended claim returned, if the rank did not wait
    /// or meet a thief since.
    last_claim: Option<Instant>,
}

impl Ahead {
    /// At most `cap` chunks per claim (1: no claiming ahead).
    pub(crate) fn new(cap: u64) -> Ahead {
        Ahead {
            cap: cap.max(1),
            factor: 1,
            last_claim: None,
        }
    }

    /// Chunks the claim made `now` takes: twice the last claim's if those
    /// were done quickly, else one.
    pub(crate) fn claim_at(&mut self, now: Instant) -> u64 {
        let quick = self
            .last_claim
            .take()
            .is_some_and(|last| now.saturating_duration_since(last) < QUICK);
        self.factor = if quick {
            self.factor.saturating_mul(2).min(self.cap)
        } else {
            1
        };
        self.factor
    }

    /// The claim returned at `at` without meeting a thief: its chunks are
    /// done from then on.
    pub(crate) fn claimed(&mut self, at: Instant) {
        self.last_claim = Some(at);
    }

    /// A thief took from the own range, or the rank waited for work: one
    /// chunk per claim again.
    pub(crate) fn reset(&mut self) {
        self.factor = 1;
        self.last_claim = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_claims_double_up_to_the_cap_and_slow_ones_reset() {
        let mut a = Ahead::new(16);
        let t = Instant::now();
        let fast = Duration::from_nanos(100);
        // A claim that takes as long as QUICK itself (a slow MPI) counts
        // only from its return.
        let mut claim = |at: Instant| {
            let f = a.claim_at(at);
            a.claimed(at + QUICK);
            f
        };
        let at = |i: u32| t + (QUICK + fast) * i;
        let factors: Vec<u64> = (0..7).map(|i| claim(at(i))).collect();
        assert_eq!(factors, [1, 2, 4, 8, 16, 16, 16]);
        assert_eq!(claim(at(7) + QUICK), 1, "a slow batch resets");
        assert_eq!(claim(at(8) + QUICK), 2);
        a.reset();
        assert_eq!(a.claim_at(at(9) + QUICK), 1, "after a reset");
        assert_eq!(a.claim_at(at(9) + QUICK), 1, "no claim returned since");
    }

    #[test]
    fn cap_one_never_claims_ahead() {
        let mut a = Ahead::new(1);
        let t = Instant::now();
        assert!((0..5).all(|i| {
            let f = a.claim_at(t + Duration::from_nanos(i));
            a.claimed(t + Duration::from_nanos(i));
            f == 1
        }));
        assert_eq!(Ahead::new(0).cap, 1);
    }
}
