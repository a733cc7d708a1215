//! Termination (see the module doc of [`super`]): reports to `Done[0]`,
//! rank 0's watch and notices, the leaders' relay, and the finish check.

use super::{Bug, Path, Protocol, DONE_RANK};
use crate::atomics::primitive::MODEL_CHECKING;
use crate::atomics::{poll_all, Atomics, Pending, Slot, Update};
use crate::clock::Instant;
use crate::error::{Error, Result};
use std::time::Duration;

/// How long rank 0 waits for its notices to the other nodes' leaders.
const NOTICE_WAIT: Duration = Duration::from_millis(1);

impl<A: Atomics> Protocol<A> {
    /// Reports the unreported jobs: on one node, starts adding them to
    /// `Done`; across nodes, adds them to the node's `Unsent` count in
    /// shared memory, which `forward` carries to `Done` once the node is dry
    /// (on some stacks a started operation on a busy rank blocks, so only
    /// ranks with nothing else to do make it).
    pub(super) fn report(&mut self) -> Result<()> {
        if self.unreported == 0 || self.finished {
            return Ok(());
        }
        let mine = std::mem::take(&mut self.unreported);
        self.counters.reports += 1;
        if !self.multi_node() {
            return self.send(mine);
        }
        let leader = self.leader();
        let mut seen = self.atomics.load(leader, Slot::Unsent)?;
        loop {
            let now = self.atomics.compare_and_swap(
                leader,
                Slot::Unsent,
                seen,
                seen.wrapping_add(mine),
            )?;
            if now == seen || self.has_bug(Bug::ReportLostOnRace) {
                return Ok(());
            }
            seen = now;
        }
    }

    /// Across nodes, on a rank whose node is dry: takes the node's `Unsent`
    /// count and starts adding it to `Done`.
    pub(super) fn forward(&mut self) -> Result<()> {
        let leader = self.leader();
        let mut seen = self.atomics.load(leader, Slot::Unsent)?;
        while seen != 0 {
            let now = self
                .atomics
                .compare_and_swap(leader, Slot::Unsent, seen, 0)?;
            if now == seen {
                return self.send(seen);
            }
            seen = now;
        }
        Ok(())
    }

    /// Starts adding `jobs` to `Done`.
    fn send(&mut self, jobs: u64) -> Result<()> {
        let pending = self
            .atomics
            .start(DONE_RANK, Slot::Done, Update::Add(jobs))?;
        self.reports.push((jobs, pending));
        self.poll_reports()
    }

    /// The leader of this rank's node.
    pub(super) fn leader(&self) -> usize {
        let topology = self.atomics.topology();
        topology.leader_of(topology.node_of(self.me()))
    }

    /// Completed reports. On one node, the one that completes the run makes
    /// its rank the finisher. Across nodes, rank 0 watches `Done` instead
    /// (see `watch_done`), and completions only check the count.
    pub(super) fn poll_reports(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.reports.len() {
            let Some(before) = self.reports[i].1.poll()? else {
                i += 1;
                continue;
            };
            let (mine, _) = self.reports.swap_remove(i);
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

    /// Across nodes, rank 0 (which holds `Done`, and is idle once every job
    /// is done) reads `Done` while idle; when it reaches the run's total, it
    /// tells its own node and every other node's leader (see
    /// `wait_for_notices`).
    fn watch_done(&mut self) -> Result<()> {
        let watches = self.multi_node() || self.has_bug(Bug::FinishCountsRunTwice);
        if self.me() != DONE_RANK || self.finished || !watches {
            return Ok(());
        }
        // A hint first: `Done` only grows within a run, so a count below
        // the total (less one, for the seeded bug) cannot end it yet.
        let hint = self.atomics.peek(Slot::Done)?.wrapping_sub(self.done_base);
        if hint.saturating_add(1) < self.total {
            return Ok(());
        }
        let done = self
            .atomics
            .load(DONE_RANK, Slot::Done)?
            .wrapping_sub(self.done_base);
        self.check_count(done)?;
        let early = self.has_bug(Bug::FinishOneEarly) && done + 1 == self.total;
        if self.total == 0 || !(done == self.total || early) {
            return Ok(());
        }
        let topology = self.atomics.topology().clone();
        let mut notices = Vec::new();
        if !self.has_bug(Bug::FinishTellsOwnNodeOnly) {
            for leader in topology.leaders() {
                if !topology.is_mate(leader) {
                    notices.push(self.atomics.start(leader, Slot::Told, Update::Add(1))?);
                }
            }
        }
        self.took(Path::FinishAcrossNodes);
        self.tell_node()?;
        self.finished = true;
        self.wait_for_notices(notices)
    }

    /// Rank 0 waits a little for its notices to take effect before it
    /// answers "no more": MPI promises progress on an operation only while
    /// its maker is inside MPI, and rank 0 may compute outside MPI for long
    /// after. The leaders are normally idle and serve a notice within
    /// microseconds; one that has not reached its first `give_more` of the
    /// run yet (it had no units) does not, so the wait ends after
    /// [`NOTICE_WAIT`] and what is left completes later, from `in_flight`.
    fn wait_for_notices(&mut self, mut notices: Vec<Pending>) -> Result<()> {
        if !MODEL_CHECKING {
            self.await_ops(&mut notices, Some(Instant::now() + NOTICE_WAIT))?;
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

    /// A leader passes a finish told by another node on to its node; on
    /// `Done`'s rank, also watches `Done` (see `watch_done`).
    pub(super) fn relay(&mut self) -> Result<()> {
        self.watch_done()?;
        let topology = self.atomics.topology();
        if !topology.multi_node() || !topology.is_leader() {
            return Ok(());
        }
        // A hint first: `Told` only grows.
        if self.atomics.peek(Slot::Told)? <= self.told_relayed {
            return Ok(());
        }
        let told = self.atomics.load(self.me(), Slot::Told)?;
        while self.told_relayed < told {
            self.took(Path::Relay);
            self.told_relayed += 1;
            self.tell_node()?;
        }
        Ok(())
    }

    /// Whether this run is over, reading `Finished[me]` if not known yet.
    /// Reports still in flight when it is are nobody's business any more:
    /// they complete later, unread.
    pub(crate) fn is_finished(&mut self) -> Result<bool> {
        if !self.finished {
            let seen = self.atomics.load(self.me(), Slot::Finished)?;
            self.finished_seen = seen;
            self.finished = seen >= self.finish_target;
        }
        if self.finished {
            let reports = std::mem::take(&mut self.reports);
            self.in_flight.extend(reports.into_iter().map(|(_, p)| p));
        }
        Ok(self.finished)
    }
}
