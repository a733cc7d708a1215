//! Collectives on dlb's private communicator for dlbcheck and the
//! benchmarks (and examples/demo.rs); hidden, not a stable API.

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
