//! Hooks for the benchmarks in `benches/`: the raw floor of one atomic,
//! steal latency, and the baselines users would write instead (one global
//! atomic counter, master-worker messages), all on the window and atomics
//! path that `Dlb` itself uses, so ratios compare like with like.
//!
//! Hidden from the docs and not a stable API. Every function is collective.

use crate::atomics::{Atomics, Slot};
use crate::dlb::Dlb;
use crate::error::{Error, Result};
use crate::protocol::{Steal, MAX_UNITS};
use std::ops::Range;
use std::time::{Duration, Instant};

/// The atomic a raw-latency measurement times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawOp {
    /// `MPI_Fetch_and_op(MPI_SUM)` + flush (or a CPU fetch-add).
    FetchAdd,
    /// `MPI_Compare_and_swap` + flush (or a CPU compare-and-swap).
    CompareAndSwap,
}

/// OSU-style timing: `warmup` untimed calls of `op`, then `batches` loops
/// of `per_batch` calls, each loop timed as a whole (two clock reads per
/// loop, not per call, so the clock's cost and resolution drop out).
/// Returns the mean microseconds per call of each batch.
pub fn time_batches(
    warmup: usize,
    batches: usize,
    per_batch: usize,
    mut op: impl FnMut() -> Result<()>,
) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        op()?;
    }
    let mut means = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..per_batch {
            op()?;
        }
        means.push(per_call(start.elapsed(), per_batch));
    }
    Ok(means)
}

/// Microseconds per call of `calls` calls that took `took` in all.
fn per_call(took: Duration, calls: usize) -> f64 {
    took.as_secs_f64() * 1e6 / calls.max(1) as f64
}

fn rma_only(dlb: &Dlb) -> Result<&crate::atomics::WindowAtomics> {
    dlb.dispenser
        .atomics()
        .ok_or_else(|| Error::invalid_argument("benchmarks of atomics need the rma variant"))
}

/// Times raw atomics from rank 0 on rank 1 (`remote`) or on itself, with
/// [`time_batches`]; the other ranks wait in a barrier (inside MPI, so
/// software RMA progresses). Microseconds per operation per batch, on
/// rank 0 only.
pub fn raw_latency(
    dlb: &Dlb,
    op: RawOp,
    remote: bool,
    warmup: usize,
    batches: usize,
    per_batch: usize,
) -> Result<Vec<f64>> {
    let atomics = rma_only(dlb)?;
    let target = usize::from(remote && dlb.size() > 1);
    let mut times = Vec::new();
    dlb.comm.barrier()?;
    if dlb.rank() == 0 {
        times = time_batches(warmup, batches, per_batch, || {
            match op {
                RawOp::FetchAdd => atomics.fetch_add(target, Slot::BenchAdd, 1)?,
                RawOp::CompareAndSwap => atomics.compare_and_swap(target, Slot::BenchCas, 0, 0)?,
            };
            Ok(())
        })?;
    }
    dlb.comm.barrier()?;
    Ok(times)
}

/// What the victim of a steal-latency measurement does meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Victim {
    /// Waits in a barrier, inside MPI (software RMA progresses).
    Idle,
    /// Computes outside MPI in jobs of this length, and between jobs does
    /// what `give_more` does for thieves (`progress`), as a busy owner would.
    Busy(Duration),
}

/// Steals per timed batch: rank 0's range of 2^32 - 1 units, halved by
/// every steal, lasts for 32.
pub const STEALS_PER_BATCH: usize = 16;

/// Times successful steals by rank 1 from rank 0, which holds a full range
/// (2^32 - 1 units, refilled before every batch of [`STEALS_PER_BATCH`]
/// steals, each batch timed as a whole), after two untimed batches.
/// Microseconds per steal per batch, on rank 1 only.
pub fn steal_latency(dlb: &mut Dlb, batches: usize, victim: Victim) -> Result<Vec<f64>> {
    const WARMUP_BATCHES: usize = 2;
    if dlb.size() < 2 {
        return Ok(Vec::new());
    }
    rma_only(dlb)?;
    let me = dlb.rank();
    let mut times = Vec::new();
    for batch in 0..WARMUP_BATCHES + batches {
        dlb.comm.barrier()?;
        // The busy victim computes until the thief adds to this word.
        let mut signal = 0;
        if me == 0 {
            protocol(dlb)?.bench_fill(0..MAX_UNITS)?;
            signal = rma_only(dlb)?.load(0, Slot::BenchAdd)?;
        }
        dlb.comm.barrier()?;
        match (me, victim) {
            (0, Victim::Busy(job)) => {
                let atomics = rma_only(dlb)?;
                loop {
                    let until = Instant::now() + job;
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    atomics.progress()?;
                    if atomics.load(0, Slot::BenchAdd)? != signal {
                        break;
                    }
                }
            }
            (1, _) => {
                let start = Instant::now();
                for _ in 0..STEALS_PER_BATCH {
                    match protocol(dlb)?.steal(0)? {
                        Steal::Success(_) => {}
                        Steal::Empty | Steal::Retry => {
                            return Err(Error::internal("a full victim could not be robbed"))
                        }
                    }
                }
                let took = start.elapsed();
                if batch >= WARMUP_BATCHES {
                    times.push(per_call(took, STEALS_PER_BATCH));
                }
                if victim != Victim::Idle {
                    rma_only(dlb)?.fetch_add(0, Slot::BenchAdd, 1)?;
                }
            }
            _ => {}
        }
        dlb.comm.barrier()?;
        if me == 0 {
            protocol(dlb)?.bench_drain()?;
        }
    }
    dlb.comm.barrier()?;
    Ok(times)
}

