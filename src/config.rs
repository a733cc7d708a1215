//! The choices made at init: variant, atomics path, window flavor and
//! schedule, from the builder, then the environment (`DLB_VARIANT`,
//! `DLB_ATOMICS`, `DLB_WINDOW`, `DLB_SCHEDULE`, ...), then defaults.

use crate::error::{Error, ErrorKind, Result};
use crate::mpi::WindowFlavor;

/// Which DLB variant runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Work stealing over RMA atomics (`DLB_VARIANT=rma`; the Fortran DLB
    /// library's variant 1). The default.
    Rma,
    /// No communication: each rank hands out its own block and answers "no
    /// more" when it is done, without waiting for the others
    /// (`DLB_VARIANT=static`; the Fortran DLB library's variant 0). For
    /// debugging and as a baseline.
    Static,
}

/// Which atomics the RMA variant uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicsPath {
    /// `MPI_Compare_and_swap` / `MPI_Fetch_and_op` on an RMA window: any set
    /// of ranks, any machine.
    Mpi,
    /// CPU atomics on an `MPI_Win_allocate_shared` window: one node only,
    /// truly passive whatever the MPI. Default when all ranks share a node.
    Shm,
    /// Node-aware: CPU atomics on a shared window of each node for the
    /// words only node-mates touch, MPI atomics on a window over all ranks
    /// for the words touched across nodes. Default when the ranks span
    /// several nodes.
    Hybrid,
}

/// How many jobs one claim from a rank's own range takes (the RMA variant;
/// see [`Builder::schedule`](crate::Builder::schedule)). Every schedule
/// hands out at most `maxjobs` jobs per `give_more`.
///
/// ```
/// use dlb::Schedule;
/// assert_eq!(Schedule::default(), Schedule::Fixed);
/// assert_eq!(Schedule::Guided.name(), "guided");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// Chunks of `maxjobs` jobs (fewer only at the end of a range), as the
    /// Fortran DLB library hands them out. The default.
    #[default]
    Fixed,
    /// Guided self-scheduling on the own range: a chunk holds at most
    /// `ceil(R / P)` jobs, where `R` is what the rank's own range holds
    /// when it claims and `P` the number of ranks, so chunks shrink as the
    /// range does.
    Guided,
    /// Factoring on the own range: chunks come in batches of `P`, each
    /// chunk of a batch at most `ceil(R / (2 P))` jobs, `R` being what the
    /// own range held when the batch began; a batch ends early when the
    /// rank gets new units from a steal.
    Factoring,
}

impl Schedule {
    /// The name used by `DLB_SCHEDULE`.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Fixed => "fixed",
            Schedule::Guided => "guided",
            Schedule::Factoring => "factoring",
        }
    }
}

impl Variant {
    /// The name used by `DLB_VARIANT`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Rma => "rma",
            Variant::Static => "static",
        }
    }
}

impl AtomicsPath {
    /// The name used by `DLB_ATOMICS`.
    pub fn name(self) -> &'static str {
        match self {
            AtomicsPath::Mpi => "mpi",
            AtomicsPath::Shm => "shm",
            AtomicsPath::Hybrid => "hybrid",
        }
    }
}

/// Reads `var`; `auto` and unset mean `None`; anything else must be one of
/// `options`' names.
fn from_env<T: Copy>(var: &str, options: &[T], name: fn(T) -> &'static str) -> Result<Option<T>> {
    let Ok(value) = std::env::var(var) else {
        return Ok(None);
    };
    let value = value.trim().to_ascii_lowercase();
    if value.is_empty() || value == "auto" {
        return Ok(None);
    }
    options
        .iter()
        .copied()
        .find(|o| name(*o) == value)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|o| name(*o)).collect();
            Error::invalid_argument(format!(
                "{var}={value} is not one of auto, {}",
                names.join(", ")
            ))
        })
}

