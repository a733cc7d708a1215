//! The cross-node half of the protocol (see the module doc of [`super`]):
//! hunger marks, the answers owners push into the hunters' inboxes, and the
//! hunter's takes.

use super::{
    await_ops, Bug, Path, Protocol, RangeWord, Steal, Take, LEADER_REMOTE_STEAL_TRIES,
    REMOTE_STEAL_TRIES, REMOTE_TAKES,
};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{Atomics, Pending, Slot, Update};
use crate::clock::Instant;
use crate::error::{Error, Result};
use crate::trace::Start;
use std::time::Duration;

/// An `Offer` word without a mark.
const EMPTY: u64 = 0;
/// An inbox word whose mark was not answered yet.
const NO_ANSWER: u64 = 0;
/// The answer "no units" (it reads as an empty range word; an answer with
/// units is a nonempty range word, never 0 and never this).
const NONE: u64 = u64::MAX;
/// The bit that makes a word a hunger mark.
const MARK_BIT: u64 = 1 << 63;
/// Runs are told apart in a mark (and a knock) by the low bits of their
/// number: a mark is answered two runs after its own at the latest (every
/// rank answers a mark left on its offer when it begins a run).
const RUN_BITS: u32 = 16;

/// The bits of run number `run` that a mark or a knock holds.
pub(super) fn run_bits(run: u64) -> u64 {
    run & ((1 << RUN_BITS) - 1)
}
/// How often `give_more` reads `Offer[me]` for a mark: a read is a (local)
/// MPI operation, cheap but not free next to a CPU claim.
const OFFER_CHECK_PERIOD: Duration = Duration::from_micros(20);
/// After a take came back empty-handed, the hunter starts no take for this
/// long, doubling with each further empty one up to [`MAX_TAKE_PAUSE`].
const FIRST_TAKE_PAUSE: Duration = Duration::from_micros(64);
const MAX_TAKE_PAUSE: Duration = Duration::from_millis(1);
/// A direct steal attempt on another node slower than this (ten round
/// trips of a hardware atomic) queued at its target: after an all-empty
/// round of such attempts, the thief pauses as a hunter pauses its takes.
const SLOW_REMOTE_STEAL: Duration = Duration::from_micros(25);
/// Direct steal attempts on other nodes faster than this each (a hardware
/// atomic's round trip is about 2.5 µs, an attempt that finds its victim
/// empty one read; SMPI's read takes 6.25 µs) let a rank that is no leader
/// make `REMOTE_STEAL_TRIES` in its next round; slower ones, or a first
/// round, `LEADER_REMOTE_STEAL_TRIES`. On SMPI, whose compare-and-swap dlb runs
/// under a ticket lock (three more round trips of 12.5 µs), uniform jobs at
/// 64 ranks took 1.92 times the bound with 8 attempts per round and 1.08
/// with 2; in the simulator's `hw_rdma` model (2.5 µs per atomic, no lock)
/// block jobs at 64 ranks reach 0.993 of the bound with 8 and 0.977 with 2.
pub(super) const FAST_REMOTE_STEAL: Duration = Duration::from_micros(4);

/// A take's start that took this long, its swap complete on return,
/// waited inside MPI for its target (see "Looks" in the module doc of
/// [`super`]): an MPI that does not wait returns in microseconds.
const BLOCKED_START: Duration = Duration::from_millis(2);
/// After this many blocked starts in one run a hunter looks before it
/// takes: one could be a process descheduled on an oversubscribed core.
const BLOCKED_STARTS_FOR_LOOKS: u32 = 2;

/// When a hunter looks before it takes (see "Looks" in the module doc of
/// [`super`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Looks {
    /// Never (but see `note_blocked_start`).
    #[default]
    Off,
    /// Once it has waited for work for [`LOOKS_AFTER_IDLE`]: where every
    /// rank is a node of its own, and starts return at once but atomics
    /// are not passive.
    WhenIdleLong,
    /// Always: where starting a take waits for its target.
    First,
}

impl Looks {
    /// What init chooses, given whether its probe saw a start wait for its
    /// target, whether it saw the read complete while its target slept
    /// (passive atomics), and whether every rank is a node of its own
    /// (every idle rank then hunts).
    pub(crate) fn chosen(starts_block: bool, passive: bool, every_rank_a_node: bool) -> Looks {
        if starts_block {
            Looks::First
        } else if every_rank_a_node && !passive {
            Looks::WhenIdleLong
        } else {
            Looks::Off
        }
    }
}

