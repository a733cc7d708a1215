//! What one soak launch is, drawn from its seed alone: which MPI stack,
//! how many ranks (on one node or across simulated nodes), then, inside the
//! launch, each init/finalize cycle's builder choices and each run's
//! interface, job count, `maxjobs` and job costs. Every rank draws the same
//! plan from the same seed, so a seed replays a launch exactly.

use dlb::rng::Rng;
use dlb::{AtomicsPath, Builder, Schedule, Variant, WindowFlavor};

/// The launch: the MPI stack and where its ranks run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// `openmpi` or `mpich` on one node; `openmpi-pt2pt`, `openmpi-ucx` or
    /// `mpich` across nodes (the launchers of `ci/multinode.d`).
    pub stack: &'static str,
    pub ranks: u64,
    /// `(nodes, ranks per node)` across simulated nodes, `None` on one node.
    pub shape: Option<(u64, u64)>,
    /// Environment the launch needs (Open MPI's one-sided component).
    pub env: Vec<(&'static str, &'static str)>,
}

impl Launch {
    /// The launch of `seed`; across simulated nodes about one time in three
    /// when `multinode`.
    pub fn of(seed: u64, multinode: bool) -> Launch {
        let mut rng = Rng::new(seed ^ 0x1a0c_5eed);
        if multinode && rng.below(3) == 0 {
            let stack = ["openmpi-pt2pt", "openmpi-ucx", "mpich"][rng.below(3) as usize];
            let nodes = 2 + rng.below(2);
            let per_node = 1 + rng.below(if nodes == 2 { 4 } else { 3 });
            return Launch {
                stack,
                ranks: nodes * per_node,
                shape: Some((nodes, per_node)),
                env: Vec::new(),
            };
        }
        if rng.below(2) == 0 {
            return Launch {
                stack: "mpich",
                ranks: 1 + rng.below(16),
                shape: None,
                env: Vec::new(),
            };
        }
        // Open MPI's default one-sided components (osc/sm within a node),
        // or the software paths users select on clusters: osc/pt2pt and
        // osc/ucx (slow here, so fewer ranks).
        match rng.below(4) {
            0 => Launch {
                stack: "openmpi",
                ranks: 1 + rng.below(12),
                shape: None,
                env: vec![("OMPI_MCA_osc", "pt2pt")],
            },
            1 => Launch {
                stack: "openmpi",
                ranks: 1 + rng.below(6),
                shape: None,
                env: vec![("OMPI_MCA_osc", "ucx")],
            },
            _ => Launch {
                stack: "openmpi",
                ranks: 1 + rng.below(16),
                shape: None,
                env: Vec::new(),
            },
        }
    }

    /// The launch as shell assignments, for `ci/soak` to `eval`.
    pub fn shell(&self) -> String {
        let (nodes, per_node) = self.shape.unwrap_or((1, self.ranks));
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "stack={} ranks={} nodes={nodes} per_node={per_node} across={} env='{}'",
            self.stack,
            self.ranks,
            u8::from(self.shape.is_some()),
            env.join(" ")
        )
    }
}

/// One init/finalize cycle: the builder's choices.
#[derive(Clone, Debug)]
pub struct Cycle {
    pub variant: Variant,
    pub atomics: Option<AtomicsPath>,
    pub window: Option<WindowFlavor>,
    pub max_units: Option<u64>,
    pub ranks_per_node: Option<usize>,
    /// `None`: the default cap.
    pub claim_ahead: Option<u64>,
    pub per_call_timing: bool,
    pub schedule: Schedule,
    /// Direct steals (on any path; they act only across nodes).
    pub direct_steals: DirectSteals,
    pub seed: u64,
    pub runs: u64,
}

/// How a cycle asks for direct steals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectSteals {
    /// Nothing asked: init probes across real nodes.
    Default,
    On,
    Off,
    /// As init's probe finds, on any nodes (`DLB_DIRECT_STEALS=probe`).
    Probe,
}

impl Cycle {
    /// Cycle `index` of a launch: the first takes every default (it must
    /// work on every stack); the others choose at random, so some choices
    /// are refused by design (shared memory across nodes, osc/rdma's crash).
    pub fn draw(rng: &mut Rng, index: u64, launch: &Launch) -> Cycle {
        let runs = 1 + rng.below(12);
        let seed = rng.next_u64();
        if index == 0 {
            return Cycle {
                variant: Variant::Rma,
                atomics: None,
                window: None,
                max_units: None,
                ranks_per_node: None,
                claim_ahead: None,
                per_call_timing: false,
                schedule: Schedule::Fixed,
                direct_steals: DirectSteals::Default,
                seed,
                runs,
            };
        }
        let variant = if rng.below(6) == 0 {
            Variant::Static
        } else {
            Variant::Rma
        };
        let atomics = [
            None,
            Some(AtomicsPath::Mpi),
            Some(AtomicsPath::Shm),
            Some(AtomicsPath::Hybrid),
        ][rng.below(4) as usize];
        let window = [
            None,
            None,
            Some(WindowFlavor::Allocate),
            Some(WindowFlavor::Shared),
            Some(WindowFlavor::Create),
        ][rng.below(5) as usize];
        // Small caps push even small job counts through coarse units.
        let max_units = (rng.below(3) == 0).then(|| 1 + rng.below(200));
        let ranks_per_node = (launch.shape.is_none() && launch.ranks > 1 && rng.below(3) == 0)
            .then(|| 1 + rng.below(launch.ranks - 1) as usize);
        let claim_ahead = [None, None, Some(1), Some(1024)][rng.below(4) as usize];
        let per_call_timing = rng.below(2) == 0;
        let schedule = [
            Schedule::Fixed,
            Schedule::Fixed,
            Schedule::Guided,
            Schedule::Factoring,
        ][rng.below(4) as usize];
        let direct_steals = [
            DirectSteals::On,
            DirectSteals::On,
            DirectSteals::Probe,
            DirectSteals::Off,
        ]
        .get(rng.below(8) as usize)
        .copied()
        .unwrap_or(DirectSteals::Default);
        Cycle {
            variant,
            atomics,
            window,
            max_units,
            ranks_per_node,
            claim_ahead,
            per_call_timing,
            schedule,
            direct_steals,
            seed,
            runs,
        }
    }

