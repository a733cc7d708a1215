//! The latency model: what each simulated operation costs in virtual time.
//!
//! - **Within a node** (any word of a node-mate, and every node-level
//!   word): shared memory, [`Latency::shm_op`] per atomic, serialized per
//!   cache line (each slot of a rank is on its own line, so per word).
//! - **Across nodes**, one of two models ([`CrossModel`]):
//!   - `HwRdma`: hardware RDMA atomics. An operation reaches its target
//!     after `oneway`, waits for the target's network adapter (one atomic
//!     at a time per target, `service` each), and its result is back
//!     `oneway` later: 2.5 µs uncontended. Fully passive: the target's CPU
//!     plays no part.
//!   - `SwRma`: software RMA (MPI over TCP, Open MPI's osc/pt2pt or osc/ucx
//!     without hardware atomics, as measured on simulated nodes). An
//!     operation reaches its target after `oneway` and waits there until
//!     the target enters MPI (any MPI call of dlb's: an atomic, a
//!     progress call, a poll); the target then applies it, `service` of
//!     its own CPU time each, one after another; the result is back
//!     `oneway` later: 40 µs when the target is inside MPI, and as late
//!     as the target's next call when it computes.
//! - A rank's MPI operation on its own cross-node words (and a progress
//!   call) costs [`Latency::mpi_call`]; a plain load of its own word
//!   ([`crate::atomics::Atomics::peek`]) [`Latency::peek`].

/// How operations across nodes behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossModel {
    /// Hardware RDMA atomics: passive, serialized per target.
    HwRdma,
    /// Software RMA: applied only when the target enters MPI.
    SwRma,
}

impl CrossModel {
    /// The name in JSON rows and on the command line (`hw_rdma`, `sw_rma`).
    pub fn name(self) -> &'static str {
        match self {
            CrossModel::HwRdma => "hw_rdma",
            CrossModel::SwRma => "sw_rma",
        }
    }

    /// The model named `name` (see [`CrossModel::name`]).
    pub fn from_name(name: &str) -> Option<CrossModel> {
        match name {
            "hw_rdma" => Some(CrossModel::HwRdma),
            "sw_rma" => Some(CrossModel::SwRma),
            _ => None,
        }
    }
}

/// Operation costs, in nanoseconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// The cross-node model.
    pub cross: CrossModel,
    /// One shared-memory atomic (the cache line held for this long).
    pub shm_op: u64,
    /// From a futex wake to the woken rank running.
    pub shm_wake: u64,
    /// One way across the network.
    pub oneway: u64,
    /// The target's time per cross-node operation (adapter or CPU).
    pub service: u64,
    /// An MPI call that stays on this rank (own words, progress, a poll).
    pub mpi_call: u64,
    /// A plain load of one's own word.
    pub peek: u64,
}

impl Latency {
    /// The default costs of `cross`.
    pub fn of(cross: CrossModel) -> Latency {
        match cross {
            CrossModel::HwRdma => Latency {
                cross,
                shm_op: 50,
                shm_wake: 2_000,
                oneway: 1_000,
                service: 500,
                mpi_call: 200,
                peek: 20,
            },
            CrossModel::SwRma => Latency {
                cross,
                shm_op: 50,
                shm_wake: 2_000,
                oneway: 15_000,
                service: 10_000,
                mpi_call: 500,
                peek: 20,
            },
        }
    }

    /// A message from one node to another (master-worker's requests and
    /// answers): `oneway`, plus the receiver's handling.
    pub(crate) fn message(&self) -> u64 {
        self.oneway + self.mpi_call
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_match_the_documented_figures() {
        let hw = Latency::of(CrossModel::HwRdma);
        assert_eq!(2 * hw.oneway + hw.service, 2_500);
        let sw = Latency::of(CrossModel::SwRma);
        assert_eq!(2 * sw.oneway + sw.service, 40_000);
        for m in [CrossModel::HwRdma, CrossModel::SwRma] {
            assert_eq!(CrossModel::from_name(m.name()), Some(m));
        }
        assert_eq!(CrossModel::from_name("ib"), None);
    }
}
