//! The latency model: what each simulated operation costs in virtual time.
//!
//! - **Within a node** (any word of a node-mate, and every node-level
//!   word): shared memory, [`Latency::shm_op`] per atomic, serialized per
//!   cache line (each slot of a rank is on its own line, so per word);
//!   except, where [`Latency::mate_rma`] is set (`smpi`), a node-mate's
//!   cross-node word, served at the node-mate as an MPI atomic.
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
//!   ([`crate::atomics::Atomics::peek`]) [`Latency::peek`]; a message
//!   (master-worker) [`Latency::message_cpu`] of its receiver's time.
//!
//! Profiles ([`Latency::named`]): `hw_rdma` and `sw_rma`, the defaults of
//! the two models, and `smpi`, the costs that SimGrid's SMPI 3.32 charges
//! on `ci/smpi`'s platform, measured there (`ci/smpi --rma-costs`, 16 to
//! 512 ranks, 8 per simulated node): an `MPI_Fetch_and_op` + flush on a
//! rank of another node takes 12.5 µs, and half that as a read
//! (`MPI_NO_OP`: 6.25 µs, [`Latency::reads_cost_half`]); 255 ranks adding
//! to one rank are served one per 12.2 µs (511: 12.3 µs; 127: 11.8 µs;
//! 63: 11.2 µs), and reading it one per 6.1 µs: SMPI holds the target
//! window's mutex for the whole operation, so the target is busy for all
//! of the 12.5 µs (`service`, with no one-way time apart: 7 node-mates at
//! 0.4 µs among 255 origins give 12.17 µs per operation served, 6.08 µs
//! per read); an atomic on one's own window costs 0.2 µs (so
//! [`Latency::shm_op`] is 0.2 µs: dlb runs its `mpi` path on SMPI, every
//! rank a node of its own, and its node-level words are its own window's)
//! and is served in turn with other ranks' on it ([`Latency::self_rma`]:
//! rank 0's own add took 0.70 ms while 56 ranks of other nodes added to
//! it, 1.12 ms among 248); on a rank of the same node 0.4 µs (a read
//! 0.2 µs; [`Latency::mate_rma`]: served at the target in turn with the
//! others, so a node-mate's read of a rank that 56 others add to takes
//! 0.7 ms); and `MPI_Rget_accumulate` itself returns only after
//! the whole 12.5 µs, so a started operation blocks its maker
//! ([`Latency::blocking_start`], as Open MPI 4.1's osc/ucx does too). A
//! request message of master-worker costs the master 6.5 µs (from
//! `ci/smpi`'s master-worker at 256 and 512 ranks: 6.4 and 6.6 µs per
//! request). It exists to validate the simulator against SMPI
//! (`ci/simulate --validate`), not as a model of a machine, and dlb under
//! it with nodes of one rank (`--per-node 1`), as dlb runs on SMPI: in
//! larger nodes its node-level words would cost 0.2 µs of shared memory
//! and its cross-node words on node-mates would queue at them.

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
    /// The profile's name (`hw_rdma`, `sw_rma`, `smpi`).
    pub name: &'static str,
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
    /// The receiver's time per message (master-worker's requests).
    pub message_cpu: u64,
    /// Whether starting a cross-node operation blocks its maker until the
    /// result is back (SMPI 3.32; Open MPI 4.1's osc/ucx).
    pub blocking_start: bool,
    /// Whether a cross-node read (`MPI_NO_OP`) costs half of another
    /// operation, both ways and at the target (SMPI 3.32). Hardware model
    /// only (the software model's queue takes `oneway` and `service`).
    pub reads_cost_half: bool,
    /// Where set (SMPI 3.32), an MPI atomic on a node-mate's cross-node
    /// word is served at its target as one from another node is, in turn
    /// with those, with these costs (one way, and the target's time)
    /// instead of as a shared-memory atomic. Hardware model only (the
    /// software model's queue takes `oneway` and `service`).
    pub mate_rma: Option<(u64, u64)>,
    /// Where set (SMPI 3.32), an operation on one's own words is served at
    /// oneself in turn with other ranks' operations on them (SMPI's
    /// per-window mutex), taking this long, instead of as a shared-memory
    /// atomic or an MPI call that stays on the rank.
    pub self_rma: Option<u64>,
    /// Whether dlb's default turns direct steals on under these costs
    /// (`Strategy::Dlb`): init's probe, which runs by default across real
    /// nodes, finds MPI atomics passive on `hw_rdma` and waiting for their
    /// target on `sw_rma`; on SMPI (`smpi`) they are on unprobed.
    pub direct_by_default: bool,
}

