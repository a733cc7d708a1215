//! Whether MPI atomics across nodes complete while their target computes
//! outside MPI: the probe behind `DLB_DIRECT_STEALS=probe`
//! (`Builder::direct_steals_if_passive`; by default across real nodes),
//! which turns direct steals on
//! where they are safe and fast (see the protocol's module doc, "Direct
//! steals across nodes"), and the same measurement for
//! `Dlb::probe_passive_progress` (dlbcheck's "passive progress" line).
//!
//! One rank on another node than rank 0's sleeps outside MPI while rank 0
//! times two MPI atomics on words of that rank in the window dlb made for
//! MPI atomics: an add of zero on a cross-node word, and a compare-and-swap
//! that changes nothing on its range word there (direct steals' operation:
//! a network may do one in hardware and the other in software). With
//! hardware RDMA atomics (or shared memory) they take microseconds; with
//! software RMA one completes only when the sleeper enters MPI again, after
//! most of its sleep. Then rank 0 reads the sleeper's `Waiting` word, which
//! it set to [`PROBE_ASLEEP`] for its sleep: a read that finds it still
//! asleep proves that the atomics did not wait for it (speed alone does not:
//! a rank 0 that left the barrier late starts late). The answer is rank
//! 0's, so every rank decides alike.
//!
//! Also here: [`probe_starts`], whether *starting* an atomic on another
//! node waits for its target (Open MPI 4.1's osc/ucx over software RMA),
//! which init runs on every multi-node job and which turns on the
//! protocol's looks (see its module doc, "Looks").

use crate::atomics::{Atomics, Pending, Slot, Update, WindowAtomics};
use crate::clock;
use crate::error::{Error, ErrorKind, Result};
use crate::mpi::Comm;
use crate::protocol::{await_ops, Topology};
use std::time::Duration;

/// How long the probed rank stays outside MPI at init.
pub(crate) const PROBE_BUSY: Duration = Duration::from_millis(20);

/// Atomics that took less than this while their target slept through
/// [`PROBE_BUSY`] did not wait for it. Rank 0 starts them half way into
/// the sleep, so on software RMA they take at least half of it (10 ms).
pub(crate) const PASSIVE_BELOW: Duration = Duration::from_millis(5);

/// What the probe measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PassiveProbe {
    /// The rank that slept.
    pub(crate) target: usize,
    /// How long rank 0's atomic on it took.
    pub(crate) took: Duration,
    /// Whether a look at the target's `Waiting` word, started once the
    /// atomics had completed, read [`PROBE_ASLEEP`]: the target still
    /// slept, so they completed without it.
    pub(crate) asleep: bool,
}

impl PassiveProbe {
    /// Whether the atomic completed without its target: quickly, and while
    /// it slept. Speed alone is not proof: a rank 0 that left the barrier
    /// before the sleep late (descheduled on a loaded machine) starts its
    /// atomics late, and they may find the target awake and in MPI again.
    pub(crate) fn passive(&self) -> bool {
        self.took < PASSIVE_BELOW && self.asleep
    }
}

/// Runs the probe at init over `comm`, whose ranks are placed as
/// `topology` says (the real nodes, or the simulated ones of
/// `DLB_RANKS_PER_NODE`: the probe is about atomics across them), on
/// `atomics`' cross-node words. Collective; call it outside runs.
pub(crate) fn probe(
    comm: &Comm,
    atomics: &WindowAtomics,
    topology: &Topology,
) -> Result<PassiveProbe> {
    let target = probe_target(topology);
    let (took, asleep) = time_atomic(comm, atomics, target, PROBE_BUSY)?;
    Ok(PassiveProbe {
        target,
        took,
        asleep,
    })
}

/// A time that says rank 0's atomics failed.
const FAILED: u64 = u64::MAX;

/// Rank 0 times two atomics on `target`'s words while `target` sleeps
/// `busy` outside MPI: an add of zero on its `Told` word (a cross-node
/// word: MPI atomics on the `mpi` and `hybrid` paths) and a
/// compare-and-swap that changes nothing on its `Range` word in the MPI
/// window ([`WindowAtomics::mpi_range_cas`]); returns the longer time on
/// every rank, and whether a look at `target`'s `Waiting` word, started
/// once both had completed, read [`PROBE_ASLEEP`] within `busy` (the
/// target still slept then; true without a look where the window's memory
/// model is not unified and the target's store cannot reach it).
/// Collective; an error on every rank if rank 0's atomics failed.
pub(crate) fn time_atomic(
    comm: &Comm,
    atomics: &WindowAtomics,
    target: usize,
    busy: Duration,
) -> Result<(Duration, bool)> {
    let both = || -> Result<()> {
        atomics.load(target, Slot::Told)?;
        atomics.mpi_range_cas(target).map(drop)
    };
    // First, untimed, while every rank serves inside MPI: an MPI may make
    // its connection to the target on first use (Open MPI over TCP, UCX
    // endpoints), which needs the target's progress and is no atomic's
    // cost.
    let warm = if comm.rank() == 0 { both() } else { Ok(()) };
    let measure = || {
        let start = clock::Instant::now();
        both()?;
        let took = start.elapsed();
        // Where the target's store cannot reach its window (a memory model
        // that is not unified, where peeks are atomics), a look reads 0
        // whatever it does: there the time alone decides, as before.
        if !atomics.peeks_are_loads(Slot::Waiting) {
            return Ok([took.as_nanos() as u64, 1]);
        }
        let (asleep, look) = look_asleep(atomics, target, busy)?;
        // Completed before the window may be freed (the target serves it
        // once awake, in the reduction that follows).
        await_ops(atomics, &mut vec![look], None)?;
        Ok([took.as_nanos() as u64, u64::from(asleep)])
    };
    let [took, asleep] = while_target_sleeps(comm, atomics, target, busy, warm, measure)
        .map_err(|e| on_rank0(e, "the probe of MPI atomics across nodes"))?;
    Ok((Duration::from_nanos(took), asleep == 1))
}

