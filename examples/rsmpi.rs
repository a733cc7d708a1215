//! dlb in an [rsmpi](https://docs.rs/mpi) program (feature `rsmpi`): the
//! jobs of one run balanced over the world, then each half of the ranks
//! (a split communicator) balancing a run of its own, every rank checking
//! with rsmpi collectives that each job ran exactly once.
//!
//! ```sh
//! cargo build --release --features rsmpi --example rsmpi
//! mpiexec -n 4 target/release/examples/rsmpi
//! ```

use mpi::collective::SystemOperation;
use mpi::traits::*;
use std::time::Duration;

/// Runs `jobs` jobs (job `i` sleeps `i % 7` x 100 us) with dlb on `comm`
/// and returns how many of them this rank ran and the sum of their IDs.
fn balance<C>(comm: &C, jobs: u64) -> Result<(u64, u64), dlb::Error>
where
    C: Communicator + mpi::raw::AsRaw<Raw = mpi::ffi::MPI_Comm>,
{
    let mut dlb = dlb::Dlb::builder().init_on(comm)?;
    let mut run = dlb.setup(jobs)?;
    let (mut count, mut sum) = (0, 0);
    while let Some(ids) = run.give_more(4)? {
        for id in ids {
            std::thread::sleep(Duration::from_micros(100 * (id % 7)));
            count += 1;
            sum += id;
        }
    }
    Ok((count, sum))
}

/// Checks on every rank of `comm` that its ranks ran `jobs` jobs in all,
/// with IDs summing to 0 + 1 + ... + (jobs - 1).
fn check<C: Communicator>(comm: &C, what: &str, jobs: u64, (count, sum): (u64, u64)) {
    let (mut all_count, mut all_sum) = (0u64, 0u64);
    comm.all_reduce_into(&count, &mut all_count, SystemOperation::sum());
    comm.all_reduce_into(&sum, &mut all_sum, SystemOperation::sum());
    assert_eq!(all_count, jobs, "{what}: {all_count} jobs ran, not {jobs}");
    assert_eq!(all_sum, jobs * (jobs - 1) / 2, "{what}: wrong IDs");
    if comm.rank() == 0 {
        println!(
            "{what}: {jobs} jobs over {} ranks, each exactly once",
            comm.size()
        );
    }
}

fn main() -> Result<(), dlb::Error> {
    let universe = mpi::initialize().expect("MPI was initialized already");
    let world = universe.world();

    let mine = balance(&world, 1000)?;
    println!("rank {}: {} of the world's 1000 jobs", world.rank(), mine.0);
    check(&world, "world", 1000, mine);

    let half = world
        .split_by_color(mpi::topology::Color::with_value(world.rank() % 2))
        .expect("every rank has a color");
    let mine = balance(&half, 100)?;
    check(&half, &format!("half {}", world.rank() % 2), 100, mine);
    Ok(())
}
