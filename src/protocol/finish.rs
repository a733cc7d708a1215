//! Termination (see the module doc of [`super`]): reports, forwards and
//! carries up the node tree to `Done[0]`, rank 0's watch and notices, the
//! leaders' relay down the tree, the flat end across two nodes (each
//! leader watches, see "Flat end"), and the finish check.

use super::{await_ops, Bug, Path, Protocol, DONE_RANK};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{poll_all, Atomics, Pending, Slot, Update};
use crate::clock::Instant;
use crate::error::{Error, Result};
use std::time::Duration;

/// How long rank 0, or a leader that relays, waits for its notices to
/// the leaders of its children in the node tree.
const NOTICE_WAIT: Duration = Duration::from_millis(1);

/// Children per node in the tree over the nodes (see
/// [`crate::protocol::Topology::tree_children`]) that carries counts of
/// completed jobs up to rank 0's `Done` and "finished" down from rank 0 to
/// every node's leader. Each hop costs about one idle poll of the leader
/// it reaches (up to 32 µs, 8 µs with direct steals, see `idle`), and a
/// leader starts one notice per child, well below a microsecond each, and
/// serves one count per child
/// and report: 16 children keep the two of the same order, and put 2,048
/// nodes three hops from rank 0, where rank 0 alone would start 2,047
/// notices and serve thousands of counts in a row. Under a model checker
/// the tree is a chain, so that its few nodes reach the greatest depth.
pub(super) const TREE_FAN_OUT: usize = if MODEL_CHECKING { 1 } else { 16 };

impl<A: Atomics> Protocol<A> {
    /// Reports the unreported jobs: on one node, starts adding them to
    /// `Done`; across nodes, adds them to the node's `Unsent` count in
    /// shared memory, which `forward` sends up the node tree once the node
    /// is dry (on some stacks a started operation on a busy rank blocks, so
    /// only ranks with nothing else to do make it), and which rank 0 reads
    /// on its own node; in a flat end, to the node's `Unsent` (sent to the
    /// other node's leader) and then its `Kept` (read by its own leader).
    pub(super) fn report(&mut self) -> Result<()> {
        if self.unreported == 0 || self.finished {
            return Ok(());
        }
        let mine = std::mem::take(&mut self.unreported);
        self.counters.reports += 1;
        if !self.multi_node() {
            return self.send(DONE_RANK, mine);
        }
        let leader = self.leader();
        if !self.flat {
            return self.add_node_count(leader, Slot::Unsent, mine);
        }
        // A flat end: `Unsent` first, `Kept` last, so that a leader that
        // sees the count in `Kept` finds it in `Unsent` or sent (see "Flat
        // end"; both are sequentially consistent atomics).
        let order = if self.has_bug(Bug::KeptBeforeUnsent) {
            [Slot::Kept, Slot::Unsent]
        } else {
            [Slot::Unsent, Slot::Kept]
        };
        for slot in order {
            self.add_node_count(leader, slot, mine)?;
        }
        Ok(())
    }

    /// Adds `jobs` to the node-level count `slot` (CAS only) of `leader`.
    fn add_node_count(&mut self, leader: usize, slot: Slot, jobs: u64) -> Result<()> {
        let mut seen = self.atomics.load(leader, slot)?;
        loop {
            let now = self
                .atomics
                .compare_and_swap(leader, slot, seen, seen.wrapping_add(jobs))?;
            if now == seen || slot == Slot::Unsent && self.has_bug(Bug::ReportLostOnRace) {
                return Ok(());
            }
            seen = now;
        }
    }

    /// In an idle round of a rank whose node is dry (or that found it all
    /// idle in its first round): forwards the node's counts if this rank is
    /// one that does (see "Forward" in the module doc of [`super`]): `now`
    /// (in its first round its node was all idle or, on a node of two, its
    /// node-mate empty; or a sweep found every rank of the node idle), or,
    /// while `may_send_counts` allows, the
    /// node's hunter and any rank that holds a look at the counts' target
    /// (started by its own forward, or by its carry on a leader), which it
    /// sees through instead of leaving it to go stale.
    pub(super) fn forward_if_due(&mut self, now: bool, hunting: bool) -> Result<()> {
        let looking = self.count_look.is_some();
        if !(now || (hunting || looking) && self.may_send_counts()?) {
            return Ok(());
        }
        if self.forward()? && looking && !now && !hunting {
            self.took(Path::ForwardSeesLookThrough);
        }
        Ok(())
    }

