//! A virtual-time simulator of dlb's protocol, for more ranks than any
//! machine here can run (feature `simulate`; the `dlbsim` command and
//! `ci/simulate` drive it).
//!
//! What runs is the library's own code, unchanged: each simulated rank is
//! an OS thread running the dispenser and the protocol behind
//! `give_more`, over `SimAtomics` (`atomics.rs`), an implementation of the
//! protocol's atomics trait whose every operation is charged in virtual
//! time by a latency model ([`Latency`]: shared memory within a node,
//! hardware RDMA or software RMA across nodes). The protocol's clock and
//! sleeps (`crate::clock`) are the simulation's on those threads. A
//! discrete-event kernel (`kernel.rs`) runs one rank at a time, always the
//! one with the earliest next event, so a run is deterministic: the same
//! [`Scenario`] gives the same [`Outcome`].
//!
//! Jobs cost virtual time outside MPI ([`Workload`], the same costs as
//! `ci/smpi`'s driver). Every run checks that each job ID was handed out
//! exactly once and that no rank heard "no more" before the last job was
//! done, and fails with an error otherwise (or when the run does not end
//! within a virtual-time limit).
//!
//! The baselines ([`Strategy`]) run under the same latency model: static,
//! global counter and master-worker as small event loops of their own, the
//! Fortran DLB library's lock steals (`lock_steal.rs`) on a thread per rank
//! over the same simulated atomics as dlb.
//!
//! What is not modelled: the CPU time of dlb's own code between atomics
//! (zero here), network contention other than at the target, and MPI
//! collectives (`setup`'s all-reduce; all ranks begin at time 0).
//!
//! ```
//! use dlb::simulate::{run, CrossModel, Scenario, Strategy, Workload};
//! // 16 ranks in nodes of 4, hardware RDMA across nodes, 20 jobs per rank.
//! let sc = Scenario::new(16, 4, CrossModel::HwRdma, Workload::Uniform, 320);
//! let dlb = run(Strategy::Dlb, &sc).unwrap();
//! assert!(dlb.makespan_ns >= dlb.bound_ns);
//! assert!(dlb.efficiency() > 0.5);
//! ```

mod atomics;
mod baselines;
mod dlb_run;
mod kernel;
mod latency;
mod lock_steal;
mod workload;

pub(crate) use atomics::Ticket;
pub use latency::{CrossModel, Latency};
pub use workload::Workload;

use crate::error::{Error, Result};
use crate::Schedule;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// Virtual time (ns) on a simulated rank's thread, `None` elsewhere (for
/// `crate::clock`).
pub(crate) fn virtual_now_ns() -> Option<u64> {
    dlb_run::now_ns()
}

/// Lets `d` of virtual time pass on a simulated rank's thread; `false`
/// elsewhere (for `crate::clock`).
pub(crate) fn virtual_sleep(d: Duration) -> bool {
    dlb_run::sleep(d)
}

