//! The choices made at init: the variant, the atomics path and the window
//! flavor (from the [`Builder`], else the environment, else defaults), that
//! every rank made the same ones, which windows this MPI would crash on
//! (the MPI_T probe of its `osc` setting), and the windows and atomics of
//! the RMA variant. `Dlb::new` is where `Builder::init` and
//! `Builder::init_with` end up.

use crate::atomics::{
    Atomics, HybridAtomics, MpiAtomics, ShmAtomics, WindowAtomics, WORDS_PER_RANK,
};
use crate::builder::Builder;
use crate::config::{self, AtomicsPath, DirectDecision, DirectSteals, Variant};
use crate::dispenser::{Dispenser, DEFAULT_CLAIM_AHEAD};
use crate::dlb::Dlb;
use crate::error::{Error, ErrorKind, Result};
use crate::mpi::{self, Comm, Window, WindowFlavor};
use crate::passive_probe::{self, PassiveProbe, StartProbe};
use crate::protocol::{Looks, Protocol, Topology, MAX_UNITS};
use crate::trace::{self, Recorder, StealLog};
use crate::verbose::{Reasons, Source};

/// The options of one init: the [`Builder`]'s, else the environment's, else
/// the defaults.
struct Options {
    reasons: Reasons,
    verbose: bool,
    variant: Variant,
    asked_path: Option<AtomicsPath>,
    asked_window: Option<WindowFlavor>,
    ranks_per_node: Option<usize>,
    tree_fan_out: Option<usize>,
    timeout: Option<std::time::Duration>,
    claim_ahead: u64,
    per_call_timing: bool,
    schedule: config::Schedule,
    direct_steals: DirectSteals,
    trace: Option<std::path::PathBuf>,
}

impl Options {
    fn resolve(builder: &Builder) -> Result<Options> {
        // (DLB_CLAIM_AHEAD's range is checked as it is read.)
        let (claim_ahead, claim_ahead_source) = pick(
            builder.claim_ahead,
            "DLB_CLAIM_AHEAD",
            config::claim_ahead_from_env,
        )?;
        let claim_ahead = match claim_ahead {
            Some(n) if (1..=config::MAX_CLAIM_AHEAD).contains(&n) => n,
            Some(n) => {
                return Err(Error::invalid_argument(format!(
                    "claim_ahead({n}): from 1 (off) to {} chunks per claim",
                    config::MAX_CLAIM_AHEAD
                )))
            }
            None => DEFAULT_CLAIM_AHEAD,
        };
        let (variant, variant_source) =
            pick(builder.variant, "DLB_VARIANT", config::variant_from_env)?;
        let (asked_path, atomics_source) =
            pick(builder.atomics, "DLB_ATOMICS", config::atomics_from_env)?;
        let (asked_window, window_source) =
            pick(builder.window, "DLB_WINDOW", config::window_from_env)?;
        let (schedule, schedule_source) =
            pick(builder.schedule, "DLB_SCHEDULE", config::schedule_from_env)?;
        let (direct_steals, direct_source) = pick(
            builder.direct_steals,
            "DLB_DIRECT_STEALS",
            config::direct_steals_from_env,
        )?;
        let direct_steals = direct_steals.unwrap_or(DirectSteals::Default);
        let trace = builder.trace.clone().or_else(trace::path_from_env);
        let schedule = schedule.unwrap_or_default();
        Ok(Options {
            reasons: Reasons {
                variant: variant_source,
                atomics: atomics_source,
                window: window_source,
                atomics_why: String::new(),
                window_why: String::new(),
                claim_ahead: (claim_ahead, claim_ahead_source),
                direct_steals: (direct_steals != DirectSteals::Off)
                    .then_some((direct_source, None)),
                schedule: (schedule, schedule_source),
                starts: None,
            },
            verbose: match builder.verbose {
                Some(on) => on,
                None => config::verbose_from_env()?.unwrap_or(false),
            },
            variant: variant.unwrap_or(Variant::Rma),
            asked_path,
            asked_window,
            ranks_per_node: match builder.ranks_per_node {
                Some(k) => Some(k),
                None => config::ranks_per_node_from_env()?,
            },
            tree_fan_out: match builder.tree_fan_out {
                Some(k) if (1..=config::MAX_TREE_FAN_OUT).contains(&k) => Some(k),
                Some(k) => {
                    return Err(Error::invalid_argument(format!(
                        "tree_fan_out({k}): from 1 to {} children per node",
                        config::MAX_TREE_FAN_OUT
                    )))
                }
                None => config::tree_fan_out_from_env()?,
            },
            timeout: match builder.timeout {
                Some(t) => Some(t),
                None => config::timeout_from_env()?,
            },
            claim_ahead,
            per_call_timing: match builder.per_call_timing {
                Some(on) => on,
                None => config::per_call_timing_from_env()?.unwrap_or(false),
            },
            schedule,
            direct_steals,
            trace,
        })
    }
}

