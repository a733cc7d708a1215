//! The discrete-event kernel: one OS thread per simulated rank, of which
//! exactly one runs at any moment, always the one whose next event is the
//! earliest in virtual time (ties in the order they were scheduled).
//!
//! A running rank moves its clock forward with [`Kernel::advance`]; when
//! another rank's event comes first, the baton passes to that rank's thread
//! and the caller sleeps on its own condition variable until its event is
//! the earliest. A rank may also wait for a wake-up ([`Kernel::wait`]) that
//! another rank sends with [`Kernel::wake`], with a deadline. Because one
//! thread runs at a time and events are taken in time order, everything a
//! rank does at virtual time `t` happens after everything any rank did
//! before `t`: the simulation is deterministic for a given scenario,
//! whatever the host's scheduler does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// An event: rank `rank` resumes at `time` (ns), unless its generation
/// moved on (a wait that ended early leaves its deadline event stale).
type Event = Reverse<(u64, u64, usize, u64)>;

#[derive(Debug)]
struct Sched {
    /// Virtual time of the event being run (ns).
    now: u64,
    /// Events scheduled so far (tie-breaker: first scheduled runs first).
    seq: u64,
    events: BinaryHeap<Event>,
    /// Whether each rank may run (the baton).
    go: Vec<bool>,
    /// Each rank's generation: events of older generations are stale.
    generation: Vec<u64>,
    /// Ranks in [`Kernel::wait`].
    waiting: Vec<bool>,
    /// Ranks whose thread has not finished.
    live: usize,
    /// A rank's thread panicked or the event queue ran dry with ranks
    /// left: every thread stops.
    failed: Option<String>,
    /// Context switches (the baton passed to another rank).
    switches: u64,
}

/// The scheduler shared by the ranks' threads.
#[derive(Debug)]
pub(crate) struct Kernel {
    sched: Mutex<Sched>,
    /// One per rank: signalled when the baton reaches it.
    turn: Vec<Condvar>,
    /// Signalled when the last rank finishes (or the simulation fails).
    over: Condvar,
}

/// Why a simulated rank must stop: another rank failed.
#[derive(Debug)]
pub(crate) struct Aborted(pub(crate) String);

