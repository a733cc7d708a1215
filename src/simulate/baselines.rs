//! The baselines in the simulator, under the same latency model as dlb:
//! a static block split, one global counter (a fetch-and-add on rank 0's
//! word, which rank 0 also computes behind), and master-worker (rank 0
//! hands out one chunk per request message and computes nothing). Each is
//! a small event loop of its own: they have no protocol to run.

use super::latency::CrossModel;
use super::{Outcome, Scenario};
use crate::error::{Error, Result};
use crate::mapping::split::block;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Every rank runs its block of the DLB split; no communication.
pub(crate) fn static_split(sc: &Scenario) -> Result<Outcome> {
    let p = sc.ranks as u64;
    let makespan = (0..p)
        .map(|r| block(sc.jobs, p, r).map(|i| sc.cost(i)).sum::<u64>())
        .max()
        .unwrap_or(0);
    Ok(Outcome::plain(makespan, sc.bound_ns(), 0))
}

/// Hands out chunks in order and records when each rank is done.
struct Dealer<'a> {
    sc: &'a Scenario,
    next: u64,
    end: Vec<u64>,
    last_job_done: u64,
    events: BinaryHeap<Reverse<(u64, u64, usize)>>,
    seq: u64,
}

impl<'a> Dealer<'a> {
    fn new(sc: &'a Scenario) -> Dealer<'a> {
        Dealer {
            sc,
            next: 0,
            end: vec![0; sc.ranks],
            last_job_done: 0,
            events: BinaryHeap::new(),
            seq: 0,
        }
    }

    fn push(&mut self, time: u64, rank: usize) {
        self.seq += 1;
        self.events.push(Reverse((time, self.seq, rank)));
    }

    /// `rank` receives its answer at `time`: a chunk, after which it asks
    /// again (an event), or "no more" (`false`).
    fn answer(&mut self, rank: usize, time: u64) -> bool {
        if self.next >= self.sc.jobs {
            self.end[rank] = time;
            return false;
        }
        let chunk = self.next..(self.next + self.sc.maxjobs).min(self.sc.jobs);
        self.next = chunk.end;
        let cost: u64 = chunk.map(|i| self.sc.cost(i)).sum();
        self.last_job_done = self.last_job_done.max(time + cost);
        self.push(time + cost, rank);
        true
    }

    fn outcome(&self) -> Outcome {
        let makespan = self.end.iter().copied().max().unwrap_or(0);
        let termination = makespan.saturating_sub(self.last_job_done);
        Outcome::plain(makespan, self.sc.bound_ns(), termination)
    }
}

/// One `MPI_Fetch_and_op` counter on rank 0. On one node a shared-memory
/// atomic; across nodes every rank's add (rank 0's own aside) crosses the
/// network: under hardware RDMA served by rank 0's adapter, under software
/// RMA only when rank 0 enters MPI (between its own jobs, and after it is
/// done).
pub(crate) fn global_counter(sc: &Scenario) -> Result<Outcome> {
    let l = sc.latency;
    let one_node = sc.per_node >= sc.ranks;
    let mut d = Dealer::new(sc);
    // Rank 0's word: free again at; requests waiting for rank 0 (software
    // RMA): (arrival, rank); when rank 0 was told "no more".
    let mut free = 0u64;
    let mut waiting: VecDeque<(u64, usize)> = VecDeque::new();
    let mut rank0_done: Option<u64> = None;
    // Arrivals at rank 0 under software RMA are events of their own:
    // rank + ranks marks "arrives", rank alone "asks".
    let p = sc.ranks;
    for r in 0..p {
        d.push(0, r);
    }
    while let Some(Reverse((t, _, ev))) = d.events.pop() {
        if ev >= p {
            let r = ev - p;
            if rank0_done.is_some() {
                let exec = t.max(free);
                free = exec + l.service;
                d.answer(r, free + l.oneway);
            } else {
                waiting.push_back((t, r));
            }
            continue;
        }
        let r = ev;
        if one_node {
            let exec = t.max(free);
            free = exec + l.shm_op;
            d.answer(r, free);
        } else if r == 0 {
            // Rank 0 enters MPI: it serves what has reached it, then its own.
            let mut now = t;
            while let Some((_, q)) = waiting.pop_front() {
                let exec = now.max(free);
                free = exec + l.service;
                now = free;
                d.answer(q, free + l.oneway);
            }
            let at = now.max(free) + l.mpi_call;
            if !d.answer(0, at) {
                rank0_done = Some(at);
            }
        } else {
            match l.cross {
                CrossModel::HwRdma => {
                    let exec = (t + l.oneway).max(free);
                    free = exec + l.service;
                    d.answer(r, free + l.oneway);
                }
                CrossModel::SwRma => d.push(t + l.oneway, r + p),
            }
        }
    }
    if !waiting.is_empty() {
        return Err(Error::internal("global counter: requests left unserved"));
    }
    Ok(d.outcome())
}

/// Rank 0 answers request messages, one chunk each, in order of arrival,
/// and computes nothing; the others compute. A message takes `oneway`
/// across nodes and a shared-memory wake-up within rank 0's node; rank 0
/// spends `message_cpu` on each request.
pub(crate) fn master_worker(sc: &Scenario) -> Result<Outcome> {
    if sc.ranks < 2 {
        return Err(Error::invalid_argument(
            "master-worker needs at least 2 ranks",
        ));
    }
    let l = sc.latency;
    let message = |r: usize| {
        if r / sc.per_node.max(1) == 0 {
            l.shm_wake
        } else {
            l.oneway
        }
    };
    let mut d = Dealer::new(sc);
    // Events are requests that want to be sent at their time.
    for r in 1..sc.ranks {
        d.push(0, r);
    }
    let mut arrivals: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut free = 0u64;
    loop {
        // The earliest of: a request being sent, a request arriving.
        let send = d.events.peek().map(|Reverse((t, _, _))| *t);
        let arrive = arrivals.peek().map(|Reverse((t, _))| *t);
        match (send, arrive) {
            (None, None) => break,
            (Some(s), a) if a.is_none_or(|a| s < a) => {
                let Some(Reverse((t, _, r))) = d.events.pop() else {
                    break;
                };
                debug_assert_eq!(t, s);
                arrivals.push(Reverse((t + message(r), r)));
            }
            _ => {
                let Some(Reverse((t, r))) = arrivals.pop() else {
                    break;
                };
                let exec = t.max(free);
                free = exec + l.message_cpu;
                d.answer(r, free + message(r));
            }
        }
    }
    // The master is "done" when it sent its last answer.
    d.end[0] = free;
    Ok(d.outcome())
}
