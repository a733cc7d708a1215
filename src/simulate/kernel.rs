//! The discrete-event kernel: one OS thread per simulated rank, of which
//! exactly one runs at any moment, always the one whose next event is the
//! earliest in virtual time (ties in the order they were scheduled).
//!
//! A running rank moves its clock forward with [`Kernel::advance`]; when
//! another rank's event comes first (by more than [`LOOKAHEAD`]), the baton passes to that rank's thread
//! and the caller sleeps on its own condition variable until its event is
//! the earliest. A rank may also wait for a wake-up ([`Kernel::wait`]) that
//! another rank sends with [`Kernel::wake`], with a deadline. Because one
//! thread runs at a time and events are taken in time order, everything a
//! rank does at virtual time `t` happens after everything any rank did
//! before `t - LOOKAHEAD`: the simulation is deterministic for a given
//! scenario, whatever the host's scheduler does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

/// How far (ns) a running rank may move past the next event of another
/// rank without handing the baton over: operations up to 1 µs apart may
/// take effect out of virtual-time order, well below an operation across
/// nodes (2.5 µs or more), and it halves the switches between threads,
/// which are most of the simulator's cost.
const LOOKAHEAD: u64 = 1000;

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
    /// Each rank's generation: events of older generations are stale.
    generation: Vec<u64>,
    /// Ranks in [`Kernel::wait`].
    waiting: Vec<bool>,
    /// Ranks whose thread has not finished.
    live: usize,
    /// A rank's thread failed or the event queue ran dry with ranks left:
    /// every thread stops.
    failed: Option<String>,
    /// Context switches (the baton passed to another rank).
    switches: u64,
}

