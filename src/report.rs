//! What `print_statistics` gathers across ranks and prints: every rank's
//! [`Statistics`] packed into one all-gather (the wire format,
//! `pack_statistics` and `unpack_statistics`), the report's rows and how
//! each is rendered, and the `Dlb` methods that read this rank's figures
//! (`statistics`) or gather and print them (`print_statistics`,
//! `statistics_report`).

use crate::dlb::Dlb;
use crate::error::{Error, ErrorKind, Result};
use crate::stats::Statistics;
use std::time::Duration;

impl Dlb {
    /// This rank's figures for the current or last run (reset at every
    /// setup). Protocol counters are zero for the static variant.
    pub fn statistics(&self) -> Statistics {
        self.dispenser.statistics()
    }

    /// Prints DLB's statistics of the last run on rank 0, as DLB's
    /// `dlb_print_statistics` does: 0 nothing; 1 time
    /// in `give_more`, the final call separately; 2 also waits for new work,
    /// jobs per rank, dlb's steal counters and the termination latency (time
    /// from the last job done anywhere to each rank being told "no more",
    /// from wall clocks, so only approximate across nodes); 3 also the last
    /// two work slices; 4 also longest and shortest slice, average load per
    /// job and the time from setup to termination. Each figure is shown as
    /// min, max and sum over ranks. Collective at every level: the levels
    /// travel with the figures, and ranks that passed different levels all
    /// get a [`Mismatch`](crate::ErrorKind::Mismatch) error instead of a
    /// report (or a hang).
    ///
    /// ```no_run
    /// # fn f(dlb: &dlb::Dlb) -> dlb::Result<()> {
    /// dlb.print_statistics(2)?;
    /// # Ok(()) }
    /// ```
    pub fn print_statistics(&self, level: u32) -> Result<()> {
        if let Some(report) = self.statistics_report(level)? {
            print!("{report}");
        }
        Ok(())
    }

    /// What `print_statistics` prints, on rank 0; `None` on other ranks and
    /// for level 0. Collective at every level (see `print_statistics`).
    pub fn statistics_report(&self, level: u32) -> Result<Option<String>> {
        self.gather_report(Some(level))
    }

    /// The collective of `statistics_report` for a rank whose level its
    /// caller refused (a negative level in C, a wrong one in Python): it
    /// takes part with a level that no valid call passes, so that the other
    /// ranks fail with a mismatch instead of waiting for it, and gets no
    /// report. Errors as `statistics_report`'s (a mismatch unless every
    /// rank's level was refused).
    #[cfg(any(feature = "capi", feature = "python"))]
    pub(crate) fn refuse_statistics(&self) -> Result<()> {
        self.gather_report(None).map(|_| ())
    }

    /// Gathers every rank's figures and level (`None`: refused, sent as
    /// `u64::MAX`, above every `u32`) and renders the report on rank 0.
    fn gather_report(&self, level: Option<u32>) -> Result<Option<String>> {
        crate::mpi::ensure_active()?;
        let sent = level.map_or(u64::MAX, u64::from);
        let mut mine = pack_statistics(&self.statistics()).to_vec();
        mine.push(sent);
        let all = self.comm.allgather(&mine)?;
        let per_rank: Vec<&[u64]> = all.chunks(mine.len()).collect();
        let levels: Vec<u64> = per_rank.iter().map(|v| v[v.len() - 1]).collect();
        if levels.iter().any(|&l| l != sent) {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!("print_statistics: the ranks passed different levels {levels:?}"),
            ));
        }
        let Some(level) = level.filter(|&l| l != 0 && self.rank() == 0) else {
            return Ok(None);
        };
        let per_rank = per_rank.iter().map(|v| unpack_statistics(v)).collect();
        let header = format!(
            "variant {}, atomics {}, {} ranks",
            self.variant.name(),
            self.path.map_or("none", |p| p.name()),
            self.size()
        );
        Ok(Some(Gathered { per_rank }.report(level, &header)))
    }
}

