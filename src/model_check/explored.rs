//! What a checker's schedules explored: steals, takes across nodes that
//! brought units, and the protocol paths of [`Path`], summed over every
//! schedule in plain std atomics (the checkers do not see them). A test
//! takes a snapshot before and after its models, prints the difference, and
//! asserts that what its models must reach was reached: a checker whose
//! schedules never take a path checks nothing there.

use crate::protocol::{Counters, Path, Paths};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Something a schedule can do that a test may require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A successful steal or a take that brought units.
    Steal,
    /// A take from another node that brought units.
    RemoteSteal,
    /// A path through the protocol.
    Path(Path),
}

const EVENTS: usize = 2 + Path::ALL.len();

impl Event {
    fn index(self) -> usize {
        match self {
            Event::Steal => 0,
            Event::RemoteSteal => 1,
            Event::Path(p) => 2 + p.index(),
        }
    }

    fn all() -> impl Iterator<Item = Event> {
        [Event::Steal, Event::RemoteSteal]
            .into_iter()
            .chain(Path::ALL.into_iter().map(Event::Path))
    }
}

/// The paths every model must reach, on any level.
pub(super) const EVERYWHERE: [Event; 2] = [Event::Steal, Event::Path(Path::Install)];

/// Events over all schedules of the process so far.
static TOTALS: [AtomicU64; EVENTS] = [const { AtomicU64::new(0) }; EVENTS];

/// Adds one rank's counters and paths of one run to the totals.
pub(super) fn record(counters: Counters, paths: Paths) {
    TOTALS[Event::Steal.index()].fetch_add(counters.steals, Relaxed);
    TOTALS[Event::RemoteSteal.index()].fetch_add(counters.remote_steals, Relaxed);
    for path in Path::ALL {
        TOTALS[Event::Path(path).index()].fetch_add(paths.count(path), Relaxed);
    }
}

/// Counts of every event, at a moment or between two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Explored([u64; EVENTS]);

impl Explored {
    /// The totals now.
    pub(super) fn now() -> Explored {
        Explored(std::array::from_fn(|i| TOTALS[i].load(Relaxed)))
    }

    /// What happened since `before`.
    pub(super) fn since(before: Explored) -> Explored {
        let now = Explored::now();
        Explored(std::array::from_fn(|i| now.0[i] - before.0[i]))
    }

    pub(super) fn count(&self, event: Event) -> u64 {
        self.0[event.index()]
    }

    /// Asserts that every one of `required` happened at least once.
    pub(super) fn require(&self, what: &str, required: &[Event]) {
        let missed: Vec<Event> = required
            .iter()
            .copied()
            .filter(|&e| self.count(e) == 0)
            .collect();
        assert!(
            missed.is_empty(),
            "{what}: no schedule reached {missed:?} (explored: {self})"
        );
    }
}

impl fmt::Display for Explored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for event in Event::all() {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            match event {
                Event::Path(p) => write!(f, "{p:?} {}", self.count(event))?,
                _ => write!(f, "{event:?} {}", self.count(event))?,
            }
        }
        Ok(())
    }
}

/// Runs `models` and asserts that their schedules reached every one of
/// `required`; returns what they explored.
pub(super) fn require(what: &str, required: &[Event], models: impl FnOnce()) -> Explored {
    let before = Explored::now();
    models();
    let explored = Explored::since(before);
    explored.require(what, required);
    explored
}

/// The same, and prints what the schedules explored under `what`.
pub(super) fn explore(what: &str, required: &[Event], models: impl FnOnce()) -> Explored {
    let explored = require(what, required, models);
    println!("{what}: explored {explored}");
    explored
}