pub(crate) fn variant_from_env() -> Result<Option<Variant>> {
    from_env(
        "DLB_VARIANT",
        &[Variant::Rma, Variant::Static],
        Variant::name,
    )
}

pub(crate) fn atomics_from_env() -> Result<Option<AtomicsPath>> {
    from_env(
        "DLB_ATOMICS",
        &[AtomicsPath::Mpi, AtomicsPath::Shm, AtomicsPath::Hybrid],
        AtomicsPath::name,
    )
}

pub(crate) fn schedule_from_env() -> Result<Option<Schedule>> {
    from_env(
        "DLB_SCHEDULE",
        &[Schedule::Fixed, Schedule::Guided, Schedule::Factoring],
        Schedule::name,
    )
}

/// `DLB_RANKS_PER_NODE=k`: a testing aid that simulates nodes of `k`
/// consecutive ranks within each real one (see `Builder::ranks_per_node`).
pub(crate) fn ranks_per_node_from_env() -> Result<Option<usize>> {
    let Ok(value) = std::env::var("DLB_RANKS_PER_NODE") else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(k) if k >= 1 => Ok(Some(k)),
        _ => Err(Error::invalid_argument(format!(
            "DLB_RANKS_PER_NODE={value} is not a positive number of ranks"
        ))),
    }
}

/// `DLB_TREE_FAN_OUT=k`: a testing aid that sets the children per node of
/// the node tree (see `Builder::tree_fan_out`).
pub(crate) fn tree_fan_out_from_env() -> Result<Option<usize>> {
    let Ok(value) = std::env::var("DLB_TREE_FAN_OUT") else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(k) if (1..=MAX_TREE_FAN_OUT).contains(&k) => Ok(Some(k)),
        _ => Err(Error::invalid_argument(format!(
            "DLB_TREE_FAN_OUT={value} is not a number of children per node from 1 to {MAX_TREE_FAN_OUT}"
        ))),
    }
}

/// The largest node-tree fan-out accepted.
pub(crate) const MAX_TREE_FAN_OUT: usize = 1 << 20;

/// `DLB_TIMEOUT=<seconds>`: the hang watchdog (see `Builder::timeout`);
/// unset, empty or `0` leaves it off.
pub(crate) fn timeout_from_env() -> Result<Option<std::time::Duration>> {
    let Ok(value) = std::env::var("DLB_TIMEOUT") else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    match trimmed.parse::<f64>() {
        Ok(0.0) => Ok(None),
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => {
            Ok(Some(std::time::Duration::from_secs_f64(s)))
        }
        _ => Err(Error::invalid_argument(format!(
            "DLB_TIMEOUT={value} is not a number of seconds (0 or unset: no watchdog)"
        ))),
    }
}

/// `DLB_CLAIM_AHEAD=<n>`: at most `n` chunks per claim from the own range
/// (see `Builder::claim_ahead`; 1 turns claiming ahead off).
pub(crate) fn claim_ahead_from_env() -> Result<Option<u64>> {
    let Ok(value) = std::env::var("DLB_CLAIM_AHEAD") else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_CLAIM_AHEAD).contains(&n) => Ok(Some(n)),
        _ => Err(Error::invalid_argument(format!(
            "DLB_CLAIM_AHEAD={value} is not a number of chunks from 1 (off) to {MAX_CLAIM_AHEAD}"
        ))),
    }
}

/// The largest claim-ahead cap accepted.
pub(crate) const MAX_CLAIM_AHEAD: u64 = 1024;

/// `DLB_PER_CALL_TIMING=1|0`: time every `give_more` call (see
/// `Builder::per_call_timing`).
pub(crate) fn per_call_timing_from_env() -> Result<Option<bool>> {
    switch_from_env("DLB_PER_CALL_TIMING")
}

/// `DLB_VERBOSE=1|0`: every rank says at init what it chose and why (see
/// `Builder::verbose`).
pub(crate) fn verbose_from_env() -> Result<Option<bool>> {
    switch_from_env("DLB_VERBOSE")
}

