//! `dlbcheck` under the real launcher: PASS at 1 to 8 ranks with the exit
//! status to match, and FAIL (one final line, non-zero status) where the
//! stack or the launch is wrong.

#[path = "../../tests/common/mod.rs"]
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
    let job = singleton(&["--quick"]);
    assert!(!job.status.success(), "{}", job.text());
    assert!(
        last_line(&job).starts_with("dlbcheck: FAIL the launcher started 64 processes"),
        "{}",
        job.text()
    );
    let job = singleton(&["--quick", "--json"]);
    assert!(!job.status.success(), "{}", job.text());
    let report = json_report(&job);
    assert_eq!(report["verdict"], "FAIL", "{}", job.text());
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("the launcher started 64 processes"),
        "{reason}"
    );
    assert_eq!(
        report["stack"]["launcher"]["variable"],
        "SLURM_STEP_NUM_TASKS"
    );
}

/// dlbcheck started directly, as one of 64 singletons of a Slurm step;
/// without the variables of the launcher that may run this test.
fn singleton(args: &[&str]) -> Job {
    let mut cmd = std::process::Command::new("timeout");
    cmd.args(["-k", "10", "120", DLBCHECK])
        .args(args)
        .env("SLURM_NTASKS", "64")
        .env("SLURM_STEP_NUM_TASKS", "64");
    for var in std::env::vars_os().map(|(k, _)| k) {
        let name = var.to_string_lossy();
        if name.starts_with("OMPI_")
            || name.starts_with("PMI")
            || name.starts_with("PMIX_")
            || name.starts_with("HYDRA_")
        {
            cmd.env_remove(&var);
        }
    }
    let out = cmd.output().expect("cannot run timeout");
    Job {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The one JSON object that is all of `--json`'s standard output.
fn json_report(job: &Job) -> serde_json::Value {
    assert_eq!(job.stdout.lines().count(), 1, "one line:\n{}", job.text());
    serde_json::from_str(&job.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", job.text()))
}

#[test]
fn json_holds_the_stack_the_runs_and_the_verdict() {
    if is_child() {
        return;
    }
    let jobs = 240;
    let args = ["--quick", "--json", "--jobs", "240", "--rounds", "2"];
    let job = mpiexec(3, DLBCHECK, &args, &[]);
    assert!(job.status.success(), "{}", job.text());
    let report = json_report(&job);
    assert_eq!(report["verdict"], "PASS");
    assert!(report["reason"].is_null());
    assert_eq!(report["dlbcheck"], dlb::VERSION);
    assert_eq!(report["stack"]["ranks"], 3);
    assert_eq!(report["stack"]["nodes"], 1);
    assert!(report["stack"]["mpi_library"]
        .as_str()
        .is_some_and(|l| l.contains("MPI")));
    assert_eq!(report["paths"]["variant"], "rma");
    assert!(report["paths"]["atomics"].is_string());
    let runs = report["runs"].as_array().expect("runs");
    // 2 variants x 3 interfaces x 2 rounds.
    assert_eq!(runs.len(), 12);
    for run in runs {
        assert_eq!(run["ok"], true, "{run}");
        let per_rank: Vec<u64> = run["jobs_per_rank"]
            .as_array()
            .expect("jobs_per_rank")
            .iter()
            .map(|j| j.as_u64().expect("a count"))
            .collect();
        assert_eq!(per_rank.len(), 3, "{run}");
        let sum: u64 = per_rank.iter().sum();
        if run["interface"] == "color" {
            // Colors split about `jobs` jobs, rounding each color down.
            assert!(sum <= jobs, "{run}");
        } else {
            assert_eq!(sum, jobs, "{run}");
        }
    }
    for variant in ["rma", "static"] {
        let per_node = report["jobs_per_node"][variant].as_array().expect(variant);
        assert_eq!(per_node.len(), 1, "{report}");
    }
}

#[test]
fn json_of_a_failed_check_says_why() {
    if is_child() || dlb::sys::DLB_OMPI_MAJOR_VERSION != 4 {
        return;
    }
    // The broken stack of `a_known_broken_stack_fails_with_advice`.
    let env = [
        ("DLB_ATOMICS", "mpi"),
        ("DLB_WINDOW", "allocate"),
        ("OMPI_MCA_osc", "^ucx,pt2pt"),
    ];
    let job = mpiexec(2, DLBCHECK, &["--quick", "--json"], &env);
    assert!(!job.status.success(), "{}", job.text());
    let report = json_report(&job);
    assert_eq!(report["verdict"], "FAIL");
    assert!(
        report["reason"]
            .as_str()
            .is_some_and(|r| r.contains("OMPI_MCA_osc=ucx")),
        "{report}"
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
    let last = last_line(&job);
    assert!(
        last.starts_with("dlbcheck: FAIL bad arguments")
            && last.contains("'triangle'")
            && last.contains("--interface"),
        "{}",
        job.text()
    );
    assert_eq!(job.status.code(), Some(2), "{}", job.text());
    assert!(job.stderr.contains("possible values"), "{}", job.text());
    let help = mpiexec(1, DLBCHECK, &["--help"], &[]);
    assert!(
        help.status.success() && help.stdout.contains("--maxjobs <M>"),
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
