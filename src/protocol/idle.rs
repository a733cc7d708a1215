//! What an idle rank does between failed steal attempts: exponential
//! backoff that spins briefly, then yields, then sleeps up to about a
//! millisecond (128 µs across nodes, where idle ranks serve others' MPI
//! operations), so that oversubscribed ranks give their core to busy ones.
//! A long idle period (32 ms or more) stretches the cap to 1/64 of the
//! time idle so far, up to 4 ms. Before 32 ms nothing changes, so the end
//! of a run across nodes, which passes through leaders (every rank on the
//! `mpi` path over software RMA), stays as fast as the roles' caps make it
//! after short waits. After long ones, each sleep adds at most 1/64 of the
//! wait so far, and the end passes through `2 d + 1` of them, where `d` is
//! the depth of the node tree (the protocol's module doc): a hunter's
//! forward, a carry per level above it, rank 0's watch and a relay per
//! level (node-mates on shared memory are woken). That is 3 on up to 17
//! nodes and 7 on up to 4,369: these rounds make the end at most about 5%
//! (11%) of the wait late, at most about 12 ms (28 ms). Across exactly two
//! nodes the run ends flat (the protocol's "Flat end"): a forward and the
//! other leader's watch, 2 rounds. (Where atomics lock,
//! rank 0 and the leaders on that path also let each new value settle
//! before they act on it, see the protocol's `settle`: an extra sleep
//! each, but one capped at the 50 µs of settling, not a long wait's.)
//! That count leaves out the targets: on software RMA an operation also
//! waits for its target's next round (a look, the add, a notice), so more
//! long sleeps lie on the path. Measured on osc/ucx 2 × 4 (the termination
//! benchmark with `--hold 3000`, 5 samples): the end came 17-21 ms (p50;
//! at most 23 ms) after a 3 s job, 0.6-0.7% of it, through the tree; 5.4
//! ms (5.8 at most) with the flat end. On software RMA, where
//! each wake-up makes several MPI calls, an idle rank then uses under 5% of
//! a core (`benches/idle_cpu.rs`).
//!
//! Across nodes these sleeps are precise: while a rank waits for work its
//! thread's timer slack is 1 µs, not Linux's 50 µs (`crate::mpi::PreciseSleeps`),
//! which made a leader's 32 µs sleep about 90 µs. On osc/ucx 2 × 4 the
//! termination benchmark's p50 was lower in 6 of 6 alternating pairs of 40
//! samples (1,041-1,296 µs against 1,165-1,352 µs), balance unchanged.

use crate::atomics::primitive::{thread, MODEL_CHECKING};
use crate::atomics::Atomics;
use crate::rng::Rng;
use std::time::Duration;

/// Steps that spin (`2^step * SPIN_UNIT` spin-loop hints).
const SPIN_STEPS: u32 = 4;
const SPIN_UNIT: u32 = 32;
/// Steps after spinning that yield the core to another runnable process.
const YIELD_STEPS: u32 = 2;
/// The first sleep; each further step doubles it.
const FIRST_SLEEP: Duration = Duration::from_micros(8);
/// The longest sleep on one node.
pub(crate) const MAX_SLEEP: Duration = Duration::from_micros(1024);
/// The longest sleep when the ranks span nodes: idle ranks serve the
/// reports, takes and notices of others on software RMA, and termination
/// across nodes passes through one of them (a node's hunter, which
/// forwards its node's count).
pub(crate) const MAX_SLEEP_ACROSS_NODES: Duration = Duration::from_micros(128);
/// The longest sleep of a node's leader across nodes: the end of a run
/// passes through leaders (see the protocol), and on software RMA an
/// operation needs about two of its target's MPI calls.
pub(crate) const MAX_SLEEP_OF_LEADERS: Duration = Duration::from_micros(32);
/// The same with direct steals, which are for passive RMA: a leader's
/// round there waits for nobody, and the end of a run waits for the
/// leaders' rounds (in the simulator's `hw_rdma` model, uniform jobs at 64
/// and 256 ranks, 10 seeds: 32 and 51 µs from the last job to the last "no
/// more", against 63 and 115 µs with 32 µs and the rest of direct steals'
/// rounds as they are now, and 56 and 91 µs before those rounds made 8
/// remote attempts; see the protocol's "Direct steals across nodes").
pub(crate) const MAX_SLEEP_OF_LEADERS_PASSIVE: Duration = Duration::from_micros(8);
/// The longest sleep of a long idle period (see the module doc).
pub(crate) const LONG_IDLE_MAX_SLEEP: Duration = Duration::from_millis(4);
/// A long idle period sleeps at most 1/`LONG_IDLE_SHARE` of its length.
const LONG_IDLE_SHARE: u32 = 64;
/// An idle period is long from here on (before, the end of a run across
/// nodes is served at the roles' caps: under 1 ms at 2 nodes of 4 ranks).
const LONG_IDLE: Duration = Duration::from_millis(32);