impl Kernel {
    /// A kernel for `ranks` ranks, each with an event at time 0.
    pub(crate) fn new(ranks: usize) -> Kernel {
        let mut events = BinaryHeap::with_capacity(ranks + 16);
        for r in 0..ranks {
            events.push(Reverse((0, r as u64, r, 0)));
        }
        Kernel {
            sched: Mutex::new(Sched {
                now: 0,
                seq: ranks as u64,
                events,
                go: vec![false; ranks],
                generation: vec![0; ranks],
                waiting: vec![false; ranks],
                live: ranks,
                failed: None,
                switches: 0,
            }),
            turn: (0..ranks).map(|_| Condvar::new()).collect(),
            over: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sched> {
        // A panicking rank thread is reported through `failed`; the state
        // stays consistent because every update is made under the lock in
        // one piece.
        self.sched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current virtual time (ns).
    pub(crate) fn now(&self) -> u64 {
        self.lock().now
    }

    /// Context switches so far.
    pub(crate) fn switches(&self) -> u64 {
        self.lock().switches
    }

    /// Starts the simulation (the first event's rank runs) and blocks until
    /// every rank finished; the failure, if one stopped it.
    pub(crate) fn run(&self) -> Result<(), String> {
        let mut s = self.lock();
        s = self.dispatch(s, None);
        while s.live > 0 && s.failed.is_none() {
            s = self.over.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        match &s.failed {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Called first on `rank`'s thread: blocks until its first event.
    pub(crate) fn enter(&self, rank: usize) -> Result<(), Aborted> {
        let s = self.lock();
        self.await_turn(s, rank).map(drop)
    }

    /// Moves `rank`'s clock to `time` (ns, not before now), letting every
    /// earlier event run first.
    pub(crate) fn advance(&self, rank: usize, time: u64) -> Result<(), Aborted> {
        let mut s = self.lock();
        let time = time.max(s.now);
        let first = s.events.peek().map_or(u64::MAX, |Reverse(e)| e.0);
        if time < first {
            // Nothing comes before: no switch.
            s.now = time;
            return Ok(());
        }
        let generation = s.generation[rank];
        push(&mut s, time, rank, generation);
        let s = self.dispatch(s, Some(rank));
        self.await_turn(s, rank).map(drop)
    }

    /// Waits until `deadline` (ns) or until another rank's [`Kernel::wake`],
    /// whichever comes first.
    pub(crate) fn wait(&self, rank: usize, deadline: u64) -> Result<(), Aborted> {
        let mut s = self.lock();
        let deadline = deadline.max(s.now);
        s.waiting[rank] = true;
        let generation = s.generation[rank];
        push(&mut s, deadline, rank, generation);
        let s = self.dispatch(s, Some(rank));
        let mut s = self.await_turn(s, rank)?;
        s.waiting[rank] = false;
        Ok(())
    }

    /// Wakes `target` at `time` (ns) if it is in [`Kernel::wait`] with a
    /// later deadline.
    pub(crate) fn wake(&self, target: usize, time: u64) {
        let mut s = self.lock();
        if s.waiting[target] {
            s.waiting[target] = false;
            s.generation[target] += 1;
            let generation = s.generation[target];
            let time = time.max(s.now);
            push(&mut s, time, target, generation);
        }
    }

    /// Called last on `rank`'s thread (also after a failure): hands the
    /// baton on for good.
    pub(crate) fn finish(&self, rank: usize, failure: Option<String>) {
        let mut s = self.lock();
        s.live -= 1;
        if let Some(why) = failure {
            s.failed.get_or_insert(format!("rank {rank}: {why}"));
        }
        if s.failed.is_some() {
            // Wake every thread so that each returns `Aborted`.
            for t in &self.turn {
                t.notify_one();
            }
        }
        if s.live == 0 || s.failed.is_some() {
            self.over.notify_all();
            return;
        }
        drop(self.dispatch(s, None));
    }

    /// Runs the earliest event: moves the clock and hands the baton to its
    /// rank (unless that is `me`, who then simply goes on).
    fn dispatch<'a>(
        &'a self,
        mut s: MutexGuard<'a, Sched>,
        me: Option<usize>,
    ) -> MutexGuard<'a, Sched> {
        loop {
            let Some(Reverse((time, _, rank, generation))) = s.events.pop() else {
                if s.live > 0 && s.failed.is_none() {
                    s.failed = Some(format!(
                        "deadlock: {} ranks left, no event scheduled",
                        s.live
                    ));
                    for t in &self.turn {
                        t.notify_one();
                    }
                    self.over.notify_all();
                }
                return s;
            };
            if generation != s.generation[rank] {
                continue; // a wait that ended early
            }
            s.now = time;
            if Some(rank) != me {
                s.switches += 1;
                s.go[rank] = true;
                self.turn[rank].notify_one();
            } else {
                s.go[rank] = true;
            }
            return s;
        }
    }

    /// Blocks until the baton reaches `rank`.
    fn await_turn<'a>(
        &'a self,
        mut s: MutexGuard<'a, Sched>,
        rank: usize,
    ) -> Result<MutexGuard<'a, Sched>, Aborted> {
        while !s.go[rank] && s.failed.is_none() {
            s = self.turn[rank]
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(why) = &s.failed {
            return Err(Aborted(why.clone()));
        }
        s.go[rank] = false;
        Ok(s)
    }
}

fn push(s: &mut Sched, time: u64, rank: usize, generation: u64) {
    s.seq += 1;
    let seq = s.seq;
    s.events.push(Reverse((time, seq, rank, generation)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Ranks that advance by different steps interleave in time order.
    #[test]
    fn events_run_in_virtual_time_order() {
        let kernel = Arc::new(Kernel::new(3));
        let log = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..3)
            .map(|rank| {
                let (kernel, log) = (Arc::clone(&kernel), Arc::clone(&log));
                std::thread::spawn(move || {
                    kernel.enter(rank).unwrap();
                    let step = [3u64, 5, 7][rank];
                    for i in 1..=4 {
                        kernel.advance(rank, i * step).unwrap();
                        log.lock().unwrap().push((kernel.now(), rank));
                    }
                    kernel.finish(rank, None);
                })
            })
            .collect();
        kernel.run().unwrap();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 12);
        assert!(log.windows(2).all(|w| w[0].0 <= w[1].0), "{log:?}");
        assert_eq!(log.last(), Some(&(28, 2)));
    }

    /// A wake ends a wait before its deadline; without one, the deadline.
    #[test]
    fn wake_ends_a_wait_early() {
        let kernel = Arc::new(Kernel::new(2));
        let k = Arc::clone(&kernel);
        let waiter = std::thread::spawn(move || {
            k.enter(0).unwrap();
            k.wait(0, 1_000).unwrap();
            let woken = k.now();
            k.wait(0, woken + 50).unwrap();
            let timed_out = k.now();
            k.finish(0, None);
            (woken, timed_out)
        });
        let k = Arc::clone(&kernel);
        let waker = std::thread::spawn(move || {
            k.enter(1).unwrap();
            k.advance(1, 100).unwrap();
            k.wake(0, 110);
            k.finish(1, None);
        });
        kernel.run().unwrap();
        waker.join().unwrap();
        assert_eq!(waiter.join().unwrap(), (110, 160));
    }

    /// A rank that waits with nobody left to wake it times out; a failure
    /// of one rank stops the others with `Aborted`.
    #[test]
    fn a_failure_stops_every_rank() {
        let kernel = Arc::new(Kernel::new(2));
        let k = Arc::clone(&kernel);
        let other = std::thread::spawn(move || {
            k.enter(1).unwrap();
            let r = k.advance(1, 1_000_000);
            k.finish(1, None);
            r.is_err()
        });
        let k = Arc::clone(&kernel);
        let failing = std::thread::spawn(move || {
            k.enter(0).unwrap();
            k.advance(0, 10).unwrap();
            k.finish(0, Some("broke".into()));
        });
        let result = kernel.run();
        failing.join().unwrap();
        assert!(other.join().unwrap(), "the other rank saw the abort");
        assert_eq!(result.unwrap_err(), "rank 0: broke");
    }
}
