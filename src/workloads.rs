//! The benchmarks' sleeping workloads as job costs: one definition for
//! `benches/` (which sleep them) and the simulator's validation against
//! those benchmarks' real runs (`crate::simulate`, which charges them in
//! virtual time).
//!
//! Public but hidden, like [`crate::rng`]: not part of dlb's interface.

use crate::rng::Rng;

/// The workloads [`costs`] knows.
pub const NAMES: [&str; 5] = ["uniform", "ramp", "pareto", "seed_1_8", "heavy_block"];

/// The size of rank 0's initial block in DLB's split of `jobs` over
/// `ranks`: `ceil(jobs / ranks)`.
///
/// ```
/// assert_eq!(dlb::workloads::first_block(10, 4), 3);
/// ```
pub fn first_block(jobs: u64, ranks: u64) -> u64 {
    jobs / ranks.max(1) + u64::from(jobs % ranks.max(1) > 0)
}

/// Nominal job costs in milliseconds (mean at least 1 ms), `None` for an
/// unknown workload:
/// - `uniform`: 0.5 to 2.5 ms, random;
/// - `ramp`: 0.25 + 3 i / N ms for job i of N;
/// - `pareto`: Pareto, shape 1.5, scale 0.5 ms (mean 1.5 ms), capped at 25 ms;
/// - `seed_1_8`: the seed example's 1 to 8 units (random, uniform) of 0.5 ms;
/// - `heavy_block`: rank 0's initial block ([`first_block`]) at 4 ms, the
///   rest 1 ms.
///
/// The random draws depend only on `jobs`, so every rank computes the same.
///
/// ```
/// let ramp = dlb::workloads::costs("ramp", 4, 2).unwrap();
/// assert_eq!(ramp, [0.25, 1.0, 1.75, 2.5]);
/// assert!(dlb::workloads::costs("none", 4, 2).is_none());
/// ```
pub fn costs(workload: &str, jobs: u64, ranks: u64) -> Option<Vec<f64>> {
    costs_of_draw(workload, jobs, ranks, 0)
}

/// Whether `workload`'s costs are random draws (so that one draw can be
/// lucky or unlucky for a strategy: where the longest job lies decides a
/// heavy-tailed run).
///
/// ```
/// assert!(dlb::workloads::is_random("pareto"));
/// assert!(!dlb::workloads::is_random("ramp"));
/// ```
pub fn is_random(workload: &str) -> bool {
    matches!(workload, "uniform" | "pareto" | "seed_1_8")
}

/// [`costs`] from draw number `draw` of the random workloads (draw 0 is
/// [`costs`]; the others are seeded differently, the same on every rank);
/// the deterministic workloads are the same for every draw.
///
/// ```
/// let first = dlb::workloads::costs("pareto", 64, 4).unwrap();
/// assert_eq!(dlb::workloads::costs_of_draw("pareto", 64, 4, 0).unwrap(), first);
/// assert_ne!(dlb::workloads::costs_of_draw("pareto", 64, 4, 1).unwrap(), first);
/// assert_eq!(
///     dlb::workloads::costs_of_draw("ramp", 64, 4, 1),
///     dlb::workloads::costs("ramp", 64, 4)
/// );
/// ```
pub fn costs_of_draw(workload: &str, jobs: u64, ranks: u64, draw: u64) -> Option<Vec<f64>> {
    if !NAMES.contains(&workload) {
        return None;
    }
    // Seeded by `jobs` and the draw only: every rank draws the same costs.
    let mut rng = Rng::new(jobs ^ draw.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let heavy_end = first_block(jobs, ranks);
    let cost = (0..jobs).map(|i| match workload {
        "uniform" => 0.5 + 2.0 * rng.unit(),
        "ramp" => 0.25 + 3.0 * i as f64 / jobs as f64,
        "pareto" => (0.5 / (1.0 - rng.unit()).powf(1.0 / 1.5)).min(25.0),
        "seed_1_8" => 0.5 * (1.0 + (rng.unit() * 8.0).floor()),
        _ if i < heavy_end => 4.0,
        _ => 1.0,
    });
    Some(cost.collect())
}

/// [`costs`] scaled so that their mean is exactly `mean_ms`.
///
/// ```
/// let c = dlb::workloads::scaled_costs("seed_1_8", 100, 4, 2.0).unwrap();
/// assert!((c.iter().sum::<f64>() / 100.0 - 2.0).abs() < 1e-9);
/// ```
pub fn scaled_costs(workload: &str, jobs: u64, ranks: u64, mean_ms: f64) -> Option<Vec<f64>> {
    scaled_costs_of_draw(workload, jobs, ranks, 0, mean_ms)
}

/// [`costs_of_draw`] scaled so that their mean is exactly `mean_ms`.
///
/// ```
/// let c = dlb::workloads::scaled_costs_of_draw("pareto", 100, 4, 1, 2.0).unwrap();
/// assert!((c.iter().sum::<f64>() / 100.0 - 2.0).abs() < 1e-9);
/// assert!(dlb::workloads::scaled_costs_of_draw("none", 100, 4, 1, 2.0).is_none());
/// ```
pub fn scaled_costs_of_draw(
    workload: &str,
    jobs: u64,
    ranks: u64,
    draw: u64,
    mean_ms: f64,
) -> Option<Vec<f64>> {
    let cost = costs_of_draw(workload, jobs, ranks, draw)?;
    let factor = mean_ms * jobs as f64 / cost.iter().sum::<f64>();
    Some(cost.into_iter().map(|c| c * factor).collect())
}
