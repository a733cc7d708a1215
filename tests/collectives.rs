//! `dlb::collectives` on a real multi-rank job: the sleeping barrier lets
//! nobody out before the last rank came in, and the gathers and sums are
//! right; a setup that waits long for one late rank (its all-reduce sleeps
//! while it waits) still starts the same run everywhere.

mod common;

use common::{is_child, launch, nanos, start_child};
use dlb::collectives::{allgather, allreduce_sum, barrier};
use std::time::Duration;

/// How late the late rank comes.
const LATE: Duration = Duration::from_millis(150);

#[test]
fn collectives_child() {
    let Some((_mpi, mut dlb, mut rec)) = start_child() else {
        return;
    };
    let (me, p) = (dlb.rank(), dlb.size());

    // The barrier: the last rank comes in late.
    if me == p - 1 {
        std::thread::sleep(LATE);
    }
    let entered = nanos();
    barrier(&dlb).unwrap();
    let left = nanos();
    rec.record(&[&"barrier", &entered, &left]);

    // Gathers and sums.
    let all = allgather(&dlb, 10 * me as u64 + 1).unwrap();
    assert_eq!(all, (0..p as u64).map(|r| 10 * r + 1).collect::<Vec<_>>());
    let mut sums = [me as u64, 1];
    allreduce_sum(&dlb, &mut sums).unwrap();
    assert_eq!(sums, [(p * (p - 1) / 2) as u64, p as u64]);

    // A setup that waits for a late rank: every job exactly once.
    if me == 0 {
        std::thread::sleep(LATE);
    }
    let jobs = 40 * p as u64;
    let mut seen = vec![0u64; jobs as usize];
    let mut run = dlb.setup(jobs).unwrap();
    while let Some(r) = run.give_more(3).unwrap() {
        r.for_each(|id| seen[id as usize] += 1);
    }
    drop(run);
    allreduce_sum(&dlb, &mut seen).unwrap();
    assert!(
        seen.iter().all(|&n| n == 1),
        "every job exactly once: {seen:?}"
    );
    rec.record(&[&"run", &jobs]);
    dlb.finalize().unwrap();
}

#[test]
fn nobody_leaves_the_barrier_before_the_last_rank_came() {
    if is_child() {
        return;
    }
    for ranks in [1, 3] {
        let launch = launch("collectives_child", ranks, &[]);
        let times: Vec<(u128, u128)> = launch
            .ranks
            .iter()
            .map(|lines| {
                let f: Vec<&str> = lines[0].split(' ').collect();
                assert_eq!(f[0], "barrier", "{lines:?}");
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        let last_in = times.iter().map(|t| t.0).max().unwrap();
        for (rank, (_, left)) in times.iter().enumerate() {
            assert!(
                *left >= last_in,
                "rank {rank} left the barrier {} ns before the last rank came in",
                last_in - left
            );
        }
        for lines in &launch.ranks {
            assert!(lines.iter().any(|l| l.starts_with("run ")), "{lines:?}");
        }
    }
}
