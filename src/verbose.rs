//! `DLB_VERBOSE=1` (`Builder::verbose`): the line each rank prints to
//! standard error at init, naming what init chose (variant, atomics path
//! and how each level reaches the counters, window flavor, MPI library,
//! chunking, tracing) and why (asked by the program, by the environment,
//! or the default and the fact it rests on).

use crate::config::{Schedule, Variant};
use crate::dlb::Dlb;
use crate::mpi;
use crate::passive_probe::{PassiveProbe, StartProbe, PASSIVE_BELOW, PROBE_BUSY, START_PROBE_BUSY};
use crate::protocol::{Looks, LOOKS_AFTER_IDLE};

/// Where a choice came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The program (`Builder`).
    Program,
    /// An environment variable.
    Env(&'static str),
    /// Neither: the default.
    Default,
}

impl Source {
    fn says(self, default_why: &str) -> String {
        match self {
            Source::Program => "set by the program".to_owned(),
            Source::Env(var) => format!("set by {var}"),
            Source::Default if default_why.is_empty() => "default".to_owned(),
            Source::Default => format!("default: {default_why}"),
        }
    }
}

/// Why init chose what it chose, gathered while it chose.
#[derive(Clone, Debug)]
pub(crate) struct Reasons {
    pub(crate) variant: Source,
    pub(crate) atomics: Source,
    pub(crate) window: Source,
    /// Why the default path is what it is (empty when asked).
    pub(crate) atomics_why: String,
    /// Why the default window is what it is (empty when asked).
    pub(crate) window_why: String,
    pub(crate) claim_ahead: (u64, Source),
    /// Where direct steals were asked for, on or if passive, or where the
    /// default probed for them or turned them on (SMPI) (`None`: off, asked
    /// for or by default), and what init's probe measured if it ran.
    pub(crate) direct_steals: Option<(Source, Option<PassiveProbe>)>,
    pub(crate) schedule: (Schedule, Source),
    /// Across nodes without direct steals: init's probe of started
    /// atomics, and when hunters look before they take.
    pub(crate) starts: Option<(StartProbe, Looks)>,
}

impl Dlb {
    /// The verbose line of this rank (without the trailing newline).
    pub(crate) fn verbose_line(&self, r: &Reasons) -> String {
        let mut parts = vec![format!(
            "variant {} ({})",
            self.variant.name(),
            r.variant.says("")
        )];
        if self.variant == Variant::Rma {
            if let (Some(path), Some(flavor)) = (self.path, self.flavor) {
                parts.push(format!(
                    "atomics {} ({})",
                    path.name(),
                    r.atomics.says(&r.atomics_why)
                ));
                parts.push(format!(
                    "window {} ({})",
                    flavor.name(),
                    r.window.says(&r.window_why)
                ));
            }
            match self.level_description() {
                Ok(Some(levels)) => parts.push(levels),
                Ok(None) => {}
                Err(e) => parts.push(format!("levels unknown ({e})")),
            }
            parts.extend(self.direct_steals_part(r));
            parts.extend(r.starts.map(looks_part));
            parts.push(format!(
                "claim ahead up to {} chunks ({})",
                r.claim_ahead.0,
                r.claim_ahead.1.says("")
            ));
            parts.push(format!(
                "schedule {} ({})",
                r.schedule.0.name(),
                r.schedule.1.says("")
            ));
        } else {
            parts.push("no window: each rank runs its own block (for debugging)".to_owned());
        }
        parts.push(match self.trace_path() {
            Some(p) => format!("tracing to {}", p.display()),
            None => "tracing off".to_owned(),
        });
        let library = mpi::library_version().unwrap_or_else(|e| e.to_string());
        parts.push(format!(
            "MPI: {}",
            library.lines().next().unwrap_or("unknown")
        ));
        format!(
            "dlb: rank {} of {}: {}",
            self.rank(),
            self.size(),
            parts.join("; ")
        )
    }

    /// What direct steals are, and why (`None` where neither asked for nor
    /// probed by default).
    fn direct_steals_part(&self, r: &Reasons) -> Option<String> {
        let on = self.dispenser.direct_steals();
        match r.direct_steals {
            None => None,
            Some((source, Some(probe))) => Some(format!(
                "direct steals: {} ({}: MPI atomics (an add, a compare-and-swap) on rank {}, \
                 asleep outside MPI for {} ms, took up to {:.3} ms: {})",
                if on { "on" } else { "off" },
                source.says(""),
                probe.target,
                PROBE_BUSY.as_millis(),
                probe.took.as_secs_f64() * 1e3,
                if probe.passive() {
                    "passive"
                } else if probe.took < PASSIVE_BELOW {
                    "but the target was awake by then: not taken as passive"
                } else {
                    "they waited for their target (software RMA)"
                },
            )),
            Some((source, None)) if !on => Some(format!(
                "direct steals: asked for ({}), but no effect on one node",
                source.says("")
            )),
            Some((source, None)) => Some(format!(
                "direct steals: idle ranks of a dry node steal from other nodes' ranges, \
                 every range word on MPI atomics ({})",
                // By default only on SMPI (elsewhere the probe decides).
                source.says("SimGrid's SMPI, whose MPI atomics are passive")
            )),
        }
    }
}

/// What init's probe of started atomics chose (across nodes, without
/// direct steals).
fn looks_part((probe, looks): (StartProbe, Looks)) -> String {
    let when = match looks {
        Looks::First => "on: knocks instead of takes, counts after looks".to_string(),
        Looks::WhenIdleLong => format!(
            "after {} ms waiting for work (every rank a node of its own)",
            LOOKS_AFTER_IDLE.as_millis()
        ),
        Looks::Off => "off".to_string(),
    };
    format!(
        "looks before takes: {} (a started read on rank {}, asleep outside MPI for \
         {} ms, returned after {:.3} ms, {}: {})",
        when,
        probe.target,
        START_PROBE_BUSY.as_millis(),
        probe.took.as_secs_f64() * 1e3,
        if probe.done { "done" } else { "not done" },
        if probe.blocked() {
            "starts wait for their target"
        } else if probe.passive {
            "starts return at once, and atomics are passive"
        } else {
            "starts return at once"
        },
    )
}
