//! Statistics of the last run: what each rank records while it runs
//! ([`Timeline`]), the per-rank figures a program can log itself
//! ([`Statistics`]), and DLB's `print_statistics` levels.
//!
//! Figures are for the last run and are reset by every `setup`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One rank's figures for the last run, from [`Dlb::statistics`](crate::Dlb::statistics).
///
/// A *work slice* is the time between two `give_more` calls, when the
/// program ran the chunk it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Jobs handed to this rank.
    pub jobs: u64,
    /// `give_more` calls, the final one included.
    pub calls: u64,
    /// Time spent inside `give_more`, the final call included.
    pub time_in_give_more: Duration,
    /// Time of the final call, the one that answered "no more" (it waits for
    /// the other ranks to finish).
    pub final_call: Duration,
    /// Longest single wait for new work (own range empty, looking for more).
    pub longest_wait: Duration,
    /// All waits for new work, the final one included.
    pub total_wait: Duration,
    /// The last and the one before last work slices.
    pub last_slices: [Option<Duration>; 2],
    /// Longest work slice.
    pub longest_slice: Option<Duration>,
    /// Shortest work slice.
    pub shortest_slice: Option<Duration>,
    /// All work slices added up.
    pub busy: Duration,
    /// From the end of `setup` to the return of the final call.
    pub setup_to_end: Option<Duration>,
    /// Steal attempts (each a read of a victim's range, maybe a CAS).
    pub steal_attempts: u64,
    /// Successful steals.
    pub steals: u64,
    /// Units taken by successful steals (a unit is one job unless a run has
    /// more than 2^32 - 1 jobs).
    pub units_stolen: u64,
    /// Claims from the own range that lost a race with a thief and retried.
    pub claim_retries: u64,
    /// Additions to the global done counter.
    pub reports: u64,
    /// Wall clock (ns since the Unix epoch) when this rank asked for more
    /// after its last chunk, i.e. when its last job was done.
    pub last_done_ns: Option<u64>,
    /// Wall clock (ns since the Unix epoch) when this rank was told "no more".
    pub told_ns: Option<u64>,
}

/// What a rank records during a run.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    setup_end: Instant,
    /// When the last `give_more` that returned a chunk returned.
    last_return: Option<Instant>,
    /// When this rank last asked for more after a chunk (its last job done).
    last_done: Option<Instant>,
    pub(crate) stats: Statistics,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        Timeline {
            setup_end: Instant::now(),
            last_return: None,
            last_done: None,
            stats: Statistics::default(),
        }
    }

    /// A `give_more` call begins; the previous chunk (if any) is done.
    pub(crate) fn enter(&mut self) -> Instant {
        let now = Instant::now();
        if let Some(returned) = self.last_return.take() {
            let slice = now - returned;
            let s = &mut self.stats;
            s.busy += slice;
            s.last_slices = [Some(slice), s.last_slices[0]];
            s.longest_slice = Some(s.longest_slice.map_or(slice, |l| l.max(slice)));
            s.shortest_slice = Some(s.shortest_slice.map_or(slice, |l| l.min(slice)));
            self.last_done = Some(now);
        }
        now
    }

    /// The call that began at `entered` returns `jobs` jobs (0: "no more").
    /// Reads the clock once; the wall clock only at the final call, where
    /// both wall-clock figures are derived from it.
    pub(crate) fn leave(&mut self, entered: Instant, jobs: u64) {
        let now = Instant::now();
        let s = &mut self.stats;
        s.calls += 1;
        s.time_in_give_more += now - entered;
        if jobs > 0 {
            s.jobs += jobs;
            self.last_return = Some(now);
        } else {
            s.final_call = now - entered;
            s.setup_to_end = Some(now - self.setup_end);
            let told = wall_ns();
            s.told_ns = Some(told);
            s.last_done_ns = self
                .last_done
                .map(|d| told.saturating_sub((now - d).as_nanos() as u64));
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The figures `print_statistics` reports, one vector per figure with one
/// entry per rank.
pub(crate) struct Gathered {
    pub(crate) per_rank: Vec<Statistics>,
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
    pub(crate) fn report(&self, level: u32, header: &str) -> String {
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
    fn slices_are_the_time_between_calls() {
        let mut t = Timeline::new();
        let e = t.enter();
        t.leave(e, 3);
        std::thread::sleep(Duration::from_millis(2));
        let e = t.enter();
        t.leave(e, 2);
        std::thread::sleep(Duration::from_millis(1));
        let e = t.enter();
        t.leave(e, 0);
        let s = t.stats;
        assert_eq!((s.jobs, s.calls), (5, 3));
        assert!(s.last_slices[0].unwrap() >= Duration::from_millis(1));
        assert!(s.last_slices[1].unwrap() >= Duration::from_millis(2));
        assert!(s.longest_slice >= s.shortest_slice);
        assert!(s.busy >= Duration::from_millis(3));
        assert!(s.told_ns.unwrap() >= s.last_done_ns.unwrap());
        assert!(s.setup_to_end.unwrap() >= s.busy);
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