/// Backoff state for one idle period; start a new one when work is found.
#[derive(Debug)]
pub(crate) struct Backoff {
    step: u32,
    /// The cap of the rank's role.
    base: Duration,
    cap: Duration,
}

impl Backoff {
    /// Sleeps grow up to `cap` (stretched by [`Backoff::idle_for`] up to
    /// [`LONG_IDLE_MAX_SLEEP`]).
    pub(crate) fn new(cap: Duration) -> Backoff {
        Backoff {
            step: 0,
            base: cap,
            cap,
        }
    }

    /// The backoff of a rank looking for work: on one node, across nodes,
    /// or across nodes as a leader (rank 0 among them, which holds `Done`):
    /// leaders serve the reports and notices that end a run; shorter with
    /// direct steals (`direct`, passive RMA).
    pub(crate) fn for_role(multi_node: bool, leader: bool, direct: bool) -> Backoff {
        match (multi_node, leader) {
            (false, _) => Backoff::new(MAX_SLEEP),
            (true, true) if direct => Backoff::new(MAX_SLEEP_OF_LEADERS_PASSIVE),
            (true, true) => Backoff::new(MAX_SLEEP_OF_LEADERS),
            (true, false) => Backoff::new(MAX_SLEEP_ACROSS_NODES),
        }
    }

    /// The rank has been idle for `idle`: from 32 ms on, sleeps may grow to
    /// 1/64 of that, up to [`LONG_IDLE_MAX_SLEEP`], never below the role's cap.
    pub(crate) fn idle_for(&mut self, idle: Duration) {
        if idle >= LONG_IDLE {
            self.cap = self
                .base
                .max((idle / LONG_IDLE_SHARE).min(LONG_IDLE_MAX_SLEEP));
        }
    }

    /// Waits a little longer than last time; the sleeps go through `sleep`,
    /// which may return early when woken (see `Atomics::wait`).
    #[cold]
    pub(crate) fn snooze_with(&mut self, sleep: impl FnOnce(Duration)) {
        if MODEL_CHECKING {
            // No clock and no parallelism under a model checker: let it
            // schedule another task.
            thread::yield_now();
            return;
        }
        match self.pause() {
            Pause::Spin(n) => (0..n).for_each(|_| std::hint::spin_loop()),
            Pause::Yield => thread::yield_now(),
            Pause::Sleep(d) => sleep(d),
        }
        self.step = self.step.saturating_add(1);
    }

    /// What the next `snooze` does.
    fn pause(&self) -> Pause {
        if self.step < SPIN_STEPS {
            Pause::Spin(SPIN_UNIT << self.step)
        } else if self.step < SPIN_STEPS + YIELD_STEPS {
            Pause::Yield
        } else {
            let doublings = (self.step - SPIN_STEPS - YIELD_STEPS).min(20);
            Pause::Sleep((FIRST_SLEEP * (1u32 << doublings)).min(self.cap))
        }
    }
}

/// Which node-mates an idle rank found empty, and, under a model checker,
/// the wait that replaces backoff: an idle rank that found every node-mate
/// empty, with no word written (and no operation queued or served) since it
/// began looking, waits for the next write instead of spinning: until
/// something changes, every read it could make returns what it already saw,
/// so the wait cuts only stuttering steps (which would otherwise make loom's
/// schedules unbounded). If all ranks waited with the run unfinished, the
/// checker reports the deadlock.
#[derive(Debug)]
pub(crate) struct Sweep {
    /// `Atomics::writes` when the current sweep began.
    epoch: u64,
    /// `writes` read at the start of the latest attempt.
    at_attempt: u64,
    /// The node-mates other than this rank, and whether each was found
    /// empty in this sweep.
    mates: Vec<(usize, bool)>,
}