/// A value the program set, else the one `var` sets (read by `env`), and
/// where it came from.
fn pick<T>(
    program: Option<T>,
    var: &'static str,
    env: impl FnOnce() -> Result<Option<T>>,
) -> Result<(Option<T>, Source)> {
    if program.is_some() {
        return Ok((program, Source::Program));
    }
    Ok(match env()? {
        Some(v) => (Some(v), Source::Env(var)),
        None => (None, Source::Default),
    })
}

impl Dlb {
    /// A `Dlb` on `comm` (dlb's own duplicate) with the options of
    /// `builder`. Collective over `comm`.
    pub(crate) fn new(builder: Builder, comm: Comm) -> Result<Dlb> {
        let Options {
            mut reasons,
            verbose,
            variant,
            asked_path,
            asked_window,
            ranks_per_node,
            tree_fan_out,
            timeout,
            claim_ahead,
            per_call_timing,
            schedule,
            direct_steals,
            trace,
        } = resolve_on_every_rank(&builder, &comm)?;
        let direct_steals_asked = direct_steals;
        let (rank, size) = (comm.rank(), comm.size());
        let max_units = builder.max_units.unwrap_or(MAX_UNITS);
        let (protocol, path, flavor) = match variant {
            Variant::Static => (None, None, None),
            Variant::Rma => {
                let Opened {
                    atomics,
                    why,
                    direct: direct_steals,
                    probe,
                } = open_atomics(
                    &comm,
                    asked_path,
                    asked_window,
                    ranks_per_node,
                    direct_steals,
                )?;
                (reasons.atomics_why, reasons.window_why) = why;
                if let Some((_, measured)) = &mut reasons.direct_steals {
                    *measured = probe;
                }
                // By default, a line only where the probe ran or they are on.
                if direct_steals_asked == DirectSteals::Default && probe.is_none() && !direct_steals
                {
                    reasons.direct_steals = None;
                }
                let (path, flavor) = match &atomics {
                    WindowAtomics::Mpi(a) => (AtomicsPath::Mpi, a.flavor()),
                    WindowAtomics::Shm(_) => (AtomicsPath::Shm, WindowFlavor::Shared),
                    WindowAtomics::Hybrid(a) => (AtomicsPath::Hybrid, a.cross_flavor()),
                };
                let mut protocol = Protocol::new(atomics, builder.seed);
                protocol.set_direct_steals(direct_steals);
                if let Some(k) = tree_fan_out {
                    protocol.set_tree_fan_out(k);
                }
                protocol.set_timeout(timeout, mpi::abort);
                reasons.starts = connect_across_nodes(&comm, &mut protocol)?;
                (Some(protocol), Some(path), Some(flavor))
            }
        };
        let mut dlb = Dlb {
            dispenser: Dispenser::new(protocol, rank, size, max_units)
                .pace(per_call_timing, claim_ahead)
                .schedule(schedule),
            variant,
            path,
            flavor,
            quiesced: false,
            ranks_per_node,
            comm,
        };
        dlb.start_observing(trace, verbose, reasons)?;
        Ok(dlb)
    }

