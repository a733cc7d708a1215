//! Knocks and gifts (see "Knocks" in the module doc of [`super`]): where
//! starting a take waits for its victim, each idle rank of a dry node asks
//! a rank of another node for units with a put that waits for nothing, and
//! that rank, if it has units, pushes part of them to the knocker in the
//! `give_more` that serves the put.

use super::cross::run_bits;
use super::{Bug, Path, Protocol, RangeWord};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{Atomics, Pending, Slot, Update};
use crate::clock::Instant;
use crate::error::{Error, Result};
use crate::trace::Start;
use std::time::Duration;

/// A `Gift` word that holds no units.
const EMPTY: u64 = 0;
/// The bit that makes a word a knock (a `Knock` word that was never
/// written holds 0).
const KNOCK_BIT: u64 = 1 << 63;
/// What a knocker that left the idle loop puts over its knock: no knock.
const WITHDRAWN: u64 = 0;
/// The bits a knock never sets (between its run bits and [`KNOCK_BIT`]):
/// a read that finds one set was torn, and is ignored.
const UNUSED_BITS: u64 = ((1 << 7) - 1) << 56;
/// A knock completed this long ago without a gift came to nothing: the
/// knocker counts it as an empty answer (it pauses) and may knock again.
/// On software RMA (Open MPI 4.1's osc/ucx: see
/// [`Atomics::start_knock`]) it completes when its victim serves it, which
/// gives in that same `give_more`, and the gift then waits only for the
/// knocker, idle and polling.
const KNOCK_PATIENCE: Duration = Duration::from_millis(1);

/// Knocks an idle rank keeps in flight or waiting for a gift. One: every
/// idle rank of a dry node knocks, each gift goes to its own knocker's
/// `Gift` word, and a second knock's gift would displace the first's
/// there (or wait for the knocker, busy with the first's units, on stacks
/// where a start waits for its target). Measured on Open MPI osc/ucx
/// across 2 × 4 simulated nodes, three alternating pairs of runs of
/// `--reps 3` (a subset of BENCHMARKS.md's, "Across nodes"): one knock
/// per idle rank, ramp / block / random 1.070-1.086 / 1.122-1.146 /
/// 1.043-1.057; three knocks by the node's hunter alone (as takes were
/// made), 1.086-1.094 / 1.180-1.199 / 1.043-1.073; two per idle rank, no
/// better than one. Under a model checker two, so that
/// its schedules reach gifts that displace each other, which one knock
/// per rank reaches only when a gift comes after its knock was given up
/// (or a read of a knock was torn).
const KNOCKS: usize = if MODEL_CHECKING { 2 } else { 1 };

/// A rank's knock on a rank of another node, until it is served and
/// [`KNOCK_PATIENCE`] has passed.
#[derive(Debug)]
pub(super) struct Knock {
    /// The rank knocked on.
    pub(super) victim: usize,
    /// The run the knock was made in (`finish_target` then).
    run: u64,
    state: KnockState,
}

#[derive(Debug)]
enum KnockState {
    /// The put, until it completed.
    InFlight(Pending),
    /// When the knocker saw the put complete.
    Served(Instant),
}

/// The knock of `knocker` in run `run`; `seq` tells it from the knocker's
/// earlier knocks on the same rank, so that the rank sees it as new.
fn knock_bits(knocker: usize, run: u64, seq: u8) -> u64 {
    debug_assert!(knocker < 1 << 32);
    KNOCK_BIT | (run_bits(run) << 40) | ((knocker as u64) << 8) | u64::from(seq)
}

/// The knocker and run bits of a knock; `None` for a word that holds none.
fn from_knock(value: u64) -> Option<(usize, u64)> {
    if value & KNOCK_BIT == 0 || value & UNUSED_BITS != 0 {
        return None;
    }
    let knocker = ((value >> 8) & u64::from(u32::MAX)) as usize;
    Some((knocker, run_bits(value >> 40)))
}

impl<A: Atomics> Protocol<A> {
    /// Whether idle ranks of a dry node knock instead of the node's hunter
    /// taking, and ranks read their `Knock` and `Gift` words: where init
    /// chose that looks come first (a take's start waits for its victim;
    /// the same choice on every rank), and where a rank reads its `Knock`
    /// word with a load (a word that puts write must see no atomic; every
    /// rank's window has the same memory model). Elsewhere no rank reads
    /// these words: on osc/pt2pt an `MPI_Win_sync` before a peek may spin
    /// in Open MPI's progress loop (see BENCHMARKS.md, "Idle CPU").
    /// Decided once, when init sets the looks (`set_looks`): neither the
    /// choice nor the window's memory model changes later.
    pub(super) fn knocks_now(&self) -> bool {
        self.knocking
    }