/// What runs the jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// dlb's RMA variant (`setup` + `give_more`) as by default: with direct
    /// steals where the library's default turns them on
    /// ([`Latency::direct_by_default`]: on `hw_rdma`, where init's probe
    /// finds the atomics passive, and on `smpi`, unprobed), else (`sw_rma`)
    /// with marks.
    Dlb,
    /// dlb with direct steals (`DLB_DIRECT_STEALS=1`, for passive MPI
    /// atomics): idle ranks of a dry node steal from other nodes' ranges
    /// themselves instead of asking their owners.
    DlbDirect,
    /// dlb without direct steals (`DLB_DIRECT_STEALS=0`): ranks of
    /// different nodes move work by hunger marks that owners answer.
    DlbMarks,
    /// A static block split.
    Static,
    /// One fetch-and-add counter on rank 0.
    GlobalCounter,
    /// Rank 0 answers requests, one chunk each, and computes nothing.
    MasterWorker,
    /// The Fortran DLB library's RMA variant in outline: ranges under
    /// ticket locks, thieves visiting every rank in turn, a done counter on
    /// rank 0 (see `lock_steal.rs`). Its sweeps cost O(P) atomics per idle
    /// rank, so it is slow to simulate beyond a thousand ranks.
    LockSteal,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 7] = [
        Strategy::Dlb,
        Strategy::DlbDirect,
        Strategy::DlbMarks,
        Strategy::Static,
        Strategy::GlobalCounter,
        Strategy::MasterWorker,
        Strategy::LockSteal,
    ];

    /// The name in JSON rows and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Dlb => "dlb",
            Strategy::DlbDirect => "dlb_direct",
            Strategy::DlbMarks => "dlb_marks",
            Strategy::Static => "static",
            Strategy::GlobalCounter => "global_counter",
            Strategy::MasterWorker => "master_worker",
            Strategy::LockSteal => "lock_steal",
        }
    }

    /// Whether this is dlb (with or without direct steals), whose victim
    /// choices depend on a seed.
    pub fn is_dlb(self) -> bool {
        matches!(
            self,
            Strategy::Dlb | Strategy::DlbDirect | Strategy::DlbMarks
        )
    }

    /// The strategy named `name`.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One simulated run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Ranks.
    pub ranks: usize,
    /// Ranks per node (consecutive ranks share a node).
    pub per_node: usize,
    /// Operation costs.
    pub latency: Latency,
    /// Job costs.
    pub workload: Workload,
    /// Jobs in the run.
    pub jobs: u64,
    /// The mean job cost.
    pub mean: Duration,
    /// `maxjobs` of every `give_more` (and chunk of the baselines).
    pub maxjobs: u64,
    /// dlb's chunk schedule.
    pub schedule: Schedule,
    /// dlb's claiming ahead (on by default, as in the library).
    pub claim_ahead: bool,
    /// The seed of dlb's victim choices.
    pub seed: u64,
    /// Ranks that make their first `give_more` only `late_by` after
    /// `setup` (work of their own in between); none by default.
    pub late_ranks: Vec<usize>,
    /// See `late_ranks`.
    pub late_by: Duration,
    /// Children per node of dlb's node tree; `None`: the library's default.
    pub tree_fan_out: Option<usize>,
    /// The cost of every job (ns), overriding `workload` and `mean`: the
    /// benchmarks' workloads (see [`Scenario::with_bench_costs`]).
    pub costs: Option<Arc<[u64]>>,
}

impl Scenario {
    /// `jobs` jobs of 1 ms mean on `ranks` ranks in nodes of `per_node`,
    /// with the default costs of `cross`, `maxjobs` 1.
    pub fn new(
        ranks: usize,
        per_node: usize,
        cross: CrossModel,
        workload: Workload,
        jobs: u64,
    ) -> Scenario {
        Scenario {
            ranks,
            per_node: per_node.max(1),
            latency: Latency::of(cross),
            workload,
            jobs,
            mean: Duration::from_millis(1),
            maxjobs: 1,
            schedule: Schedule::Fixed,
            claim_ahead: true,
            seed: 0x5eed,
            late_ranks: Vec::new(),
            late_by: Duration::ZERO,
            tree_fan_out: None,
            costs: None,
        }
    }

    /// The jobs of draw `draw` of the benchmark workload `name` of
    /// `benches/` ([`crate::workloads::costs_of_draw`]; draw 0 is what the
    /// benchmarks run first), scaled to a mean of `mean` if given, instead
    /// of this scenario's workload; `None` for an unknown name.
    pub fn with_bench_costs(
        mut self,
        name: &str,
        mean: Option<Duration>,
        draw: u64,
    ) -> Option<Scenario> {
        let (jobs, ranks) = (self.jobs, self.ranks as u64);
        let ms = match mean {
            Some(m) => crate::workloads::scaled_costs_of_draw(
                name,
                jobs,
                ranks,
                draw,
                m.as_secs_f64() * 1e3,
            )?,
            None => crate::workloads::costs_of_draw(name, jobs, ranks, draw)?,
        };
        self.costs = Some(ms.iter().map(|c| (c * 1e6).round() as u64).collect());
        Some(self)
    }

    /// The cost of job `i` (ns).
    pub(crate) fn cost(&self, i: u64) -> u64 {
        match &self.costs {
            Some(costs) => costs[i as usize],
            None => self
                .workload
                .cost(i, self.jobs, self.mean.as_nanos() as f64),
        }
    }

    /// The lower bound of the makespan: max(total / ranks, longest job).
    pub fn bound_ns(&self) -> u64 {
        let (total, longest) = (0..self.jobs)
            .map(|i| self.cost(i))
            .fold((0u64, 0u64), |(t, m), c| (t + c, m.max(c)));
        (total / self.ranks.max(1) as u64).max(longest)
    }

    /// Virtual time after which a run whose bound is `bound_ns` counts as
    /// one that does not end.
    fn time_limit_ns(bound_ns: u64) -> u64 {
        bound_ns.saturating_mul(50).saturating_add(10_000_000_000)
    }
}

