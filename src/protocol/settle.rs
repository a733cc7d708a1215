//! Settling: where every MPI atomic locks the target's window, one's own
//! included (Open MPI 4.1's osc/ucx: [`super::Looks::First`]), a rank
//! makes its atomic on one of its own cross-node words only once a peek
//! has shown the same new value there for [`SETTLE`].
//!
//! Why: a peek sees a remote atomic's update as soon as the target served
//! the operation, while the maker still holds the target's lock; its unlock
//! is one more message that the target serves in its next MPI call. A
//! target that peeked and went straight to its own atomic on the word spun
//! on its own lock, and that spin did not serve the maker's unlock for
//! milliseconds. Measured across simulated nodes (2 × 4 ranks, Open MPI
//! 4.1.4 osc/ucx over TCP, 36 runs per sample): both operations took 1 to
//! 15 ms, and a run's "no more" came that much later, in 3 to 6 runs of
//! each 36, on rank 0's read of `Done` after the last forward, on a
//! leader's read of `Told` after rank 0's notice, and on rank 0's own add
//! to `Done` beside a forward from another node. Waiting for the word to
//! stay put lets the unlock through first: the peek is polled in the idle
//! rounds, which serve the unlock. Elsewhere atomics take no lock, or
//! none that the owner's atomic spins on, and settling would only delay.
//!
//! A peek is a hint (see the module doc of [`super`]): settling decides
//! nothing, it only delays the atomic that decides.

use super::{Looks, Protocol};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{Atomics, Slot};
use crate::clock::Instant;
use std::time::Duration;

/// How long a new value must stay in one of this rank's words before its
/// atomic on the word, where atomics lock (see the module doc).
pub(super) const SETTLE: Duration = Duration::from_micros(50);

/// The new values peeks showed in this rank's words, and since when.
#[derive(Debug, Default)]
pub(super) struct Settling {
    seen: Vec<(Slot, u64, Instant)>,
}

impl<A: Atomics> Protocol<A> {
    /// Whether this rank may make its atomic on its own word `slot`, in
    /// which a peek just showed `value`: at once where atomics do not lock
    /// (and under a model checker); else once peeks have shown `value`
    /// there for [`SETTLE`]. Stays true while the peeks show `value`, until
    /// the atomic was made (`unsettle`): a caller may still hold the atomic
    /// back for reasons of its own (a carry waits for a look at its target).
    pub(super) fn settled(&mut self, slot: Slot, value: u64) -> bool {
        if MODEL_CHECKING || self.look_mode != Looks::First {
            return true;
        }
        let now = Instant::now();
        let seen = &mut self.settling.seen;
        match seen.iter().position(|&(s, _, _)| s == slot) {
            Some(i) if seen[i].1 == value => now.duration_since(seen[i].2) >= SETTLE,
            Some(i) => {
                seen[i] = (slot, value, now);
                false
            }
            None => {
                seen.push((slot, value, now));
                false
            }
        }
    }

    /// This rank made its atomic on `slot`: the next new value there
    /// settles anew.
    pub(super) fn unsettle(&mut self, slot: Slot) {
        self.settling.seen.retain(|&(s, _, _)| s != slot);
    }

    /// How long until the first value still settling has settled, if any:
    /// an idle rank sleeps no longer than that, so that settling costs
    /// [`SETTLE`] and not a round of a long idle period (up to 4 ms).
    pub(super) fn settle_wait(&self) -> Option<Duration> {
        let now = Instant::now();
        self.settling
            .seen
            .iter()
            .map(|&(_, _, at)| at + SETTLE)
            .filter(|&due| due > now)
            .map(|due| due.duration_since(now))
            .min()
    }
}
