//! `dlbcheck` under the real launcher: PASS at 1 to 8 ranks with the exit
//! status to match, and FAIL (one final line, non-zero status) where the
//! stack or the launch is wrong.

mod common;

use common::{is_child, mpiexec, Job};

const DLBCHECK: &str = env!("CARGO_BIN_EXE_dlbcheck");

/// The last line of standard output, which must be the verdict.
fn last_line(job: &Job) -> &str {
    job.stdout.lines().next_back().unwrap_or("")
}

fn verdicts(job: &Job) -> usize {
    job.stdout
        .lines()
        .filter(|l| l.starts_with("dlbcheck: PASS") || l.starts_with("dlbcheck: FAIL"))
        .count()
}

#[test]
fn passes_on_1_to_8_ranks() {
    if is_child() {
        return;
    }
    for ranks in [1, 2, 3, 4, 8] {
        let job = mpiexec(
            ranks,
            DLBCHECK,
            &["--quick", "--jobs", "300", "--seed", &ranks.to_string()],
            &[],
        );
        assert!(
            job.status.success(),
            "dlbcheck on {ranks} ranks failed:\n{}",
            job.text()
        );
        assert_eq!(last_line(&job), "dlbcheck: PASS", "{}", job.text());
        assert_eq!(
            verdicts(&job),
            1,
            "exactly one verdict line:\n{}",
            job.text()
        );
        assert!(
            job.stdout
                .contains(&format!("dlbcheck: {ranks} ranks on 1 node(s)")),
            "{}",
            job.text()
        );
        assert_eq!(
            job.stdout.matches("ok, every job exactly once").count(),
            12,
            "{}",
            job.text()
        );
    }
}

#[test]
fn each_interface_and_variant_alone() {
    if is_child() {
        return;
    }
    for (interface, variant) in [("plain", "rma"), ("color", "static"), ("rr", "rma")] {
        let args = [
            "--quick",
            "--interface",
            interface,
            "--variant",
            variant,
            "--rounds",
            "1",
        ];
        let job = mpiexec(3, DLBCHECK, &args, &[("DLB_ATOMICS", "mpi")]);
        assert_eq!(last_line(&job), "dlbcheck: PASS", "{}", job.text());
        assert_eq!(
            job.stdout.matches("ok, every job exactly once").count(),
            1,
            "{}",
            job.text()
        );
        assert!(
            job.stdout
                .contains(&format!("{variant:<7} {interface:<6} round 0")),
            "{}",
            job.text()
        );
    }
}

#[test]
fn a_launch_of_singletons_fails() {
    if is_child() {
        return;
    }
    // What MPICH under `srun --mpi=pmix` looks like to each process: a
    // singleton (no MPI launcher) in a Slurm step of more tasks.
    let out = std::process::Command::new("timeout")
        .args(["-k", "10", "120", DLBCHECK, "--quick"])
        .env("SLURM_NTASKS", "64")
        .env("SLURM_STEP_NUM_TASKS", "64")
        .output()
        .expect("cannot run timeout");
    let job = Job {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!job.status.success(), "{}", job.text());
    assert!(
        last_line(&job).starts_with("dlbcheck: FAIL the launcher started 64 processes"),
        "{}",
        job.text()
    );
}

#[test]
fn mpiexec_inside_a_larger_slurm_allocation_passes() {
    if is_child() {
        return;
    }
    // `mpirun -n 2` inside an `sbatch -n 64` script: the allocation's
    // SLURM_NTASKS is not this job's size.
    let job = mpiexec(
        2,
        DLBCHECK,
        &["--quick", "--jobs", "200"],
        &[("SLURM_NTASKS", "64")],
    );
    assert!(job.status.success(), "{}", job.text());
    assert_eq!(last_line(&job), "dlbcheck: PASS", "{}", job.text());
}

#[test]
fn bad_arguments_fail_with_help() {
    if is_child() {
        return;
    }
    let job = mpiexec(1, DLBCHECK, &["--interface", "triangle"], &[]);
    assert!(!job.status.success());
    assert!(
        last_line(&job).contains("--interface triangle"),
        "{}",
        job.text()
    );
    let help = mpiexec(1, DLBCHECK, &["--help"], &[]);
    assert!(
        help.status.success() && help.stdout.contains("--maxjobs M"),
        "{}",
        help.text()
    );
}

#[test]
fn a_known_broken_stack_fails_with_advice() {
    if is_child() || dlb::sys::DLB_OMPI_MAJOR_VERSION != 4 {
        return;
    }
    let env = [
        ("DLB_ATOMICS", "mpi"),
        ("DLB_WINDOW", "allocate"),
        ("OMPI_MCA_osc", "^ucx,pt2pt"),
    ];
    let job = mpiexec(2, DLBCHECK, &["--quick"], &env);
    assert!(!job.status.success(), "{}", job.text());
    assert_eq!(verdicts(&job), 1, "{}", job.text());
    let last = last_line(&job);
    assert!(
        last.starts_with("dlbcheck: FAIL") && last.contains("OMPI_MCA_osc=ucx"),
        "{}",
        job.text()
    );
}
