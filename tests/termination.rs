//! A rank that was told "no more" and then computes outside MPI must not
//! delay any other rank's "no more": nobody may wait on it. Each run picks
//! one rank that, once told "no more", sleeps 1.5 s outside MPI; every other
//! rank must hear "no more" well before that sleep ends. Runs with whatever
//! `DLB_MPIEXEC` launches, so `ci/multinode` runs it across nodes too; and,
//! on whatever it launches, once more with every rank a node of its own
//! and the node tree a chain, so that the ranks away include leaders that
//! relay "finished" to the node below them.

mod common;

use common::{is_child, launch, nanos, start_child};
use std::time::Duration;

/// How long the chosen rank computes after "no more".
const AWAY: Duration = Duration::from_millis(1500);
/// Runs, each with another rank away.
const RUNS: usize = 4;

#[test]
fn away_child() {
    let Some((_mpi, mut dlb, mut rec)) = start_child() else {
        return;
    };
    let (me, p) = (dlb.rank(), dlb.size());
    for run in 0..RUNS {
        // Ranks 0, p-1, 1, p-2: the ends of the node map and the middle.
        let away = [0, p - 1, 1 % p, p.saturating_sub(2)][run];
        let mut r = dlb.setup(40 * p as u64).unwrap();
        while let Some(jobs) = r.give_more(1).unwrap() {
            // Uneven jobs, so that ranks run dry at different times.
            let cost = 200 + 150 * ((jobs.start as usize + me) % 4);
            std::thread::sleep(Duration::from_micros(cost as u64));
        }
        let told = nanos();
        rec.record(&[&"none", &run, &away, &told]);
        if me == away {
            std::thread::sleep(AWAY);
        }
    }
    drop(rec);
    dlb.finalize().unwrap();
}

#[test]
fn a_rank_away_after_no_more_delays_nobody() {
    if is_child() {
        return;
    }
    let chain: &[(&str, &str)] = &[
        ("DLB_ATOMICS", "hybrid"),
        ("DLB_RANKS_PER_NODE", "1"),
        ("DLB_TREE_FAN_OUT", "1"),
    ];
    for (ranks, env) in [(2, &[][..]), (4, &[]), (8, &[]), (4, chain)] {
        let launch = launch("away_child", ranks, env);
        for run in 0..RUNS {
            let mut away = None;
            let times: Vec<u128> = launch
                .ranks
                .iter()
                .map(|lines| {
                    let fields: Vec<&str> = lines[run].split(' ').collect();
                    assert_eq!(fields[0], "none", "{}", launch.output);
                    away = Some(fields[2].parse::<usize>().unwrap());
                    fields[3].parse().unwrap()
                })
                .collect();
            let away = away.unwrap();
            let first = *times.iter().min().unwrap();
            let last = *times.iter().max().unwrap();
            // The away rank's sleep starts at its own "no more"; nobody may
            // hear later than a fraction of that sleep after it.
            let limit = times[away].max(first) + (AWAY.as_nanos() / 3);
            assert!(
                last < limit,
                "run {run} on {ranks} ranks ({env:?}): rank {away} went away at {} ms after the first \
                 'no more', and the last rank heard at {} ms (each rank, in ms: {:?})",
                (times[away] - first) / 1_000_000,
                (last - first) / 1_000_000,
                times
                    .iter()
                    .map(|t| (t - first) / 1_000_000)
                    .collect::<Vec<_>>()
            );
        }
    }
}
