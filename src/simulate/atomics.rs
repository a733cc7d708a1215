//! [`SimAtomics`]: the protocol's atomics trait over simulated memory, each
//! operation charged in virtual time by the latency model
//! ([`super::latency`]); and [`World`], the memory, queues and clock all
//! simulated ranks share.
//!
//! Operations take effect at the moment their maker runs them (the
//! kernel runs one rank at a time, in virtual-time order), except under
//! software RMA, where an operation on another node's word is queued at
//! its target and takes effect when the target next enters MPI. The maker
//! of a started operation sees its result only once the result is back.

use super::kernel::{Aborted, Kernel};
use super::latency::{CrossModel, Latency};
use crate::atomics::{Atomics, Level, Pending, Slot, Update, WORDS_PER_RANK};
use crate::error::{Error, Result};
use crate::protocol::Topology;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Slots per rank in the simulated memory (at least `Slot::COUNT`).
const SLOTS: usize = 19;
const _: () = assert!(WORDS_PER_RANK * 8 / crate::atomics::CACHE_LINE <= SLOTS);

/// "Not known yet" in a ticket's `ready_at`.
const UNKNOWN: u64 = u64::MAX;

impl From<Aborted> for Error {
    fn from(a: Aborted) -> Error {
        Error::internal(format!("simulation stopped: {}", a.0))
    }
}

/// An operation as applied to a word.
#[derive(Clone, Copy, Debug)]
enum Op {
    Cas(u64, u64),
    Update(Update),
}

fn apply(word: &AtomicU64, op: Op) -> u64 {
    // Relaxed suffices: one simulated rank runs at a time, and the kernel's
    // mutex orders one rank's run before the next.
    match op {
        Op::Cas(expected, new) => word
            .compare_exchange(expected, new, Relaxed, Relaxed)
            .unwrap_or_else(|old| old),
        Op::Update(Update::Add(d)) => word.fetch_add(d, Relaxed),
        Op::Update(Update::Swap(v)) => word.swap(v, Relaxed),
        Op::Update(Update::Read) => word.load(Relaxed),
    }
}

/// The result of a started cross-node operation.
#[derive(Debug)]
pub(crate) struct Ticket {
    old: AtomicU64,
    /// When the result is back at its maker (ns), `UNKNOWN` until applied.
    ready_at: AtomicU64,
    origin: usize,
    world: Arc<World>,
}

impl Ticket {
    /// An MPI test of the request: serves the maker's queue, costs one MPI
    /// call, and gives the result once it is back.
    pub(crate) fn poll(&self) -> Result<Option<u64>> {
        self.world.mpi_call(self.origin)?;
        let ready = self.ready_at.load(Relaxed);
        Ok((ready <= self.world.kernel.now()).then(|| self.old.load(Relaxed)))
    }
}

/// An operation waiting at its target (software RMA).
#[derive(Debug)]
struct Queued {
    arrival: u64,
    word: usize,
    op: Op,
    ticket: Arc<Ticket>,
}

/// What all simulated ranks share.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) kernel: Kernel,
    pub(crate) latency: Latency,
    words: Vec<AtomicU64>,
    /// When each word's cache line is free again (shared memory).
    line_free: Vec<AtomicU64>,
    /// When each rank's adapter (hardware) or MPI progress (software) is
    /// free again for the next incoming operation.
    target_free: Vec<AtomicU64>,
    /// Operations waiting at each rank (software RMA).
    queues: Vec<Mutex<VecDeque<Queued>>>,
    /// Cross-node operations started, and shared-memory atomics made.
    pub(crate) cross_ops: AtomicU64,
    pub(crate) shm_ops: AtomicU64,
    /// Cross-node operations that each rank received.
    pub(crate) received: Vec<AtomicU64>,
}

impl World {
    pub(crate) fn new(ranks: usize, latency: Latency) -> World {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        World {
            kernel: Kernel::new(ranks),
            latency,
            words: zeros(ranks * SLOTS),
            line_free: zeros(ranks * SLOTS),
            target_free: zeros(ranks),
            queues: (0..ranks).map(|_| Mutex::new(VecDeque::new())).collect(),
            cross_ops: AtomicU64::new(0),
            shm_ops: AtomicU64::new(0),
            received: zeros(ranks),
        }
    }

    fn index(rank: usize, slot: Slot) -> usize {
        rank * SLOTS + slot.index() * 8 / crate::atomics::CACHE_LINE
    }

    fn queue(&self, rank: usize) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        self.queues[rank]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The rank that received the most cross-node operations, and how many.
    pub(crate) fn hottest(&self) -> (usize, u64) {
        self.received
            .iter()
            .map(|n| n.load(Relaxed))
            .enumerate()
            .max_by_key(|&(r, n)| (n, std::cmp::Reverse(r)))
            .unwrap_or((0, 0))
    }