    pub fn builder(&self) -> Builder {
        let mut b = Builder::default().variant(self.variant).seed(self.seed);
        if let Some(a) = self.atomics {
            b = b.atomics(a);
        }
        if let Some(w) = self.window {
            b = b.window(w);
        }
        if let Some(m) = self.max_units {
            b = b.max_units_per_word(m);
        }
        if let Some(k) = self.ranks_per_node {
            b = b.ranks_per_node(k);
        }
        if let Some(n) = self.claim_ahead {
            b = b.claim_ahead(n);
        }
        let b = b
            .per_call_timing(self.per_call_timing)
            .schedule(self.schedule);
        match self.direct_steals {
            DirectSteals::Default => b,
            DirectSteals::On => b.direct_steals(true),
            DirectSteals::Off => b.direct_steals(false),
            DirectSteals::Probe => b.direct_steals_if_passive(),
        }
    }
}

/// Which interface a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    Plain,
    Color,
    RoundRobin,
}

/// How long the jobs of a run take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// No work: the protocol as fast as it goes.
    Zero,
    /// Each piece sleeps up to this many microseconds per job (at most 4
    /// jobs' worth), on every rank.
    Uniform(u64),
    /// Only this rank sleeps, this many microseconds per piece: the others
    /// must steal from it.
    Skewed(usize, u64),
}

/// One run: the same on every rank, except `maxjobs`, which each rank
/// draws anew for every call below `maxjobs`.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub interface: Interface,
    pub jobs: u64,
    /// Color counts (the color interface; they sum to `jobs`).
    pub colors: Vec<u64>,
    pub maxjobs: u64,
    pub cost: Cost,
}

impl RunSpec {
    /// A run on `ranks` ranks: N is 0, 1, below P, small, medium or huge
    /// (above 2^32, so the protocol counts in coarse units).
    pub fn draw(rng: &mut Rng, ranks: usize) -> RunSpec {
        let p = ranks as u64;
        let interface =
            [Interface::Plain, Interface::Color, Interface::RoundRobin][rng.below(3) as usize];
        let (jobs, maxjobs) = match rng.below(12) {
            0 => (0, 1 + rng.below(8)),
            1 => (1, 1 + rng.below(8)),
            2 => (rng.below(p), 1 + rng.below(4)),
            3..=7 => (1 + rng.below(3000), 1 + rng.below(16)),
            8..=9 => (1 + rng.below(20_000), 1 + rng.below(256)),
            _ => {
                let jobs = (1 << 32) + rng.below(1 << 40);
                // A few hundred calls per rank, not billions.
                (jobs, 1 + jobs / (p * (20 + rng.below(200))))
            }
        };
        let colors = if interface == Interface::Color {
            split(rng, jobs)
        } else {
            Vec::new()
        };
        let calls = jobs / maxjobs.max(1) + 1;
        let cost = match rng.below(4) {
            // Sleeps only where the pieces are few enough to stay short.
            1 if calls < 4000 => Cost::Uniform(1 + rng.below(100)),
            2 if calls < 4000 => Cost::Skewed(rng.below(p) as usize, 1 + rng.below(300)),
            _ => Cost::Zero,
        };
        RunSpec {
            interface,
            jobs,
            colors,
            maxjobs,
            cost,
        }
    }
}

/// `jobs` split over 1 to 6 colors, about one color in four empty.
fn split(rng: &mut Rng, jobs: u64) -> Vec<u64> {
    let n = 1 + rng.below(6) as usize;
    let weights: Vec<u64> = (0..n)
        .map(|_| {
            if rng.below(4) == 0 {
                0
            } else {
                1 + rng.below(100)
            }
        })
        .collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        let mut counts = vec![0; n];
        counts[n - 1] = jobs;
        return counts;
    }
    let mut counts: Vec<u64> = weights
        .iter()
        .map(|&w| (u128::from(jobs) * u128::from(w) / u128::from(total)) as u64)
        .collect();
    let given: u64 = counts.iter().sum();
    let last = weights.iter().rposition(|&w| w > 0).unwrap_or(n - 1);
    counts[last] += jobs - given;
    counts
}