/// Whether idle ranks of a dry node steal directly from other nodes'
/// ranges over MPI atomics (see `Builder::direct_steals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirectSteals {
    Off,
    On,
    /// On where init's probe finds MPI atomics across nodes passive (see
    /// `passive_probe`).
    IfPassive,
    /// Nothing asked for: `IfPassive` where dlb's nodes are the real ones
    /// (no `DLB_RANKS_PER_NODE`, whose blocks of one machine would measure
    /// its shared memory), `Off` on simulated nodes; on SimGrid's SMPI,
    /// whose atomics are passive (what the probe finds there, at the cost
    /// of about a minute of SMPI's wall time at 256 ranks), `On`.
    Default,
}

/// What init does about direct steals (see [`DirectSteals::decide`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirectDecision {
    Off,
    On,
    /// On if init's probe finds MPI atomics across nodes passive.
    Probe,
}

impl DirectSteals {
    /// What init does for this choice, where the ranks span several of
    /// dlb's nodes (`multi_node`), these are blocks of `DLB_RANKS_PER_NODE`
    /// (`simulated`) and the MPI is SMPI (`smpi`). On one node nothing:
    /// direct steals are steals across nodes.
    pub(crate) fn decide(self, multi_node: bool, simulated: bool, smpi: bool) -> DirectDecision {
        match self {
            _ if !multi_node => DirectDecision::Off,
            DirectSteals::Off => DirectDecision::Off,
            DirectSteals::On => DirectDecision::On,
            DirectSteals::IfPassive => DirectDecision::Probe,
            DirectSteals::Default if simulated => DirectDecision::Off,
            DirectSteals::Default if smpi => DirectDecision::On,
            DirectSteals::Default => DirectDecision::Probe,
        }
    }
}

/// `DLB_DIRECT_STEALS=1|0|probe` (see `Builder::direct_steals` and
/// `Builder::direct_steals_if_passive`).
pub(crate) fn direct_steals_from_env() -> Result<Option<DirectSteals>> {
    let Ok(value) = std::env::var("DLB_DIRECT_STEALS") else {
        return Ok(None);
    };
    match (value.trim(), switch(&value)) {
        ("probe", _) => Ok(Some(DirectSteals::IfPassive)),
        (_, Some(true)) => Ok(Some(DirectSteals::On)),
        (_, Some(false)) => Ok(Some(DirectSteals::Off)),
        (_, None) => Err(Error::invalid_argument(format!(
            "DLB_DIRECT_STEALS={value} is none of 1, 0 and probe"
        ))),
    }
}

/// An on/off variable: `1`, `yes`, `true` or `on`; `0`, `no`, `false`,
/// `off` or empty; `None` when unset.
fn switch_from_env(name: &str) -> Result<Option<bool>> {
    let Ok(value) = std::env::var(name) else {
        return Ok(None);
    };
    match switch(&value) {
        Some(on) => Ok(Some(on)),
        None => Err(Error::invalid_argument(format!(
            "{name}={value} is no on/off value (1, yes, true or on; 0, no, false, off or empty)"
        ))),
    }
}