/// Statistics as nanoseconds and counts, `u64::MAX` for "none", for one
/// all-gather; [`unpack_statistics`] is the inverse.
fn pack_statistics(s: &Statistics) -> [u64; 20] {
    let dur = |d: Duration| d.as_nanos() as u64;
    let opt = |d: Option<Duration>| d.map_or(u64::MAX, dur);
    [
        s.jobs,
        s.calls,
        dur(s.time_in_give_more),
        dur(s.final_call),
        dur(s.longest_wait),
        dur(s.total_wait),
        opt(s.last_slices[0]),
        opt(s.last_slices[1]),
        opt(s.longest_slice),
        opt(s.shortest_slice),
        dur(s.busy),
        opt(s.setup_to_end),
        s.steal_attempts,
        s.steals,
        s.units_stolen,
        s.claim_retries,
        s.reports,
        s.last_done_ns.unwrap_or(u64::MAX),
        s.told_ns.unwrap_or(u64::MAX),
        s.claims,
    ]
}

fn unpack_statistics(v: &[u64]) -> Statistics {
    let some = |x: u64| (x != u64::MAX).then_some(x);
    let opt = |x: u64| some(x).map(Duration::from_nanos);
    Statistics {
        jobs: v[0],
        calls: v[1],
        time_in_give_more: Duration::from_nanos(v[2]),
        final_call: Duration::from_nanos(v[3]),
        longest_wait: Duration::from_nanos(v[4]),
        total_wait: Duration::from_nanos(v[5]),
        last_slices: [opt(v[6]), opt(v[7])],
        longest_slice: opt(v[8]),
        shortest_slice: opt(v[9]),
        busy: Duration::from_nanos(v[10]),
        setup_to_end: opt(v[11]),
        steal_attempts: v[12],
        steals: v[13],
        units_stolen: v[14],
        claim_retries: v[15],
        reports: v[16],
        last_done_ns: some(v[17]),
        told_ns: some(v[18]),
        claims: v[19],
    }
}

/// The figures `print_statistics` reports: every rank's, in rank order.
struct Gathered {
    per_rank: Vec<Statistics>,
}

/// Minimum, maximum and sum of `values`.
fn min_max_sum(values: impl Iterator<Item = u64> + Clone) -> (u64, u64, u64) {
    (
        values.clone().min().unwrap_or(0),
        values.clone().max().unwrap_or(0),
        values.sum(),
    )
}

fn secs(ns: u64) -> f64 {
    ns as f64 * 1e-9
}

fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// One line of the report: a figure per rank shown as min, max and sum.
enum Row {
    /// A duration per rank (zero when a rank has none).
    Time(&'static str, fn(&Statistics) -> Duration),
    /// A count per rank.
    Count(&'static str, fn(&Statistics) -> u64),
    /// From the last job done on any rank to when each rank was told.
    TerminationLatency,
    /// All work slices over all jobs (one number, not per rank).
    AverageLoad,
}

/// The report's rows with the level (1 to 4) from which each is shown, in
/// DLB's order; dlb's own counters join at level 2.
const ROWS: &[(u32, Row)] = &[
    (1, Row::Time("time in give_more", |s| s.time_in_give_more)),
    (1, Row::Time("  of which the final call", |s| s.final_call)),
    (
        2,
        Row::Time("longest wait for new work", |s| s.longest_wait),
    ),
    (
        2,
        Row::Time("all waits for new work (idle)", |s| s.total_wait),
    ),
    (2, Row::Count("jobs per rank", |s| s.jobs)),
    (2, Row::Count("claims from the own range", |s| s.claims)),
    (2, Row::Count("steal attempts", |s| s.steal_attempts)),
    (2, Row::Count("successful steals", |s| s.steals)),
    (2, Row::Count("units stolen", |s| s.units_stolen)),
    (2, Row::TerminationLatency),
    (
        3,
        Row::Time("last work slice", |s| s.last_slices[0].unwrap_or_default()),
    ),
    (
        3,
        Row::Time("work slice before last", |s| {
            s.last_slices[1].unwrap_or_default()
        }),
    ),
    (
        4,
        Row::Time("longest work slice (task)", |s| {
            s.longest_slice.unwrap_or_default()
        }),
    ),
    (
        4,
        Row::Time("shortest work slice (task)", |s| {
            s.shortest_slice.unwrap_or_default()
        }),
    ),
    (4, Row::AverageLoad),
    (
        4,
        Row::Time("setup to termination", |s| {
            s.setup_to_end.unwrap_or_default()
        }),
    ),
];

impl Gathered {
    /// DLB's report at `level` (1 to 4, each including the ones below) plus
    /// dlb's own counters at level 2 and above.
    fn report(&self, level: u32, header: &str) -> String {
        let mut out = format!("dlb statistics ({header}):\n");
        for (_, row) in ROWS.iter().filter(|(from, _)| *from <= level) {
            out.push_str(&self.render(row));
        }
        out
    }

    /// One row of the report, with its newline.
    fn render(&self, row: &Row) -> String {
        let r = &self.per_rank;
        let time = |what: &str, values: Vec<u64>| {
            let (min, max, sum) = min_max_sum(values.into_iter());
            format!(
                "  {what:<36} min {:>10.6} s  max {:>10.6} s  sum {:>10.6} s\n",
                secs(min),
                secs(max),
                secs(sum)
            )
        };
        match row {
            Row::Time(what, f) => time(what, r.iter().map(|s| ns(f(s))).collect()),
            Row::Count(what, f) => {
                let (min, max, sum) = min_max_sum(r.iter().map(f));
                format!("  {what:<36} min {min:>12}  max {max:>12}  sum {sum:>12}\n")
            }
            Row::TerminationLatency => {
                let last_done = r.iter().filter_map(|s| s.last_done_ns).max();
                let latency = |s: &Statistics| match (s.told_ns, last_done) {
                    (Some(told), Some(done)) => told.saturating_sub(done),
                    _ => 0,
                };
                time(
                    "termination latency (last job->told)",
                    r.iter().map(latency).collect(),
                )
            }
            Row::AverageLoad => {
                let jobs: u64 = r.iter().map(|s| s.jobs).sum();
                let busy: u64 = r.iter().map(|s| ns(s.busy)).sum();
                let average = if jobs == 0 {
                    0.0
                } else {
                    secs(busy) / jobs as f64
                };
                format!(
                    "  {:<36} {average:>10.6} s over {jobs} jobs\n",
                    "average load per job"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_survive_the_all_gather_packing() {
        let s = Statistics {
            jobs: 7,
            calls: 9,
            time_in_give_more: Duration::from_micros(12),
            last_slices: [Some(Duration::from_nanos(5)), None],
            shortest_slice: Some(Duration::ZERO),
            steals: 3,
            told_ns: Some(123),
            ..Statistics::default()
        };
        assert_eq!(unpack_statistics(&pack_statistics(&s)), s);
        let none = Statistics::default();
        assert_eq!(unpack_statistics(&pack_statistics(&none)), none);
    }

    #[test]
    fn every_level_adds_lines() {
        let mut a = Statistics {
            jobs: 4,
            ..Statistics::default()
        };
        a.time_in_give_more = Duration::from_millis(5);
        let g = Gathered {
            per_rank: vec![a, Statistics { jobs: 6, ..a }],
        };
        let lens: Vec<usize> = (1..=4).map(|l| g.report(l, "x").lines().count()).collect();
        assert!(lens.windows(2).all(|w| w[1] > w[0]), "{lens:?}");
        let l2 = g.report(2, "x");
        assert!(
            l2.contains("jobs per rank")
                && l2.contains("min            4  max            6  sum           10"),
            "{l2}"
        );
        assert!(g.report(1, "x").contains("time in give_more"));
    }
}