/// What a simulated run measured (times in ns of virtual time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Until the last rank heard "no more".
    pub makespan_ns: u64,
    /// [`Scenario::bound_ns`].
    pub bound_ns: u64,
    /// From the last job's end to the last rank told "no more".
    pub termination_ns: u64,
    /// Steals, and takes from other nodes that brought work (dlb).
    pub steals: u64,
    /// Steal and take attempts (dlb).
    pub steal_attempts: u64,
    /// Operations across nodes started (dlb).
    pub cross_ops: u64,
    /// Shared-memory atomics (dlb).
    pub shm_ops: u64,
    /// The kernel's context switches (dlb; the simulator's own cost).
    pub switches: u64,
    /// The rank that received the most cross-node operations (dlb): the
    /// hot spot of the protocol.
    pub hottest_rank: usize,
    /// How many cross-node operations `hottest_rank` received.
    pub hottest_rank_ops: u64,
    /// When each rank heard "no more" (dlb).
    pub told_ns: Vec<u64>,
    /// Time that ranks spent looking for jobs (in `give_more`) before the
    /// run's last chunk was handed out, summed over ranks: time they waited
    /// while jobs were still to be handed out. Measured for dlb and the
    /// lock steals (0 for the other baselines). Near 0, the claims' own
    /// atomics, for a schedule that never leaves a rank idle while a job is
    /// left. On jobs of independent, identically distributed costs, handed
    /// out one at a time, such schedules (one global counter among them)
    /// balance alike on average, up to their per-call costs and their ends:
    /// whenever a rank runs dry it starts a job of the same distribution.
    pub waited_with_work_ns: u64,
}

impl Outcome {
    fn plain(makespan_ns: u64, bound_ns: u64, termination_ns: u64) -> Outcome {
        Outcome {
            makespan_ns,
            bound_ns,
            termination_ns,
            ..Outcome::default()
        }
    }

    /// bound / makespan.
    pub fn efficiency(&self) -> f64 {
        self.bound_ns as f64 / self.makespan_ns.max(1) as f64
    }
}

/// What produced a simulator row, as JSON: dlb's version and git revision,
/// the MPI (none: simulated), the ranks and the date.
///
/// ```
/// let p = dlb::simulate::provenance(64, 8);
/// assert_eq!((p["ranks"].as_u64(), p["nodes"].as_u64()), (Some(64), Some(8)));
/// assert_eq!(p["dlb_version"], dlb::VERSION);
/// ```
pub fn provenance(ranks: usize, per_node: usize) -> serde_json::Value {
    let fields = crate::provenance::common_fields(
        "none (dlb's virtual-time simulator)",
        ranks,
        ranks.div_ceil(per_node.max(1)),
        1,
        &crate::provenance::utc_now(),
    );
    serde_json::from_str(&format!("{{{fields}}}")).expect("common_fields makes JSON members")
}

/// Simulates `sc` under `strategy`.
///
/// # Errors
/// [`crate::ErrorKind::InvalidArgument`] for a scenario without ranks or
/// jobs, or master-worker on one rank; [`crate::ErrorKind::Internal`] when
/// dlb broke exactly-once or ended early, or its run did not end.
pub fn run(strategy: Strategy, sc: &Scenario) -> Result<Outcome> {
    if sc.ranks == 0 || sc.jobs == 0 || sc.maxjobs == 0 {
        return Err(Error::invalid_argument(
            "a simulated run needs ranks, jobs and maxjobs of at least 1",
        ));
    }
    match strategy {
        Strategy::Dlb if sc.latency.direct_by_default => dlb_run::run_direct(sc),
        Strategy::Dlb | Strategy::DlbMarks => dlb_run::run(sc),
        Strategy::DlbDirect => dlb_run::run_direct(sc),
        Strategy::Static => baselines::static_split(sc),
        Strategy::GlobalCounter => baselines::global_counter(sc),
        Strategy::MasterWorker => baselines::master_worker(sc),
        Strategy::LockSteal => lock_steal::run(sc),
    }
}

/// Checks that `chunks` are a disjoint cover of `0..jobs`.
fn check_exactly_once(chunks: &mut [Range<u64>], jobs: u64) -> Result<()> {
    chunks.sort_by_key(|c| c.start);
    let mut next = 0;
    for c in chunks.iter() {
        if c.start < next {
            return Err(Error::internal(format!(
                "jobs {:?} handed out twice",
                c.start..next.min(c.end)
            )));
        }
        if c.start > next {
            return Err(Error::internal(format!(
                "jobs {:?} never handed out",
                next..c.start
            )));
        }
        next = c.end;
    }
    if next != jobs {
        return Err(Error::internal(format!(
            "jobs {next}..{jobs} never handed out"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
