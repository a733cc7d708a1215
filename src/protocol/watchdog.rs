//! The hang watchdog (`DLB_TIMEOUT`, `Builder::timeout`): off by default,
//! and then it costs nothing. When on, every rank keeps a heartbeat word
//! (`Slot::Heartbeat`): it adds 2 (or stores the sum, below) at most every
//! `timeout / 8` while it calls into dlb, and keeps the word odd while it
//! waits inside dlb (for work in `give_more`, for the others in `setup`),
//! even while it works outside.
//!
//! A rank that has waited longer than half the timeout reads the others'
//! heartbeats (request-based reads that it polls, so it never blocks on a
//! busy rank; a thief blocked in a direct steal, which is for passive RMA,
//! checks only once the steal returned). A rank whose heartbeat did not
//! change for the whole timeout, or that did not even answer the read for
//! that long (on software RMA a rank outside MPI serves nothing), is
//! *silent*: it stopped calling dlb while others wait for it. A rank that
//! waited longer than the timeout and sees a silent rank prints what it
//! knows (its run, its range, the jobs the run still misses, every rank's
//! last heartbeat) to stderr, waits a second so the other waiting ranks
//! can print theirs, and aborts the job with `MPI_Abort`. So does a rank
//! that waited four timeouts while every rank waited too: no rank holds
//! work, yet the run did not end.
//!
//! Where starting an atomic waits for its target (Open MPI 4.1's osc/ucx
//! over software RMA, where init chose knocks: the protocol's module doc,
//! "Knocks"), an atomic read would block the reader inside its start until
//! the silent rank came back, and the watchdog would never fire. There the
//! heartbeat is a word no atomic touches, like `Waiting`: its rank stores
//! it ([`Atomics::publish`]) and the others read it with looks (`MPI_Rget`,
//! which takes no lock and returns at once); rank 0's done count is then
//! read only by rank 0. A look's value is a hint (one that overlaps a store
//! may read any value): a wrong one makes a rank look alive or waiting
//! until the next read, 100 ms later at most. Where knocks are not chosen
//! (direct steals; a window whose memory model is not unified) the reads
//! stay atomics. The protocol's own starts on another node's words come
//! after looks that found their target in `give_more` (counts) or go to a
//! rank that is in the run and has not been told (gifts, notices, a flat
//! end's flush); one
//! that reaches a rank which went silent just after it served the look
//! waits inside MPI with that rank, and then that waiting rank's watchdog
//! cannot fire (the others' still do).
//!
//! A job longer than the timeout looks like a hang: set the timeout above
//! the longest job. Collectives outside `setup` (statistics, finalize) and
//! the static variant (no window) are not watched.

use super::Protocol;
use crate::atomics::{Atomics, Pending, Slot, Update};
use crate::clock::Instant;
use crate::error::Result;
use std::fmt::Write as _;
use std::time::Duration;

/// What a waiting rank knows about one other rank's heartbeat.
#[derive(Debug, Default)]
struct Seen {
    /// The last value read, and since when it has not changed.
    value: Option<(u64, Instant)>,
    /// A read in flight, and when it started.
    read: Option<(Pending, Instant)>,
}

/// One rank's watchdog state (see the module doc).
#[derive(Debug)]
pub(crate) struct Watchdog {
    timeout: Duration,
    last_beat: Instant,
    /// When the current wait inside dlb began.
    waiting_since: Option<Instant>,
    /// What the current wait is (for the report).
    waiting_in: &'static str,
    seen: Vec<Seen>,
    /// Rank 0's `Done`, read along with the heartbeats.
    done: Seen,
    /// When the heartbeats are read next.
    next_sample: Instant,
    /// Ends the job (`MPI_Abort` in the library) after the report.
    on_hang: fn() -> !,
    /// This rank's heartbeat, where it is published (see the module doc).
    beats: u64,
}

impl Watchdog {
    pub(crate) fn new(timeout: Duration, ranks: usize, on_hang: fn() -> !) -> Watchdog {
        let now = Instant::now();
        Watchdog {
            timeout,
            last_beat: now,
            waiting_since: None,
            waiting_in: "",
            seen: (0..ranks).map(|_| Seen::default()).collect(),
            done: Seen::default(),
            next_sample: now,
            on_hang,
            beats: 0,
        }
    }

    fn beat_due(&self, now: Instant) -> bool {
        now.duration_since(self.last_beat) >= self.timeout / 8
    }
}

/// A rank's state as its heartbeat tells it.
fn state(value: u64) -> &'static str {
    if value % 2 == 1 {
        "waiting in dlb"
    } else {
        "outside dlb"
    }
}

