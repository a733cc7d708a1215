//! The check itself: every interface and variant for several rounds, with
//! random `maxjobs` and random short jobs, and on rank 0 the count of how
//! often each job ID ran, which must be exactly once.

use crate::cli::{Interface, Options};
use crate::launcher::{launcher_mismatch, launcher_size};
use crate::report::{Report, RunRecord, Stack};
use dlb::collectives::{allgather, allreduce_sum};
use dlb::rng::Rng;
use dlb::Dlb;
use std::time::{Duration, Instant};

/// What went wrong, on this rank (or, for the verdict, in the job).
pub type Outcome = Result<(), String>;

/// Runs everything; returns the verdict, agreed by all ranks, or an error
/// that stopped the check before they could agree. The report prints on
/// rank 0 once dlb numbered the ranks.
pub fn check(o: &Options, report: &mut Report) -> Result<Outcome, dlb::Error> {
    let mut failure: Option<String> = None;
    for (i, &variant) in o.variants.iter().enumerate() {
        let mut dlb = match Dlb::builder().variant(variant).seed(o.seed).init() {
            Ok(d) => d,
            Err(e) => return Ok(Err(format!("{variant:?} init: {}", e.message()))),
        };
        report.set_printing(dlb.rank() == 0);
        if i == 0 {
            describe(&dlb, o, report)?;
            if let Some(why) = launcher_mismatch(dlb.size()) {
                return Ok(Err(why));
            }
        }
        for &interface in &o.interfaces {
            for round in 0..o.rounds {
                let started = Instant::now();
                let (outcome, mine) = run_one(&mut dlb, o, interface, round)?;
                let seconds = started.elapsed().as_secs_f64();
                let mut failed = [u64::from(outcome.is_err())];
                allreduce_sum(&dlb, &mut failed)?;
                let jobs_per_rank = allgather(&dlb, mine)?;
                let steals_per_rank = allgather(&dlb, dlb.statistics().steals)?;
                if let Err(why) = &outcome {
                    eprintln!(
                        "dlbcheck: rank {}: {variant:?} {} round {round}: {why}",
                        dlb.rank(),
                        interface.name()
                    );
                }
                if failed[0] > 0 && failure.is_none() {
                    failure = Some(format!(
                        "{variant:?} {} round {round} failed on {} rank(s)",
                        interface.name(),
                        failed[0]
                    ));
                }
                report.run(RunRecord {
                    variant: variant.name(),
                    interface: interface.name(),
                    round,
                    outcome,
                    failed_ranks: failed[0],
                    seconds,
                    jobs_per_rank,
                    steals_per_rank,
                });
            }
        }
        if let Some(text) = dlb.statistics_report(2)? {
            report.say_block(&text);
        }
        report.jobs_per_node(variant.name(), jobs_per_node(&dlb)?);
        dlb.finalize()?;
    }
    Ok(failure.map_or(Ok(()), Err))
}

/// The jobs of the last run per node, in node order. Collective.
fn jobs_per_node(dlb: &Dlb) -> Result<Vec<u64>, dlb::Error> {
    let jobs = allgather(dlb, dlb.statistics().jobs)?;
    let node_of = dlb.node_of_ranks()?;
    let nodes = node_of.iter().max().map_or(0, |m| m + 1);
    Ok((0..nodes)
        .map(|n| {
            (0..jobs.len())
                .filter(|&r| node_of[r] == n)
                .map(|r| jobs[r])
                .sum()
        })
        .collect())
}

/// Finds out what dlb chose on this stack and reports it. Collective.
fn describe(dlb: &Dlb, o: &Options, report: &mut Report) -> Result<(), dlb::Error> {
    let nodes = dlb.node_count()?;
    let levels = dlb.level_description()?;
    let progress = dlb.probe_passive_progress(Duration::from_millis(50))?;
    let stack = Stack {
        library: dlb::library_version()?,
        ranks: dlb.size(),
        nodes,
        launcher: launcher_size(),
        variant: dlb.variant().name(),
        atomics: dlb.atomics_path().map(|p| p.name()),
        window: dlb.window_flavor().map(|w| w.name()),
        levels,
        progress,
    };
    report.stack(&stack, o);
    Ok(())
}

