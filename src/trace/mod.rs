//! Tracing (`DLB_TRACE=FILE`, `Builder::trace`): what each rank records
//! while it runs, and how the records become one trace file at finalize.
//!
//! # What is recorded
//! Per rank, in memory, one fixed-size [`Record`] per event:
//! - every chunk `give_more` handed out, with its positions and how it was
//!   obtained ([`How`]), from the call that returned it to the next call
//!   (when the program finished it);
//! - every wait for work (own range empty, looking for more), and whether
//!   it found work;
//! - every steal attempt on a node-mate, or with direct steals on a rank of
//!   another node (victim, outcome, units, latency),
//!   every take started on a rank of another node (victim, how long the
//!   start took) and every answer to one (victim, units or none, time since
//!   the take started); where knocks replace takes (see the protocol's
//!   "Knocks"), every knock started (victim, how long the start took) and,
//!   on the giver, every gift (knocker, units); a chunk of units that came
//!   from another node is `remote` whatever brought them (a rank's stash
//!   does not record where units came from), so units that a gift's swap
//!   brought back to its giver make a `remote` chunk there too, after no
//!   take or knock of its own;
//! - the "no more" answer;
//! - the setup of each run, with its number of positions `N`.
//!
//! Positions are the run's `0..N`: the job IDs of `setup`; for
//! `setup_color`, job `p` of the colors laid end to end; for `setup_rr`,
//! the position before the round-robin mapping. Every position of a run
//! appears in exactly one chunk record.
//!
//! # Cost
//! Off (the default), a `give_more` tests whether it traces, a few times
//! (the `Option`s of the recorder and of the protocol's steal log). On,
//! a call served from chunks claimed ahead reads the clock once, a call
//! that visits the shared range twice (more while it waits), and each
//! appends a 48-byte record; each steal attempt, take and knock reads the
//! clock twice more, each gift once. At finalize rank 0 holds one round of the gathered records
//! at a time (at most 256 MiB) and writes them as it goes.
//! `benches/latency.rs` measures the claim latency with tracing on and off.
//!
//! # Time
//! Times are nanoseconds since an origin common to all ranks: the exit of a
//! barrier at init. On one node, ranks leave a barrier within microseconds
//! of each other; across nodes, within a few network latencies (a barrier
//! takes O(log P) of them). Each rank then times by its own monotonic clock
//! (`crate::clock`, virtual in a simulation); drift between the clocks of
//! different machines over the run is not corrected.
//!
//! # The file
//! At `finalize`, the records are gathered to rank 0, which writes one
//! Chrome trace-event JSON file (`chrome.rs`) that Perfetto and
//! chrome://tracing open: one process per node, one thread per rank, and
//! the run's provenance in `otherData`. A `Dlb` dropped without `finalize`
//! leaves the empty file rank 0 created at init. The `Dlb`s a program
//! initializes one after another write `FILE`, then `FILE.1`, `FILE.2`, ...
//! (numbered in the order of init, agreed by the ranks of each). `Dlb`s on
//! disjoint communicators that trace at the same time would write the same
//! file: give them different names with `Builder::trace`.

pub(crate) mod chrome;
pub(crate) mod file;

use crate::clock::Instant;
use std::ops::Range;
use std::path::PathBuf;

/// How a chunk was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// Claimed from the rank's own range.
    Claim = 0,
    /// From chunks claimed ahead (or a unit) earlier.
    Ahead = 1,
    /// Stolen from a node-mate.
    Steal = 2,
    /// Units that came from another node (an answer to a take, a gift,
    /// or a direct steal).
    Remote = 3,
    /// The static variant's block.
    Static = 5,
}

impl How {
    fn from_code(code: u64) -> Option<How> {
        Some(match code {
            0 => How::Claim,
            1 => How::Ahead,
            2 => How::Steal,
            3 => How::Remote,
            5 => How::Static,
            _ => return None,
        })
    }

