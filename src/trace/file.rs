//! The trace file's life: its name, agreed and checked at init (rank 0
//! creates it, so that a path that cannot be written fails at init on
//! every rank, not after the run), and its writing at finalize: every
//! rank's records gathered to rank 0 in rounds of bounded size, and
//! written event by event (`chrome.rs`).

use super::{chrome, WORDS};
use crate::dlb::Dlb;
use crate::error::{Error, ErrorKind, Result};
use crate::mpi::{self, Comm};
use crate::provenance::Provenance;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Traces this process started (as agreed with the other ranks): the
/// first goes to `FILE`, the next to `FILE.1`, `FILE.2`, ...
static STARTED: AtomicU64 = AtomicU64::new(0);

/// Words gathered to rank 0 per round, at most (256 MiB): rank 0 holds one
/// round at a time, and MPI's `int` counts stay far from their limit.
const ROUND_WORDS: usize = 1 << 25;

/// The name of this init's trace file, made absolute (a program may
/// change directory before finalize); rank 0 creates it (empty). The
/// number is the largest any rank of `comm` has started, so that every
/// rank names the same file. Fails on every rank when rank 0 cannot create
/// it. Collective.
pub(crate) fn create(comm: &Comm, asked: &Path) -> Result<PathBuf> {
    let mut n = [STARTED.load(Ordering::Relaxed)];
    comm.allreduce_max(&mut n)?;
    STARTED.fetch_max(n[0] + 1, Ordering::Relaxed);
    let named = if n[0] == 0 {
        asked.to_path_buf()
    } else {
        let mut name = asked.as_os_str().to_owned();
        name.push(format!(".{}", n[0]));
        PathBuf::from(name)
    };
    let path = std::path::absolute(&named).unwrap_or(named);
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
    /// written is an error on rank 0 only (the others are done); so is a
    /// trace after `MPI_Finalize`, on every rank (nothing is written).
    pub(crate) fn write_trace(&mut self) -> Result<()> {
        let Some(trace) = self.dispenser.trace_mut() else {
            return Ok(());
        };
        let path = trace.path.clone();
        let records = trace.take_records();
        if mpi::ensure_initialized().is_err() {
            return Err(Error::invalid_state(format!(
                "DLB_TRACE: the trace {} was not written: MPI was finalized before dlb",
                path.display()
            )));
        }
        let provenance = Provenance::gather(self)?;
        let per_round = (ROUND_WORDS / (WORDS * self.size())).max(1);
        let mut rounds = [records.len().div_ceil(per_round) as u64];
        self.comm.allreduce_max(&mut rounds)?;
        let mut writer = (self.rank() == 0).then(|| chrome::Writer::create(&path, &provenance));
        for round in 0..rounds[0] as usize {
            let from = (round * per_round).min(records.len());
            let to = (from + per_round).min(records.len());
            let words: Vec<u64> = records[from..to]
                .iter()
                .flat_map(|r| r.to_words())
                .collect();
            let gathered = self.comm.gather_to_root(&words)?;
            if let (Some(writer), Some(per_rank)) = (writer.as_mut(), gathered) {
                for (rank, words) in per_rank.iter().enumerate() {
                    writer.records(rank, words);
                }
            }
        }
        writer.map_or(Ok(()), chrome::Writer::finish)
    }
}
