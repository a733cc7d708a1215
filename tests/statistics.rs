//! `print_statistics` on real multi-rank jobs: every level, both variants;
//! the figures add up (jobs per rank sum to N, a slow rank gets robbed);
//! different levels on different ranks are an error on every rank.

mod common;

use common::{is_child, launch, start_child};
use dlb::Variant;
use std::time::Duration;

#[test]
fn statistics_child() {
    let Some((_mpi, mut dlb, mut rec)) = start_child() else {
        return;
    };
    let me = dlb.rank();
    let mut run = dlb.setup(200).unwrap();
    while let Some(r) = run.give_more(2).unwrap() {
        if me == 0 {
            std::thread::sleep(Duration::from_millis(r.end - r.start));
        }
    }
    let s = dlb.statistics();
    rec.record(&[&"jobs", &s.jobs, &s.steals, &s.calls]);
    assert!(s.told_ns.is_some() && s.setup_to_end.is_some());
    assert!(s.time_in_give_more >= s.final_call);
    for level in 0..=4 {
        let report = dlb.statistics_report(level).unwrap();
        match (me, level) {
            (_, 0) => assert!(report.is_none()),
            (0, _) => {
                let text = report.unwrap();
                for line in text.lines() {
                    rec.record(&[&level, &line.trim()]);
                }
            }
            _ => assert!(report.is_none()),
        }
    }
    dlb.print_statistics(4).unwrap();
    // Different levels on different ranks: an error on every rank (with one
    // rank, nothing differs).
    let mixed = dlb.print_statistics(u32::from(me == 0));
    if dlb.size() > 1 {
        let err = mixed.unwrap_err();
        assert_eq!(err.kind(), dlb::ErrorKind::Mismatch, "{err}");
    } else {
        mixed.unwrap();
    }
}

fn check(ranks: usize, variant: Variant) {
    let env = [("DLB_VARIANT", variant.name())];
    let launch = launch("statistics_child", ranks, &env);
    let jobs: Vec<(u64, u64)> = launch
        .ranks
        .iter()
        .map(|lines| {
            let f: Vec<&str> = lines[0].split(' ').collect();
            (f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(
        jobs.iter().map(|j| j.0).sum::<u64>(),
        200,
        "jobs per rank add up to N"
    );
    if variant == Variant::Rma && ranks > 1 {
        assert!(
            jobs.iter().map(|j| j.1).sum::<u64>() > 0,
            "the slow rank 0 was never robbed"
        );
        assert!(
            jobs[0].0 < 200 / ranks as u64,
            "rank 0 was slow, yet did its whole block"
        );
    }
    let report = &launch.ranks[0];
    let at = |level: u32, what: &str| {
        report
            .iter()
            .any(|l| l.starts_with(&format!("{level} {what}")))
    };
    assert!(at(1, "time in give_more"), "{report:?}");
    assert!(at(1, "of which the final call"));
    assert!(
        at(2, "longest wait for new work") && at(2, "jobs per rank") && at(2, "successful steals")
    );
    assert!(at(2, "termination latency"));
    assert!(at(3, "last work slice") && at(3, "work slice before last"));
    assert!(
        at(4, "longest work slice")
            && at(4, "average load per job")
            && at(4, "setup to termination")
    );
    let sum_line = report
        .iter()
        .find(|l| l.starts_with("2 jobs per rank"))
        .unwrap();
    assert!(sum_line.ends_with("sum          200"), "{sum_line}");
    assert!(
        !at(1, "jobs per rank"),
        "level 1 must not show level 2 figures"
    );
    assert!(
        launch.output.contains("dlb statistics (variant"),
        "print_statistics printed nothing"
    );
}

#[test]
fn statistics_at_every_level_for_both_variants() {
    if is_child() {
        return;
    }
    for ranks in [1, 3] {
        check(ranks, Variant::Rma);
        check(ranks, Variant::Static);
    }
}
