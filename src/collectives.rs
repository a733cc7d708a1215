//! Small collectives on dlb's private communicator, for a program's own
//! reports and checks when it has no MPI binding of its own (a Rust
//! program that calls MPI only through dlb): every rank's value, an
//! element-wise sum, and a barrier that sleeps while it waits. They are
//! not part of balancing; the demo, `dlbcheck` and the benchmarks use
//! them. Like every collective, all ranks must call them in the same order,
//! outside a run's `give_more` loop or at the same point of it.

use crate::dlb::Dlb;
use crate::error::Result;

/// Every rank's `value`, in rank order: a collective on `dlb`'s private
/// communicator, for reports (jobs per rank, busy time, ...).
///
/// ```no_run
/// # fn f(dlb: &dlb::Dlb) -> dlb::Result<()> {
/// let jobs_per_rank = dlb::collectives::allgather(dlb, 42)?;
/// assert_eq!(jobs_per_rank.len(), dlb.size());
/// # Ok(()) }
/// ```
pub fn allgather(dlb: &Dlb, value: u64) -> Result<Vec<u64>> {
    dlb.comm.allgather(&[value])
}

/// Element-wise sum of `values` over all ranks, in place: a collective on
/// `dlb`'s private communicator, for checks and reports (`dlbcheck` counts
/// how often each job ID ran with it).
pub fn allreduce_sum(dlb: &Dlb, values: &mut [u64]) -> Result<()> {
    dlb.comm.allreduce_sum(values)
}

/// Waits until every rank has called it, sleeping meanwhile (a collective
/// on `dlb`'s private communicator): ranks that finished early leave the
/// cores to those still working, which matters when ranks oversubscribe
/// the cores (MPICH's own blocking calls busy-poll). It tests for 50 µs,
/// then sleeps between tests for a sixteenth of the wait so far, up to
/// 250 µs (on software RMA, others' operations on this rank's window wait
/// that long at most). The price is latency: a rank leaves up to that
/// much after the last one arrived, so take timestamps before it.
///
/// ```no_run
/// # fn f(dlb: &dlb::Dlb) -> dlb::Result<()> {
/// let finished = std::time::Instant::now(); // my part is done
/// dlb::collectives::barrier(dlb)?;          // wait for the others, asleep
/// # let _ = finished; Ok(()) }
/// ```
pub fn barrier(dlb: &Dlb) -> Result<()> {
    dlb.comm.barrier_sleeping()
}
