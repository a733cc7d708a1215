//! dlb on rsmpi communicators (feature `rsmpi`, `Builder::init_on`), on real
//! `mpiexec` jobs: every job exactly once on the world and on a split
//! communicator, two instances at once; and a communicator whose MPI was
//! finalized is refused with an error, not used.

mod common;

use common::{is_child, launch, Recorder};
use dlb::ErrorKind;
use mpi::traits::*;

/// Each rank's records: `world ID`, `half COLOR ID`.
#[test]
fn rsmpi_child() {
    if !is_child() {
        return;
    }
    let universe = mpi::initialize().unwrap();
    let world = universe.world();
    let rank = world.rank();
    let mut rec = Recorder::new(usize::try_from(rank).unwrap());
    let color = rank % 2;
    let half = world
        .split_by_color(mpi::topology::Color::with_value(color))
        .unwrap();
    // Two instances at once, on the world and on the split.
    let mut on_world = dlb::Dlb::builder().init_on(&world).unwrap();
    let mut on_half = dlb::Dlb::builder().init_on(&half).unwrap();
    let mut run = on_world.setup(97).unwrap();
    while let Some(ids) = run.give_more(3).unwrap() {
        for id in ids {
            rec.record(&[&"world", &id]);
        }
    }
    drop(run);
    let mut run = on_half.setup(31).unwrap();
    while let Some(ids) = run.give_more(2).unwrap() {
        for id in ids {
            rec.record(&[&"half", &color, &id]);
        }
    }
}

#[test]
fn every_job_once_on_rsmpi_communicators() {
    if is_child() {
        return;
    }
    for ranks in [1, 3] {
        let launch = launch("rsmpi_child", ranks, &[]);
        let mut world = Vec::new();
        let mut halves = [Vec::new(), Vec::new()];
        for line in launch.ranks.iter().flatten() {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["world", id] => world.push(id.parse::<u64>().unwrap()),
                ["half", c, id] => {
                    halves[c.parse::<usize>().unwrap()].push(id.parse::<u64>().unwrap())
                }
                _ => panic!("unexpected record {line:?}"),
            }
        }
        world.sort_unstable();
        assert_eq!(
            world,
            (0..97).collect::<Vec<_>>(),
            "{ranks} ranks: world run"
        );
        for (c, ids) in halves.iter_mut().enumerate() {
            ids.sort_unstable();
            let expected: Vec<u64> = if c < ranks {
                (0..31).collect()
            } else {
                Vec::new()
            };
            assert_eq!(*ids, expected, "{ranks} ranks: half {c}");
        }
    }
}

#[test]
fn rsmpi_finalized_child() {
    if !is_child() {
        return;
    }
    let world = {
        let universe = mpi::initialize().unwrap();
        universe.world()
    }; // the universe is dropped: MPI is finalized
    let err = dlb::Dlb::builder().init_on(&world).unwrap_err();
    let mut rec = Recorder::new(0);
    rec.record(&[&format!("{:?}", err.kind()), &err]);
}

#[test]
fn a_communicator_of_a_finalized_mpi_is_refused() {
    if is_child() {
        return;
    }
    let launch = launch("rsmpi_finalized_child", 1, &[]);
    let line = &launch.ranks[0][0];
    assert!(
        line.starts_with(&format!("{:?} ", ErrorKind::InvalidState)) && line.contains("finalized"),
        "{line}"
    );
}

#[test]
fn rsmpi_panics_child() {
    if !is_child() {
        return;
    }
    let universe = mpi::initialize().unwrap();
    let world = universe.world();
    let mut dlb = dlb::Dlb::builder().init_on(&world).unwrap();
    common::rank_1_leaves_mid_run(&mut dlb, || {
        panic!("rank 1 panics on purpose under rsmpi, holding jobs")
    });
}

/// A rank that panics in the middle of a run on rsmpi's universe (MPI not
/// started by `dlb::Mpi`) ends the job: its `Dlb` calls `MPI_Abort` on
/// the way out, after the panic's message, where the universe's
/// `MPI_Finalize` would wait for the ranks that wait for its jobs.
#[test]
fn a_panicking_rank_on_rsmpi_ends_the_job() {
    if is_child() {
        return;
    }
    let job = common::expect_job_to_fail("rsmpi_panics_child", 4);
    let text = job.text();
    assert!(
        text.contains("rank 1 panics on purpose under rsmpi"),
        "the panic's message is not in the output:\n{text}"
    );
}
