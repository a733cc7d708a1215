//! Many threads, one per "rank", hammering the protocol over in-process
//! atomics: every unit handed out exactly once, nobody told "no more" while
//! a job is unfinished, consecutive runs that do not leak into each other.

use super::*;
use crate::atomics::LocalAtomics;
use crate::mapping::split::block;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

/// One rank's loop for one run: what `Dlb::give_more` does, minus mappings.
/// `busy` makes some ranks slow so that others steal from them.
fn drain(
    proto: &mut Protocol<LocalAtomics>,
    maxjobs: u64,
    completed: &AtomicU64,
    total: u64,
    busy: impl Fn(&Range<u64>),
) -> Vec<Range<u64>> {
    let mut got = Vec::new();
    let mut last = 0;
    loop {
        // The chunk handed out last time is complete now.
        completed.fetch_add(last, Ordering::SeqCst);
        proto.complete(last);
        let next = match proto.claim(|_| maxjobs).unwrap() {
            Some(r) => Some(r),
            None => proto.find_work(|_| maxjobs).unwrap(),
        };
        let Some(r) = next else {
            assert_eq!(
                completed.load(Ordering::SeqCst),
                total,
                "told 'no more' before every job completed"
            );
            return got;
        };
        assert!(
            r.start < r.end && r.end - r.start <= maxjobs,
            "bad chunk {r:?}"
        );
        busy(&r);
        last = r.end - r.start;
        got.push(r);
    }
}

fn assert_exactly_once(mut all: Vec<Range<u64>>, n: u64) {
    all.sort_by_key(|r| r.start);
    let mut next = 0;
    for r in &all {
        assert_eq!(r.start, next, "gap or overlap at unit {next}: {r:?}");
        next = r.end;
    }
    assert_eq!(next, n, "units missing at the end");
}

/// Runs `runs` consecutive runs of `n` units on `p` threads, all on one node.
fn hammer(p: usize, n: u64, maxjobs: u64, runs: usize, slow_rank: Option<usize>) {
    let slow = move |r: usize| Some(r) == slow_rank;
    let stolen = hammer_nodes(p, p, n, maxjobs, runs, slow);
    if slow_rank.is_some() && n >= 64 * p as u64 {
        assert!(stolen.0 > 0, "nobody stole from the slow rank");
    }
}

/// Runs `runs` consecutive runs of `n` units on `p` threads in nodes of
/// `per_node`, where ranks for which `slow` holds sleep 50 µs per chunk
/// (serving others' cross-node operations only in `give_more`); returns the
/// units stolen and the takes from other nodes that brought units.
fn hammer_nodes(
    p: usize,
    per_node: usize,
    n: u64,
    maxjobs: u64,
    runs: usize,
    slow: impl Fn(usize) -> bool + Send + Sync + Copy + 'static,
) -> (u64, u64) {
    let views = LocalAtomics::nodes(p, per_node);
    let (stolen, remote, _) = hammer_views(views, n, maxjobs, runs, Modes::default(), slow);
    (stolen, remote)
}

/// How the ranks of [`hammer_views`] reach other nodes, and how slow the
/// slow ones are.
#[derive(Clone, Copy, Debug)]
struct Modes {
    /// Direct steals across nodes.
    direct: bool,
    /// When hunters look before they take.
    looks: Looks,
    /// What a slow rank sleeps per chunk.
    slow_chunk: std::time::Duration,
    /// Children per node of the node tree (`None`: the library's).
    fan_out: Option<usize>,
}

impl Default for Modes {
    fn default() -> Modes {
        Modes {
            direct: false,
            looks: Looks::Off,
            slow_chunk: std::time::Duration::from_micros(50),
            fan_out: None,
        }
    }
}