    /// Across nodes, on a rank whose node is dry: takes the node's `Unsent`
    /// count and starts adding it to the `Done` word of its parent's leader
    /// in the node tree (rank 0's for the children of node 0; rank 0's own
    /// node sends nothing: rank 0 reads its count), or, in a flat end, of
    /// the other node's leader; whether it did.
    fn forward(&mut self) -> Result<bool> {
        if !self.flat && self.on_done_node() && !self.has_bug(Bug::DoneNodeForwards) {
            return Ok(false); // rank 0 reads this node's counts in place
        }
        let seen = self.atomics.load(self.leader(), Slot::Unsent)?;
        if seen == 0 || !self.count_target_waits()? {
            return Ok(false);
        }
        let taken = self.take_unsent(seen)?;
        if taken == 0 {
            return Ok(false);
        }
        self.send(self.count_target(), taken)?;
        Ok(true)
    }

    /// Takes the node's `Unsent` count, first expected to hold `seen`: CASes
    /// it to 0 until a CAS wins or finds it at 0; what it took (0 if
    /// nothing), which the caller then sends.
    fn take_unsent(&self, mut seen: u64) -> Result<u64> {
        let leader = self.leader();
        while seen != 0 {
            let now = self
                .atomics
                .compare_and_swap(leader, Slot::Unsent, seen, 0)?;
            if now == seen {
                return Ok(seen);
            }
            seen = now;
        }
        Ok(0)
    }

    /// A leader of a node other than rank 0's, while idle: carries the
    /// counts that its node's children in the node tree added to its `Done`
    /// word on to its parent. It takes them out of the word first (an add
    /// of their negation; nobody else subtracts, so the word never holds
    /// less than it read) and then starts adding them to the parent's: a
    /// count is never in two places, only for a moment in none but this
    /// rank's hands.
    fn carry(&mut self) -> Result<()> {
        let topology = self.atomics.topology();
        if self.flat || !topology.multi_node() || !topology.is_leader() || self.me() == DONE_RANK {
            return Ok(());
        }
        if !self.may_send_counts()? {
            return Ok(());
        }
        // A hint first: only this rank takes counts out of the word.
        let peeked = self.atomics.peek(Slot::Done)?;
        if peeked == 0 || !self.settled(Slot::Done, peeked) {
            return Ok(());
        }
        if !self.count_target_waits()? {
            return Ok(());
        }
        let held = self.atomics.load(self.me(), Slot::Done)?;
        self.unsettle(Slot::Done);
        if held == 0 {
            return Ok(());
        }
        if !self.has_bug(Bug::CarryKeepsCount) {
            self.atomics
                .fetch_add(self.me(), Slot::Done, held.wrapping_neg())?;
        }
        self.took(Path::Carry);
        self.send(self.count_target(), held)
    }

    /// Whether this rank shares rank 0's node: that node's counts stay in
    /// its `Unsent` word, where rank 0 reads them (see `watch_done`).
    pub(super) fn on_done_node(&self) -> bool {
        let topology = self.atomics.topology();
        topology.node_of(self.me()) == topology.node_of(DONE_RANK)
    }

    /// Where this rank's node sends its counts: the leader of its parent
    /// in the node tree, whose `Done` word they go to (rank 0 for the
    /// children of node 0; node 0's own counts stay where rank 0 reads
    /// them, see `watch_done`); in a flat end, the other node's leader.
    pub(super) fn count_target(&self) -> usize {
        let topology = self.atomics.topology();
        let node = topology.node_of(self.me());
        if self.flat {
            return topology.leader_of(1 - node);
        }
        topology
            .tree_parent(node, self.tree_fan_out)
            .map_or(DONE_RANK, |parent| topology.leader_of(parent))
    }

    /// Sets the children per node of the node tree (a testing aid, the same
    /// on every rank; at least 1). Runs across two nodes then end through
    /// the tree too, not flat.
    pub(crate) fn set_tree_fan_out(&mut self, fan_out: usize) {
        self.tree_fan_out = fan_out.max(1);
        self.flat = false;
    }