/// Where looks come first once idle ([`Looks::WhenIdleLong`]): after how
/// long waiting for work.
pub(crate) const LOOKS_AFTER_IDLE: Duration = Duration::from_millis(2);

/// `Waiting[r]` while rank `r` waits in `give_more` for work.
pub(super) const WAITING: u64 = 1;
/// `Waiting[r]` while rank `r` does not wait in `give_more` and has no
/// units to give: its own range holds at most [`CLAIMS_KEPT`] claims' worth
/// (it computes the last units it claimed, or was told "no more", or will
/// claim what is left before a take could reach it).
pub(super) const DRY: u64 = 2;
/// `Waiting[r]` otherwise: `r` has units to give in its own range (as far
/// as it knows; node-mates may have stolen them). Its initial value.
pub(super) const NOT_WAITING: u64 = 0;
/// How many claims like its last a rank keeps for itself before it says
/// it has units to give: a look served at one `give_more` brings a take
/// that the victim serves at a later one, after a claim or two.
const CLAIMS_KEPT: u64 = 2;

/// A look at a would-be victim's `Waiting` word (an `MPI_Rget`), started
/// where starting a take waits for its target, or where a hunter waited
/// long ([`Looks`]); a take follows once the
/// victim served it, if it read that the victim has units to give (see
/// "Looks" in the module doc of [`super`]). Also the look at the rank
/// that a node's counts go to.
#[derive(Debug)]
pub(super) struct Look {
    victim: usize,
    /// The run the look was made in (`finish_target` then).
    run: u64,
    state: LookState,
}

#[derive(Debug)]
enum LookState {
    /// The read, until it completed.
    InFlight(Pending),
    /// What it read, and when the hunter saw it complete.
    Served { seen: u64, at: Instant },
}

impl Look {
    fn in_flight(&self) -> bool {
        matches!(self.state, LookState::InFlight(_))
    }

    /// Polls the read once; if it completed, the look is served now.
    fn poll(&mut self) -> Result<()> {
        if let LookState::InFlight(get) = &mut self.state {
            if let Some(seen) = get.poll()? {
                let at = Instant::now();
                self.state = LookState::Served { seen, at };
            }
        }
        Ok(())
    }
}

/// A served look older than this is forgotten: its rank was in MPI then,
/// which says little about now (an idle rank sleeps up to 4 ms between
/// rounds, a busy one computes its next job).
const LOOK_FRESH: Duration = Duration::from_millis(1);

/// Counts held back this long by looks that their target served, finding
/// it not waiting, go anyway (see "Looks" in the module doc of [`super`]).
const COUNT_PATIENCE: Duration = Duration::from_millis(10);
/// A rank that made no such look for this long starts a new hold.
const COUNT_HOLD_GAP: Duration = Duration::from_millis(2);

/// What [`Protocol::next_victim`] found.
enum Next {
    /// Start a take on this rank.
    Take(usize),
    /// Ask again (a look started, or one found its rank without units).
    Again,
    /// Takes and looks of the run fill their places.
    Full,
}

/// The hunter's pause after takes of the current run came back
/// empty-handed (see the module doc of [`super`]); the default is none.
#[derive(Debug, Default)]
pub(super) struct TakePause {
    pause: Duration,
    until: Option<Instant>,
}

impl TakePause {
    /// Whether no take may start at `now`.
    pub(super) fn holds(&self, now: Instant) -> bool {
        self.until.is_some_and(|until| now < until)
    }

    /// A take came back empty-handed at `now`: pause twice as long as last
    /// time, from [`FIRST_TAKE_PAUSE`] up to [`MAX_TAKE_PAUSE`].
    pub(super) fn lengthen(&mut self, now: Instant) {
        self.pause = (self.pause * 2).clamp(FIRST_TAKE_PAUSE, MAX_TAKE_PAUSE);
        self.until = Some(now + self.pause);
    }
}

/// A hunger mark: `hunter` (on another node) asks for units, to be answered
/// in its inbox word `inbox`; made in run `run` (low bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Mark {
    hunter: usize,
    inbox: usize,
    run: u64,
}

impl Mark {
    fn new(hunter: usize, inbox: usize, run: u64) -> Mark {
        Mark {
            hunter,
            inbox,
            run: run_bits(run),
        }
    }