impl<A: Atomics> Protocol<A> {
    /// Whether heartbeats are stores read with looks rather than atomics
    /// (see the module doc): where ranks knock, which init decides once,
    /// the same on every rank, before any beat.
    fn heartbeats_published(&self) -> bool {
        self.knocks_now()
    }

    /// Adds `n` to this rank's heartbeat word (see the module doc for what
    /// adding 1, 2 and 3 means): an add, or where heartbeats are published,
    /// a store of the new value.
    fn beat(&mut self, n: u64) -> Result<()> {
        let published = self.heartbeats_published();
        let Some(w) = &mut self.watchdog else {
            return Ok(());
        };
        w.beats = w.beats.wrapping_add(n);
        if published {
            self.atomics.publish(Slot::Heartbeat, w.beats)?;
        } else {
            self.atomics
                .fetch_add(self.atomics.rank(), Slot::Heartbeat, n)?;
        }
        Ok(())
    }

    /// Turns the watchdog on (`Some`) or off; `on_hang` ends the job after
    /// the report.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>, on_hang: fn() -> !) {
        let ranks = self.atomics.size();
        self.watchdog = timeout.map(|t| Box::new(Watchdog::new(t, ranks, on_hang)));
    }

    /// Whether the watchdog is on.
    pub(crate) fn watching(&self) -> bool {
        self.watchdog.is_some()
    }

    /// Called at every `give_more`: a heartbeat when one is due.
    pub(crate) fn alive(&mut self) -> Result<()> {
        let Some(w) = &mut self.watchdog else {
            return Ok(());
        };
        let now = Instant::now();
        if w.beat_due(now) {
            w.last_beat = now;
            self.beat(2)?;
        }
        Ok(())
    }

    /// This rank starts waiting inside dlb (`what`: for work, in setup).
    pub(crate) fn wait_begins(&mut self, what: &'static str) -> Result<()> {
        let Some(w) = &mut self.watchdog else {
            return Ok(());
        };
        let now = Instant::now();
        w.last_beat = now;
        w.waiting_since = Some(now);
        w.waiting_in = what;
        for seen in &mut w.seen {
            seen.value = None;
        }
        // A beat, and odd from now on.
        self.beat(3)?;
        Ok(())
    }

    /// This rank stops waiting. Reads still in flight complete later, with
    /// the protocol's other operations nobody waits for.
    pub(crate) fn wait_ends(&mut self) -> Result<()> {
        let Some(w) = &mut self.watchdog else {
            return Ok(());
        };
        w.waiting_since = None;
        let reads = w
            .seen
            .iter_mut()
            .chain(std::iter::once(&mut w.done))
            .filter_map(|s| s.read.take().map(|(p, _)| p));
        self.in_flight.extend(reads);
        self.beat(1)?;
        Ok(())
    }

    /// Called in every round of a wait: beats, watches the others, and
    /// aborts the job on a hang (see the module doc).
    pub(crate) fn watch(&mut self) -> Result<()> {
        let Some(w) = &mut self.watchdog else {
            return Ok(());
        };
        let Some(since) = w.waiting_since else {
            return Ok(());
        };
        let now = Instant::now();
        if w.beat_due(now) {
            w.last_beat = now;
            self.beat(2)?;
        }
        let looks = self.heartbeats_published();
        let w = self.watchdog.as_mut().expect("checked above");
        let waited = now.duration_since(since);
        if waited < w.timeout / 2 || now < w.next_sample {
            return Ok(());
        }
        w.next_sample = now + (w.timeout / 16).min(Duration::from_millis(100));
        let me = self.atomics.rank();
        for (rank, seen) in w.seen.iter_mut().enumerate() {
            if rank != me {
                sample(&self.atomics, rank, Slot::Heartbeat, looks, seen, now)?;
            }
        }
        if !looks {
            sample(&self.atomics, 0, Slot::Done, false, &mut w.done, now)?;
        } else if me == 0 {
            w.done.value = Some((self.atomics.peek(Slot::Done)?, now));
        }
        if waited < w.timeout {
            return Ok(());
        }
        let silent: Vec<usize> = (0..w.seen.len())
            .filter(|&r| r != me && silent_for(&w.seen[r], now) >= Some(w.timeout))
            .collect();
        let all_wait = w
            .seen
            .iter()
            .enumerate()
            .all(|(r, s)| r == me || s.value.is_some_and(|(v, _)| v % 2 == 1));
        let on_hang = w.on_hang;
        if !silent.is_empty() || (all_wait && waited >= 4 * w.timeout) {
            let report = self.hang_report(&silent, waited);
            eprint!("{report}");
            // Let the other waiting ranks print theirs.
            crate::clock::sleep(Duration::from_secs(1));
            on_hang();
        }
        Ok(())
    }

    /// What this rank knows, for the hang report.
    fn hang_report(&self, silent: &[usize], waited: Duration) -> String {
        let w = self.watchdog.as_ref().expect("only called while watching");
        let me = self.atomics.rank();
        let now = Instant::now();
        let mut out = String::new();
        let names: Vec<String> = silent.iter().map(|r| format!("rank {r}")).collect();
        let _ = writeln!(
            out,
            "dlb: DLB_TIMEOUT: rank {me} waited {:.1} s {} (timeout {:.1} s); {}",
            waited.as_secs_f64(),
            w.waiting_in,
            w.timeout.as_secs_f64(),
            if silent.is_empty() {
                "every rank waits inside dlb, yet the run does not end (a dlb bug: please report)"
                    .to_owned()
            } else {
                format!(
                    "silent: {} (no call into dlb for over {:.1} s while others wait)",
                    names.join(", "),
                    w.timeout.as_secs_f64()
                )
            }
        );
        let done = match w.done.value {
            Some((d, _)) => format!(
                "{} of {} jobs of this run counted at rank 0{}",
                d.wrapping_sub(self.done_base),
                self.total,
                if self.flat {
                    " from node 1 (a run across two nodes ends flat: node 0's jobs are counted \
                     at node 1's leader)"
                } else if self.multi_node() {
                    " from other nodes (rank 0's own node's jobs wait in its shared memory until the end)"
                } else {
                    ""
                }
            ),
            None if self.heartbeats_published() => {
                "rank 0's done counter not read (starts wait for their target on this MPI)"
                    .to_owned()
            }
            None => "rank 0's done counter did not answer".to_owned(),
        };
        let _ = writeln!(
            out,
            "dlb:   rank {me}: run {} of {} jobs, {done}; own range {:?}, {} units held, {} jobs \
             unreported",
            self.finish_target,
            self.total,
            self.own.start()..self.own.end(),
            self.stash.iter().map(|s| s.end - s.start).sum::<u64>(),
            self.unreported
        );
        for (rank, seen) in w.seen.iter().enumerate().filter(|&(r, _)| r != me) {
            let what = match (&seen.value, &seen.read) {
                (Some((v, t)), _) => format!(
                    "{}, heartbeat {} unchanged for {:.1} s",
                    state(*v),
                    v / 2,
                    now.duration_since(*t).as_secs_f64()
                ),
                (None, Some((_, t))) => format!(
                    "no answer to a read for {:.1} s (outside MPI?)",
                    now.duration_since(*t).as_secs_f64()
                ),
                (None, None) => "not read".to_owned(),
            };
            let _ = writeln!(out, "dlb:   rank {me} heard from rank {rank}: {what}");
        }
        out
    }
}

