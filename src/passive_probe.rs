//! Whether MPI atomics across nodes complete while their target computes
//! outside MPI: the probe behind `DLB_DIRECT_STEALS=probe`
//! (`Builder::direct_steals_if_passive`), which turns direct steals on
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
//! most of its sleep. The answer is rank 0's, so every rank decides alike.
//!
//! Also here: [`probe_starts`], whether *starting* an atomic on another
//! node waits for its target (Open MPI 4.1's osc/ucx over software RMA),
//! which init runs on every multi-node job and which turns on the
//! protocol's looks (see its module doc, "Looks").

use crate::atomics::{Atomics, Slot, Update, WindowAtomics};
use crate::clock;
use crate::error::{Error, ErrorKind, Result};
use crate::mpi::Comm;
use crate::protocol::Topology;
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
}

impl PassiveProbe {
    /// Whether the atomic completed without its target.
    pub(crate) fn passive(&self) -> bool {
        self.took < PASSIVE_BELOW
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
    let took = time_atomic(comm, atomics, target, PROBE_BUSY)?;
    Ok(PassiveProbe { target, took })
}

/// A time that says rank 0's atomics failed.
const FAILED: u64 = u64::MAX;

/// Rank 0 times two atomics on `target`'s words while `target` sleeps
/// `busy` outside MPI: an add of zero on its `Told` word (a cross-node
/// word: MPI atomics on the `mpi` and `hybrid` paths) and a
/// compare-and-swap that changes nothing on its `Range` word in the MPI
/// window ([`WindowAtomics::mpi_range_cas`]); returns the longer time on
/// every rank. Collective; an error on every rank if rank 0's atomics
/// failed.
pub(crate) fn time_atomic(
    comm: &Comm,
    atomics: &WindowAtomics,
    target: usize,
    busy: Duration,
) -> Result<Duration> {
    let both = || -> Result<()> {
        atomics.load(target, Slot::Told)?;
        atomics.mpi_range_cas(target).map(drop)
    };
    let rank0 = comm.rank() == 0;
    // First, untimed, while every rank serves inside MPI: an MPI may make
    // its connection to the target on first use (Open MPI over TCP, UCX
    // endpoints), which needs the target's progress and is no atomic's
    // cost.
    let warm = if rank0 { both() } else { Ok(()) };
    comm.barrier_serving(|| atomics.progress())?;
    let mut took = Ok(0);
    if rank0 && warm.is_ok() {
        // Well into the target's sleep, so that a target that leaves the
        // barrier up to `busy / 2` later still sleeps through the atomics.
        clock::sleep(busy / 2);
        let start = clock::Instant::now();
        took = both().map(|()| start.elapsed().as_nanos() as u64);
    } else if comm.rank() == target {
        clock::sleep(busy);
    }
    // Every rank joins the reduction, also after a failed atomic, so that
    // none waits alone; only rank 0's time is not 0. It serves: rank 0's
    // atomics may still wait for the target.
    let mut all = [match (&warm, &took) {
        (Ok(()), Ok(t)) => (*t).min(FAILED - 1),
        _ => FAILED,
    }];
    comm.allreduce_max_serving(&mut all, || atomics.progress())?;
    warm?;
    took?;
    if all[0] == FAILED {
        return Err(Error::new(
            ErrorKind::Mpi,
            "the probe of MPI atomics across nodes failed on rank 0",
        ));
    }
    Ok(Duration::from_nanos(all[0]))
}

/// How long the probed rank stays outside MPI in [`probe_starts`].
pub(crate) const START_PROBE_BUSY: Duration = Duration::from_millis(4);

/// A start that took this long, its read complete on return, waited for
/// its target: rank 0 starts half way into the target's sleep, so a start
/// that waits takes about 2 ms, and one that does not, microseconds.
pub(crate) const START_BLOCKED: Duration = Duration::from_millis(1);

/// What [`probe_starts`] measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StartProbe {
    /// The rank that slept.
    pub(crate) target: usize,
    /// How long rank 0's start of a read on it took to return.
    pub(crate) took: Duration,
    /// Whether the read had completed when the start returned.
    pub(crate) done: bool,
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
/// [`START_PROBE_BUSY`], notes whether the read was done on return, and
/// then waits for it to complete (the target serves once awake, in the
/// reduction that follows). Call it once MPI made its connections across
/// nodes (`Protocol::connect_remote`). Collective; the same answer on every
/// rank, and an error on every rank if rank 0's read failed.
pub(crate) fn probe_starts<A: Atomics>(
    comm: &Comm,
    atomics: &A,
    topology: &Topology,
) -> Result<StartProbe> {
    let target = probe_target(topology);
    comm.barrier_serving(|| atomics.progress())?;
    let mut took = Ok((0, false));
    if comm.rank() == 0 {
        // Half way into the target's sleep (a target that leaves the
        // barrier up to 2 ms later still sleeps through the start).
        clock::sleep(START_PROBE_BUSY / 2);
        let start = clock::Instant::now();
        took = atomics
            .start(target, Slot::Told, Update::Read)
            .and_then(|mut pending| {
                let ns = start.elapsed().as_nanos() as u64;
                let done = pending.poll()?.is_some();
                // Completed before the window may be freed.
                let mut ops = vec![pending];
                while !ops.is_empty() {
                    atomics.progress()?;
                    crate::atomics::poll_all(&mut ops)?;
                    if !ops.is_empty() {
                        clock::sleep(Duration::from_micros(20));
                    }
                }
                Ok((ns, done))
            });
    } else if comm.rank() == target {
        clock::sleep(START_PROBE_BUSY);
    }
    let mut all = match &took {
        Ok((t, done)) => [(*t).min(FAILED - 1), u64::from(*done)],
        Err(_) => [FAILED, 0],
    };
    comm.allreduce_max_serving(&mut all, || atomics.progress())?;
    took?;
    if all[0] == FAILED {
        return Err(Error::new(
            ErrorKind::Mpi,
            "the probe of started MPI atomics across nodes failed on rank 0",
        ));
    }
    Ok(StartProbe {
        target,
        took: Duration::from_nanos(all[0]),
        done: all[1] != 0,
    })
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
            took: Duration::from_nanos(FAILED)
        }
        .passive());
    }
}