    /// Starts tracing (a file named at init, a common origin of times) and
    /// prints the verbose line, as asked. Collective when tracing.
    fn start_observing(
        &mut self,
        trace: Option<std::path::PathBuf>,
        verbose: bool,
        reasons: Reasons,
    ) -> Result<()> {
        if let Some(asked) = trace {
            let file = trace::file::create(&self.comm, &asked)?;
            // The common origin of every rank's times: the barrier's exit.
            self.comm.barrier()?;
            let origin = crate::clock::Instant::now();
            if let Some(protocol) = self.dispenser.protocol_mut() {
                protocol.set_steal_log(StealLog::new(origin));
            }
            self.dispenser.set_trace(Recorder::new(file, origin));
        }
        if verbose {
            // One write, so that ranks' lines do not interleave.
            let line = format!("{}\n", self.verbose_line(&reasons));
            if std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).is_err() {
                // A closed standard error is no reason to fail init, and
                // there is nowhere else to say it.
            }
        }
        Ok(())
    }
}

/// Across nodes (collective): opens MPI's connections to other nodes'
/// ranks, then, without direct steals (which make no takes), probes
/// whether starting an atomic waits for its target and sets when the
/// protocol's hunters look before they take (its module doc, "Looks");
/// what the probe measured and the looks chosen. Nothing on one node; no
/// probe on SMPI.
fn connect_across_nodes(
    comm: &Comm,
    protocol: &mut Protocol<WindowAtomics>,
) -> Result<Option<(StartProbe, Looks)>> {
    if !protocol.atomics().topology().multi_node() {
        return Ok(None);
    }
    protocol.connect_remote()?;
    comm.barrier_serving(|| protocol.atomics().progress())?;
    // SimGrid's SMPI (`ci/smpi`): its atomics are passive and its starts
    // return at once, and at 256 simulated ranks the probe's serving
    // collectives cost a minute of the simulator's time.
    if protocol.direct_steals() || cfg!(dlb_smpi) {
        return Ok(None);
    }
    let atomics = protocol.atomics();
    let topology = atomics.topology();
    let starts = passive_probe::probe_starts(comm, atomics, topology)?;
    let every_rank_a_node = topology.nodes() == topology.size();
    let looks = Looks::chosen(starts.blocked(), starts.passive, every_rank_a_node);
    protocol.set_looks(looks);
    Ok(Some((starts, looks)))
}

/// `values` followed by their complements, for an element-wise maximum
/// over all ranks, after which [`agreed`] tells whether every rank passed
/// the same values.
pub(crate) fn with_complements(values: &[u64]) -> Vec<u64> {
    let complements = values.iter().map(|v| !v);
    values.iter().copied().chain(complements).collect()
}

/// Whether the element-wise maximum of [`with_complements`] shows the same
/// values on every rank: the maximum of `!v` is the complement of the
/// minimum of `v`, which equals the maximum only if `v` is the same
/// everywhere.
pub(crate) fn agreed(reduced: &[u64]) -> bool {
    let (max, max_of_complements) = reduced.split_at(reduced.len() / 2);
    max.iter().zip(max_of_complements).all(|(a, b)| *a == !*b)
}