    fn bits(self) -> u64 {
        debug_assert!(self.hunter < 1 << 32 && self.inbox < Slot::INBOX.len());
        MARK_BIT | (self.run << 40) | ((self.hunter as u64) << 8) | self.inbox as u64
    }

    /// The mark in an `Offer` value, `None` for `EMPTY`.
    fn from_offer(value: u64) -> Result<Option<Mark>> {
        if value == EMPTY {
            return Ok(None);
        }
        let inbox = (value & 0xff) as usize;
        if value & MARK_BIT == 0 || inbox >= Slot::INBOX.len() {
            return Err(Error::internal(format!(
                "an offer word held {value:#x}, neither empty nor a mark"
            )));
        }
        Ok(Some(Mark {
            hunter: ((value >> 8) & u64::from(u32::MAX)) as usize,
            inbox,
            run: run_bits(value >> 40),
        }))
    }
}

impl<A: Atomics> Protocol<A> {
    /// Answers a mark found in `Offer[me]`, if any: with the back half of
    /// the own range when the mark is of the current run and `give`, else
    /// with `NONE`. In `give_more` (`give`) this runs at most every
    /// [`OFFER_CHECK_PERIOD`]; idle ranks (nothing to give) run it every
    /// round, and every rank when it begins a run (an owner that got no
    /// units serves no mark in a run: this way none outlives the run after
    /// its own).
    pub(super) fn serve_offer(&mut self, give: bool) -> Result<()> {
        if give && !MODEL_CHECKING {
            let now = Instant::now();
            if self.next_offer_check.is_some_and(|next| now < next) {
                return Ok(());
            }
            self.next_offer_check = Some(now + OFFER_CHECK_PERIOD);
        }
        self.serve_knock(give)?;
        let me = self.me();
        // A hint first: a mark, once swapped in, stays until removed.
        if self.atomics.peek(Slot::Offer)? == EMPTY {
            return Ok(());
        }
        let offer = if self.has_bug(Bug::AnswerLeavesMark) {
            self.atomics.read(me, Slot::Offer)?
        } else {
            self.atomics.swap(me, Slot::Offer, EMPTY)?
        };
        let Some(mark) = Mark::from_offer(offer)? else {
            return Ok(()); // a taker's swap displaced the mark and answers it
        };
        let this_run = mark.run == run_bits(self.finish_target);
        if !this_run {
            self.took(Path::StaleMark);
        }
        let current = !self.finished && this_run;
        let units = if give && current {
            self.give_back_half()?
        } else {
            None
        };
        let answer = match units {
            Some(units) => {
                self.counters.deposits += 1;
                RangeWord::new(units).bits()
            }
            None => NONE,
        };
        self.answer(mark, answer)
    }

    /// Moves the back half of the own range out of `Range[me]`; `None` if
    /// it ran empty.
    pub(super) fn give_back_half(&mut self) -> Result<Option<std::ops::Range<u64>>> {
        let me = self.me();
        while !self.own.is_empty() {
            let (rest, back) = self.own.take_back_half();
            if self.has_bug(Bug::DepositKeepsUnits) {
                return Ok(Some(back));
            }
            let seen = self.cas(me, self.own, rest)?;
            if seen == self.own {
                self.own = rest;
                self.publish_own_range()?;
                return Ok(Some(back));
            }
            self.own = seen; // a node-mate stole: retry with what is left
        }
        Ok(None)
    }

    /// Starts writing `answer` into the inbox word of `mark`'s hunter: we
    /// removed the mark from an offer word, so no one else answers it.
    fn answer(&mut self, mark: Mark, answer: u64) -> Result<()> {
        let slot = Slot::INBOX[mark.inbox];
        let pending = self
            .atomics
            .start(mark.hunter, slot, Update::Swap(answer))?;
        self.answers.push(pending);
        self.poll_answers()
    }