    /// An idle round of a rank whose node is dry, where knocks come
    /// instead of takes: keeps [`KNOCKS`] knock of this run in flight or
    /// waiting for a gift, on a rank of another node (the first of an idle
    /// period on this rank's counterpart, see `knock_victim`; a take of
    /// this run still in flight, made before knocks, holds a place too),
    /// unless a knock that came to nothing paused it. Gifts arrive in
    /// `Gift[me]`, which every idle rank reads ([`Protocol::receive_gift`]).
    ///
    /// Under a model checker, a served knock comes to nothing at once, and
    /// no knock starts until some rank moved units or counts (as after an
    /// empty take: see `hunt_remote`).
    pub(super) fn knock_remote(&mut self) -> Result<()> {
        self.poll_knocks()?;
        let run = self.finish_target;
        let me = self.me();
        loop {
            if MODEL_CHECKING && self.takes_failed_at == Some(self.atomics.content_writes()) {
                return Ok(());
            }
            if self.take_pause.holds(Instant::now()) {
                return Ok(());
            }
            let current = self.knocks.iter().filter(|k| k.run == run).count()
                + self.takes.iter().filter(|t| t.run == run).count();
            if current >= KNOCKS.min(self.atomics.topology().remote_count()) {
                return Ok(());
            }
            let victim = loop {
                let v = self.knock_victim();
                if self.knocks.iter().all(|k| k.run != run || k.victim != v)
                    && self.takes.iter().all(|t| t.run != run || t.victim != v)
                {
                    break v;
                }
            };
            self.knock_seq = self.knock_seq.wrapping_add(1);
            let knock = knock_bits(me, run, self.knock_seq);
            let traced_at = self.trace_clock();
            let put = self.atomics.start_knock(victim, Slot::Knock, knock)?;
            self.trace_started(Start::Knock, traced_at, victim);
            self.counters.steal_attempts += 1;
            self.knocks.push(Knock {
                victim,
                run,
                state: KnockState::InFlight(put),
            });
        }
    }

    /// Where a new knock goes: the first of an idle period to this rank's
    /// counterpart ([`super::Topology::counterpart_on`]) on a random other
    /// node, later ones to random ranks of other nodes (see "Knocks" in the
    /// module doc of [`super`]). The other node is drawn as a random
    /// victim's, so nodes are drawn in proportion to their ranks, as
    /// before.
    pub(super) fn knock_victim(&mut self) -> usize {
        let any = self.random_remote();
        if !std::mem::take(&mut self.first_knock) {
            return any;
        }
        let topology = self.atomics.topology();
        topology.counterpart_on(topology.node_of(any))
    }

    /// Polls the knocks: one served [`KNOCK_PATIENCE`] ago (or of an
    /// earlier run, once served) is forgotten; if of this run, the knocker
    /// pauses as a hunter after an empty answer.
    pub(super) fn poll_knocks(&mut self) -> Result<()> {
        let run = self.finish_target;
        let now = Instant::now();
        let mut i = 0;
        while i < self.knocks.len() {
            let knock = &mut self.knocks[i];
            if let KnockState::InFlight(put) = &mut knock.state {
                if put.poll()?.is_some() {
                    knock.state = KnockState::Served(now);
                }
            }
            let over = match knock.state {
                KnockState::InFlight(_) => false,
                // (Not the real clock under a model checker: its replays
                // must not depend on it.)
                KnockState::Served(at) => {
                    MODEL_CHECKING || knock.run != run || now.duration_since(at) >= KNOCK_PATIENCE
                }
            };
            if !over {
                i += 1;
                continue;
            }
            let knock = self.knocks.swap_remove(i);
            if knock.run == run {
                self.came_back_empty(now);
            }
        }
        Ok(())
    }

    /// Forgets the knocks when this rank leaves the idle loop (what a
    /// served one said is old by the next idle period; a put still in
    /// flight completes among the operations nobody waits for), and with
    /// `withdraw` (it leaves with work, in a run not over) withdraws those
    /// of this run: it puts [`WITHDRAWN`] over each, so that a victim that
    /// has not served it yet gives nothing to a rank now busy, which would
    /// leave the units in its `Gift` word, out of everyone's reach, until
    /// it idles again (and, where a start waits for its target, hold the
    /// giver until this rank next enters MPI). A withdrawal that comes too
    /// late, or that overwrites another rank's knock, costs a gift to a
    /// busy rank or a lost knock, as a torn read may.
    pub(super) fn drop_knocks(&mut self, withdraw: bool) -> Result<()> {
        let run = self.finish_target;
        for knock in std::mem::take(&mut self.knocks) {
            if let KnockState::InFlight(put) = knock.state {
                self.in_flight.push(put);
            }
            if withdraw && knock.run == run {
                let put = self
                    .atomics
                    .start_knock(knock.victim, Slot::Knock, WITHDRAWN)?;
                self.in_flight.push(put);
            }
        }
        Ok(())
    }