/// [`hammer_nodes`] on the given views, one per rank, in `modes`; also
/// returns how often two paths were taken: takes that followed a look, and
/// gifts taken.
fn hammer_views(
    views: Vec<LocalAtomics>,
    n: u64,
    maxjobs: u64,
    runs: usize,
    modes: Modes,
    slow: impl Fn(usize) -> bool + Send + Sync + Copy + 'static,
) -> (u64, u64, (u64, u64)) {
    let p = views.len();
    let barrier = Arc::new(Barrier::new(p));
    // Jobs completed, per run, over all threads.
    let completed: Arc<Vec<AtomicU64>> = Arc::new((0..runs).map(|_| AtomicU64::new(0)).collect());
    let handles: Vec<_> = views
        .into_iter()
        .map(|atomics| {
            let (barrier, completed) = (Arc::clone(&barrier), Arc::clone(&completed));
            thread::spawn(move || {
                let me = atomics.rank();
                let mut proto = Protocol::new(atomics, 42);
                proto.set_direct_steals(modes.direct);
                proto.set_looks(modes.looks);
                if let Some(k) = modes.fan_out {
                    proto.set_tree_fan_out(k);
                }
                let mut per_run = Vec::new();
                let (mut stolen, mut remote) = (0, 0);
                for run in 0..runs {
                    barrier.wait(); // setup's collective
                    proto.begin_run(block(n, p as u64, me as u64), n).unwrap();
                    let got = drain(&mut proto, maxjobs, &completed[run], n, |_| {
                        if slow(me) {
                            thread::sleep(modes.slow_chunk);
                        } else {
                            thread::yield_now();
                        }
                    });
                    stolen += proto.counters().units_stolen;
                    remote += proto.counters().remote_steals;
                    per_run.push(got);
                }
                let paths = proto.take_paths();
                let taken = (paths.count(Path::TakeAfterLook), paths.count(Path::Gift));
                (per_run, (stolen, remote, taken))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for run in 0..runs {
        let all: Vec<Range<u64>> = results.iter().flat_map(|(r, _)| r[run].clone()).collect();
        assert_exactly_once(all, n);
    }
    results
        .iter()
        .fold((0, 0, (0, 0)), |(s, r, (l, g)), (_, (s1, r1, (l1, g1)))| {
            (s + s1, r + r1, (l + l1, g + g1))
        })
}

#[test]
fn exactly_once_across_nodes() {
    for &(p, per_node, n, maxjobs) in &[
        (4, 2, 2000, 2),
        (6, 2, 3000, 3),
        (8, 4, 5000, 1),
        (3, 1, 100, 1),
        (5, 2, 7, 2),
        (4, 2, 0, 1),
        (6, 3, 1, 1),
    ] {
        hammer_nodes(p, per_node, n, maxjobs, 3, |_| false);
    }
}

#[test]
fn exactly_once_when_steals_glance_at_stale_or_torn_words() {
    // A steal's first look is an `MPI_Get` on MPI windows, which may
    // return an old value or, overlapping an update, any bits: the CAS
    // must decide alone. Node-mates steal from each other; with direct
    // steals, ranks steal across nodes too, here from node 0, which is
    // slow.
    for &(p, per_node, n, maxjobs, direct) in &[
        (4, 4, 4000, 1, false),
        (6, 3, 3000, 2, false),
        (4, 2, 3000, 1, true),
        (6, 2, 3000, 2, true),
    ] {
        let views = LocalAtomics::nodes(p, per_node)
            .into_iter()
            .map(LocalAtomics::with_noisy_glances)
            .collect();
        let slow = move |r: usize| if direct { r < per_node } else { r % 2 == 0 };
        let modes = Modes {
            direct,
            ..Modes::default()
        };
        let (stolen, remote, _) = hammer_views(views, n, maxjobs, 2, modes, slow);
        assert!(stolen > 0, "no steal in {p} ranks in nodes of {per_node}");
        if direct {
            assert!(
                remote > 0,
                "no steal across nodes in {p} ranks in nodes of {per_node}"
            );
        }
    }
}

#[test]
fn a_dry_node_takes_from_a_slow_node() {
    // Node 0 (ranks 0 and 1) is slow; node 1 runs dry and must take.
    let (_, remote) = hammer_nodes(4, 2, 2000, 2, 2, |r| r < 2);
    assert!(remote > 0, "no take from the slow node brought units");
    // Nodes of three: a hunter keeps takes on up to three victims. (With
    // only rank 0 slow, its fast node-mates may drain it before any mark
    // arrives, and then no take needs to bring units.)
    let (_, remote) = hammer_nodes(6, 3, 3000, 1, 1, |r| r < 3);
    assert!(
        remote > 0,
        "no take from the slow node of three brought units"
    );
}

#[test]
fn a_dry_node_gets_gifts_from_a_slow_node_where_looks_come_first() {
    // As above, where looks come first: idle ranks of the dry node knock
    // instead of taking (the protocol's "Knocks"), the knocks are queued
    // at the slow node like every operation across nodes, and units come
    // only in gifts.
    for &(p, per_node, n, maxjobs) in &[(4, 2, 2000, 2), (6, 3, 3000, 1), (3, 1, 600, 1)] {
        let modes = Modes {
            looks: Looks::First,
            ..Modes::default()
        };
        let views = LocalAtomics::nodes(p, per_node);
        let (_, remote, (after_looks, gifts)) =
            hammer_views(views, n, maxjobs, 2, modes, move |r| r < per_node);
        assert!(
            gifts > 0 && remote >= gifts,
            "no gift brought units in {p} ranks in nodes of {per_node} ({remote} remote)"
        );
        assert_eq!(after_looks, 0, "a take where knocks come instead");
    }
    // The same where peeks of knocks are now and then stale or torn (a
    // torn one may name a rank that never knocked, or none).
    let views: Vec<_> = LocalAtomics::nodes(4, 2)
        .into_iter()
        .map(LocalAtomics::with_noisy_knocks)
        .collect();
    let modes = Modes {
        looks: Looks::First,
        ..Modes::default()
    };
    let (_, _, (_, gifts)) = hammer_views(views, 2000, 2, 2, modes, |r| r < 2);
    assert!(gifts > 0, "no gift brought units with noisy knock peeks");
}

#[test]
fn a_value_settles_once_peeks_showed_it_for_a_while() {
    let mut proto = Protocol::new(LocalAtomics::nodes(2, 1).remove(0), 1);
    assert!(
        proto.settled(Slot::Done, 5),
        "at once where atomics take no lock"
    );
    assert_eq!(proto.settle_wait(), None);
    proto.set_looks(Looks::First);
    assert!(!proto.settled(Slot::Done, 5), "not at once where they do");
    assert!(proto
        .settle_wait()
        .is_some_and(|d| d > std::time::Duration::ZERO && d <= settle::SETTLE));
    crate::clock::sleep(settle::SETTLE);
    assert!(!proto.settled(Slot::Done, 6), "a new value settles anew");
    assert!(!proto.settled(Slot::Told, 1), "each word on its own");
    crate::clock::sleep(settle::SETTLE);
    assert!(proto.settled(Slot::Done, 6));
    assert!(
        proto.settled(Slot::Done, 6),
        "settled until the atomic is made"
    );
    assert_eq!(proto.settle_wait(), None, "nothing left to wait for");
    proto.unsettle(Slot::Done);
    assert!(!proto.settled(Slot::Done, 6), "after the atomic, anew");
    assert!(proto.settled(Slot::Told, 1), "the other word is untouched");
}

#[test]
fn runs_end_in_a_deep_node_tree_where_atomics_lock() {
    // Where atomics lock, counts and notices settle before a leader or
    // rank 0 acts on them (`settle`): in a chain of nodes every count is
    // carried by the leaders in between, and every notice relayed. A slow
    // rank on the last node holds the end.
    for &(p, per_node) in &[(4, 1), (6, 2)] {
        let modes = Modes {
            looks: Looks::First,
            fan_out: Some(1),
            slow_chunk: std::time::Duration::from_millis(2),
            ..Modes::default()
        };
        let views = LocalAtomics::nodes(p, per_node);
        hammer_views(views, 40 * p as u64, 1, 2, modes, move |r| r == p - 1);
    }
}

#[test]
fn a_rank_long_idle_takes_after_looks_where_every_rank_is_a_node() {
    // Where every rank is a node of its own and starts return at once,
    // hunters look before they take only once idle for LOOKS_AFTER_IDLE:
    // here rank 0 is slow (10 ms per unit, and it answers takes and looks
    // only between units), so the others, fast, take from it at once,
    // then wait for its answers longer than that, and then look first.
    // (At 3 ms per unit, on a loaded machine the hunters' idle periods
    // were rarely long before an answer came: CI once saw no take follow a
    // look in either run, and with four spinning processes on 2 cores 4 of
    // 6 tries did; at 10 ms, 2 to 6 takes followed looks in each of 6.)
    let modes = Modes {
        looks: Looks::WhenIdleLong,
        slow_chunk: std::time::Duration::from_millis(10),
        ..Modes::default()
    };
    let views = LocalAtomics::nodes(3, 1);
    let (_, remote, (after_looks, _)) = hammer_views(views, 90, 1, 2, modes, |r| r == 0);
    assert!(remote > 0, "no take brought units from the slow rank");
    assert!(after_looks > 0, "no take followed a look");
    // Without looks, none does.
    let modes = Modes {
        looks: Looks::Off,
        ..modes
    };
    let views = LocalAtomics::nodes(3, 1);
    let (_, _, (after_looks, _)) = hammer_views(views, 90, 1, 1, modes, |r| r == 0);
    assert_eq!(after_looks, 0);
}

#[test]
fn looks_come_first_only_as_chosen() {
    let mut proto = Protocol::new(LocalAtomics::nodes(2, 1).remove(0), 1);
    let idle = |proto: &mut Protocol<LocalAtomics>, since| {
        proto.idle_since = since;
        proto.looks_now()
    };
    assert!(!idle(&mut proto, None));
    assert!(!idle(&mut proto, Some(Instant::now())));
    proto.set_looks(Looks::WhenIdleLong);
    assert!(!idle(&mut proto, None), "not while busy");
    let since = Instant::now();
    let looked = idle(&mut proto, Some(since));
    if since.elapsed() < LOOKS_AFTER_IDLE {
        // (Unless this thread was descheduled that long.)
        assert!(!looked, "not at once");
    }
    crate::clock::sleep(LOOKS_AFTER_IDLE);
    assert!(idle(&mut proto, Some(since)), "once idle long");
    assert!(!idle(&mut proto, None), "not once busy again");
    proto.set_looks(Looks::First);
    assert!(idle(&mut proto, None));
    proto.set_looks(Looks::Off);
    assert!(!idle(&mut proto, Some(since)));
    // Init's choice (starts block, passive, every rank a node): looks
    // first where starts wait for their target, once idle long where every
    // rank is a node of its own and atomics are not passive.
    assert_eq!(Looks::chosen(true, false, false), Looks::First);
    assert_eq!(Looks::chosen(true, false, true), Looks::First);
    assert_eq!(Looks::chosen(false, false, true), Looks::WhenIdleLong);
    assert_eq!(Looks::chosen(false, true, true), Looks::Off);
    assert_eq!(Looks::chosen(false, false, false), Looks::Off);
}

#[test]
fn exactly_once_under_contention() {
    for &(p, n, maxjobs) in &[
        (2, 1000, 1),
        (4, 10_000, 3),
        (8, 5_000, 1),
        (3, 7, 2),
        (8, 3, 1),
        (5, 1, 1),
    ] {
        hammer(p, n, maxjobs, 3, None);
    }
}

#[test]
fn idle_ranks_steal_from_a_slow_one() {
    hammer(4, 2_000, 2, 2, Some(0));
    hammer(8, 1_000, 1, 1, Some(3));
}

#[test]
fn empty_runs_and_huge_maxjobs() {
    hammer(4, 0, 5, 3, None);
    hammer(3, 100, u64::MAX, 4, None);
    hammer(1, 50, 7, 2, None);
}

#[test]
fn steal_takes_the_back_half_and_reports_empty() {
    let group = LocalAtomics::group(2);
    let mut owner = Protocol::new(group[0].clone(), 1);
    let mut thief = Protocol::new(group[1].clone(), 2);
    owner.begin_run(0..10, 10).unwrap();
    thief.begin_run(10..10, 10).unwrap();
    assert_eq!(thief.steal(0).unwrap(), Steal::Success(5..10));
    assert_eq!(
        owner.claim(|_| 3).unwrap(),
        Some(0..3),
        "owner retries after the thief moved its end"
    );
    assert_eq!(owner.counters().claim_retries, 1);
    assert_eq!(thief.steal(0).unwrap(), Steal::Success(4..5));
    assert_eq!(owner.claim(|_| 3).unwrap(), Some(3..4));
    assert_eq!(owner.claim(|_| 3).unwrap(), None);
    assert_eq!(thief.steal(0).unwrap(), Steal::Empty);
}

#[test]
fn over_completion_is_detected() {
    let mut solo = Protocol::new(LocalAtomics::group(1).remove(0), 3);
    solo.begin_run(0..4, 4).unwrap();
    assert_eq!(solo.claim(|_| 4).unwrap(), Some(0..4));
    solo.complete(5); // one more than was handed out
    let err = solo.find_work(|_| 1).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Internal);
    assert!(err.message().contains("handed out twice"), "{err}");
}

#[test]
fn victims_are_uniform_and_never_self() {
    let mut rng = Rng::new(7);
    for size in 2..9 {
        let ranks: Vec<usize> = (0..size).collect();
        for me in 0..size {
            let mut hits = vec![0u32; size];
            for _ in 0..4000 {
                hits[pick(&mut rng, &ranks, me)] += 1;
            }
            assert_eq!(hits[me], 0);
            let expected = 4000 / (size as u32 - 1);
            for (r, h) in hits.iter().enumerate() {
                if r != me {
                    assert!(
                        h.abs_diff(expected) < expected / 3 + 30,
                        "size {size} me {me}: {hits:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn first_knocks_of_a_node_go_to_distinct_ranks() {
    // Two nodes of 4 ranks: the ranks of a node that runs dry at once
    // knock first on their counterparts, 4 distinct ranks of the other
    // node (4 random victims would be 2.7 distinct ones on average), and
    // then on random ranks of it.
    let mut protos: Vec<_> = LocalAtomics::nodes(8, 4)
        .into_iter()
        .enumerate()
        .map(|(r, a)| Protocol::new(a, r as u64 + 1))
        .collect();
    let firsts: Vec<usize> = protos[4..]
        .iter_mut()
        .map(|p| {
            assert!(!p.first_knock, "set only when a rank goes idle");
            p.first_knock = true; // as `find_work` does
            p.knock_remote().unwrap();
            assert_eq!(p.knocks.len(), 1, "one knock at a time");
            p.knocks[0].victim
        })
        .collect();
    assert_eq!(firsts, [0, 1, 2, 3]);
    for p in &mut protos[4..] {
        let later: std::collections::BTreeSet<usize> = (0..64).map(|_| p.knock_victim()).collect();
        assert!(
            later.len() > 1 && later.iter().all(|&v| v < 4),
            "later knocks go to random ranks of the other node: {later:?}"
        );
    }
}