/// The scheduler shared by the ranks' threads.
///
/// The baton passes by `park` / `unpark`: the running thread picks the next
/// rank under the lock, sets that rank's flag and unparks its thread, then
/// parks until its own flag is set.
#[derive(Debug)]
pub(crate) struct Kernel {
    sched: Mutex<Sched>,
    /// Whether each rank may run (the baton).
    go: Vec<AtomicBool>,
    /// Each rank's thread, once it entered.
    threads: Vec<OnceLock<Thread>>,
    failed: AtomicBool,
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
                generation: vec![0; ranks],
                waiting: vec![false; ranks],
                live: ranks,
                failed: None,
                switches: 0,
            }),
            go: (0..ranks).map(|_| AtomicBool::new(false)).collect(),
            threads: (0..ranks).map(|_| OnceLock::new()).collect(),
            failed: AtomicBool::new(false),
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
        let next = self.pick(&mut s, None);
        drop(s);
        self.hand_to(next);
        let mut s = self.lock();
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
        let _ = self.threads[rank].set(std::thread::current());
        self.await_turn(rank)
    }

    /// Moves `rank`'s clock to `time` (ns, not before now), letting every
    /// earlier event run first.
    pub(crate) fn advance(&self, rank: usize, time: u64) -> Result<(), Aborted> {
        let mut s = self.lock();
        let time = time.max(s.now);
        let first = s.events.peek().map_or(u64::MAX, |Reverse(e)| e.0);
        if time < first.saturating_add(LOOKAHEAD) {
            // Nothing comes before: no switch.
            s.now = time;
            return Ok(());
        }
        self.resume_at(s, rank, time)
    }

    /// Waits until `deadline` (ns) or until another rank's [`Kernel::wake`],
    /// whichever comes first.
    pub(crate) fn wait(&self, rank: usize, deadline: u64) -> Result<(), Aborted> {
        let mut s = self.lock();
        let deadline = deadline.max(s.now);
        s.waiting[rank] = true;
        self.resume_at(s, rank, deadline)?;
        self.lock().waiting[rank] = false;
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
            drop(s);
            self.fail_all();
            return;
        }
        if s.live == 0 {
            self.over.notify_all();
            return;
        }
        let next = self.pick(&mut s, None);
        drop(s);
        self.hand_to(next);
    }

    /// Takes the earliest live event: moves the clock and returns its rank.
    /// `None` when none is left (with ranks left: a deadlock, recorded).
    fn pick(&self, s: &mut Sched, me: Option<usize>) -> Option<usize> {
        loop {
            let Some(Reverse((time, _, rank, generation))) = s.events.pop() else {
                if s.live > 0 && s.failed.is_none() {
                    s.failed = Some(format!(
                        "deadlock: {} ranks left, no event scheduled",
                        s.live
                    ));
                }
                return None;
            };
            if generation != s.generation[rank] {
                continue; // a wait that ended early
            }
            s.now = time;
            if Some(rank) != me {
                s.switches += 1;
            }
            return Some(rank);
        }
    }

    /// Schedules `rank` (the running one) to resume at `time`, runs every
    /// earlier event, and returns when its turn comes.
    fn resume_at(
        &self,
        mut s: MutexGuard<'_, Sched>,
        rank: usize,
        time: u64,
    ) -> Result<(), Aborted> {
        let generation = s.generation[rank];
        push(&mut s, time, rank, generation);
        let next = self.pick(&mut s, Some(rank));
        drop(s);
        self.switch(rank, next)
    }

    /// Gives the baton to `next` (unless it is `me`) and waits for it.
    fn switch(&self, me: usize, next: Option<usize>) -> Result<(), Aborted> {
        match next {
            Some(n) if n == me => Ok(()),
            next => {
                self.hand_to(next);
                self.await_turn(me)
            }
        }
    }

    /// Lets `next` run; with no next rank, the simulation failed.
    fn hand_to(&self, next: Option<usize>) {
        match next {
            Some(n) => {
                self.go[n].store(true, Ordering::Release);
                if let Some(t) = self.threads[n].get() {
                    t.unpark();
                }
            }
            None => self.fail_all(),
        }
    }

    /// Stops every thread (each returns `Aborted`) and the run.
    fn fail_all(&self) {
        self.failed.store(true, Ordering::Release);
        for t in self.threads.iter().filter_map(OnceLock::get) {
            t.unpark();
        }
        let _s = self.lock();
        self.over.notify_all();
    }

    /// Blocks until the baton reaches `rank`.
    fn await_turn(&self, rank: usize) -> Result<(), Aborted> {
        loop {
            if self.go[rank].swap(false, Ordering::Acquire) {
                return Ok(());
            }
            if self.failed.load(Ordering::Acquire) {
                let why = self.lock().failed.clone().unwrap_or_default();
                return Err(Aborted(why));
            }
            std::thread::park();
        }
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

    /// A time unit well above the lookahead.
    const U: u64 = 10 * LOOKAHEAD;

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
                    let step = [3, 5, 7][rank] * U;
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
        assert_eq!(log.last(), Some(&(28 * U, 2)));
    }

    /// A wake ends a wait before its deadline; without one, the deadline.
    #[test]
    fn wake_ends_a_wait_early() {
        let kernel = Arc::new(Kernel::new(2));
        let k = Arc::clone(&kernel);
        let waiter = std::thread::spawn(move || {
            k.enter(0).unwrap();
            k.wait(0, 100 * U).unwrap();
            let woken = k.now();
            k.wait(0, woken + 5 * U).unwrap();
            let timed_out = k.now();
            k.finish(0, None);
            (woken, timed_out)
        });
        let k = Arc::clone(&kernel);
        let waker = std::thread::spawn(move || {
            k.enter(1).unwrap();
            k.advance(1, 10 * U).unwrap();
            k.wake(0, 11 * U);
            k.finish(1, None);
        });
        kernel.run().unwrap();
        waker.join().unwrap();
        assert_eq!(waiter.join().unwrap(), (11 * U, 16 * U));
    }

    /// A rank that waits with nobody left to wake it times out; a failure
    /// of one rank stops the others with `Aborted`.
    #[test]
    fn a_failure_stops_every_rank() {
        let kernel = Arc::new(Kernel::new(2));
        let k = Arc::clone(&kernel);
        let other = std::thread::spawn(move || {
            k.enter(1).unwrap();
            let r = k.advance(1, 100 * U);
            k.finish(1, None);
            r.is_err()
        });
        let k = Arc::clone(&kernel);
        let failing = std::thread::spawn(move || {
            k.enter(0).unwrap();
            k.advance(0, 10 * U).unwrap();
            k.finish(0, Some("broke".into()));
        });
        let result = kernel.run();
        failing.join().unwrap();
        assert!(other.join().unwrap(), "the other rank saw the abort");
        assert_eq!(result.unwrap_err(), "rank 0: broke");
    }
}