    /// `rank` enters MPI: under software RMA it applies the operations
    /// that have reached it, one after another, each `service` of its time.
    fn serve(&self, rank: usize) -> Result<()> {
        if self.latency.cross != CrossModel::SwRma {
            return Ok(());
        }
        let now = self.kernel.now();
        let mut busy_until = None;
        loop {
            let next = {
                let mut q = self.queue(rank);
                match q.front() {
                    Some(op) if op.arrival <= now => q.pop_front(),
                    _ => None,
                }
            };
            let Some(op) = next else { break };
            let free = &self.target_free[rank];
            let exec = now.max(free.load(Relaxed));
            let end = exec + self.latency.service;
            free.store(end, Relaxed);
            op.ticket
                .old
                .store(apply(&self.words[op.word], op.op), Relaxed);
            op.ticket.ready_at.store(end + self.latency.oneway, Relaxed);
            busy_until = Some(end);
        }
        if let Some(end) = busy_until {
            self.kernel.advance(rank, end)?;
        }
        Ok(())
    }

    /// An MPI call of `rank` that stays on it (progress, a test).
    fn mpi_call(&self, rank: usize) -> Result<()> {
        self.serve(rank)?;
        let now = self.kernel.now();
        self.kernel.advance(rank, now + self.latency.mpi_call)?;
        Ok(())
    }

    /// A shared-memory atomic of `rank` on word `index`.
    fn shm(&self, rank: usize, index: usize, op: Op) -> Result<u64> {
        self.shm_ops.fetch_add(1, Relaxed);
        self.in_turn(&self.line_free[index], rank, index, op, self.latency.shm_op)
    }

    /// `op` of `rank` on its own word `index` where the profile serves
    /// those at the rank in turn with other ranks' ([`Latency::self_rma`],
    /// `cost` each).
    fn own_rma(&self, rank: usize, index: usize, op: Op, cost: u64) -> Result<u64> {
        self.in_turn(&self.target_free[rank], rank, index, op, cost)
    }

    /// `op` of `rank` on word `index`, `cost` long once `free` (when what
    /// serves it is free again) has passed; moves `free` to its end.
    fn in_turn(
        &self,
        free: &AtomicU64,
        rank: usize,
        index: usize,
        op: Op,
        cost: u64,
    ) -> Result<u64> {
        let end = self.kernel.now().max(free.load(Relaxed)) + cost;
        free.store(end, Relaxed);
        let old = apply(&self.words[index], op);
        self.kernel.advance(rank, end)?;
        Ok(old)
    }

    /// Starts `op` of `origin` on word `index` of rank `target`, another
    /// node's or (`mate`, where the profile serves those at the target:
    /// [`Latency::mate_rma`]) a node-mate's. A node-mate's is not counted
    /// in `cross_ops` nor `received` (they count cross-node operations),
    /// nor in `shm_ops`.
    fn start_rma(
        self: &Arc<Self>,
        origin: usize,
        target: usize,
        index: usize,
        op: Op,
        mate: bool,
    ) -> Result<Arc<Ticket>> {
        if !mate {
            self.cross_ops.fetch_add(1, Relaxed);
            self.received[target].fetch_add(1, Relaxed);
        }
        let now = self.kernel.now();
        let ticket = Arc::new(Ticket {
            old: AtomicU64::new(0),
            ready_at: AtomicU64::new(UNKNOWN),
            origin,
            world: Arc::clone(self),
        });
        let l = &self.latency;
        match l.cross {
            CrossModel::HwRdma => {
                let (oneway, service) = l.cross_costs(matches!(op, Op::Update(Update::Read)), mate);
                let free = &self.target_free[target];
                let exec = (now + oneway).max(free.load(Relaxed));
                free.store(exec + service, Relaxed);
                ticket.old.store(apply(&self.words[index], op), Relaxed);
                ticket.ready_at.store(exec + service + oneway, Relaxed);
            }
            CrossModel::SwRma => self.queue(target).push_back(Queued {
                arrival: now + l.oneway,
                word: index,
                op,
                ticket: Arc::clone(&ticket),
            }),
        }
        self.mpi_call(origin)?;
        if l.blocking_start {
            // Only passive models know the time now; under software RMA
            // the maker's polls wait for the target instead.
            let ready = ticket.ready_at.load(Relaxed);
            if ready != UNKNOWN {
                self.kernel.advance(origin, ready)?;
            }
        }
        Ok(ticket)
    }
}

/// One simulated rank's view of the world.
#[derive(Debug)]
pub(crate) struct SimAtomics {
    world: Arc<World>,
    topology: Topology,
    /// Direct steals: every `Range` word takes MPI atomics (the owner's
    /// own as a call that stays on it, any other's as a remote one, also a
    /// node-mate's), as the hybrid path then places them.
    direct: bool,
}

