//! What the launcher says about this process, read from its environment:
//! this process's rank before MPI numbered it, and whether the launch
//! started one job of N ranks or N singletons.

/// This process's rank as the launcher numbered it (0 when unknown), for
/// reports made before dlb's communicator exists.
pub fn launcher_rank() -> usize {
    [
        "OMPI_COMM_WORLD_RANK",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok().and_then(|r| r.parse().ok()))
    .unwrap_or(0)
}

/// The launcher's size and the variable that said it, if any did.
pub fn launcher_size() -> Option<(&'static str, usize)> {
    size_in(|var| std::env::var(var).ok())
}

/// Why the launch does not match MPI's `size` (a launch of N singletons,
/// MPICH under `srun --mpi=pmix` for one), if it does not.
pub fn launcher_mismatch(size: usize) -> Option<String> {
    mismatch_in(size, |var| std::env::var(var).ok())
}

/// The variables that name how many processes the launcher that started
/// this one started, most specific first; only the first one set counts.
/// Not `SLURM_NTASKS`: that is the allocation's, which an `mpirun -n 4`
/// inside an `sbatch -n 8` script inherits; and `SLURM_STEP_NUM_TASKS`
/// only when no MPI launcher said more (mpirun and mpiexec.hydra start
/// their daemons as a Slurm step of one task per node), and then only
/// for singletons (see `mismatch_in`).
const LAUNCHER_SIZES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"];

fn size_in(env: impl Fn(&str) -> Option<String>) -> Option<(&'static str, usize)> {
    LAUNCHER_SIZES
        .iter()
        .find_map(|&var| Some((var, env(var)?.parse::<usize>().ok()?)))
}

fn mismatch_in(size: usize, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let (var, expected) = size_in(env)?;
    // Slurm's step count is the launcher's only when the processes are
    // Slurm's tasks; a launcher that runs daemons as a step of one task per
    // node and says nothing itself would differ too. Singletons, what this
    // check is for, always see one rank.
    let suspicious = if var == "SLURM_STEP_NUM_TASKS" {
        size == 1 && expected > 1
    } else {
        expected != size
    };
    suspicious.then(|| {
        format!(
            "the launcher started {expected} processes ({var}) but MPI sees {size} rank(s): \
             a launch of singletons (MPICH under srun needs --mpi=pmi2; Open MPI --mpi=pmix)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn mpirun_inside_an_sbatch_allocation_is_not_a_mismatch() {
        // sbatch -n 8, then mpirun -n 4 (its daemons: a step of 2 tasks).
        let vars = [
            ("SLURM_NTASKS", "8"),
            ("SLURM_STEP_NUM_TASKS", "2"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
        ];
        assert_eq!(mismatch_in(4, env(&vars)), None);
        assert_eq!(size_in(env(&vars)), Some(("OMPI_COMM_WORLD_SIZE", 4)));
    }

    #[test]
    fn singletons_under_srun_are_a_mismatch() {
        let vars = [("SLURM_NTASKS", "8"), ("SLURM_STEP_NUM_TASKS", "8")];
        let why = mismatch_in(1, env(&vars)).expect("8 singletons");
        assert!(why.contains("SLURM_STEP_NUM_TASKS"), "{why}");
        assert_eq!(mismatch_in(8, env(&vars)), None);
    }

    #[test]
    fn hydra_counts_before_slurm() {
        let vars = [("PMI_SIZE", "3"), ("SLURM_STEP_NUM_TASKS", "1")];
        assert_eq!(mismatch_in(3, env(&vars)), None);
        assert!(mismatch_in(1, env(&vars)).is_some());
        assert_eq!(mismatch_in(5, env(&[])), None);
        assert_eq!(size_in(env(&[("SLURM_NTASKS", "8")])), None);
        // Daemons of a launcher that names no size: a step of 2 tasks.
        let vars = [("SLURM_STEP_NUM_TASKS", "2")];
        assert_eq!(mismatch_in(4, env(&vars)), None);
    }
}