    /// How a run ends across nodes, in words (`None` on one node), for
    /// the diagnostics.
    pub(crate) fn end_description(&self) -> Option<String> {
        let nodes = self.atomics.topology().nodes();
        if nodes < 2 {
            None
        } else if self.flat {
            Some("a run ends flat: each node's leader counts the other node's jobs".to_owned())
        } else {
            Some(format!(
                "a run ends through a tree of the {nodes} nodes (fan-out {})",
                self.tree_fan_out
            ))
        }
    }

    /// Whether runs end flat (see "Flat end"; the same on every rank,
    /// before the first run): only across exactly two nodes, where it is
    /// the default.
    #[cfg(all(test, any(dlb_loom, dlb_shuttle)))]
    pub(crate) fn set_flat_end(&mut self, on: bool) {
        self.flat = on && self.atomics.topology().nodes() == 2;
    }

    /// Starts adding `jobs` to `Done` of `target`.
    fn send(&mut self, target: usize, jobs: u64) -> Result<()> {
        let pending = self.atomics.start(target, Slot::Done, Update::Add(jobs))?;
        self.reports.push((target, jobs, pending));
        self.poll_reports()
    }

    /// The leader of this rank's node.
    pub(super) fn leader(&self) -> usize {
        let topology = self.atomics.topology();
        topology.leader_of(topology.node_of(self.me()))
    }

    /// Completed reports, forwards and carries. On one node, the one that
    /// completes the run makes its rank the finisher. Across nodes, rank 0
    /// (in a flat end, each leader) watches `Done` instead (see
    /// `watch_done`), and completions only check the count: a leader's
    /// `Done` word below rank 0 holds counts of the current run only (a run
    /// ends only once all of its counts reached rank 0); in a flat end
    /// both leaders' `Done` words grow by the run's total per run, as
    /// rank 0's does.
    pub(super) fn poll_reports(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.reports.len() {
            let Some(before) = self.reports[i].2.poll()? else {
                i += 1;
                continue;
            };
            let (target, mine, _) = self.reports.swap_remove(i);
            if target != DONE_RANK && !self.flat {
                self.check_count(before.wrapping_add(mine))?;
                continue;
            }
            let done = before.wrapping_add(mine).wrapping_sub(self.done_base);
            self.check_count(done)?;
            let early = self.has_bug(Bug::FinishOneEarly) && done + 1 == self.total;
            if !self.multi_node() && (done == self.total || early) {
                self.took(Path::Finish);
                self.tell_node()?;
                self.finished = true;
            }
        }
        Ok(())
    }

    fn check_count(&self, done: u64) -> Result<()> {
        if done > self.total {
            return Err(Error::internal(format!(
                "{done} jobs reported done in a run of {}: a job was handed out twice",
                self.total
            )));
        }
        Ok(())
    }