/// Rank 0's (or the probed rank's) error, or the error of the other ranks
/// when that failed.
fn on_rank0(e: Option<Error>, what: &str) -> Error {
    e.unwrap_or_else(|| {
        let message = format!("{what} failed on rank 0 or on the probed rank");
        Error::new(ErrorKind::Mpi, message)
    })
}

/// The frame of the probes: after a barrier that serves, `target` sleeps
/// `busy` outside MPI while rank 0, half way into that sleep (so that a
/// target that leaves the barrier up to `busy / 2` later still sleeps
/// through it), runs `measure`, unless `ready` (what rank 0 did before)
/// failed; then every rank joins a maximum-reduction that serves (rank 0's
/// operations may still wait for the target), also after a failure, so
/// that none waits alone. Rank 0's two values (below `u64::MAX`, the
/// other ranks' are 0) on every rank; `Err(Some(e))` on rank 0 if it
/// failed, `Err(None)` on the other ranks then, and an `Err(Some(e))` of
/// a collective anywhere. Collective.
fn while_target_sleeps<A: Atomics>(
    comm: &Comm,
    atomics: &A,
    target: usize,
    busy: Duration,
    ready: Result<()>,
    measure: impl FnOnce() -> Result<[u64; 2]>,
) -> std::result::Result<[u64; 2], Option<Error>> {
    comm.barrier_serving(|| atomics.progress()).map_err(Some)?;
    let mut mine = Ok([0, 0]);
    if comm.rank() == 0 {
        mine = ready.and_then(|()| {
            clock::sleep(busy / 2);
            measure()
        });
    } else if comm.rank() == target {
        // `Waiting` says "asleep" while it sleeps: a read of it that
        // returns that value completed without the target's help. (Back
        // to its initial value after; no run reads it before.)
        mine = atomics.publish(Slot::Waiting, PROBE_ASLEEP).and_then(|_| {
            clock::sleep(busy);
            atomics.publish(Slot::Waiting, 0)?;
            Ok([0, 0])
        });
    }
    let mut all = match &mine {
        Ok([a, b]) => [(*a).min(FAILED - 1), *b],
        Err(_) => [FAILED, 0],
    };
    comm.allreduce_max_serving(&mut all, || atomics.progress())
        .map_err(Some)?;
    mine.map_err(Some)?;
    if all[0] == FAILED {
        return Err(None);
    }
    Ok(all)
}

/// How long the probed rank stays outside MPI in [`probe_starts`].
pub(crate) const START_PROBE_BUSY: Duration = Duration::from_millis(4);

/// A start that took this long, its read complete on return, waited for
/// its target: rank 0 starts half way into the target's sleep, so a start
/// that waits takes about 2 ms, and one that does not, microseconds.
pub(crate) const START_BLOCKED: Duration = Duration::from_millis(1);

/// `Waiting[target]` while the probed rank sleeps outside MPI (no value
/// the protocol stores).
const PROBE_ASLEEP: u64 = 3;

/// What [`probe_starts`] measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StartProbe {
    /// The rank that slept.
    pub(crate) target: usize,
    /// How long rank 0's start of a read on it took to return.
    pub(crate) took: Duration,
    /// Whether the read had completed when the start returned.
    pub(crate) done: bool,
    /// Whether a second read, of the target's `Waiting` word, completed
    /// while the target slept (it read [`PROBE_ASLEEP`]): passive atomics
    /// (hardware RDMA).
    pub(crate) passive: bool,
}

impl StartProbe {
    /// Whether the start waited for its target: slow, and done on return.
    /// (A start that was only slow, a process descheduled on a loaded
    /// core, returns with its read still waiting for the sleeping target,
    /// or, where atomics are passive, done; then looks cost a round trip
    /// each, nothing more.)
    pub(crate) fn blocked(&self) -> bool {
        self.took >= START_BLOCKED && self.done
    }
}

