//! The soak's MPI program, driven by `ci/soak`: one launch of real MPI
//! processes runs 1 to 3 init/finalize cycles of dlb with random builder
//! choices, each with 1 to 12 runs of a random interface, job count,
//! `maxjobs` and job costs, all drawn from the launch's seed
//! (`plan.rs`); after every run it checks that every job ID was handed out
//! exactly once and that nobody was told "no more" early (`verify.rs`).
//! A rank that never hears "no more" hangs the launch, which `ci/soak`'s
//! timeout turns into a failure.
//!
//! ```text
//! soak plan SEED [--multinode]     the launch of SEED, as shell assignments
//! mpiexec -n P soak run SEED [--multinode] [--verbose]
//! ```
//! The last line of a run is `soak: PASS seed S: R runs, C cycles (K
//! refused)` or `soak: FAIL seed S ...`, with exit status 0 or 1.

mod plan;
mod verify;

use dlb::collectives::{allgather, allreduce_sum};
use dlb::rng::Rng;
use dlb::{Dlb, ErrorKind, Variant};
use plan::{Cost, Cycle, Interface, Launch, RunSpec};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use verify::Piece;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let multinode = args.iter().any(|a| a == "--multinode");
    let verbose = args.iter().any(|a| a == "--verbose");
    let seed = args.get(1).and_then(|s| s.parse::<u64>().ok());
    match (args.first().map(String::as_str), seed) {
        (Some("plan"), Some(seed)) => {
            println!("{}", Launch::of(seed, multinode).shell());
            ExitCode::SUCCESS
        }
        (Some("run"), Some(seed)) => match soak(seed, &Launch::of(seed, multinode), verbose) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                println!("soak: FAIL seed {seed}: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!(
                "usage: soak plan SEED [--multinode] | mpiexec -n P soak run SEED [--multinode]"
            );
            ExitCode::from(2)
        }
    }
}

/// What a launch did, for its last line.
#[derive(Default)]
struct Tally {
    runs: u64,
    cycles: u64,
    refused: u64,
}

