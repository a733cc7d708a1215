//! The trace file's life: its name, chosen and checked at init (rank 0
//! creates it, so that a path that cannot be written fails at init on
//! every rank, not after the run), and its writing at finalize (every
//! rank's records gathered to rank 0, rendered by `chrome.rs`).

use super::{chrome, Record};
use crate::dlb::Dlb;
use crate::error::{Error, ErrorKind, Result};
use crate::mpi::Comm;
use crate::provenance::Provenance;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Traces this process started: the first goes to `FILE`, the next to
/// `FILE.1`, `FILE.2`, ... (a program that inits dlb several times).
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// The name of this init's trace file; rank 0 creates it (empty). Fails on
/// every rank when rank 0 cannot. Collective.
pub(crate) fn create(comm: &Comm, asked: &Path) -> Result<PathBuf> {
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let path = if n == 0 {
        asked.to_path_buf()
    } else {
        let mut name = asked.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    let failed = if comm.rank() == 0 {
        std::fs::File::create(&path).err()
    } else {
        None
    };
    let mut any = [u64::from(failed.is_some())];
    comm.allreduce_max(&mut any)?;
    if any[0] != 0 {
        let why = failed.map_or_else(|| "see rank 0".to_owned(), |e| e.to_string());
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "DLB_TRACE: rank 0 cannot create the trace file {}: {why}",
                path.display()
            ),
        ));
    }
    Ok(path)
}

impl Dlb {
    /// Gathers every rank's records to rank 0, which writes the trace
    /// file. Collective; nothing when not tracing. A file that cannot be
    /// written is an error on rank 0 only (the others are done).
    pub(crate) fn write_trace(&mut self) -> Result<()> {
        let Some(trace) = self.dispenser.trace_mut() else {
            return Ok(());
        };
        let (words, path) = (trace.words(), trace.path.clone());
        let provenance = Provenance::gather(self)?;
        let Some(per_rank) = self.comm.gather_to_root(&words)? else {
            return Ok(());
        };
        let ranks = per_rank
            .iter()
            .map(|words| {
                Record::from_words(words)
                    .ok_or_else(|| Error::internal("trace: a rank sent records of an unknown kind"))
            })
            .collect::<Result<Vec<_>>>()?;
        let json = chrome::render(&ranks, &provenance.node_of, &provenance);
        std::fs::write(&path, json).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "DLB_TRACE: cannot write the trace file {}: {e}",
                    path.display()
                ),
            )
        })
    }
}