    /// The event's name in the trace.
    pub(crate) fn name(self) -> &'static str {
        match self {
            How::Claim => "claim",
            How::Ahead => "ahead",
            How::Steal => "steal",
            How::Remote => "remote",
            How::Static => "static",
        }
    }
}

/// The outcome of a steal attempt (on a node-mate, or a direct steal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Units taken.
    Success = 0,
    /// The victim's range was empty.
    Empty = 1,
    /// Lost every CAS to the owner or other thieves.
    Retry = 2,
}

impl Outcome {
    const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Empty, Outcome::Retry];

    fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Empty => "empty",
            Outcome::Retry => "retry",
        }
    }
}

/// What a record is about; the meaning of its words `a` and `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A chunk: positions `a..b`, obtained as `How`.
    Jobs(How),
    /// A wait for work; `a` is 1 when it found work.
    Idle,
    /// A steal attempt on rank `a` (a node-mate, or with direct steals a
    /// rank of another node); `b` is the units taken.
    Steal(Outcome),
    /// A take started on rank `a` of another node (`t0..t1`: the start).
    RemoteTake,
    /// Rank `a` of another node answered a take started at `t0` with `b`
    /// units (0: none) at `t1`.
    RemoteAnswer,
    /// A knock started on rank `a` of another node (`t0..t1`: the start).
    Knock,
    /// `b` units given to rank `a` of another node, whose knock this rank
    /// read (an instant: when the gift's swap started).
    Gift,
    /// "No more".
    NoMore,
    /// A run was set up with `a` positions.
    Setup,
}

impl Kind {
    fn code(self) -> u64 {
        match self {
            Kind::Jobs(how) => how as u64,
            Kind::Idle => 10,
            Kind::Steal(o) => 20 + o as u64,
            Kind::RemoteTake => 30,
            Kind::RemoteAnswer => 31,
            Kind::Knock => 32,
            Kind::Gift => 33,
            Kind::NoMore => 40,
            Kind::Setup => 50,
        }
    }

    fn from_code(code: u64) -> Option<Kind> {
        Some(match code {
            0..=9 => Kind::Jobs(How::from_code(code)?),
            10 => Kind::Idle,
            20..=22 => Kind::Steal(Outcome::ALL[(code - 20) as usize]),
            30 => Kind::RemoteTake,
            31 => Kind::RemoteAnswer,
            32 => Kind::Knock,
            33 => Kind::Gift,
            40 => Kind::NoMore,
            50 => Kind::Setup,
            _ => return None,
        })
    }
}

/// One event of one rank: times in ns since the common origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) kind: Kind,
    /// The run (0 for the first `setup` after init).
    pub(crate) run: u64,
    pub(crate) t0: u64,
    /// End (equal to `t0` for instants).
    pub(crate) t1: u64,
    pub(crate) a: u64,
    pub(crate) b: u64,
}

/// Words per record when gathered.
pub(crate) const WORDS: usize = 6;

impl Record {
    fn to_words(self) -> [u64; WORDS] {
        [self.kind.code(), self.run, self.t0, self.t1, self.a, self.b]
    }

    /// The records in `words` (as gathered from one rank); `None` if they
    /// are not whole records of known kinds.
    pub(crate) fn from_words(words: &[u64]) -> Option<Vec<Record>> {
        if words.len() % WORDS != 0 {
            return None;
        }
        words
            .chunks(WORDS)
            .map(|w| {
                Some(Record {
                    kind: Kind::from_code(w[0])?,
                    run: w[1],
                    t0: w[2],
                    t1: w[3],
                    a: w[4],
                    b: w[5],
                })
            })
            .collect()
    }
}

/// A request for units that a rank starts on another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// A take: a hunger mark swapped into the victim's offer.
    Take,
    /// A knock: a put into the victim's knock word.
    Knock,
}