fn protocol(
    dlb: &mut Dlb,
) -> Result<&mut crate::protocol::Protocol<crate::atomics::WindowAtomics>> {
    dlb.dispenser.protocol_outside_run().ok_or_else(|| {
        Error::invalid_state("benchmarks of the protocol need the rma variant and no open run")
    })
}

/// The contention baseline: every rank fetch-and-adds `maxjobs` on one word
/// of rank 0 for its next chunk of `jobs` jobs, and runs `work` on it. A
/// rank returns as soon as nothing is left to take, while others may still
/// be working (a barrier after it gives "every job done"). Collective: it
/// starts with two barriers.
pub fn global_counter(
    dlb: &Dlb,
    jobs: u64,
    maxjobs: u64,
    mut work: impl FnMut(Range<u64>),
) -> Result<()> {
    let atomics = rma_only(dlb)?;
    // Everyone has finished the last run's adds (the first barrier) and
    // read the base (the second) before anyone adds. No barrier at the end:
    // the next run's first one does that job, and a rank's end is then the
    // end of its last job. The barriers sleep after a short spin, as dlb's
    // setup does (on oversubscribed cores a busy-polling barrier takes the
    // cores from the ranks it waits for).
    dlb.comm.barrier_sleeping()?;
    let base = atomics.load(0, Slot::BenchAdd)?;
    dlb.comm.barrier_sleeping()?;
    loop {
        let next = atomics
            .fetch_add(0, Slot::BenchAdd, maxjobs)?
            .wrapping_sub(base);
        if next >= jobs {
            break;
        }
        work(next..(next + maxjobs).min(jobs));
    }
    Ok(())
}

const WORK_TAG: i32 = 1;
const STOP_TAG: i32 = 2;

/// The master-worker program of the seed example: rank 0 sends one job ID
/// per message to whichever worker reported back, and does no work itself
/// (alone, it does all the work).
pub fn master_worker(dlb: &Dlb, jobs: u64, mut work: impl FnMut(u64)) -> Result<()> {
    let comm = &dlb.comm;
    let workers = dlb.size() - 1;
    if workers == 0 {
        (0..jobs).for_each(work);
        return Ok(());
    }
    if dlb.rank() == 0 {
        let mut next = 0;
        let mut busy = 0;
        for w in 1..=workers {
            if next < jobs {
                comm.send(&[next], w, WORK_TAG)?;
                next += 1;
                busy += 1;
            }
        }
        let mut done = [0u64];
        while busy > 0 {
            let (worker, _) = comm.recv_any(&mut done)?;
            if next < jobs {
                comm.send(&[next], worker, WORK_TAG)?;
                next += 1;
            } else {
                busy -= 1;
            }
        }
        for w in 1..=workers {
            comm.send(&[0], w, STOP_TAG)?;
        }
    } else {
        let mut id = [0u64];
        loop {
            let (_, tag) = comm.recv_any(&mut id)?;
            if tag == STOP_TAG {
                break;
            }
            work(id[0]);
            comm.send(&id, 0, WORK_TAG)?;
        }
    }
    Ok(())
}

/// What produced a benchmark's rows, as one JSON object: dlb's version and
/// git revision, the MPI library, ranks, nodes, hosts and the date (the
/// rows say the atomics path each). Collective.
///
/// ```no_run
/// let _mpi = dlb::Mpi::init()?;
/// let dlb = dlb::Dlb::init()?;
/// let provenance = dlb::bench::provenance_json(&dlb)?;
/// assert!(provenance.starts_with("{\"dlb_version\":"));
/// # Ok::<(), dlb::Error>(())
/// ```
pub fn provenance_json(dlb: &Dlb) -> Result<String> {
    use crate::provenance::{common_fields, Provenance};
    let p = Provenance::gather(dlb)?;
    Ok(format!(
        "{{{}}}",
        common_fields(&p.mpi_library, p.ranks, p.nodes, p.hosts, &p.date)
    ))
}
