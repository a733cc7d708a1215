//! [`Pending`]: an atomic started with [`super::Atomics::start`] whose
//! result is not known yet.

use crate::error::Result;
use crate::mpi::RmaRequest;

/// An atomic update in flight; [`Pending::poll`] gives the value the word
/// held before the update, once the update has taken effect.
#[derive(Debug)]
pub(crate) struct Pending(Inner);

#[derive(Debug)]
enum Inner {
    /// Applied at once (CPU atomics, or an MPI operation on oneself).
    Ready(u64),
    /// A request-based MPI atomic.
    Mpi(RmaRequest),
    /// Queued at the target in process memory (tests, model checking).
    #[cfg(test)]
    Local(super::local::Ticket),
    /// Started in the simulator (`crate::simulate`).
    #[cfg(feature = "simulate")]
    Simulated(std::sync::Arc<crate::simulate::Ticket>),
}

impl Pending {
    /// An update that already took effect; `old` is what the word held.
    pub(crate) fn ready(old: u64) -> Pending {
        Pending(Inner::Ready(old))
    }

    pub(crate) fn mpi(request: RmaRequest) -> Pending {
        Pending(Inner::Mpi(request))
    }

    #[cfg(test)]
    pub(crate) fn local(ticket: super::local::Ticket) -> Pending {
        Pending(Inner::Local(ticket))
    }

    #[cfg(feature = "simulate")]
    pub(crate) fn simulated(ticket: std::sync::Arc<crate::simulate::Ticket>) -> Pending {
        Pending(Inner::Simulated(ticket))
    }

    /// The value the word held before the update, once the update took
    /// effect; `None` until then. Polling an MPI request also drives MPI's
    /// progress engine.
    pub(crate) fn poll(&mut self) -> Result<Option<u64>> {
        match &mut self.0 {
            Inner::Ready(old) => Ok(Some(*old)),
            Inner::Mpi(request) => request.test(),
            #[cfg(test)]
            Inner::Local(ticket) => Ok(ticket.result()),
            #[cfg(feature = "simulate")]
            Inner::Simulated(ticket) => ticket.poll(),
        }
    }
}

/// Polls every update in `list` once and drops the ones that took effect
/// (their results are not needed).
pub(crate) fn poll_all(list: &mut Vec<Pending>) -> Result<()> {
    let mut i = 0;
    while i < list.len() {
        if list[i].poll()?.is_some() {
            list.swap_remove(i);
        } else {
            i += 1;
        }
    }
    Ok(())
}