/// Polls `seen`'s read of `rank`'s `slot`, or starts one: a look (see the
/// module doc) if `look`, else an atomic read.
fn sample<A: Atomics>(
    atomics: &A,
    rank: usize,
    slot: Slot,
    look: bool,
    seen: &mut Seen,
    now: Instant,
) -> Result<()> {
    if let Some((pending, _)) = &mut seen.read {
        let Some(value) = pending.poll()? else {
            return Ok(());
        };
        seen.read = None;
        if seen.value.is_none_or(|(v, _)| v != value) {
            seen.value = Some((value, now));
        }
    }
    let read = if look {
        atomics.start_look(rank, slot)?
    } else {
        atomics.start(rank, slot, Update::Read)?
    };
    seen.read = Some((read, now));
    Ok(())
}

/// How long `seen` shows no sign of life: since its heartbeat took the
/// value every later read returned (or still unanswered), else since its
/// first read went unanswered; `None` before anything is known.
fn silent_for(seen: &Seen, now: Instant) -> Option<Duration> {
    seen.value
        .map(|(_, t)| t)
        .or(seen.read.as_ref().map(|(_, t)| *t))
        .map(|t| now.duration_since(t))
}

#[cfg(all(test, not(any(dlb_loom, dlb_shuttle))))]
mod tests {
    use super::*;
    use crate::atomics::LocalAtomics;
    use crate::protocol::cross::Looks;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    const TIMEOUT: Duration = Duration::from_millis(40);

    fn fired() -> ! {
        panic!("the watchdog fired")
    }