impl Sweep {
    /// A sweep over `mates` (this rank's node, `me` included and skipped).
    pub(crate) fn new(mates: &[usize], me: usize) -> Sweep {
        Sweep {
            epoch: u64::MAX,
            at_attempt: 0,
            mates: mates
                .iter()
                .filter(|&&r| r != me)
                .map(|&r| (r, false))
                .collect(),
        }
    }

    /// Call before each attempt's reads.
    pub(crate) fn begin_attempt(&mut self, atomics: &impl Atomics) {
        self.at_attempt = atomics.writes();
        if self.at_attempt != self.epoch {
            self.epoch = self.at_attempt;
            self.found_work();
        }
    }

    /// A node-mate not found empty in this sweep, chosen at random, or
    /// `None` once every one was.
    pub(crate) fn unswept(&self, rng: &mut Rng) -> Option<usize> {
        let left = self.mates.iter().filter(|m| !m.1).count();
        if left == 0 {
            return None;
        }
        let i = rng.below(left as u64) as usize;
        self.mates.iter().filter(|m| !m.1).nth(i).map(|m| m.0)
    }

    /// `victim` had nothing.
    pub(crate) fn found_empty(&mut self, victim: usize) {
        if let Some(m) = self.mates.iter_mut().find(|(r, _)| *r == victim) {
            m.1 = true;
        }
    }

    /// Some node-mate had work: start the sweep over.
    pub(crate) fn found_work(&mut self) {
        self.mates.iter_mut().for_each(|m| m.1 = false);
    }

    /// Whether every node-mate was found empty in this sweep (true without
    /// node-mates).
    pub(crate) fn node_dry(&self) -> bool {
        self.mates.iter().all(|m| m.1)
    }

    /// Under a model checker, after an attempt that found nothing: waits
    /// for the next write once the node is dry, else yields.
    pub(crate) fn nothing_found(&mut self, atomics: &impl Atomics) {
        if self.node_dry() {
            atomics.wait_for_write(self.at_attempt);
        } else {
            thread::yield_now();
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Pause {
    Spin(u32),
    Yield,
    Sleep(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_then_yields_then_sleeps_up_to_the_cap() {
        let mut b = Backoff::new(MAX_SLEEP);
        let mut seen = Vec::new();
        for _ in 0..40 {
            seen.push(b.pause());
            b.step += 1;
        }
        assert_eq!(seen[0], Pause::Spin(SPIN_UNIT));
        assert_eq!(seen[SPIN_STEPS as usize], Pause::Yield);
        let sleeps: Vec<Duration> = seen
            .iter()
            .filter_map(|p| {
                if let Pause::Sleep(d) = p {
                    Some(*d)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(sleeps[0], FIRST_SLEEP);
        assert!(
            sleeps.windows(2).all(|w| w[1] >= w[0]),
            "sleeps never shrink"
        );
        assert_eq!(*sleeps.last().unwrap(), MAX_SLEEP);
        assert!(MAX_SLEEP <= Duration::from_millis(1) + Duration::from_micros(100));
    }

    #[test]
    fn long_idle_periods_stretch_the_cap_to_a_share_of_the_wait() {
        let last_sleep = |b: &mut Backoff| {
            b.step = 100;
            match b.pause() {
                Pause::Sleep(d) => d,
                other => panic!("{other:?}"),
            }
        };
        let mut b = Backoff::new(MAX_SLEEP_OF_LEADERS);
        b.idle_for(Duration::from_micros(500));
        assert_eq!(
            last_sleep(&mut b),
            MAX_SLEEP_OF_LEADERS,
            "short waits keep the role's cap"
        );
        b.idle_for(Duration::from_millis(31));
        assert_eq!(last_sleep(&mut b), MAX_SLEEP_OF_LEADERS, "not yet long");
        b.idle_for(Duration::from_millis(64));
        assert_eq!(last_sleep(&mut b), Duration::from_millis(1));
        b.idle_for(Duration::from_secs(10));
        assert_eq!(last_sleep(&mut b), LONG_IDLE_MAX_SLEEP);
        let mut b = Backoff::new(MAX_SLEEP);
        b.idle_for(Duration::from_millis(10));
        assert_eq!(last_sleep(&mut b), MAX_SLEEP, "never below the role's cap");
    }
}
