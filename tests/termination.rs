//! A rank that was told "no more" and then computes outside MPI must not
//! delay any other rank's "no more": nobody may wait on it. Each run picks
//! one rank that, once told "no more", sleeps 1.5 s outside MPI; every other
//! rank must hear "no more" well before that sleep ends. Runs with whatever
//! `DLB_MPIEXEC` launches, so `ci/multinode` runs it across nodes too; and,
//! on whatever it launches, once more with every rank a node of its own
//! and the node tree a chain, so that the ranks away include leaders that
//! relay "finished" to the node below them.
//!
//! The other way round: a node's leader that comes late to a run (it
//! computes outside MPI before its first `give_more`, robbed of its whole
//! block meanwhile) holds the end of the run back only until it comes:
//! every rank hears "no more" soon after it arrives, and every job ran
//! exactly once.

mod common;

use common::{is_child, launch, nanos, start_child};
use std::time::Duration;

/// Every rank a node of its own, and the node tree a chain.
const CHAIN: &[(&str, &str)] = &[
    ("DLB_ATOMICS", "hybrid"),
    ("DLB_RANKS_PER_NODE", "1"),
    ("DLB_TREE_FAN_OUT", "1"),
];

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
    for (ranks, env) in [(2, &[][..]), (4, &[]), (8, &[]), (4, CHAIN)] {
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

/// How long the late leader computes before its first `give_more`.
const LATE: Duration = Duration::from_millis(600);

#[test]
fn late_child() {
    let Some((_mpi, mut dlb, mut rec)) = start_child() else {
        return;
    };
    let (me, p) = (dlb.rank(), dlb.size());
    // The leader (lowest rank) of the last node, rank 0's node if there
    // is only one: a rank that others' counts or its node's end go through.
    let nodes = dlb.node_of_ranks().unwrap();
    let last_node = nodes[p - 1];
    let late = nodes.iter().position(|&n| n == last_node).unwrap();
    for run in 0..2 {
        let mut r = dlb.setup(20 * p as u64).unwrap();
        let mut arrived = nanos();
        if me == late {
            std::thread::sleep(LATE);
            arrived = nanos();
        }
        let mut ids = Vec::new();
        let mut last_end = 0;
        while let Some(jobs) = r.give_more(1).unwrap() {
            std::thread::sleep(Duration::from_micros(300 + 100 * (jobs.start % 3)));
            last_end = nanos();
            ids.extend(jobs);
        }
        let told = nanos();
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        rec.record(&[
            &"late",
            &run,
            &late,
            &arrived,
            &told,
            &last_end,
            &ids.join(","),
        ]);
    }
    drop(rec);
    dlb.finalize().unwrap();
}

#[test]
fn a_late_leader_holds_the_end_back_only_until_it_comes() {
    if is_child() {
        return;
    }
    let two_nodes: &[(&str, &str)] = &[("DLB_ATOMICS", "hybrid"), ("DLB_RANKS_PER_NODE", "2")];
    for (ranks, env) in [(4, &[][..]), (4, two_nodes), (6, two_nodes), (4, CHAIN)] {
        let launch = launch("late_child", ranks, env);
        for run in 0..2 {
            let fields: Vec<Vec<&str>> = launch
                .ranks
                .iter()
                .map(|lines| lines[run].split(' ').collect())
                .collect();
            let mut count = vec![0u32; 20 * ranks];
            for f in &fields {
                assert_eq!(f[0], "late", "{}", launch.output);
                for id in f[6].split(',').filter(|s| !s.is_empty()) {
                    count[id.parse::<usize>().unwrap()] += 1;
                }
            }
            let wrong: Vec<(usize, u32)> = count
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c != 1)
                .map(|(id, &c)| (id, c))
                .collect();
            assert!(
                wrong.is_empty(),
                "run {run} on {ranks} ranks ({env:?}): jobs not run exactly once (ID, times): {wrong:?}"
            );
            let late: usize = fields[0][2].parse().unwrap();
            let arrived: u128 = fields[late][3].parse().unwrap();
            let told: Vec<u128> = fields.iter().map(|f| f[4].parse().unwrap()).collect();
            let first = *told.iter().min().unwrap();
            let last = *told.iter().max().unwrap();
            // Nobody hears "no more" before the last job ended.
            let last_end: u128 = fields.iter().map(|f| f[5].parse().unwrap()).max().unwrap();
            assert!(
                first >= last_end,
                "run {run} on {ranks} ranks ({env:?}): a rank heard 'no more' {} µs before the \
                 last job ended",
                (last_end - first) / 1000
            );
            // Nobody may wait long after the late leader came.
            let limit = arrived.max(first) + LATE.as_nanos() / 3;
            assert!(
                last < limit,
                "run {run} on {ranks} ranks ({env:?}): rank {late} came {} ms after the first \
                 'no more', and the last rank heard at {} ms (each rank, in ms: {:?})",
                arrived.saturating_sub(first) / 1_000_000,
                (last - first) / 1_000_000,
                told.iter()
                    .map(|t| (t - first) / 1_000_000)
                    .collect::<Vec<_>>()
            );
        }
    }
}