/// [`Options::resolve`], which fails on a rank whose options (a `DLB_*`
/// variable, a builder value) are wrong, or whose caller refused its
/// arguments (`Builder::refused`); then it fails on every rank, the others
/// with a mismatch, instead of leaving them in init's collectives alone.
/// Also fails unless every rank chose the same options. Collective: one
/// all-reduce, of the refused flag and of the options with their
/// complements ([`with_complements`]).
fn resolve_on_every_rank(builder: &Builder, comm: &Comm) -> Result<Options> {
    let options = Options::resolve(builder);
    let refused = options.is_err() || builder.refused;
    let chosen = options.as_ref().map_or([0; 8], |o| {
        [
            o.variant as u64,
            o.asked_path.map_or(9, |p| p as u64),
            o.asked_window.map_or(9, |w| w as u64),
            o.ranks_per_node.map_or(0, |k| k as u64),
            o.timeout.map_or(0, |t| t.as_millis() as u64),
            o.direct_steals as u64,
            o.tree_fan_out.map_or(0, |k| k as u64),
            u64::from(o.trace.is_some()),
        ]
    });
    let mut words = vec![u64::from(refused)];
    words.extend(with_complements(&chosen));
    comm.allreduce_max(&mut words)?;
    let options = options?;
    if builder.refused {
        return Err(Error::invalid_argument(
            "this rank's arguments to dlb's init were refused",
        ));
    }
    if words[0] != 0 {
        return Err(Error::new(
            ErrorKind::Mismatch,
            "another rank's options were refused (a wrong argument or DLB_* variable there: see \
             that rank's error)",
        ));
    }
    if !agreed(&words[1..]) {
        return Err(Error::new(
            ErrorKind::Mismatch,
            "ranks chose different variants, atomics, windows, timeouts, direct steals, tree fan-outs \
             or tracing (DLB_TRACE)",
        ));
    }
    Ok(options)
}

/// Refuses a window that would crash this MPI on its first
/// compare-and-swap (see `config::known_crash`), on every rank if on any:
/// the window's creation is collective.
fn refuse_known_crash(comm: &Comm, flavor: WindowFlavor) -> Result<Option<String>> {
    // Agreed on every rank, so no rank skips the collective alone.
    if !config::may_crash(flavor) {
        return Ok(None);
    }
    let osc = mpi::cvar_string("osc")?;
    let why = config::known_crash(flavor, osc.as_deref());
    // A rank whose DLB_ALLOW_OSC_RDMA is no switch still takes part.
    let mut any = [u64::from(!matches!(why, Ok(None)))];
    comm.allreduce_max(&mut any)?;
    let why = why?;
    Ok((any[0] != 0).then(|| {
        why.unwrap_or_else(|| {
            "another rank refused MPI atomics here (its MPI settings would crash them, or its \
             DLB_ALLOW_OSC_RDMA is no on/off value)"
                .into()
        })
    }))
}

/// Creates the windows for the RMA variant and wraps them in their atomics;
/// with direct steals (across nodes only; where `direct` asks for a probe,
/// where it finds MPI atomics passive), every range word on MPI atomics.
/// Also returns why the path and the window are what they are, when they
/// were not asked for (see `src/verbose.rs`), whether direct steals are
/// on, and what the probe measured if it ran.
fn open_atomics(
    comm: &Comm,
    asked: Option<AtomicsPath>,
    window: Option<WindowFlavor>,
    ranks_per_node: Option<usize>,
    direct: DirectSteals,
) -> Result<Opened> {
    let (atomics, nodes, real_one_node, direct, probe) =
        open_windows(comm, asked, window, ranks_per_node, direct)?;
    let path = match &atomics {
        WindowAtomics::Mpi(_) => AtomicsPath::Mpi,
        WindowAtomics::Shm(_) => AtomicsPath::Shm,
        WindowAtomics::Hybrid(_) => AtomicsPath::Hybrid,
    };
    let simulated = match ranks_per_node {
        Some(k) => format!(" (simulated nodes of {k} ranks)"),
        None => String::new(),
    };
    let atomics_why = match (asked, path) {
        (Some(_), _) => String::new(),
        (None, AtomicsPath::Shm) => format!("all {} ranks share one node", comm.size()),
        (None, AtomicsPath::Hybrid) => format!(
            "the ranks span {nodes} nodes{simulated}: shared memory within each, MPI atomics across"
        ),
        (None, AtomicsPath::Mpi) if nodes == 1 => {
            "a shared window was tried and could not be made, so MPI atomics".to_owned()
        }
        (None, AtomicsPath::Mpi) => format!(
            "the ranks span {nodes} nodes{simulated} and a shared window per node could not be \
             made, so MPI atomics"
        ),
    };
    let window_why = match (window, path) {
        (Some(_), _) => String::new(),
        (None, AtomicsPath::Shm) => "CPU atomics need a shared window".to_owned(),
        (None, _) => {
            let tried: Vec<&str> = config::flavors(path, None, real_one_node)?
                .iter()
                .map(|f| f.name())
                .collect();
            format!(
                "the first this MPI could make of [{}] (MPI atomics across ranks)",
                tried.join(", ")
            )
        }
    };
    Ok(Opened {
        atomics,
        why: (atomics_why, window_why),
        direct,
        probe,
    })
}