/// Whether starting an atomic on another node waits for its target: rank
/// 0 times the return of a started read (`MPI_Rget_accumulate` with
/// `MPI_NO_OP`) of the `Told` word of a rank asleep outside MPI for
/// [`START_PROBE_BUSY`], notes whether the read was done on return, then
/// starts a look at the target's `Waiting` word and polls it for up to
/// [`START_BLOCKED`] to see whether it completes while the target sleeps
/// (it reads [`PROBE_ASLEEP`] then), and then waits for both to complete
/// (the target serves once awake, in the reduction that follows). Call it
/// once MPI made its connections across nodes (`Protocol::connect_remote`).
/// Collective; the same answer on every rank, and an error on every rank
/// if rank 0's read failed.
pub(crate) fn probe_starts<A: Atomics>(
    comm: &Comm,
    atomics: &A,
    topology: &Topology,
) -> Result<StartProbe> {
    let target = probe_target(topology);
    let measure = || {
        let start = clock::Instant::now();
        let mut pending = atomics.start(target, Slot::Told, Update::Read)?;
        let took = start.elapsed();
        let done = pending.poll()?.is_some();
        let (passive, look) = look_asleep(atomics, target, START_BLOCKED)?;
        // Completed before the window may be freed.
        await_ops(atomics, &mut vec![pending, look], None)?;
        Ok([
            took.as_nanos() as u64,
            u64::from(done) | u64::from(passive) << 1,
        ])
    };
    let [took, seen] =
        while_target_sleeps(comm, atomics, target, START_PROBE_BUSY, Ok(()), measure)
            .map_err(|e| on_rank0(e, "the probe of started MPI atomics across nodes"))?;
    Ok(StartProbe {
        target,
        took: Duration::from_nanos(took),
        done: seen & 1 != 0,
        passive: seen & 2 != 0,
    })
}

/// Starts a look at `target`'s `Waiting` word and polls it for up to
/// `within`: whether it read [`PROBE_ASLEEP`] (the target still slept when
/// it was served), and the look, which must complete before the window may
/// be freed.
fn look_asleep<A: Atomics>(
    atomics: &A,
    target: usize,
    within: Duration,
) -> Result<(bool, Pending)> {
    let start = clock::Instant::now();
    let mut look = atomics.start_look(target, Slot::Waiting)?;
    while start.elapsed() < within {
        if let Some(seen) = look.poll()? {
            return Ok((seen == PROBE_ASLEEP, look));
        }
    }
    Ok((false, look))
}

/// The rank whose words are probed: the lowest rank on another node than
/// rank 0's, or rank 1 when all ranks share a node. Every rank computes the
/// same.
pub(crate) fn probe_target(topology: &Topology) -> usize {
    (1..topology.size())
        .find(|&r| topology.node_of(r) != topology.node_of(0))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_crosses_nodes_where_there_are_several() {
        // Slurm's block distribution: ranks 0-3 on node 0, 4-7 on node 1.
        assert_eq!(
            probe_target(&Topology::new(5, vec![0, 0, 0, 0, 1, 1, 1, 1])),
            4
        );
        // Round robin over two nodes.
        assert_eq!(probe_target(&Topology::new(0, vec![0, 1, 0, 1])), 1);
        // One node.
        assert_eq!(probe_target(&Topology::new(2, vec![0, 0, 0])), 1);
    }

    #[test]
    fn only_a_slow_start_whose_read_was_done_waited() {
        let at = |ms: f64, done| StartProbe {
            target: 1,
            took: Duration::from_secs_f64(ms / 1000.0),
            done,
            passive: false,
        };
        // osc/ucx over software RMA: about half the target's sleep.
        assert!(at(2.2, true).blocked());
        // osc/pt2pt, MPICH: microseconds, the read still waiting.
        assert!(!at(0.03, false).blocked());
        // Passive atomics: done at once.
        assert!(!at(0.01, true).blocked());
        // A descheduled rank 0 on software RMA: slow, but not done.
        assert!(!at(3.0, false).blocked());
    }

    #[test]
    fn only_an_atomic_that_did_not_wait_for_its_target_is_passive() {
        let at = |ms: f64| PassiveProbe {
            target: 1,
            took: Duration::from_secs_f64(ms / 1000.0),
            asleep: true,
        };
        // Hardware RDMA (microseconds), a loaded machine (a millisecond).
        assert!(at(0.003).passive());
        assert!(at(1.0).passive());
        // Software RMA: served after the target's sleep.
        assert!(!at(18.0).passive());
        assert!(!at(PASSIVE_BELOW.as_secs_f64() * 1000.0).passive());
        // A failed atomic (never seen: its error ends init on every rank).
        assert!(!PassiveProbe {
            target: 1,
            took: Duration::from_nanos(FAILED),
            asleep: true,
        }
        .passive());
        // Quick, but the target was awake (a late rank 0 on a loaded
        // machine, on software RMA).
        assert!(!PassiveProbe {
            asleep: false,
            ..at(0.5)
        }
        .passive());
    }
}
