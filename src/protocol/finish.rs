//! Termination (see the module doc of [`super`]): reports to `Done[0]`,
//! the finisher's notices, the leaders' relay, and the finish check.

use super::{Bug, Protocol, DONE_RANK};
use crate::atomics::{Atomics, Slot, Update};
use crate::error::{Error, Result};

impl<A: Atomics> Protocol<A> {
    /// Starts adding the unreported jobs to `Done`.
    pub(super) fn report(&mut self) -> Result<()> {
        if self.unreported == 0 || self.finished {
            return Ok(());
        }
        let mine = std::mem::take(&mut self.unreported);
        let pending = self
            .atomics
            .start(DONE_RANK, Slot::Done, Update::Add(mine))?;
        self.counters.reports += 1;
        self.reports.push((mine, pending));
        self.poll_reports()
    }

    /// Completed reports; the one that completes the run finishes it.
    pub(super) fn poll_reports(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.reports.len() {
            let Some(before) = self.reports[i].1.poll()? else {
                i += 1;
                continue;
            };
            let (mine, _) = self.reports.swap_remove(i);
            let done = before.wrapping_add(mine).wrapping_sub(self.done_base);
            if done > self.total {
                return Err(Error::internal(format!(
                    "{done} jobs reported done in a run of {}: a job was handed out twice",
                    self.total
                )));
            }
            let early = self.has_bug(Bug::FinishOneEarly) && done + 1 == self.total;
            if done == self.total || early {
                self.finish()?;
            }
        }
        Ok(())
    }

    /// The finisher: tells its node at once and starts telling the leader
    /// of every other node.
    fn finish(&mut self) -> Result<()> {
        let topology = self.atomics.topology().clone();
        if !self.has_bug(Bug::FinishTellsOwnNodeOnly) {
            for &leader in topology.leaders() {
                if !topology.is_mate(leader) {
                    let pending = self.atomics.start(leader, Slot::Told, Update::Add(1))?;
                    self.notices.push(pending);
                }
            }
        }
        self.tell_node()?;
        self.finished = true;
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

    /// The finisher's notices that completed.
    pub(super) fn poll_notices(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.notices.len() {
            if self.notices[i].poll()?.is_some() {
                self.notices.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// A leader passes a finish told by another node on to its node.
    pub(super) fn relay(&mut self) -> Result<()> {
        let topology = self.atomics.topology();
        if !topology.multi_node() || !topology.is_leader() {
            return Ok(());
        }
        let told = self.atomics.load(self.me(), Slot::Told)?;
        while self.told_relayed < told {
            self.told_relayed += 1;
            self.tell_node()?;
        }
        Ok(())
    }

    /// Whether this run is over, reading `Finished[me]` if not known yet.
    pub(crate) fn is_finished(&mut self) -> Result<bool> {
        if !self.finished {
            let seen = self.atomics.load(self.me(), Slot::Finished)?;
            self.finished_seen = seen;
            self.finished = seen >= self.finish_target;
        }
        Ok(self.finished)
    }
}