    /// Serves a new knock in `Knock[me]`, if any (a peek: the word is a
    /// hint that no atomic touches). With `give` (in `give_more`, after a
    /// claim), in a run not finished, a knock of this run from a rank of
    /// another node gets the back half of the own range, moved out by a
    /// CAS and swapped into the knocker's `Gift` word; whatever that swap
    /// takes out of the word (another owner's gift the knocker has not read
    /// yet) becomes this rank's, in its stash. Without `give` a knock is
    /// only seen: this rank has nothing to give.
    pub(super) fn serve_knock(&mut self, give: bool) -> Result<()> {
        if !self.knocks_now() {
            return Ok(()); // (nobody knocks)
        }
        let knock = self.atomics.peek(Slot::Knock)?;
        if knock == self.knock_seen {
            return Ok(());
        }
        self.knock_seen = knock;
        let Some((knocker, run)) = from_knock(knock) else {
            return Ok(());
        };
        // A torn read may name any rank: only one of another node may get
        // units (a gift to a rank of this node would be no error, but no
        // help either).
        let valid =
            knocker < self.atomics.size() && self.atomics.topology().mate_index(knocker).is_none();
        if !give || self.finished || !valid || run != run_bits(self.finish_target) {
            return Ok(());
        }
        let Some(units) = self.give_back_half()? else {
            return Ok(());
        };
        self.counters.deposits += 1;
        if let Some(log) = &mut self.steal_log {
            log.gift(knocker, units.end - units.start);
        }
        let gift = RangeWord::new(units).bits();
        let swap = self
            .atomics
            .start(knocker, Slot::Gift, Update::Swap(gift))?;
        self.gifts.push(swap);
        self.poll_gifts()
    }

    /// Polls this rank's gifts in flight: a swap that took units out of
    /// its target's `Gift` word (an earlier gift not yet read there) hands
    /// them to this rank, which stashes them.
    pub(super) fn poll_gifts(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.gifts.len() {
            let Some(old) = self.gifts[i].poll()? else {
                i += 1;
                continue;
            };
            self.gifts.swap_remove(i);
            if old == EMPTY {
                continue;
            }
            let word = RangeWord::from_bits(old);
            if word.is_empty() {
                return Err(Error::internal(format!(
                    "a gift word held {old:#x}, neither empty nor units"
                )));
            }
            self.took(Path::GiftDisplaced);
            if !self.has_bug(Bug::GiftDropsDisplaced) {
                self.stash.push(word.start()..word.end());
            }
        }
        Ok(())
    }

    /// While idle: takes the units in `Gift[me]`, if any, into the stash
    /// (a peek first; a swap takes them).
    pub(super) fn receive_gift(&mut self) -> Result<()> {
        if !self.knocks_now() || !self.multi_node() {
            return Ok(());
        }
        let peeked = self.atomics.peek(Slot::Gift)?;
        if peeked == EMPTY || !self.settled(Slot::Gift, peeked) {
            return Ok(());
        }
        let me = self.me();
        let gift = self.atomics.swap(me, Slot::Gift, EMPTY)?;
        self.unsettle(Slot::Gift);
        if gift == EMPTY {
            return Ok(());
        }
        let word = RangeWord::from_bits(gift);
        if word.is_empty() {
            return Err(Error::internal(format!(
                "this rank's gift word held {gift:#x}, neither empty nor units"
            )));
        }
        self.took(Path::Gift);
        self.take_pause = super::cross::TakePause::default();
        self.counters.steals += 1;
        self.counters.remote_steals += 1;
        self.counters.units_stolen += word.len();
        self.stash.push(word.start()..word.end());
        Ok(())
    }

    /// Whether knocks or gifts of this rank are still in flight.
    pub(super) fn knocks_in_flight(&self) -> bool {
        !self.gifts.is_empty()
            || self
                .knocks
                .iter()
                .any(|k| matches!(k.state, KnockState::InFlight(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knocks_round_trip_and_differ_from_an_unwritten_word() {
        let knock = knock_bits(70_000, 65_537, 200);
        assert_eq!(from_knock(knock), Some((70_000, 1)));
        assert_eq!(from_knock(0), None);
        assert_ne!(knock_bits(0, 0, 0), 0);
        assert_ne!(knock_bits(3, 1, 1), knock_bits(3, 1, 2));
        assert_eq!(from_knock(WITHDRAWN), None);
        let most = knock_bits((1 << 32) - 1, u64::MAX, u8::MAX);
        assert_eq!(most & UNUSED_BITS, 0);
        assert_eq!(from_knock(most | 1 << 60), None);
    }
}
