//! What idle ranks cost: a run of one job, which one rank holds (sleeping,
//! so it leaves the cores to the others) while every other rank waits in
//! `give_more` for work that never comes, until the run ends. Each rank
//! takes its CPU time (user + system, `getrusage(RUSAGE_SELF)`: the whole
//! process, MPI's own threads included) over the run and divides it by the
//! run's wall time: the fraction of a core it used while idle.
//!
//! For the `shm`, `mpi` and `hybrid` atomics paths in turn (a path the MPI
//! cannot give is skipped: `shm` across nodes, `hybrid` on one node unless
//! `DLB_RANKS_PER_NODE` splits it). Output: a line per path and JSON rows
//! `"bench":"idle_cpu"` in `target/bench/idle_cpu.jsonl`: `metric`
//! `cpu_fraction` (the idle ranks' maximum; `mean` in its own field),
//! `hold_s`, `idle_ranks`, `stack` (`DLB_BENCH_STACK`, default `default`).
//! Oversubscribed runs are fine: an idle rank that spins would show here.
//!
//! Rank 0 prints `idle_cpu: done` last (for launchers that stop a job
//! whose ranks all finished, as `ci/multinode` does with MPICH).
//!
//! Run: `ci/bench` (or under `mpiexec -n P`, P >= 2); across simulated
//! nodes, `ci/multinode` runs it on 2 × 2 ranks on every stack.

mod common;

use common::{json, Row};
use dlb::collectives::allgather;
use dlb::{AtomicsPath, Dlb};
use std::time::{Duration, Instant};

/// CPU time of this process so far (user + system).
fn cpu_time() -> Duration {
    // SAFETY: `usage` is a valid, writable rusage; getrusage only writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer (above).
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() -> dlb::Result<()> {
    let o = common::options();
    let _mpi = dlb::Mpi::init()?;
    let stack = common::stack();
    let hold = Duration::from_millis(if o.quick { 1000 } else { 3000 });
    let mut rows = Vec::new();
    let mut rank0 = false;
    for path in [AtomicsPath::Shm, AtomicsPath::Mpi, AtomicsPath::Hybrid] {
        let Some(mut dlb) = common::init_on("idle_cpu", path) else {
            continue;
        };
        let ranks = dlb.size();
        rank0 = dlb.rank() == 0;
        if ranks < 2 {
            eprintln!("idle_cpu: run on 2 or more ranks");
            std::process::exit(2);
        }
        let fractions = idle_fractions(&mut dlb, hold)?;
        if dlb.rank() == 0 {
            let max = fractions.iter().cloned().fold(0.0, f64::max);
            let mean = fractions.iter().sum::<f64>() / fractions.len().max(1) as f64;
            println!(
                "idle_cpu, {} ({stack}) on {ranks} ranks, {} path: {} idle ranks while one holds the only job for {:.1} s: cpu fraction max {max:.4}, mean {mean:.4}",
                common::mpi_name(),
                path.name(),
                fractions.len(),
                hold.as_secs_f64(),
            );
            rows.push(Row {
                bench: "idle_cpu",
                path: path.name(),
                ranks,
                metric: "cpu_fraction",
                value: max,
                unit: "fraction of a core",
                extra: vec![
                    ("mean", json!(mean)),
                    ("idle_ranks", json!(fractions.len())),
                    ("hold_s", json!(hold.as_secs_f64())),
                    ("stack", json!(stack)),
                ],
            });
        }
        dlb.finalize()?;
    }
    if !rows.is_empty() {
        common::write("idle_cpu", &rows);
    }
    if rank0 {
        // For launchers that stop a job whose ranks all finished (MPICH
        // across nodes may hang in MPI_Finalize: ci/multinode).
        println!("idle_cpu: done");
    }
    Ok(())
}

/// A warm-up run, then the measured one: the CPU fraction of every idle
/// rank, on every rank.
fn idle_fractions(dlb: &mut Dlb, hold: Duration) -> dlb::Result<Vec<f64>> {
    let mut fractions = Vec::new();
    for measured in [false, true] {
        allgather(dlb, 0)?; // a barrier
        let (cpu0, wall0) = (cpu_time(), Instant::now());
        let mut held = false;
        let mut run = dlb.setup(1)?;
        while run.give_more(1)?.is_some() {
            held = true;
            std::thread::sleep(if measured { hold } else { hold / 10 });
        }
        let fraction = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
        // The holder's figure is its own job; only idle ranks count.
        let mine = if held { f64::NAN } else { fraction };
        fractions = allgather(dlb, mine.to_bits())?
            .into_iter()
            .map(f64::from_bits)
            .filter(|f| !f.is_nan())
            .collect();
    }
    Ok(fractions)
}