/// What [`open_atomics`] made and found.
struct Opened {
    atomics: WindowAtomics,
    /// Why the path and the window are what they are (empty when asked).
    why: (String, String),
    /// Whether direct steals are on.
    direct: bool,
    /// What init's probe measured, if it ran.
    probe: Option<PassiveProbe>,
}

/// [`open_atomics`]'s work; also returns the number of nodes, whether all
/// ranks share one real node, whether direct steals are on and the probe.
fn open_windows(
    comm: &Comm,
    asked: Option<AtomicsPath>,
    window: Option<WindowFlavor>,
    ranks_per_node: Option<usize>,
    direct: DirectSteals,
) -> Result<(WindowAtomics, usize, bool, bool, Option<PassiveProbe>)> {
    let (node_map, node_comm) = comm.node_map(ranks_per_node)?;
    let topology = Topology::new(comm.rank(), node_map);
    let nodes = topology.nodes();
    let one_node = !topology.multi_node();
    // Direct steals are steals across nodes: on one node nothing changes,
    // and nothing is probed. The probe needs the windows: they open without
    // direct steals, which it turns on if it finds their atomics passive.
    let decision = direct.decide(!one_node, ranks_per_node.is_some(), cfg!(dlb_smpi));
    let direct = decision == DirectDecision::On;
    // Whether all ranks share one real node (simulated nodes may).
    let real_one_node = match ranks_per_node {
        Some(_) => comm.node_count()? == 1,
        None => one_node,
    };
    let mut path = match asked {
        Some(AtomicsPath::Shm) if !one_node => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "DLB_ATOMICS=shm needs all ranks on one node; these ranks span several \
                 (DLB_ATOMICS=hybrid uses shared memory within each node)",
            ))
        }
        Some(path) => path,
        None if one_node => AtomicsPath::Shm,
        None => AtomicsPath::Hybrid,
    };
    let node = match path {
        AtomicsPath::Hybrid => {
            match Window::new(&node_comm, WindowFlavor::Shared, WORDS_PER_RANK) {
                Ok(win) => Some((ShmAtomics::new(win, topology.clone()), node_comm)),
                // Chosen by default: the same two-level protocol on MPI atomics
                // alone (Open MPI with OMPI_MCA_osc=pt2pt or ucx has no shared
                // windows; OMPI_MCA_osc=sm,pt2pt keeps them).
                Err(_) if asked.is_none() => {
                    path = AtomicsPath::Mpi;
                    None
                }
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "DLB_ATOMICS=hybrid needs a shared window on each node: {}",
                            e.message()
                        ),
                    ))
                }
            }
        }
        _ => None,
    };
    let ctx = Opening {
        comm,
        topology: topology.clone(),
        real_one_node,
        direct,
    };
    let atomics = match ctx.with_flavors(path, window, node) {
        // Chosen by default on one node: MPI atomics when the MPI cannot
        // make shared windows (Open MPI with OMPI_MCA_osc=pt2pt or ucx).
        Err(e) if path == AtomicsPath::Shm && asked.is_none() && window.is_none() => ctx
            .with_flavors(AtomicsPath::Mpi, window, None)
            .map_err(|mpi| {
                Error::new(
                    mpi.kind(),
                    format!(
                        "{} (and shared-memory atomics: {})",
                        mpi.message(),
                        e.message()
                    ),
                )
            }),
        other => other,
    }?;
    if decision != DirectDecision::Probe {
        return Ok((atomics, nodes, real_one_node, direct, None));
    }
    let probe = passive_probe::probe(comm, &atomics, &topology)?;
    if !probe.passive() {
        return Ok((atomics, nodes, real_one_node, false, Some(probe)));
    }
    // As `Opening::with_flavors` would have made them with direct steals
    // asked for: before any run, so every word is still 0.
    let atomics = match atomics {
        WindowAtomics::Hybrid(mut hybrid) => {
            hybrid.set_ranges_cross();
            WindowAtomics::Hybrid(hybrid)
        }
        WindowAtomics::Mpi(mpi) => WindowAtomics::Mpi(mpi.with_topology(topology)),
        WindowAtomics::Shm(_) => unreachable!("the shm path is one node's"),
    };
    Ok((atomics, nodes, real_one_node, true, Some(probe)))
}