    /// Across nodes, rank 0 (which holds `Done[0]`, and is idle once every
    /// job is done) reads `Done[0]` and its own node's count in `Unsent[0]`
    /// while idle; when together they reach the run's total, it tells its
    /// own node and the leaders of its children in the node tree (see
    /// `wait_for_notices`), then moves its node's count into `Done[0]` (see
    /// `fold_own_node`). In a flat end each leader watches its own `Done`
    /// and its node's `Kept` so, and tells only its own node (see
    /// `end_flat`).
    fn watch_done(&mut self) -> Result<()> {
        let multi = self.multi_node();
        let watches = if self.flat {
            self.atomics.topology().is_leader()
        } else {
            self.me() == DONE_RANK && (multi || self.has_bug(Bug::FinishCountsRunTwice))
        };
        if self.finished || !watches {
            return Ok(());
        }
        // The node's own count: in `Unsent[0]` on rank 0's node in the
        // tree (that node forwards nothing), in `Kept` in a flat end.
        let own_slot = if self.flat { Slot::Kept } else { Slot::Unsent };
        // Hints first: `Done` and the own count only grow within a run, so
        // a count below the total (less one, for the seeded bug) cannot
        // end it yet.
        let slack = u64::from(self.has_bug(Bug::FinishOneEarly));
        let peeked = self.atomics.peek(Slot::Done)?;
        let own_peeked = if multi {
            self.atomics.peek(own_slot)?
        } else {
            0
        };
        // In a flat end `Done` settles in every round, and alone: the last
        // report usually lands in `Kept` (shared memory, no lock on the
        // window) long after the other node's counts settled in `Done`, and
        // the leader then decides in the round that sees it, not one
        // `SETTLE` later.
        let done_settled = self.flat && self.settled(Slot::Done, peeked);
        let hint = peeked.wrapping_sub(self.done_base).wrapping_add(own_peeked);
        if hint.saturating_add(slack) < self.total {
            return Ok(());
        }
        let settled = if self.flat {
            done_settled
        } else {
            self.settled(Slot::Done, peeked.wrapping_add(own_peeked))
        };
        if !settled {
            return Ok(());
        }
        // Rank 0's node does not forward in the tree (`forward`): its
        // reports stay in `Unsent[0]`, whose count never leaves it during
        // the run; `Kept` only grows in a run too, and `Done` only grows.
        // So the two reads count no job twice.
        let own = if multi {
            self.atomics.load(self.me(), own_slot)?
        } else {
            0
        };
        let done = self
            .atomics
            .load(self.me(), Slot::Done)?
            .wrapping_sub(self.done_base)
            .wrapping_add(own);
        self.unsettle(Slot::Done);
        self.check_count(done)?;
        let early = self.has_bug(Bug::FinishOneEarly) && done + 1 == self.total;
        if self.total == 0 || !(done == self.total || early) {
            return Ok(());
        }
        // Its own node first: shared memory, at once, where starting a
        // notice may wait for its target (Open MPI 4.1's osc/ucx: 0.3-1.5
        // ms on 2 x 4 simulated nodes, traced).
        self.took(if self.flat {
            Path::FlatFinish
        } else {
            Path::FinishAcrossNodes
        });
        self.tell_node()?;
        // The run is over for this rank from here: should a notice or the
        // fold fail, a later call must not tell its node a second time
        // (its `Finished` words would run one run ahead).
        self.finished = true;
        if self.flat {
            return self.end_flat(own);
        }
        let mut notices = Vec::new();
        let started = self.tell_children(Bug::FinishTellsOwnNodeOnly, &mut notices);
        // Before the wait, which may fail, and also after a notice that
        // failed: the next run counts on it.
        let folded = self.fold_own_node(Slot::Unsent, own);
        if let Err(e) = started.and(folded) {
            self.in_flight.extend(notices);
            return Err(e);
        }
        self.wait_for_notices(notices)
    }

    /// A leader whose run ended flat, once it told its node: starts adding
    /// what its node's `Unsent` still holds to the other leader's `Done`
    /// (reports no forward took: their ranks may have heard "no more"
    /// already, and send nothing more), then folds its node's count
    /// (`own`, read in `Kept`) into its own `Done`. The flush is a forward:
    /// it is awaited before this rank answers "no more" (see `find_work`).
    fn end_flat(&mut self, own: u64) -> Result<()> {
        let flushed = if self.has_bug(Bug::FlatSkipsFlush) {
            Ok(())
        } else {
            self.flush()
        };
        let folded = self.fold_own_node(Slot::Kept, own);
        flushed.and(folded)
    }

    /// Takes this leader's `Unsent` count and starts adding it to the other
    /// leader's `Done` (see `end_flat`), without a look first: that leader
    /// needs exactly this count to end its run, so it waits in `give_more`
    /// (or has not reached its first one yet).
    fn flush(&mut self) -> Result<()> {
        let seen = self.atomics.load(self.me(), Slot::Unsent)?;
        let taken = self.take_unsent(seen)?;
        if taken == 0 {
            return Ok(());
        }
        self.took(Path::FlatFlush);
        self.send(self.count_target(), taken)
    }

    /// At the end of a run, the deciding leader (rank 0 in the tree) moves
    /// its node's count (`own`, read in `slot`: `Unsent[0]` in the tree,
    /// `Kept` in a flat end) into its `Done`, so that `Done` grows by
    /// exactly the run's total, as every rank's `done_base` assumes.
    /// Nothing else changes `slot` by then: every job of the run was
    /// reported, and the next run's reports come after `setup`, which
    /// waits for this rank. The add completes before this rank answers "no
    /// more", so before any count of the next run can reach its `Done`; it
    /// comes after the notices (or the flush) started, so that the ranks
    /// told wait no longer.
    fn fold_own_node(&mut self, slot: Slot, own: u64) -> Result<()> {
        if own == 0 {
            return Ok(());
        }
        let me = self.me();
        let seen = self.atomics.compare_and_swap(me, slot, own, 0)?;
        if seen != own {
            return Err(Error::internal(format!(
                "the node count of rank {me} changed after the run ended: {own} jobs, then {seen}"
            )));
        }
        self.atomics.fetch_add(me, Slot::Done, own).map(drop)
    }