impl SimAtomics {
    pub(crate) fn new(world: Arc<World>, topology: Topology, direct: bool) -> SimAtomics {
        SimAtomics {
            world,
            topology,
            direct,
        }
    }

    /// Any operation: on shared memory, on one's own cross-node word, or
    /// started on another rank's word (another node's, or a node-mate's
    /// where the profile serves those as MPI atomics).
    fn op(&self, target: usize, slot: Slot, op: Op) -> Result<OpResult> {
        let me = self.rank();
        let index = World::index(target, slot);
        let mate = self.topology.is_mate(target) && target != me;
        let mate_rma =
            mate && slot.level() == Level::Cross && self.world.latency.mate_rma.is_some();
        let mpi_range = self.direct && slot == Slot::Range;
        if let (true, Some(cost)) = (target == me, self.world.latency.self_rma) {
            return Ok(OpResult::Now(self.world.own_rma(me, index, op, cost)?));
        }
        if mpi_range && target != me {
            return Ok(OpResult::Later(
                self.world.start_rma(me, target, index, op, mate)?,
            ));
        }
        if !mpi_range && !mate_rma && (slot.level() == Level::Node || mate) {
            return Ok(OpResult::Now(self.world.shm(me, index, op)?));
        }
        if target == me {
            self.world.serve(me)?;
            let old = apply(&self.world.words[index], op);
            let now = self.world.kernel.now();
            self.world
                .kernel
                .advance(me, now + self.world.latency.mpi_call)?;
            return Ok(OpResult::Now(old));
        }
        Ok(OpResult::Later(
            self.world.start_rma(me, target, index, op, mate_rma)?,
        ))
    }

    /// A blocking operation: waits (inside MPI) for a remote result.
    fn blocking(&self, target: usize, slot: Slot, op: Op) -> Result<u64> {
        match self.op(target, slot, op)? {
            OpResult::Now(old) => Ok(old),
            OpResult::Later(ticket) => loop {
                if let Some(old) = ticket.poll()? {
                    return Ok(old);
                }
            },
        }
    }
}

enum OpResult {
    Now(u64),
    Later(Arc<Ticket>),
}

impl Atomics for SimAtomics {
    fn topology(&self) -> &Topology {
        &self.topology
    }
    fn compare_and_swap(&self, target: usize, slot: Slot, expected: u64, new: u64) -> Result<u64> {
        self.blocking(target, slot, Op::Cas(expected, new))
    }
    fn fetch_add(&self, target: usize, slot: Slot, delta: u64) -> Result<u64> {
        self.blocking(target, slot, Op::Update(Update::Add(delta)))
    }
    fn swap(&self, target: usize, slot: Slot, new: u64) -> Result<u64> {
        self.blocking(target, slot, Op::Update(Update::Swap(new)))
    }
    fn read(&self, target: usize, slot: Slot) -> Result<u64> {
        self.blocking(target, slot, Op::Update(Update::Read))
    }
    fn glance(&self, target: usize, slot: Slot) -> Result<u64> {
        // An `MPI_Get` costs what a read does.
        self.read(target, slot)
    }
    fn start(&self, target: usize, slot: Slot, update: Update) -> Result<Pending> {
        Ok(match self.op(target, slot, Op::Update(update))? {
            OpResult::Now(old) => Pending::ready(old),
            OpResult::Later(ticket) => Pending::simulated(ticket),
        })
    }
    fn progress(&self) -> Result<()> {
        self.world.mpi_call(self.rank())
    }
    fn node_words_passive(&self) -> bool {
        // With direct steals node-mates' range words take MPI atomics.
        !self.direct
    }
    fn peek(&self, slot: Slot) -> Result<u64> {
        let me = self.rank();
        let now = self.world.kernel.now();
        self.world
            .kernel
            .advance(me, now + self.world.latency.peek)?;
        Ok(self.world.words[World::index(me, slot)].load(Relaxed))
    }
    fn wait(&self, slot: Slot, seen: u64, timeout: Duration) {
        let me = self.rank();
        if self.world.words[World::index(me, slot)].load(Relaxed) != seen {
            return;
        }
        let deadline = self.world.kernel.now() + nanos(timeout);
        // An abort surfaces at this rank's next operation.
        let _ = self.world.kernel.wait(me, deadline);
    }
    fn wake(&self, target: usize, slot: Slot) -> Result<()> {
        let _ = slot;
        let at = self.world.kernel.now() + self.world.latency.shm_wake;
        self.world.kernel.wake(target, at);
        Ok(())
    }
}

/// `d` in nanoseconds (saturating).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