    /// Two ranks with the watchdog on; rank 0 starts waiting.
    fn pair() -> (Protocol<LocalAtomics>, Protocol<LocalAtomics>) {
        let mut ranks = LocalAtomics::group(2).into_iter().map(|a| {
            let mut p = Protocol::new(a, 1);
            p.set_timeout(Some(TIMEOUT), fired);
            p
        });
        let (mut waiting, other) = (ranks.next().unwrap(), ranks.next().unwrap());
        waiting.wait_begins("in a test").unwrap();
        (waiting, other)
    }

    /// Two ranks on two nodes (operations across them are served only when
    /// their target calls `progress`), with heartbeats published and read
    /// with looks where init chose knocks (`knocks`), and then no atomic
    /// on a heartbeat, nor on rank 0's done count (an error if made: where
    /// knocks are made, such a start would wait for a silent target); rank
    /// 0 starts waiting.
    fn pair_on_two_nodes(knocks: bool) -> (Protocol<LocalAtomics>, Protocol<LocalAtomics>) {
        let mut ranks = LocalAtomics::nodes(2, 1).into_iter().map(|mut a| {
            if knocks {
                a = a.with_atomics_refused(&[Slot::Heartbeat, Slot::Done]);
            }
            let mut p = Protocol::new(a, 1);
            p.set_timeout(Some(TIMEOUT), fired);
            if knocks {
                p.set_looks(Looks::First);
            }
            assert_eq!(p.heartbeats_published(), knocks);
            p
        });
        let (mut waiting, other) = (ranks.next().unwrap(), ranks.next().unwrap());
        waiting.wait_begins("in a test").unwrap();
        (waiting, other)
    }

    /// Calls `waiting.watch()` (and `between` after each call) for `rounds`
    /// rounds of 5 ms; whether the watchdog fired.
    fn watch_for(
        waiting: &mut Protocol<LocalAtomics>,
        rounds: u32,
        mut between: impl FnMut(),
    ) -> bool {
        catch_unwind(AssertUnwindSafe(|| {
            for _ in 0..rounds {
                waiting.watch().unwrap();
                between();
                std::thread::sleep(Duration::from_millis(5));
            }
        }))
        .is_err()
    }

    #[test]
    fn a_rank_that_never_calls_dlb_is_found() {
        let (mut waiting, _silent) = pair();
        assert!(watch_for(&mut waiting, 100, || {}));
    }

    #[test]
    fn a_rank_that_keeps_calling_dlb_is_not_a_hang() {
        let (mut waiting, mut busy) = pair();
        assert!(!watch_for(&mut waiting, 40, || busy.alive().unwrap()));
    }

    #[test]
    fn ranks_that_all_wait_for_long_are_a_hang() {
        let (mut waiting, mut also) = pair();
        also.wait_begins("in a test").unwrap();
        assert!(watch_for(&mut waiting, 200, || also.watch().unwrap()));
    }

    #[test]
    fn the_heartbeat_is_odd_while_waiting() {
        let (mut waiting, other) = pair();
        let beat = |p: &Protocol<LocalAtomics>| other.atomics.load(p.me(), Slot::Heartbeat);
        assert_eq!(beat(&waiting).unwrap() % 2, 1);
        waiting.wait_ends().unwrap();
        assert_eq!(beat(&waiting).unwrap() % 2, 0);
    }

    #[test]
    fn a_silent_rank_on_another_node_is_found_with_either_heartbeat() {
        for knocks in [false, true] {
            let (mut waiting, _silent) = pair_on_two_nodes(knocks);
            assert!(watch_for(&mut waiting, 100, || {}), "knocks: {knocks}");
        }
    }

    #[test]
    fn a_rank_on_another_node_that_keeps_calling_dlb_is_not_a_hang_with_either_heartbeat() {
        for knocks in [false, true] {
            let (mut waiting, mut busy) = pair_on_two_nodes(knocks);
            let fired = watch_for(&mut waiting, 40, || {
                busy.alive().unwrap();
                busy.atomics.progress().unwrap();
            });
            assert!(!fired, "knocks: {knocks}");
        }
    }

    #[test]
    fn a_published_heartbeat_is_odd_while_waiting_and_read_by_looks() {
        let (mut waiting, other) = pair_on_two_nodes(true);
        let look = |p: &Protocol<LocalAtomics>| {
            let mut read = other.atomics.start_look(p.me(), Slot::Heartbeat).unwrap();
            p.atomics.progress().unwrap();
            read.poll().unwrap().expect("served")
        };
        assert_eq!(look(&waiting) % 2, 1);
        waiting.wait_ends().unwrap();
        assert_eq!(look(&waiting) % 2, 0);
    }
}