/// An on/off value (see [`switch_from_env`]); `None` when it is neither.
fn switch(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "yes" | "true" | "on" => Some(true),
        "" | "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

pub(crate) fn window_from_env() -> Result<Option<WindowFlavor>> {
    from_env(
        "DLB_WINDOW",
        &[
            WindowFlavor::Allocate,
            WindowFlavor::Shared,
            WindowFlavor::Create,
        ],
        WindowFlavor::name,
    )
}

/// The window flavors to try, in order, for `path` (for the hybrid path,
/// of its window over all ranks).
///
/// CPU atomics need a shared window. For MPI atomics the default is
/// `MPI_Win_allocate`, except with Open MPI 4 on one node: there its default
/// component for allocated windows (osc/rdma over btl/vader) crashes on
/// 8-byte compare-and-swap (open-mpi/ompi#7967), while shared windows use
/// osc/sm, which works; if the shared window cannot be made (for example
/// with `OMPI_MCA_osc=ucx` or `pt2pt`, which have no shared flavor), dlb
/// falls back to `MPI_Win_allocate` with the component the user chose.
pub(crate) fn flavors(
    path: AtomicsPath,
    asked: Option<WindowFlavor>,
    one_node: bool,
) -> Result<Vec<WindowFlavor>> {
    match (path, asked) {
        (AtomicsPath::Shm, None | Some(WindowFlavor::Shared)) => Ok(vec![WindowFlavor::Shared]),
        (AtomicsPath::Shm, Some(other)) => Err(Error::invalid_argument(format!(
            "shared-memory atomics need a shared window, not '{}'",
            other.name()
        ))),
        // Hybrid: these are the flavors of its window over all ranks.
        (AtomicsPath::Mpi | AtomicsPath::Hybrid, Some(WindowFlavor::Shared)) if !one_node => {
            Err(Error::new(
                ErrorKind::Unsupported,
                "DLB_WINDOW=shared needs every rank on one node; these ranks span several",
            ))
        }
        (AtomicsPath::Mpi | AtomicsPath::Hybrid, Some(flavor)) => Ok(vec![flavor]),
        (AtomicsPath::Mpi | AtomicsPath::Hybrid, None) if one_node && open_mpi_major() == 4 => {
            Ok(vec![WindowFlavor::Shared, WindowFlavor::Allocate])
        }
        (AtomicsPath::Mpi | AtomicsPath::Hybrid, None) => Ok(vec![WindowFlavor::Allocate]),
    }
}

/// Whether Open MPI's `osc` selection `value` (as in `OMPI_MCA_osc`: empty
/// for all components, `^a,b` to exclude, `a,b` to include) lets it pick
/// osc/rdma.
pub(crate) fn osc_allows_rdma(value: &str) -> bool {
    let value = value.trim();
    let has_rdma = |list: &str| list.split(',').any(|c| c.trim() == "rdma");
    match value.strip_prefix('^') {
        _ if value.is_empty() => true,
        Some(excluded) => !has_rdma(excluded),
        None => has_rdma(value),
    }
}

/// Why a window of `flavor` for MPI atomics would crash this MPI, if it
/// would: Open MPI 4's osc/rdma (over btl/vader within a node) segfaults on
/// 8-byte `MPI_Compare_and_swap` (open-mpi/ompi#7967, #11349). `osc` is the
/// effective value of Open MPI's `osc` control variable, when readable.
/// `DLB_ALLOW_OSC_RDMA=1` (an on/off switch) trusts osc/rdma anyway (an
/// RDMA network whose atomics work, with no two ranks on one node); a
/// value that is no switch is an error.
pub(crate) fn known_crash(flavor: WindowFlavor, osc: Option<&str>) -> Result<Option<String>> {
    let allowed = switch_from_env("DLB_ALLOW_OSC_RDMA")?.unwrap_or(false);
    let rdma_possible = osc.is_none_or(osc_allows_rdma);
    if !may_crash(flavor) || allowed || !rdma_possible {
        return Ok(None);
    }
    Ok(Some(format!(
        "Open MPI 4 would run MPI atomics on a '{}' window with osc/rdma (osc = '{}'), which crashes \
         on 8-byte MPI_Compare_and_swap (open-mpi/ompi#7967). Set OMPI_MCA_osc=ucx (with \
         OMPI_MCA_pml=ucx) or OMPI_MCA_osc=pt2pt, or on one node DLB_WINDOW=shared (osc/sm), or \
         DLB_ALLOW_OSC_RDMA=1 if your osc/rdma has working atomics",
        flavor.name(),
        osc.unwrap_or("unknown")
    )))
}

/// Whether MPI atomics on a window of `flavor` can meet the osc/rdma crash
/// at all: only with Open MPI 4 and a window that is not shared. The same
/// on every rank (the flavor is agreed, the version fixed at build time).
pub(crate) fn may_crash(flavor: WindowFlavor) -> bool {
    open_mpi_major() == 4 && flavor != WindowFlavor::Shared
}

/// Open MPI's major version at build time, 0 for other MPIs.
fn open_mpi_major() -> i32 {
    dlb_sys::DLB_OMPI_MAJOR_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shm_needs_a_shared_window() {
        assert_eq!(
            flavors(AtomicsPath::Shm, None, true).unwrap(),
            [WindowFlavor::Shared]
        );
        assert!(flavors(AtomicsPath::Shm, Some(WindowFlavor::Allocate), true).is_err());
        assert_eq!(
            flavors(AtomicsPath::Mpi, Some(WindowFlavor::Create), false).unwrap(),
            [WindowFlavor::Create]
        );
        assert_eq!(
            flavors(AtomicsPath::Mpi, None, false).unwrap(),
            [WindowFlavor::Allocate]
        );
        // A shared window over ranks on several nodes is refused up front.
        for path in [AtomicsPath::Mpi, AtomicsPath::Hybrid] {
            let err = flavors(path, Some(WindowFlavor::Shared), false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported);
            assert_eq!(
                flavors(path, Some(WindowFlavor::Shared), true).unwrap(),
                [WindowFlavor::Shared]
            );
        }
    }

    #[test]
    fn dlb_timeout_is_seconds_or_off() {
        // Only this test touches DLB_TIMEOUT in the unit-test process.
        for (value, expected) in [
            ("3", Some(Some(Duration::from_secs(3)))),
            (" 0.5 ", Some(Some(Duration::from_millis(500)))),
            ("0", Some(None)),
            ("", Some(None)),
            ("-1", None),
            ("soon", None),
            ("inf", None),
        ] {
            std::env::set_var("DLB_TIMEOUT", value);
            assert_eq!(timeout_from_env().ok(), expected, "{value:?}");
        }
        std::env::remove_var("DLB_TIMEOUT");
        assert_eq!(timeout_from_env().unwrap(), None);
    }

    #[test]
    fn dlb_claim_ahead_and_per_call_timing_parse() {
        // Only this test touches these two variables in the unit-test process.
        for (value, expected) in [
            ("16", Some(Some(16))),
            (" 1 ", Some(Some(1))),
            ("1024", Some(Some(1024))),
            ("0", None),
            ("1025", None),
            ("many", None),
        ] {
            std::env::set_var("DLB_CLAIM_AHEAD", value);
            assert_eq!(claim_ahead_from_env().ok(), expected, "{value:?}");
        }
        std::env::remove_var("DLB_CLAIM_AHEAD");
        assert_eq!(claim_ahead_from_env().unwrap(), None);
        for (value, expected) in [
            ("1", Some(Some(true))),
            ("on", Some(Some(true))),
            ("0", Some(Some(false))),
            ("", Some(Some(false))),
            ("sometimes", None),
        ] {
            std::env::set_var("DLB_PER_CALL_TIMING", value);
            assert_eq!(per_call_timing_from_env().ok(), expected, "{value:?}");
        }
        std::env::remove_var("DLB_PER_CALL_TIMING");
        assert_eq!(per_call_timing_from_env().unwrap(), None);
        std::env::set_var("DLB_DIRECT_STEALS", "yes");
        assert_eq!(direct_steals_from_env().unwrap(), Some(DirectSteals::On));
        std::env::set_var("DLB_DIRECT_STEALS", "0");
        assert_eq!(direct_steals_from_env().unwrap(), Some(DirectSteals::Off));
        std::env::set_var("DLB_DIRECT_STEALS", " probe ");
        assert_eq!(
            direct_steals_from_env().unwrap(),
            Some(DirectSteals::IfPassive)
        );
        std::env::set_var("DLB_DIRECT_STEALS", "2");
        let err = direct_steals_from_env().unwrap_err();
        assert!(
            err.to_string().contains("DLB_DIRECT_STEALS=2") && err.to_string().contains("probe"),
            "{err}"
        );
        std::env::remove_var("DLB_DIRECT_STEALS");
        assert_eq!(direct_steals_from_env().unwrap(), None);
    }

    #[test]
    fn by_default_real_nodes_are_probed_and_smpi_takes_direct_steals() {
        use DirectDecision as D;
        use DirectSteals::*;
        // (multi_node, simulated, smpi): one node, real nodes, simulated
        // nodes, SMPI's nodes.
        let cases = [
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (true, false, true),
        ];
        let decided = |d: DirectSteals| cases.map(|(m, s, p)| d.decide(m, s, p));
        assert_eq!(decided(Default), [D::Off, D::Probe, D::Off, D::On]);
        assert_eq!(decided(IfPassive), [D::Off, D::Probe, D::Probe, D::Probe]);
        assert_eq!(decided(On), [D::Off, D::On, D::On, D::On]);
        assert_eq!(decided(Off), [D::Off; 4]);
    }

    #[test]
    fn dlb_schedule_parses() {
        // Only this test touches DLB_SCHEDULE in the unit-test process.
        for (value, expected) in [
            ("guided", Some(Some(Schedule::Guided))),
            (" Factoring ", Some(Some(Schedule::Factoring))),
            ("fixed", Some(Some(Schedule::Fixed))),
            ("auto", Some(None)),
            ("gss", None),
        ] {
            std::env::set_var("DLB_SCHEDULE", value);
            assert_eq!(schedule_from_env().ok(), expected, "{value:?}");
        }
        std::env::set_var("DLB_SCHEDULE", "trapezoid");
        let err = schedule_from_env().unwrap_err();
        assert!(err.message().contains("fixed, guided, factoring"), "{err}");
        std::env::remove_var("DLB_SCHEDULE");
        assert_eq!(schedule_from_env().unwrap(), None);
    }

    #[test]
    fn osc_selections_that_allow_rdma() {
        for (value, rdma) in [
            ("", true),
            ("^ucx,pt2pt", true),
            ("^rdma", false),
            ("^ucx, rdma", false),
            ("ucx", false),
            ("pt2pt,sm", false),
            ("sm,rdma", true),
        ] {
            assert_eq!(osc_allows_rdma(value), rdma, "{value:?}");
        }
        if open_mpi_major() == 4 {
            let why = known_crash(WindowFlavor::Allocate, Some("^ucx,pt2pt"))
                .unwrap()
                .unwrap();
            assert!(
                why.contains("OMPI_MCA_osc=ucx") && why.contains("ompi#7967"),
                "{why}"
            );
            assert!(known_crash(WindowFlavor::Shared, Some(""))
                .unwrap()
                .is_none());
            assert!(known_crash(WindowFlavor::Create, Some("pt2pt"))
                .unwrap()
                .is_none());
        } else {
            assert!(known_crash(WindowFlavor::Allocate, None).unwrap().is_none());
        }
    }

    #[test]
    fn bad_environment_values_are_named() {
        // Only this test touches DLB_WINDOW in the unit-test process.
        std::env::set_var("DLB_WINDOW", "Shared");
        assert_eq!(window_from_env().unwrap(), Some(WindowFlavor::Shared));
        std::env::set_var("DLB_WINDOW", "auto");
        assert_eq!(window_from_env().unwrap(), None);
        std::env::set_var("DLB_WINDOW", "dynamic");
        let err = window_from_env().unwrap_err();
        assert!(err.message().contains("DLB_WINDOW=dynamic"), "{err}");
        std::env::remove_var("DLB_WINDOW");
    }
}
