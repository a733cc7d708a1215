//! Provenance: what produced a result (dlb's version and git revision, the
//! MPI library, the variant, atomics path and window, ranks, nodes and
//! hosts, the date), as one JSON object for traces and benchmark rows.

use crate::dlb::Dlb;
use crate::error::Result;
use crate::json::json_string;
use crate::mpi;
use std::time::{SystemTime, UNIX_EPOCH};

/// What produced a trace or a benchmark row.
#[derive(Clone, Debug)]
pub(crate) struct Provenance {
    pub(crate) mpi_library: String,
    pub(crate) variant: &'static str,
    pub(crate) atomics: Option<&'static str>,
    pub(crate) window: Option<&'static str>,
    pub(crate) ranks: usize,
    /// dlb's nodes (simulated ones with `DLB_RANKS_PER_NODE`).
    pub(crate) nodes: usize,
    /// Groups of ranks that share memory: the machines.
    pub(crate) hosts: usize,
    /// The node of every rank.
    pub(crate) node_of: Vec<usize>,
    /// UTC, ISO 8601, to the second.
    pub(crate) date: String,
}

/// The git revision dlb was built from (`unknown` outside a checkout).
pub(crate) const GIT_REVISION: &str = match option_env!("DLB_GIT_REVISION") {
    Some(r) => r,
    None => "unknown",
};

impl Provenance {
    /// Collective over `dlb`'s ranks (it counts nodes and hosts). What
    /// each rank finds out alone comes first and cannot fail, so that no
    /// rank leaves the collectives that follow.
    pub(crate) fn gather(dlb: &Dlb) -> Result<Provenance> {
        let mpi_library = mpi::library_version().unwrap_or_else(|e| format!("unknown ({e})"));
        let date = utc_now();
        let node_of = dlb.node_of_ranks()?;
        let hosts = dlb.node_count()?;
        Ok(Provenance {
            mpi_library,
            variant: dlb.variant().name(),
            atomics: dlb.atomics_path().map(|p| p.name()),
            window: dlb.window_flavor().map(|w| w.name()),
            ranks: dlb.size(),
            nodes: node_of.iter().max().map_or(0, |m| m + 1),
            hosts,
            node_of,
            date,
        })
    }

    /// A provenance for the trace writer's tests.
    #[cfg(test)]
    pub(crate) fn for_test(node_of: Vec<usize>) -> Provenance {
        Provenance {
            mpi_library: "test \"MPI\"".into(),
            variant: "rma",
            atomics: Some("shm"),
            window: None,
            ranks: node_of.len(),
            nodes: node_of.iter().max().map_or(0, |m| m + 1),
            hosts: 1,
            node_of,
            date: utc_now(),
        }
    }

    /// One JSON object: the [`common_fields`], then the variant, the
    /// atomics path and the window, and how trace timestamps are clocked.
    pub(crate) fn to_json(&self) -> String {
        let opt = |s: Option<&str>| s.map_or("null".to_owned(), json_string);
        format!(
            "{{{},\"variant\":{},\"atomics\":{},\"window\":{},\"clock\":{}}}",
            common_fields(
                &self.mpi_library,
                self.ranks,
                self.nodes,
                self.hosts,
                &self.date
            ),
            json_string(self.variant),
            opt(self.atomics),
            opt(self.window),
            json_string("per-rank monotonic clocks, aligned at the exit of a barrier at init"),
        )
    }
}

/// The fields of every provenance, as JSON members without the braces:
/// dlb's version and git revision, the MPI library, ranks, nodes, hosts and
/// the date (a trace's, a benchmark row's and a simulator row's).
pub(crate) fn common_fields(
    mpi_library: &str,
    ranks: usize,
    nodes: usize,
    hosts: usize,
    date: &str,
) -> String {
    format!(
        "\"dlb_version\":{},\"git_revision\":{},\"mpi_library\":{},\"ranks\":{ranks},\
         \"nodes\":{nodes},\"hosts\":{hosts},\"date\":{}",
        json_string(crate::VERSION),
        json_string(GIT_REVISION),
        json_string(mpi_library),
        json_string(date),
    )
}

/// Now, UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic
/// Gregorian calendar: days to civil dates by 400-year eras).
fn utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Shift the epoch to 0000-03-01, so leap days end each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provenance_is_one_json_object_with_the_common_fields() {
        let p = Provenance::for_test(vec![0, 0, 1]);
        let trace: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        let common: serde_json::Value = serde_json::from_str(&format!(
            "{{{}}}",
            common_fields(&p.mpi_library, 3, 2, 1, &p.date)
        ))
        .unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&common),
            [
                "dlb_version",
                "git_revision",
                "mpi_library",
                "ranks",
                "nodes",
                "hosts",
                "date"
            ]
        );
        for (key, value) in common.as_object().unwrap() {
            assert_eq!(&trace[key], value, "{key}");
        }
        assert_eq!(trace["mpi_library"], "test \"MPI\"");
        assert_eq!(
            (trace["variant"].as_str(), trace["atomics"].as_str()),
            (Some("rma"), Some("shm"))
        );
        assert!(trace["window"].is_null() && trace["clock"].is_string());
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(utc(1_796_342_400), "2026-12-04T00:00:00Z");
    }
}