    /// Starts adding 1 to `Told` of the leader of each child of this
    /// rank's node in the node tree (see [`TREE_FAN_OUT`]); nothing under
    /// the seeded `bug` that skips them.
    fn tell_children(&mut self, bug: Bug, notices: &mut Vec<Pending>) -> Result<()> {
        if self.has_bug(bug) {
            return Ok(());
        }
        let topology = self.atomics.topology();
        let node = topology.node_of(self.me());
        let leaders: Vec<usize> = topology
            .tree_children(node, self.tree_fan_out)
            .map(|child| topology.leader_of(child))
            .collect();
        for leader in leaders {
            notices.push(self.atomics.start(leader, Slot::Told, Update::Add(1))?);
        }
        Ok(())
    }

    /// Rank 0, or a leader that relays, waits a little for its notices to
    /// take effect before it answers "no more": MPI promises progress on
    /// an operation only while its maker is inside MPI, and the maker may
    /// compute outside MPI for long after. The leaders are normally idle
    /// and serve a notice within microseconds; one that has not reached its
    /// first `give_more` of the run yet (it had no units) does not, so the
    /// wait ends after [`NOTICE_WAIT`] and what is left completes later,
    /// from `in_flight`.
    fn wait_for_notices(&mut self, mut notices: Vec<Pending>) -> Result<()> {
        if !MODEL_CHECKING {
            await_ops(
                &self.atomics,
                &mut notices,
                Some(Instant::now() + NOTICE_WAIT),
            )?;
        }
        self.in_flight.extend(notices);
        Ok(())
    }

    /// Adds 1 to `Finished` of every node-mate, and wakes it.
    fn tell_node(&mut self) -> Result<()> {
        let mates = self.atomics.topology().mates().to_vec();
        for rank in mates {
            self.atomics.fetch_add(rank, Slot::Finished, 1)?;
            self.atomics.wake(rank, Slot::Finished)?;
        }
        Ok(())
    }

    /// Operations nobody waits for (reports of a finished run)
    /// that completed.
    pub(super) fn poll_in_flight(&mut self) -> Result<()> {
        poll_all(&mut self.in_flight)
    }

    /// A leader passes counts from its children in the node tree on to its
    /// parent (see `carry`), and a finish told by its parent on to its
    /// node and then to its children's leaders; on `Done`'s rank (in a
    /// flat end, on every leader), also watches `Done` (see `watch_done`).
    pub(super) fn relay(&mut self) -> Result<()> {
        self.watch_done()?;
        self.carry()?;
        let topology = self.atomics.topology();
        if self.flat || !topology.multi_node() || !topology.is_leader() {
            return Ok(());
        }
        // A hint first: `Told` only grows.
        let peeked = self.atomics.peek(Slot::Told)?;
        if peeked <= self.told_relayed || !self.settled(Slot::Told, peeked) {
            return Ok(());
        }
        let told = self.atomics.load(self.me(), Slot::Told)?;
        self.unsettle(Slot::Told);
        let mut notices = Vec::new();
        while self.told_relayed < told {
            self.took(Path::Relay);
            self.told_relayed += 1;
            // Its own node first, as in `watch_done`.
            let told = self
                .tell_node()
                .and_then(|()| self.tell_children(Bug::RelayTellsOwnNodeOnly, &mut notices));
            if let Err(e) = told {
                self.in_flight.extend(notices);
                return Err(e);
            }
        }
        if !notices.is_empty() {
            self.took(Path::RelayDown);
        }
        self.wait_for_notices(notices)
    }

    /// Whether this run is over, reading `Finished[me]` if not known yet.
    /// Reports still in flight when it is are nobody's business any more:
    /// they complete later, unread; but not in a flat end, where the other
    /// node's leader may still need a forward of this rank's (see
    /// `find_work`).
    pub(crate) fn is_finished(&mut self) -> Result<bool> {
        if !self.finished {
            let seen = self.atomics.load(self.me(), Slot::Finished)?;
            self.finished_seen = seen;
            self.finished = seen >= self.finish_target;
        }
        if self.finished && !self.flat {
            let reports = std::mem::take(&mut self.reports);
            self.in_flight
                .extend(reports.into_iter().map(|(_, _, p)| p));
        }
        Ok(self.finished)
    }
}