impl Latency {
    /// The default costs of `cross`.
    pub fn of(cross: CrossModel) -> Latency {
        match cross {
            CrossModel::HwRdma => Latency {
                name: "hw_rdma",
                cross,
                shm_op: 50,
                shm_wake: 2_000,
                oneway: 1_000,
                service: 500,
                mpi_call: 200,
                peek: 20,
                message_cpu: 1_000,
                blocking_start: false,
                reads_cost_half: false,
                mate_rma: None,
                self_rma: None,
                direct_by_default: true,
            },
            CrossModel::SwRma => Latency {
                name: "sw_rma",
                cross,
                shm_op: 50,
                shm_wake: 2_000,
                oneway: 15_000,
                service: 10_000,
                mpi_call: 500,
                peek: 20,
                message_cpu: 5_000,
                blocking_start: false,
                reads_cost_half: false,
                mate_rma: None,
                self_rma: None,
                direct_by_default: false,
            },
        }
    }

    /// SMPI's costs on `ci/smpi`'s platform (see the module doc).
    pub fn smpi() -> Latency {
        Latency {
            name: "smpi",
            oneway: 0,
            service: 12_500,
            message_cpu: 6_500,
            blocking_start: true,
            reads_cost_half: true,
            shm_op: 200,
            mate_rma: Some((0, 400)),
            self_rma: Some(200),
            direct_by_default: true,
            ..Latency::of(CrossModel::HwRdma)
        }
    }

    /// One way and the target's time for an MPI atomic on another rank's
    /// cross-node word, a read (`read`) or another, on a node-mate (`mate`,
    /// where [`Latency::mate_rma`] is set) or on another node.
    pub fn cross_costs(&self, read: bool, mate: bool) -> (u64, u64) {
        let (oneway, service) = match self.mate_rma {
            Some(costs) if mate => costs,
            _ => (self.oneway, self.service),
        };
        if read && self.reads_cost_half {
            (oneway / 2, service / 2)
        } else {
            (oneway, service)
        }
    }

    /// The profile named `name`: `hw_rdma`, `sw_rma` or `smpi`.
    pub fn named(name: &str) -> Option<Latency> {
        match name {
            "smpi" => Some(Latency::smpi()),
            _ => CrossModel::from_name(name).map(Latency::of),
        }
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
            assert_eq!(Latency::named(m.name()), Some(Latency::of(m)));
        }
        assert_eq!(
            Latency::named("smpi").map(|l| l.cross),
            Some(CrossModel::HwRdma)
        );
        assert_eq!(CrossModel::from_name("ib"), None);
        let smpi = Latency::smpi();
        assert_eq!(2 * smpi.oneway + smpi.service, 12_500);
        assert_eq!(smpi.cross_costs(true, false), (0, 6_250));
        let (oneway, service) = smpi.cross_costs(false, true);
        assert_eq!(2 * oneway + service, 400);
        let (oneway, service) = smpi.cross_costs(true, true);
        assert_eq!(2 * oneway + service, 200);
        assert_eq!(hw.cross_costs(true, true), hw.cross_costs(false, false));
        // Where dlb's default probe would turn direct steals on.
        assert!(hw.direct_by_default && Latency::smpi().direct_by_default);
        assert!(!sw.direct_by_default);
    }
}