/// Runs the launch of `seed`; returns whether it passed (the verdict line
/// printed by rank 0), or an error from dlb or MPI.
fn soak(seed: u64, launch: &Launch, verbose: bool) -> dlb::Result<bool> {
    let _mpi = dlb::Mpi::init()?;
    // Counted by ci/soak: a launch in which not every rank got here failed
    // inside the MPI, before dlb ran.
    println!("soak: MPI is up");
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let cycles = 1 + rng.below(3);
    let mut first_rank = 0;
    for index in 0..cycles {
        let cycle = Cycle::draw(&mut rng, index, launch);
        let mut dlb = match cycle.builder().init() {
            Ok(d) => d,
            // Refused by design: shared memory across nodes, an osc/rdma
            // crash avoided, a window flavor the path cannot use. The first
            // cycle takes the defaults, which must always work.
            Err(e)
                if index > 0
                    && matches!(
                        e.kind(),
                        ErrorKind::Unsupported | ErrorKind::InvalidArgument
                    ) =>
            {
                if first_rank == 0 {
                    println!("soak: cycle {index} refused ({cycle:?}): {}", e.message());
                }
                tally.refused += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        first_rank = dlb.rank();
        if dlb.size() as u64 != launch.ranks {
            if first_rank == 0 {
                println!(
                    "soak: FAIL seed {seed}: launched on {} ranks, but its plan has {} \
                     (replay with ci/soak --replay {seed})",
                    dlb.size(),
                    launch.ranks
                );
            }
            return Ok(false);
        }
        tally.cycles += 1;
        for r in 0..cycle.runs {
            let spec = RunSpec::draw(&mut rng, dlb.size());
            if verbose && dlb.rank() == 0 {
                println!(
                    "soak: cycle {index} run {r}: atomics {:?}, window {:?}, {cycle:?}, {spec:?}",
                    dlb.atomics_path(),
                    dlb.window_flavor()
                );
            }
            if let Err(why) = run(&mut dlb, &spec, seed ^ (r << 8) ^ index)? {
                if dlb.rank() == 0 {
                    println!(
                        "soak: FAIL seed {seed}: cycle {index} ({cycle:?}, atomics {:?}, window {:?}) \
                         run {r} ({spec:?}): {why}",
                        dlb.atomics_path(),
                        dlb.window_flavor()
                    );
                }
                return Ok(false);
            }
            tally.runs += 1;
        }
        dlb.finalize()?;
    }
    if first_rank == 0 {
        println!(
            "soak: PASS seed {seed}: {} runs, {} cycles ({} refused), {} ranks, {}",
            tally.runs, tally.cycles, tally.refused, launch.ranks, launch.stack
        );
    }
    all_done(first_rank);
    Ok(true)
}

/// The launch's last line from rank 0, after its verdict: every rank got
/// past its last run (the multi-node launchers tell MPICH's known hang in
/// `MPI_Finalize` apart from a hang in dlb by it).
fn all_done(dlb_rank: usize) {
    if dlb_rank == 0 {
        println!("soak: all ranks done");
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One run of `spec`; the verdict (agreed by every rank), or an error.
fn run(dlb: &mut Dlb, spec: &RunSpec, seed: u64) -> dlb::Result<Result<(), String>> {
    let me = dlb.rank();
    let mut pick = Rng::new(seed ^ (me as u64).wrapping_mul(0x9e37));
    let mut pieces: Vec<Piece> = Vec::new();
    let mut finished = 0;
    let mut work = |piece: Piece, pieces: &mut Vec<Piece>| {
        let jobs = (piece.end - piece.start).div_ceil(piece.stride).min(4);
        let us = match spec.cost {
            Cost::Zero => 0,
            Cost::Uniform(max) => pick.below(max + 1) * jobs,
            Cost::Skewed(rank, us) if rank == me => us * jobs,
            Cost::Skewed(..) => 0,
        };
        if us > 0 {
            std::thread::sleep(Duration::from_micros(us));
        }
        pieces.push(piece);
        finished = now_ns();
    };
    let mut draw = Rng::new(seed ^ 0x6d6a ^ (me as u64) << 20);
    let mut maxjobs = move || 1 + draw.below(spec.maxjobs);
    match spec.interface {
        Interface::Plain => {
            let mut run = dlb.setup(spec.jobs)?;
            while let Some(r) = run.give_more(maxjobs())? {
                work(
                    Piece {
                        start: r.start,
                        end: r.end,
                        stride: 1,
                    },
                    &mut pieces,
                );
            }
        }
        Interface::Color => {
            let offsets: Vec<u64> = spec
                .colors
                .iter()
                .scan(0, |acc, &c| Some(std::mem::replace(acc, *acc + c)))
                .collect();
            let mut run = dlb.setup_color(&spec.colors)?;
            while let Some((c, r)) = run.give_more(maxjobs())? {
                // A piece outside its color shows up as a gap or overlap.
                let base = offsets.get(c).copied().unwrap_or(u64::MAX / 2);
                let end = if r.end > spec.colors.get(c).copied().unwrap_or(0) {
                    u64::MAX
                } else {
                    base + r.end
                };
                work(
                    Piece {
                        start: base + r.start,
                        end,
                        stride: 1,
                    },
                    &mut pieces,
                );
            }
        }
        Interface::RoundRobin => {
            let mut run = dlb.setup_rr(spec.jobs)?;
            while let Some(s) = run.give_more(maxjobs())? {
                work(
                    Piece {
                        start: s.start,
                        end: s.end,
                        stride: s.stride,
                    },
                    &mut pieces,
                );
            }
        }
    }
    let told_no_more = now_ns();
    let all = gather(dlb, &pieces)?;
    let finished = allgather(dlb, finished)?;
    let told = allgather(dlb, told_no_more)?;
    // Round robin hands out IDs strided by the number of ranks.
    let stride = if spec.interface == Interface::RoundRobin {
        dlb.size() as u64
    } else {
        1
    };
    let mut verdict = verify::exactly_once(&all, spec.jobs, stride);
    if verdict.is_ok() && dlb.variant() == Variant::Rma {
        verdict = verify::no_early_end(&finished, &told);
    }
    Ok(verdict)
}

/// Every rank's pieces, on every rank (an all-gather of variable length:
/// each rank writes its pieces at its offset of a zeroed buffer, and the
/// buffers are summed).
fn gather(dlb: &Dlb, pieces: &[Piece]) -> dlb::Result<Vec<Piece>> {
    let counts = allgather(dlb, pieces.len() as u64)?;
    let before: u64 = counts[..dlb.rank()].iter().sum();
    let total: u64 = counts.iter().sum();
    let mut words = vec![0u64; total as usize * Piece::WORDS];
    for (i, piece) in pieces.iter().enumerate() {
        let at = (before as usize + i) * Piece::WORDS;
        words[at..at + Piece::WORDS].copy_from_slice(&piece.words());
    }
    allreduce_sum(dlb, &mut words)?;
    Ok(words.chunks(Piece::WORDS).map(Piece::from_words).collect())
}