/// What opening a window needs besides the path and the flavor.
struct Opening<'a> {
    comm: &'a Comm,
    topology: Topology,
    /// Whether all ranks share one real node (simulated nodes may not).
    real_one_node: bool,
    /// Direct steals: every rank reaches every `Range` word with MPI
    /// atomics (on the hybrid path they leave the node window), and the
    /// `mpi` path keeps the real nodes whatever the window.
    direct: bool,
}

impl Opening<'_> {
    /// Tries the window flavors of `path` in order (`window` if asked) and
    /// wraps the first that can be made in its atomics; `node` is the
    /// hybrid path's node window and node communicator.
    fn with_flavors(
        &self,
        path: AtomicsPath,
        window: Option<WindowFlavor>,
        mut node: Option<(ShmAtomics, Comm)>,
    ) -> Result<WindowAtomics> {
        let (comm, topology) = (self.comm, &self.topology);
        let mut last_error = None;
        for flavor in config::flavors(path, window, self.real_one_node)? {
            if path != AtomicsPath::Shm {
                if let Some(why) = refuse_known_crash(comm, flavor)? {
                    last_error = Some(Error::new(ErrorKind::Unsupported, why));
                    continue;
                }
            }
            match Window::new(comm, flavor, WORDS_PER_RANK) {
                Ok(win) => {
                    return Ok(match path {
                        AtomicsPath::Shm => {
                            WindowAtomics::Shm(ShmAtomics::new(win, topology.clone()))
                        }
                        // Where MPI atomics are CPU atomics under the hood
                        // (Open MPI's osc/sm), node-mates steal directly.
                        // Elsewhere they may be software RMA, so each rank is
                        // a node of its own to the protocol: units move
                        // between any two ranks by hunger mark and answer,
                        // and no rank waits on a busy rank's window for more
                        // than one mark. Direct steals (asked for across
                        // nodes) take MPI atomics to be passive: the real
                        // nodes, node-mates stealing from each other.
                        AtomicsPath::Mpi if win.is_passive() || self.direct => {
                            WindowAtomics::Mpi(MpiAtomics::new(win, topology.clone())?)
                        }
                        AtomicsPath::Mpi => WindowAtomics::Mpi(MpiAtomics::new(
                            win,
                            Topology::new(comm.rank(), (0..comm.size()).collect()),
                        )?),
                        AtomicsPath::Hybrid => {
                            let (node, node_comm) =
                                node.take().expect("made by the caller for the hybrid path");
                            WindowAtomics::Hybrid(Box::new(HybridAtomics::new(
                                node,
                                MpiAtomics::new(win, topology.clone())?,
                                node_comm,
                                self.direct,
                            )))
                        }
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("at least one flavor is tried"))
    }
}
