//! The cross-node half of the protocol (see the module doc of
//! [`super`]): offers, the hunger mark, takes and the stash.

use super::{Bug, Protocol, RangeWord, Take, REMOTE_TAKES};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{Atomics, Slot, Update};
use crate::error::{Error, Result};
use std::ops::Range;
use std::time::{Duration, Instant};

/// `Offer` holds no units and nobody asked.
const EMPTY: u64 = 0;
/// `Offer` holds no units and a rank on another node asked for some. As a
/// range word it reads as empty (`start == end`), and no range word that
/// holds units has these bits.
const HUNGRY: u64 = u64::MAX;
/// How often `give_more` reads `Offer[me]` for hunger: a read is a (local)
/// MPI operation, cheap but not free next to a CPU claim.
const OFFER_CHECK_PERIOD: Duration = Duration::from_micros(20);

/// The units an `Offer` value holds, if any.
fn units(value: u64) -> Option<Range<u64>> {
    let word = RangeWord::from_bits(value);
    (value != EMPTY && value != HUNGRY && !word.is_empty()).then(|| word.start()..word.end())
}

impl<A: Atomics> Protocol<A> {
    /// At the start of a run: the offer of the previous run held no units
    /// (they were all handed out); forget its hunger mark.
    pub(super) fn clear_offer(&mut self) -> Result<()> {
        let old = self.atomics.swap(self.me(), Slot::Offer, EMPTY)?;
        if let Some(left) = units(old) {
            return Err(Error::internal(format!(
                "units {left:?} were still offered at the start of a run"
            )));
        }
        Ok(())
    }

    /// In `give_more`, after a claim: if a rank on another node marked our
    /// offer hungry, move the back half of our range into it.
    pub(super) fn serve_offer(&mut self) -> Result<()> {
        if !MODEL_CHECKING {
            let now = Instant::now();
            if self.next_offer_check.is_some_and(|next| now < next) {
                return Ok(());
            }
            self.next_offer_check = Some(now + OFFER_CHECK_PERIOD);
        }
        let me = self.me();
        if self.own.is_empty() || self.atomics.read(me, Slot::Offer)? != HUNGRY {
            return Ok(());
        }
        let offered = loop {
            if self.own.is_empty() {
                return Ok(());
            }
            let (rest, back) = self.own.take_back_half();
            if self.has_bug(Bug::DepositKeepsUnits) {
                break back;
            }
            let seen = self.cas(me, self.own, rest)?;
            if seen == self.own {
                self.own = rest;
                break back;
            }
            self.own = seen; // a node-mate stole: retry with what is left
        };
        let old = self
            .atomics
            .swap(me, Slot::Offer, RangeWord::new(offered).bits())?;
        if let Some(lost) = units(old) {
            return Err(Error::internal(format!(
                "deposit over units {lost:?} still offered"
            )));
        }
        self.counters.deposits += 1;
        Ok(())
    }

    /// When our range ran dry: units still on offer are ours again.
    pub(super) fn reclaim_offer(&mut self) -> Result<()> {
        let old = self.atomics.swap(self.me(), Slot::Offer, EMPTY)?;
        if let Some(back) = units(old) {
            self.stash.push(back);
        }
        Ok(())
    }

    /// Whether this rank may hunt on other nodes for its node: one rank per
    /// node at a time, and the leader only when alone on its node (on some
    /// stacks a started operation on a busy rank blocks its maker, and the
    /// leader must stay free to serve the end of the run).
    pub(super) fn become_hunter(&mut self) -> Result<bool> {
        let topology = self.atomics.topology();
        if topology.is_leader() && topology.mates().len() > 1 {
            return Ok(false);
        }
        let leader = topology.leaders()[topology.node_of(self.me())];
        let me = self.me() as u64 + 1;
        Ok(self.atomics.compare_and_swap(leader, Slot::Hunter, 0, me)? == 0)
    }

    /// Gives up hunting for the node (takes in flight stay ours).
    pub(super) fn stop_hunting(&mut self) -> Result<()> {
        let topology = self.atomics.topology();
        let leader = topology.leaders()[topology.node_of(self.me())];
        let me = self.me() as u64 + 1;
        let seen = self.atomics.compare_and_swap(leader, Slot::Hunter, me, 0)?;
        if seen != me {
            return Err(Error::internal(format!(
                "the node's hunter word held {seen}, not this rank's {me}"
            )));
        }
        Ok(())
    }

    /// Keeps [`REMOTE_TAKES`] takes in flight to random ranks on other
    /// nodes, each on a rank that has none of ours in flight.
    ///
    /// Under a model checker, takes that came back empty-handed are not
    /// started again until some rank moved units or counts: until then new
    /// takes only trade hunger marks between idle ranks, which an unfair
    /// schedule could repeat forever while starving the busy ones. (This
    /// restricts the schedules explored, not the protocol: in real time
    /// the busy ranks run.)
    pub(super) fn hunt_remote(&mut self) -> Result<()> {
        if MODEL_CHECKING && self.takes_failed_at == Some(self.atomics.content_writes()) {
            return Ok(());
        }
        let remote = self.atomics.topology().remote().len();
        while self.takes.len() < REMOTE_TAKES.min(remote) {
            let free = |takes: &[Take], v: usize| takes.iter().all(|t| t.victim != v);
            let (victim, revisit) = match self.revisit.pop() {
                Some(v) if free(&self.takes, v) => (v, true),
                _ => loop {
                    let v = self.atomics.topology().remote()[self.rng.below(remote)];
                    if free(&self.takes, v) {
                        break (v, false);
                    }
                },
            };
            let pending = self
                .atomics
                .start(victim, Slot::Offer, Update::Swap(HUNGRY))?;
            self.counters.steal_attempts += 1;
            self.takes.push(Take {
                victim,
                pending,
                revisit,
            });
        }
        Ok(())
    }

    /// Completed takes: their units go to the stash.
    pub(super) fn poll_takes(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.takes.len() {
            match self.takes[i].pending.poll()? {
                None => i += 1,
                Some(old) => {
                    let take = self.takes.swap_remove(i);
                    if let Some(loot) = units(old) {
                        self.counters.steals += 1;
                        self.counters.remote_steals += 1;
                        self.counters.units_stolen += loot.end - loot.start;
                        self.stash.push(loot);
                    } else {
                        if !take.revisit && self.revisit.len() < REMOTE_TAKES {
                            self.revisit.push(take.victim);
                        }
                        if MODEL_CHECKING {
                            self.takes_failed_at = Some(self.atomics.content_writes());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether started operations are still in flight (they must complete
    /// before the window is freed).
    pub(crate) fn ops_in_flight(&self) -> bool {
        !self.takes.is_empty() || !self.in_flight.is_empty()
    }

    /// Polls the operations in flight once, outside runs, serving others'
    /// operations too.
    pub(crate) fn poll_outside_run(&mut self) -> Result<()> {
        self.atomics.progress()?;
        self.poll_takes()?;
        self.poll_in_flight()?;
        // Units that arrive after the last run ended cannot exist: every
        // unit of a run was handed out before it ended.
        if let Some(late) = self.stash.first() {
            return Err(Error::internal(format!(
                "units {late:?} arrived after the run ended"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_values_hold_units_only_when_nonempty() {
        assert_eq!(units(EMPTY), None);
        assert_eq!(units(HUNGRY), None);
        assert_eq!(units(RangeWord::new(0..3).bits()), Some(0..3));
        assert_eq!(units(RangeWord::new(5..5).bits()), None);
        assert!(RangeWord::from_bits(HUNGRY).is_empty());
    }
}