/// One run of `interface`: this rank's finding (on rank 0, whether every
/// ID ran exactly once) and how many jobs this rank ran. Collective.
fn run_one(
    dlb: &mut Dlb,
    o: &Options,
    interface: Interface,
    round: u32,
) -> Result<(Outcome, u64), dlb::Error> {
    let me = dlb.rank() as u64;
    let size = dlb.size() as u64;
    let name = interface.name();
    let mut rng = Rng::new(o.seed ^ (me << 32) ^ u64::from(round) << 16 ^ name.len() as u64);
    let distr = color_counts(o, round);
    let total: u64 = if interface == Interface::Color {
        distr.iter().sum()
    } else {
        o.jobs
    };
    let offsets: Vec<u64> = distr
        .iter()
        .scan(0, |acc, &c| Some(std::mem::replace(acc, *acc + c)))
        .collect();
    let mut count = vec![0u64; total as usize];
    let mut mine = 0u64;
    let mut work = |ids: &mut dyn Iterator<Item = u64>| -> Outcome {
        for id in ids {
            let slot = count
                .get_mut(id as usize)
                .ok_or_else(|| format!("job ID {id} out of range"))?;
            *slot += 1;
            mine += 1;
            std::thread::sleep(Duration::from_micros(rng.below(o.job_us + 1)));
        }
        Ok(())
    };
    let mut pick = Rng::new(o.seed ^ me.wrapping_mul(31) ^ u64::from(round));
    let mut outcome: Outcome = Ok(());
    match interface {
        Interface::Plain => {
            let mut run = dlb.setup(o.jobs)?;
            while let Some(r) = run.give_more(1 + pick.below(o.maxjobs))? {
                outcome = outcome.and(work(&mut r.clone()));
            }
        }
        Interface::Color => {
            let mut run = dlb.setup_color(&distr)?;
            while let Some((c, r)) = run.give_more(1 + pick.below(o.maxjobs))? {
                if distr[c] == 0 {
                    outcome = outcome.and(Err(format!("empty color {c} was returned")));
                }
                outcome = outcome.and(work(&mut r.map(|id| offsets[c] + id)));
            }
        }
        Interface::Rr => {
            let mut run = dlb.setup_rr(o.jobs)?;
            while let Some(s) = run.give_more(1 + pick.below(o.maxjobs))? {
                if s.stride != size {
                    outcome = outcome.and(Err(format!(
                        "stride {} is not the number of ranks",
                        s.stride
                    )));
                }
                outcome = outcome.and(work(&mut s.iter()));
            }
        }
    }
    allreduce_sum(dlb, &mut count)?;
    if me == 0 {
        outcome = outcome.and(each_once(&count));
    }
    Ok((outcome, mine))
}

/// The color counts of round `round`: the same on every rank (seeded
/// without the rank), some colors empty, about `o.jobs` jobs in all.
fn color_counts(o: &Options, round: u32) -> Vec<u64> {
    let mut colors = Rng::new(o.seed ^ u64::from(round));
    let n = 1 + colors.below(6);
    let mut d: Vec<u64> = (0..n)
        .map(|_| {
            if colors.below(4) == 0 {
                0
            } else {
                1 + colors.below(o.jobs)
            }
        })
        .collect();
    let total: u64 = d.iter().sum();
    if total > 0 {
        d.iter_mut().for_each(|c| *c = *c * o.jobs / total);
    }
    d
}

/// Whether every job ran exactly once, given how often each ran (summed
/// over the ranks).
fn each_once(count: &[u64]) -> Outcome {
    let wrong: Vec<(usize, u64)> = count
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, c)| c != 1)
        .take(5)
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "job IDs not run exactly once (ID, times): {wrong:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_once_names_the_wrong_ids() {
        assert_eq!(each_once(&[1, 1, 1]), Ok(()));
        let why = each_once(&[1, 0, 2, 1]).unwrap_err();
        assert!(why.contains("(1, 0), (2, 2)"), "{why}");
    }

    #[test]
    fn colors_have_about_the_jobs_and_agree() {
        let o = match crate::cli::parse(["--jobs", "1000"]) {
            Ok(crate::cli::Command::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        for round in 0..20 {
            let d = color_counts(&o, round);
            assert_eq!(d, color_counts(&o, round));
            let sum: u64 = d.iter().sum();
            assert!(
                sum <= 1000 && (sum == 0 || sum + d.len() as u64 >= 1000),
                "{d:?}"
            );
        }
    }
}