/// The steal attempts the protocol recorded since the dispenser last took
/// them (the protocol does not know runs or chunks).
pub(crate) struct StealLog {
    origin: Instant,
    records: Vec<Record>,
}

impl StealLog {
    pub(crate) fn new(origin: Instant) -> StealLog {
        StealLog {
            origin,
            records: Vec::new(),
        }
    }

    /// Now, as the protocol's records time it.
    pub(crate) fn now(&self) -> u64 {
        since(self.origin, Instant::now())
    }

    /// A steal attempt on `victim` that began at `t0` (from [`Self::now`]).
    pub(crate) fn steal(&mut self, t0: u64, victim: usize, outcome: Outcome, units: u64) {
        let t1 = self.now();
        self.push(Kind::Steal(outcome), t0, t1, victim as u64, units);
    }

    /// A take or a knock (`what`) on `victim` (another node) whose start
    /// began at `t0`; the record spans the start.
    pub(crate) fn started(&mut self, what: Start, t0: u64, victim: usize) {
        let t1 = self.now();
        let kind = match what {
            Start::Take => Kind::RemoteTake,
            Start::Knock => Kind::Knock,
        };
        self.push(kind, t0, t1, victim as u64, 0);
    }

    /// `victim` answered the take started at `t0` with `units` (0: none).
    pub(crate) fn answer(&mut self, t0: u64, victim: usize, units: u64) {
        let t1 = self.now();
        self.push(Kind::RemoteAnswer, t0, t1, victim as u64, units);
    }

    /// `units` given, now, to `knocker` (another node).
    pub(crate) fn gift(&mut self, knocker: usize, units: u64) {
        let now = self.now();
        self.push(Kind::Gift, now, now, knocker as u64, units);
    }

    fn push(&mut self, kind: Kind, t0: u64, t1: u64, a: u64, b: u64) {
        self.records.push(Record {
            kind,
            run: 0,
            t0,
            t1,
            a,
            b,
        });
    }
}

/// One rank's recorder, owned by its dispenser.
pub(crate) struct Recorder {
    /// Where rank 0 writes the trace.
    pub(crate) path: PathBuf,
    origin: Instant,
    /// Runs begun so far (the current one is `runs - 1`).
    runs: u64,
    /// The chunk handed out last, not yet finished: how, when, positions.
    open: Option<(How, u64, Range<u64>)>,
    records: Vec<Record>,
}

impl Recorder {
    /// A recorder whose times count from `origin` (the same moment on
    /// every rank).
    pub(crate) fn new(path: PathBuf, origin: Instant) -> Recorder {
        Recorder {
            path,
            origin,
            runs: 0,
            open: None,
            records: Vec::new(),
        }
    }

    /// The common origin.
    #[cfg(test)]
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    /// Now, in ns since the origin.
    pub(crate) fn now(&self) -> u64 {
        since(self.origin, Instant::now())
    }

    /// A run of `positions` positions begins (a chunk still open, of a run
    /// left unfinished by an error, ends now).
    pub(crate) fn begin_run(&mut self, positions: u64) {
        let now = self.now();
        self.enter(now);
        self.runs += 1;
        self.push(Kind::Setup, now, now, positions, 0);
    }

    fn run(&self) -> u64 {
        self.runs.saturating_sub(1)
    }

    /// `give_more` was entered at `now`: the chunk handed out last is done.
    pub(crate) fn enter(&mut self, now: u64) {
        if let Some((how, t0, pos)) = self.open.take() {
            self.push(Kind::Jobs(how), t0, now, pos.start, pos.end);
        }
    }

    /// `give_more` returns `pos` at `now`, obtained as `how`.
    pub(crate) fn handed(&mut self, how: How, pos: Range<u64>, now: u64) {
        self.open = Some((how, now, pos));
    }

    /// `give_more` answered "no more" at `now`.
    pub(crate) fn no_more(&mut self, now: u64) {
        self.push(Kind::NoMore, now, now, 0, 0);
    }

