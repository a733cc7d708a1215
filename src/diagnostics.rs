//! Public diagnostics of a `Dlb`, for dlbcheck and for programs that
//! report their setup: how many nodes the ranks span and which rank is on
//! which ([`Dlb::node_count`], [`Dlb::node_of_ranks`]), how the RMA variant
//! reaches other ranks' words ([`Dlb::level_description`]), and whether
//! one-sided atomics progress while the target is busy
//! ([`Dlb::probe_passive_progress`]).

use crate::atomics::Atomics;
use crate::config::AtomicsPath;
use crate::dlb::Dlb;
use crate::error::Result;
use crate::mpi;
use crate::passive_probe;
use std::time::Duration;

impl Dlb {
    /// The number of nodes the ranks span (groups that share memory).
    /// Collective.
    pub fn node_count(&self) -> Result<usize> {
        mpi::ensure_active()?;
        self.comm.node_count()
    }

    /// The node of every rank, in rank order: node `i` is the `i`-th group
    /// of ranks that share memory, numbered by their lowest rank (or the
    /// simulated nodes of `DLB_RANKS_PER_NODE`). Collective.
    ///
    /// ```no_run
    /// # fn f(dlb: &dlb::Dlb) -> dlb::Result<()> {
    /// let nodes = dlb.node_of_ranks()?;
    /// assert_eq!(nodes.len(), dlb.size());
    /// # Ok(()) }
    /// ```
    pub fn node_of_ranks(&self) -> Result<Vec<usize>> {
        mpi::ensure_active()?;
        Ok(self.comm.node_map(self.ranks_per_node)?.0)
    }

    /// How the RMA variant reaches the words of ranks on the same node and
    /// on other nodes, and across nodes how a run ends, in words (`None`
    /// for the static variant), e.g. "within a node: CPU atomics on a
    /// shared window; across nodes: MPI atomics on an 'allocate' window
    /// (Open MPI osc = 'sm,pt2pt'); a run ends flat: each node's leader
    /// counts the other node's jobs".
    pub fn level_description(&self) -> Result<Option<String>> {
        mpi::ensure_active()?;
        let (Some(path), Some(flavor)) = (self.path, self.flavor) else {
            return Ok(None);
        };
        let osc = match mpi::cvar_string("osc")? {
            Some(osc) => format!(" (Open MPI osc = '{osc}')"),
            None => String::new(),
        };
        let mpi_atomics = format!("MPI atomics on a '{}' window{osc}", flavor.name());
        let levels = match path {
            AtomicsPath::Shm => "one node: CPU atomics on a shared window".to_owned(),
            AtomicsPath::Mpi
                if self
                    .dispenser
                    .atomics()
                    .is_some_and(|a| a.topology().mates().len() == 1 && a.size() > 1) =>
            {
                format!("every rank on its own (units move by request and answer): {mpi_atomics}")
            }
            AtomicsPath::Mpi => format!("within a node and across nodes: {mpi_atomics}"),
            AtomicsPath::Hybrid if self.dispenser.direct_steals() => format!(
                "within a node: CPU atomics on a shared window, but range words on MPI atomics \
                 (direct steals); across nodes: {mpi_atomics}"
            ),
            AtomicsPath::Hybrid => format!(
                "within a node: CPU atomics on a shared window; across nodes: {mpi_atomics}"
            ),
        };
        // Across nodes, how a run ends (nothing on one node, as on `shm`).
        Ok(Some(match self.dispenser.end_description() {
            Some(end) => format!("{levels}; {end}"),
            None => levels,
        }))
    }

    /// Measures whether one-sided atomics progress passively on this
    /// stack: a target rank sleeps for `busy` outside MPI while rank 0
    /// times two atomics on the target's words (an add and a
    /// compare-and-swap, both changing nothing), started `busy / 2` into
    /// the sleep, after untimed ones that made any connection. The target is the lowest
    /// rank on another node than rank 0's (rank 1 when all ranks share a
    /// node): within a node an MPI may serve atomics through shared memory
    /// and across nodes in software, and across nodes is where dlb's
    /// operations meet busy ranks. Returns the longer time on every rank:
    /// far below `busy / 2` means the target's MPI need not run (hardware
    /// or shared-memory atomics); about `busy / 2` means software RMA,
    /// where a thief waits for a busy victim to enter MPI. `None` for one rank or
    /// the static variant. Collective. Call it outside runs (its atomics,
    /// an add of zero and a compare-and-swap of 0 for 0, change nothing).
    pub fn probe_passive_progress(&self, busy: Duration) -> Result<Option<Duration>> {
        mpi::ensure_active()?;
        let Some(atomics) = self.dispenser.atomics() else {
            return Ok(None);
        };
        if self.size() < 2 {
            return Ok(None);
        }
        let target = passive_probe::probe_target(atomics.topology());
        passive_probe::time_atomic(&self.comm, atomics, target, busy).map(|(took, _)| Some(took))
    }
}
