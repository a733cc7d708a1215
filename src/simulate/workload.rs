//! Job costs of the simulated workloads, a pure function of the job ID, the
//! same as `ci/smpi.d/driver.c`'s (so that the simulator and SMPI run the
//! same jobs), plus a heavy-tailed one.

/// The simulated workloads; `mean` is the mean job cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// 0.5 to 1.5 × mean, random.
    Uniform,
    /// Cost grows with the ID: `2 mean (i + 1) / N`.
    Ramp,
    /// The first eighth of the IDs cost 8 × the rest.
    Block,
    /// The seed example's 1 to 8 units (random), mean-scaled.
    Seed,
    /// Pareto, shape 1.5 (mean 3 × scale), capped at 50 × mean.
    Pareto,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 5] = [
        Workload::Uniform,
        Workload::Ramp,
        Workload::Block,
        Workload::Seed,
        Workload::Pareto,
    ];

    /// The name in JSON rows and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Uniform => "uniform",
            Workload::Ramp => "ramp",
            Workload::Block => "block",
            Workload::Seed => "seed",
            Workload::Pareto => "pareto",
        }
    }

    /// The workload named `name`.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The cost of job `i` of `n` (ns) for a mean of `mean_ns`.
    pub fn cost(self, i: u64, n: u64, mean_ns: f64) -> u64 {
        let c = match self {
            Workload::Uniform => mean_ns * (0.5 + unit(i)),
            Workload::Ramp => mean_ns * 2.0 * (i + 1) as f64 / n as f64,
            Workload::Block if i < n / 8 => mean_ns * 8.0 / 1.875,
            Workload::Block => mean_ns / 1.875,
            Workload::Seed => mean_ns * (1.0 + (unit(i) * 8.0).floor()) / 4.5,
            Workload::Pareto => {
                let scale = mean_ns / 3.0;
                (scale / (1.0 - unit(i)).powf(1.0 / 1.5)).min(50.0 * mean_ns)
            }
        };
        c.round() as u64
    }
}

/// splitmix64's finalizer, as in the SMPI driver.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A uniform number in [0, 1) for job `i`.
fn unit(i: u64) -> f64 {
    (mix(i) >> 11) as f64 / 9_007_199_254_740_992.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_close_to_the_asked_mean() {
        let n = 100_000;
        for w in [
            Workload::Uniform,
            Workload::Ramp,
            Workload::Block,
            Workload::Seed,
        ] {
            let total: u64 = (0..n).map(|i| w.cost(i, n, 1e6)).sum();
            let mean = total as f64 / n as f64;
            assert!((mean / 1e6 - 1.0).abs() < 0.01, "{}: mean {mean}", w.name());
        }
        let total: u64 = (0..n).map(|i| Workload::Pareto.cost(i, n, 1e6)).sum();
        let mean = total as f64 / n as f64 / 1e6;
        assert!((0.8..1.05).contains(&mean), "pareto: mean {mean}");
        assert_eq!(Workload::from_name("ramp"), Some(Workload::Ramp));
    }
}