    /// Answers that landed: each must have found its inbox word unanswered.
    pub(super) fn poll_answers(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.answers.len() {
            match self.answers[i].poll()? {
                None => i += 1,
                Some(NO_ANSWER) => {
                    self.answers.swap_remove(i);
                }
                Some(old) => {
                    return Err(Error::internal(format!(
                        "an answer landed on the unread answer {old:#x}: a mark was answered twice"
                    )))
                }
            }
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
        let leader = topology.leader_of(topology.node_of(self.me()));
        let me = self.me() as u64 + 1;
        Ok(self.atomics.compare_and_swap(leader, Slot::Hunter, 0, me)? == 0)
    }

    /// Gives up hunting for the node (takes in flight stay ours; served
    /// looks are forgotten, looks in flight complete later).
    pub(super) fn stop_hunting(&mut self) -> Result<()> {
        self.looks.retain(Look::in_flight);
        let topology = self.atomics.topology();
        let leader = topology.leader_of(topology.node_of(self.me()));
        let me = self.me() as u64 + 1;
        let seen = self.atomics.compare_and_swap(leader, Slot::Hunter, me, 0)?;
        if seen != me {
            return Err(Error::internal(format!(
                "the node's hunter word held {seen}, not this rank's {me}"
            )));
        }
        Ok(())
    }

    /// Keeps [`REMOTE_TAKES`] takes of this run in flight to random ranks on
    /// other nodes, each on a rank that has no other take of this run, each
    /// with an inbox word of its own. Polls between starts: on some stacks
    /// a start blocks until its target serves it. Where starts were seen
    /// to block, or this rank waited long for work where that is asked for
    /// ([`Looks`]), a take starts only on a rank that served a look of this
    /// run, and looks fill the places of takes until then (see "Looks" in
    /// the module doc).
    ///
    /// Under a model checker, after a take came back empty-handed no take
    /// starts until some rank moved units or counts: until then new takes
    /// only trade marks between idle ranks, which an unfair schedule could
    /// repeat forever while starving the busy ones. (This restricts the
    /// schedules explored, not the protocol: in real time the busy ranks
    /// run.)
    pub(super) fn hunt_remote(&mut self) -> Result<()> {
        self.poll_looks()?;
        loop {
            if MODEL_CHECKING && self.takes_failed_at == Some(self.atomics.content_writes()) {
                return Ok(());
            }
            if self.take_pause.holds(Instant::now()) {
                return Ok(());
            }
            let run = self.finish_target;
            let Some(inbox) =
                (0..Slot::INBOX.len()).find(|&k| self.takes.iter().all(|t| t.inbox != k))
            else {
                return Ok(()); // marks of an earlier run hold the other inboxes
            };
            let victim = match self.next_victim(run)? {
                Next::Take(victim) => victim,
                Next::Again => continue,
                Next::Full => return Ok(()),
            };
            let mark = Mark::new(self.me(), inbox, run);
            // (On some stacks the start itself waits for the victim.)
            let traced_at = self.trace_clock();
            let began = (!MODEL_CHECKING && self.look_mode != Looks::First).then(Instant::now);
            let mut swap = self
                .atomics
                .start(victim, Slot::Offer, Update::Swap(mark.bits()))?;
            if let Some(began) = began {
                self.note_blocked_start(began, &mut swap)?;
            }
            self.counters.steal_attempts += 1;
            self.trace_started(Start::Take, traced_at, victim);
            self.takes.push(Take {
                victim,
                inbox,
                run,
                swap: Some(swap),
                answered: false,
                traced_at,
            });
            self.poll_takes()?;
            if !self.stash.is_empty() {
                return Ok(());
            }
        }
    }

    /// Where the hunter's next take of run `run` goes: to a rank that
    /// served a look of the run and read 0, units to give (one found
    /// waiting for work or dry gets none, and the hunter pauses as after an
    /// empty answer); else, while takes and
    /// looks of the run leave a place, to a random rank on another node
    /// with neither, or, where looks come first, a look at it.
    fn next_victim(&mut self, run: u64) -> Result<Next> {
        let now = Instant::now();
        if !MODEL_CHECKING {
            // (Not under a model checker: its replays must not depend on
            // the real clock.)
            self.looks.retain(|l| match l.state {
                LookState::Served { at, .. } => now.duration_since(at) < LOOK_FRESH,
                LookState::InFlight(_) => true,
            });
        }
        let served = self
            .looks
            .iter()
            .position(|l| l.run == run && !l.in_flight());
        if let Some(i) = served {
            let look = self.looks.swap_remove(i);
            if matches!(
                look.state,
                LookState::Served {
                    seen: NOT_WAITING,
                    ..
                }
            ) {
                self.took(Path::TakeAfterLook);
                return Ok(Next::Take(look.victim));
            }
            self.took(Path::LookFoundWaiting);
            self.came_back_empty(now);
            return Ok(Next::Again);
        }
        let current = self.takes.iter().filter(|t| t.run == run).count()
            + self.looks.iter().filter(|l| l.run == run).count();
        if current >= REMOTE_TAKES.min(self.atomics.topology().remote_count()) {
            return Ok(Next::Full);
        }
        let victim = loop {
            let v = self.random_remote();
            if self.takes.iter().all(|t| t.run != run || t.victim != v)
                && self.looks.iter().all(|l| l.run != run || l.victim != v)
            {
                break v;
            }
        };
        if !self.looks_now() {
            return Ok(Next::Take(victim));
        }
        let get = self.atomics.start_look(victim, Slot::Waiting)?;
        self.looks.push(Look {
            victim,
            run,
            state: LookState::InFlight(get),
        });
        self.poll_looks()?;
        Ok(Next::Again)
    }

    /// After a take's start that `began` then: if it took
    /// [`BLOCKED_START`] and `swap` had completed on return, the start
    /// waited for its target; after [`BLOCKED_STARTS_FOR_LOOKS`] of them
    /// looks come first on this rank: it looks before it takes, and its
    /// counts wait for looks. (It makes no knocks: the other ranks, whose
    /// probe at init saw no start wait, do not read them.)
    fn note_blocked_start(&mut self, began: Instant, swap: &mut Pending) -> Result<()> {
        if began.elapsed() < BLOCKED_START || swap.poll()?.is_none() {
            return Ok(());
        }
        self.blocked_starts += 1;
        if self.blocked_starts >= BLOCKED_STARTS_FOR_LOOKS {
            self.look_mode = Looks::First;
        }
        Ok(())
    }

    /// When hunters look before they take, or ranks knock instead (init
    /// decides: see [`Looks`]). Without [`Looks::First`], a hunter turns
    /// looks before takes on from its second take whose start waited.
    /// With [`Looks::First`] chosen here (by init, the same on every
    /// rank), ranks knock and read knocks and gifts (see "Knocks" in the
    /// module doc of [`super`]); a rank that turns looks on by itself looks
    /// before it takes.
    pub(crate) fn set_looks(&mut self, looks: Looks) {
        self.look_mode = looks;
        // (Knocks need loads of one's own knock word: see `knocks_now`.)
        self.knocking = looks == Looks::First && self.atomics.peeks_are_loads(Slot::Knock);
    }

    /// Records a claim of `units` for [`Protocol::publish_own_range`].
    pub(super) fn note_claim(&mut self, units: u64) {
        self.claims = (units, self.claims.0);
    }

    /// Whether the hunter's next take waits for a look: where looks come
    /// first, or once this rank has waited for work for
    /// [`LOOKS_AFTER_IDLE`] where that is asked for.
    /// Under a model checker, whose replays must not depend on the real
    /// clock, "waited long" is "hunted in an earlier round of this idle
    /// period, or has a take in flight": a take without a look, then looks
    /// beside it, and from the second round on only looks (real time
    /// switches once, at some point of the idle period).
    pub(super) fn looks_now(&self) -> bool {
        let since = match (self.look_mode, self.idle_since) {
            (Looks::First, _) => return true,
            (Looks::WhenIdleLong, Some(since)) => since,
            _ => return false,
        };
        if MODEL_CHECKING {
            return self.hunted_while_idle || !self.takes.is_empty();
        }
        since.elapsed() >= LOOKS_AFTER_IDLE
    }

    /// Across nodes, says in `Waiting[me]` that this rank waits in
    /// `give_more` for work (see "Looks" in the module doc).
    pub(super) fn set_waiting(&mut self) -> Result<()> {
        self.publish_waiting(WAITING)
    }

    /// Across nodes, says in `Waiting[me]` whether this rank, not waiting
    /// in `give_more`, has units in its own range to give
    /// ([`NOT_WAITING`]) or not ([`DRY`]): to give, more than
    /// [`CLAIMS_KEPT`] claims as large as its last (or of one unit, before
    /// its first in the run), which it will likely make before a take
    /// reaches it; any units at all while its claims shrink (guided and
    /// factoring schedules: their next claims are smaller than the last).
    /// Called wherever the own range may have changed by this rank's hand:
    /// installs, claims, answers.
    pub(super) fn publish_own_range(&mut self) -> Result<()> {
        if !self.multi_node() {
            return Ok(()); // (nobody looks: the claim path stays as it was)
        }
        let (last, before) = self.claims;
        let kept = if last < before {
            0
        } else {
            CLAIMS_KEPT * last.max(1)
        };
        let value = if self.own.len() > kept {
            NOT_WAITING
        } else {
            DRY
        };
        self.publish_waiting(value)
    }

    /// Stores `value` in `Waiting[me]` unless it holds it already. Under a
    /// model checker only in models of looks: each store is a step to
    /// schedule. Where stores cannot reach the window (its memory model is
    /// not unified), looks read 0 forever: counts then go without looks.
    fn publish_waiting(&mut self, value: u64) -> Result<()> {
        let looks = self.look_mode != Looks::Off;
        if !self.multi_node() || MODEL_CHECKING && !looks || value == self.waiting {
            return Ok(());
        }
        if self.atomics.publish(Slot::Waiting, value)? {
            self.waiting = value;
        } else {
            self.counts_look = false;
        }
        Ok(())
    }

    /// Whether this node's counts may go to their target now (see
    /// `count_target`): always, but where looks come first only once a
    /// look found the target waiting in `give_more`, or once looks served
    /// by the target found it not waiting for [`COUNT_PATIENCE`] (see
    /// "Looks" in the module doc of [`super`]). Starts a look when none is
    /// in flight, or when the last one was not fresh or found the target
    /// not waiting.
    pub(super) fn count_target_waits(&mut self) -> Result<bool> {
        let target = self.count_target();
        if self.look_mode != Looks::First || !self.counts_look || target == self.me() {
            return Ok(true);
        }
        let run = self.finish_target;
        self.poll_count_look()?;
        match self.count_look.as_ref().map(|l| &l.state) {
            // (Unserved: the target is outside MPI, where an add would wait.)
            Some(LookState::InFlight(_)) => return Ok(false),
            Some(&LookState::Served { seen, at }) => {
                // (Not the real clock under a model checker: its replays
                // must not depend on it.)
                let fresh = MODEL_CHECKING || at.elapsed() < LOOK_FRESH;
                self.count_look = None;
                if seen == WAITING && fresh {
                    self.took(Path::CountAfterLook);
                    self.counts_held = None;
                    return Ok(true);
                }
                if seen != WAITING && self.out_of_patience() {
                    return Ok(true);
                }
            }
            None => {}
        }
        let get = self.atomics.start_look(target, Slot::Waiting)?;
        self.count_look = Some(Look {
            victim: target,
            run,
            state: LookState::InFlight(get),
        });
        Ok(false)
    }

    /// Whether counts held back by looks that their target served, reading
    /// it not waiting, for [`COUNT_PATIENCE`] go anyway: a target whose
    /// looks read a stale `Waiting` (see the module doc) serves them while
    /// it waits, and reads busy or dry. A hold ends when the counts go or
    /// when this rank asked nothing for [`COUNT_HOLD_GAP`]. Never under a
    /// model checker, whose looks read what was stored.
    fn out_of_patience(&mut self) -> bool {
        if MODEL_CHECKING {
            return false;
        }
        let now = Instant::now();
        let first = match self.counts_held {
            Some((first, last)) if now.duration_since(last) < COUNT_HOLD_GAP => first,
            _ => now,
        };
        if now.duration_since(first) < COUNT_PATIENCE {
            self.counts_held = Some((first, now));
            return false;
        }
        self.counts_held = None;
        true
    }

    /// Polls the look at the counts' target, in every idle round (so that
    /// its time served is the round's that saw it).
    pub(super) fn poll_count_look(&mut self) -> Result<()> {
        self.count_look.as_mut().map_or(Ok(()), Look::poll)
    }

    /// Forgets the look at the counts' target when this rank leaves the
    /// idle loop (what it finds says nothing about a later idle period); an
    /// unserved one completes among the operations in flight.
    pub(super) fn drop_count_look(&mut self) {
        self.counts_held = None;
        if let Some(Look {
            state: LookState::InFlight(get),
            ..
        }) = self.count_look.take()
        {
            self.in_flight.push(get);
        }
    }

    /// Polls the looks; forgets those of earlier runs once served.
    fn poll_looks(&mut self) -> Result<()> {
        let run = self.finish_target;
        let mut i = 0;
        while i < self.looks.len() {
            let look = &mut self.looks[i];
            look.poll()?;
            if !look.in_flight() && look.run != run {
                self.looks.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// A take or a knock came back empty-handed at `now` (or a look found
    /// its rank without units): the hunter pauses (see [`TakePause`]);
    /// under a model checker no take or knock starts until some rank moved
    /// units or counts (see `hunt_remote`).
    pub(super) fn came_back_empty(&mut self, now: Instant) {
        if MODEL_CHECKING {
            self.takes_failed_at = Some(self.atomics.content_writes());
        } else {
            self.take_pause.lengthen(now);
        }
    }

    /// With direct steals, once the node is dry: up to
    /// `REMOTE_STEAL_TRIES` steal attempts (`LEADER_REMOTE_STEAL_TRIES` on
    /// a leader, and after a round whose attempts were not fast, see
    /// [`FAST_REMOTE_STEAL`]) on random ranks of other nodes, each a read and a
    /// compare-and-swap of the victim's `Range` word, as on a node-mate's;
    /// the units of the first that succeeds. Between attempts a load of
    /// `Finished[me]` stops them once the run is over.
    pub(super) fn steal_remote(&mut self) -> Result<Option<std::ops::Range<u64>>> {
        let began = Instant::now();
        if self.take_pause.holds(began) {
            return Ok(None);
        }
        let mut lost = false;
        let topology = self.atomics.topology();
        let per_round = if topology.is_leader() || !self.fast_remote_steals {
            LEADER_REMOTE_STEAL_TRIES
        } else {
            REMOTE_STEAL_TRIES
        };
        let tries = per_round.min(topology.remote_count());
        for i in 0..tries {
            if i > 0 && self.is_finished()? {
                return Ok(None);
            }
            let victim = self.random_remote();
            match self.steal(victim)? {
                Steal::Success(loot) => {
                    self.counters.remote_steals += 1;
                    self.take_pause = TakePause::default();
                    if self.has_bug(Bug::DirectStealDropsRest) {
                        return Ok(Some(loot.start..loot.start + 1));
                    }
                    return Ok(Some(loot));
                }
                Steal::Retry => lost = true,
                Steal::Empty => {}
            }
        }
        // Every attempt was made (the others return). Pause only where
        // attempts are slow: operations that queue at their targets (a lock
        // per atomic, or software RMA) delay owners.
        let now = Instant::now();
        let took = now.duration_since(began);
        if !MODEL_CHECKING {
            self.fast_remote_steals = took < FAST_REMOTE_STEAL * tries as u32;
        }
        let slow = took > SLOW_REMOTE_STEAL * tries as u32;
        if !lost && slow && !MODEL_CHECKING {
            self.take_pause.lengthen(now);
        }
        Ok(None)
    }

    /// A rank of another node, drawn uniformly (the ranks span several
    /// nodes).
    pub(super) fn random_remote(&mut self) -> usize {
        let topology = self.atomics.topology();
        let i = self.rng.below(topology.remote_count() as u64) as usize;
        topology.remote_at(i)
    }

    /// Polls the takes: a completed swap may have displaced another
    /// hunter's mark, which the taker answers (`NONE`); an answer in an
    /// inbox word is read and cleared, its units go to the stash.
    pub(super) fn poll_takes(&mut self) -> Result<()> {
        let me = self.me();
        let mut i = 0;
        while i < self.takes.len() {
            if let Some(old) = match &mut self.takes[i].swap {
                Some(swap) => swap.poll()?,
                None => None,
            } {
                self.takes[i].swap = None;
                self.displaced(old)?;
            }
            let take = &self.takes[i];
            // A hint first: an answer, once landed, stays until read.
            if !take.answered && self.atomics.peek(Slot::INBOX[take.inbox])? != NO_ANSWER {
                let answer = self.atomics.swap(me, Slot::INBOX[take.inbox], NO_ANSWER)?;
                if answer != NO_ANSWER {
                    self.takes[i].answered = true;
                    self.receive(answer, i)?;
                }
            }
            let take = &self.takes[i];
            if take.answered && take.swap.is_none() {
                self.takes.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// A take's swap returned `old`, which it removed from the offer word.
    fn displaced(&mut self, old: u64) -> Result<()> {
        let Some(mark) = Mark::from_offer(old)? else {
            return Ok(());
        };
        if mark.hunter != self.me() {
            self.took(Path::DisplacedMark);
            return self.answer(mark, NONE);
        }
        // One of our own marks, of an earlier run (a run has one take per
        // victim): nobody will answer it now.
        match self
            .takes
            .iter_mut()
            .find(|t| t.inbox == mark.inbox && !t.answered)
        {
            Some(take) => {
                take.answered = true;
                Ok(())
            }
            None => Err(Error::internal(format!(
                "found this rank's mark {mark:?} with no take waiting for it"
            ))),
        }
    }

    /// Take `i` was answered with `answer`.
    fn receive(&mut self, answer: u64, i: usize) -> Result<()> {
        if let (Some(log), Some(t0)) = (&mut self.steal_log, self.takes[i].traced_at) {
            let units = if answer == NONE {
                0
            } else {
                RangeWord::from_bits(answer).len()
            };
            log.answer(t0, self.takes[i].victim, units);
        }
        if answer == NONE {
            // (Marks of an earlier run are answered NONE when their victims
            // begin this one: that says nothing about now.)
            if MODEL_CHECKING || self.takes[i].run == self.finish_target {
                self.came_back_empty(Instant::now());
            }
            return Ok(());
        }
        self.take_pause = TakePause::default();
        let word = RangeWord::from_bits(answer);
        if word.is_empty() || self.takes[i].run != self.finish_target {
            return Err(Error::internal(format!(
                "take {:?} was answered with {answer:#x}, in run {}",
                self.takes[i], self.finish_target
            )));
        }
        self.counters.steals += 1;
        self.counters.remote_steals += 1;
        self.counters.units_stolen += word.len();
        if !self.own.is_empty() {
            self.took(Path::ArrivalWhileBusy);
            if self.has_bug(Bug::InstallOverNonempty) {
                let seen = self.cas(self.me(), self.own, word)?;
                if seen == self.own {
                    self.own = word;
                    return Ok(());
                }
            }
        }
        self.stash.push(word.start()..word.end());
        Ok(())
    }

    /// At init, across nodes (collective, followed by a barrier that serves
    /// operations): reads a word of every rank on another node, so that MPI
    /// opens its connections now, while every rank is inside MPI. Open MPI
    /// opens TCP connections (and UCX its endpoints' wire-up) on first use,
    /// and that needs the target's progress: in a run, a first operation on
    /// a rank that was told "no more" and computes would wait for it. With
    /// direct steals node-mates' range words take MPI atomics too, so their
    /// connections are opened as well.
    pub(crate) fn connect_remote(&mut self) -> Result<()> {
        let topology = self.atomics.topology().clone();
        let me = self.me();
        let mates = topology
            .mates()
            .iter()
            .copied()
            .filter(|&r| self.direct && r != me);
        let mut reads = topology
            .remote()
            .chain(mates)
            .map(|r| self.atomics.start(r, Slot::Offer, Update::Read))
            .collect::<Result<Vec<_>>>()?;
        await_ops(&self.atomics, &mut reads, None)
    }

    /// Whether started operations are still in flight (they must complete
    /// before the window is freed). Marks nobody answered are not: their
    /// hunter waits for nothing once its last run ended.
    pub(crate) fn ops_in_flight(&self) -> bool {
        self.takes.iter().any(|t| t.swap.is_some())
            || self.looks.iter().any(Look::in_flight)
            || self.count_look.as_ref().is_some_and(Look::in_flight)
            || !self.answers.is_empty()
            || self.knocks_in_flight()
            || !self.in_flight.is_empty()
    }

    /// Polls the operations in flight once, outside runs, serving others'
    /// operations too.
    pub(crate) fn poll_outside_run(&mut self) -> Result<()> {
        self.atomics.progress()?;
        self.poll_takes()?;
        self.poll_looks()?;
        self.looks.retain(Look::in_flight);
        self.drop_count_look();
        self.poll_knocks()?;
        self.drop_knocks(false)?;
        self.poll_gifts()?;
        self.poll_answers()?;
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
    fn marks_round_trip_and_differ_from_empty_and_answers() {
        let mark = Mark::new(70_000, 3, 65_537);
        assert_eq!(mark.run, 1);
        assert_eq!(Mark::from_offer(mark.bits()).unwrap(), Some(mark));
        assert_eq!(Mark::from_offer(EMPTY).unwrap(), None);
        assert!(Mark::from_offer(RangeWord::new(0..3).bits()).is_err());
        assert!(RangeWord::from_bits(NONE).is_empty());
        assert_ne!(RangeWord::new(0..1).bits(), NO_ANSWER);
    }
}