    /// A wait for work from `t0` to `t1`.
    pub(crate) fn idle(&mut self, t0: u64, t1: u64, found: bool) {
        self.push(Kind::Idle, t0, t1, u64::from(found), 0);
    }

    /// Takes the protocol's steal records into the current run.
    pub(crate) fn take_steals(&mut self, log: &mut StealLog) {
        let run = self.run();
        self.records
            .extend(log.records.drain(..).map(|r| Record { run, ..r }));
    }

    fn push(&mut self, kind: Kind, t0: u64, t1: u64, a: u64, b: u64) {
        self.records.push(Record {
            kind,
            run: self.run(),
            t0,
            t1,
            a,
            b,
        });
    }

    /// Every record so far, taken out of the recorder (a chunk still
    /// open, of a run left unfinished, ends now).
    pub(crate) fn take_records(&mut self) -> Vec<Record> {
        let now = self.now();
        self.enter(now);
        std::mem::take(&mut self.records)
    }
}

// Not derived: a `Dlb`'s Debug output would list every record.
impl std::fmt::Debug for StealLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StealLog")
            .field("records", &self.records.len())
            .finish()
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("runs", &self.runs)
            .field("records", &self.records.len())
            .finish()
    }
}

fn since(origin: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
}

/// Where the trace goes: `DLB_TRACE`, unless the builder said.
pub(crate) fn path_from_env() -> Option<PathBuf> {
    std::env::var_os("DLB_TRACE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_words() {
        let mut r = Recorder::new(PathBuf::from("t.json"), Instant::now());
        r.begin_run(6);
        r.enter(5);
        r.handed(How::Claim, 0..4, 10);
        r.enter(30);
        r.handed(How::Ahead, 4..6, 31);
        r.idle(40, 55, false);
        r.no_more(55);
        let mut log = StealLog::new(r.origin());
        log.steal(1, 3, Outcome::Retry, 0);
        log.started(Start::Take, 2, 7);
        log.started(Start::Knock, 3, 5);
        log.gift(4, 2);
        r.begin_run(6);
        r.take_steals(&mut log);
        let words: Vec<u64> = r.take_records().iter().flat_map(|r| r.to_words()).collect();
        let mut back = Record::from_words(&words).expect("whole records");
        assert_eq!(back.len(), 10);
        let setups: Vec<Record> = back
            .iter()
            .copied()
            .filter(|r| r.kind == Kind::Setup)
            .collect();
        assert_eq!(
            setups.iter().map(|r| (r.run, r.a)).collect::<Vec<_>>(),
            [(0, 6), (1, 6)]
        );
        back.retain(|r| r.kind != Kind::Setup);
        assert_eq!(
            (back[0].kind, back[0].t0, back[0].t1, back[0].a, back[0].b),
            (Kind::Jobs(How::Claim), 10, 30, 0, 4)
        );
        assert_eq!(back[1].kind, Kind::Idle);
        assert_eq!(back[2].kind, Kind::NoMore);
        // The chunk still open when run 1 began belongs to run 0.
        assert_eq!(
            (back[3].kind, back[3].run, back[3].a, back[3].b),
            (Kind::Jobs(How::Ahead), 0, 4, 6)
        );
        assert_eq!(
            (back[4].kind, back[4].run, back[4].a),
            (Kind::Steal(Outcome::Retry), 1, 3)
        );
        assert_eq!((back[5].kind, back[5].a), (Kind::RemoteTake, 7));
        assert_eq!(
            (back[6].kind, back[6].run, back[6].t0, back[6].a),
            (Kind::Knock, 1, 3, 5)
        );
        assert_eq!((back[7].kind, back[7].a, back[7].b), (Kind::Gift, 4, 2));
        assert_eq!(back[7].t0, back[7].t1);
        assert!(Record::from_words(&words[1..]).is_none());
        assert!(Record::from_words(&[99, 0, 0, 0, 0, 0]).is_none());
    }
}
