//! The one seam for model checking: the atomics, `Arc` and thread functions
//! that in-process code uses, taken from `std`, or from loom under
//! `--cfg dlb_loom`, or from shuttle under `--cfg dlb_shuttle`.
//!
//! Only in-process code goes through here ([`super::LocalAtomics`], the
//! idle backoff); MPI and shared-memory windows are never model checked.

#[cfg(dlb_loom)]
#[allow(unused_imports)] // all but `thread` serve the in-process tests only
pub(crate) use loom::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex,
    },
    thread,
};

#[cfg(all(dlb_shuttle, not(dlb_loom)))]
#[allow(unused_imports)] // all but `thread` serve the in-process tests only
pub(crate) use shuttle::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex,
    },
    thread,
};

#[cfg(not(any(dlb_loom, dlb_shuttle)))]
#[allow(unused_imports)] // all but `thread` serve the in-process tests only
pub(crate) use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex,
    },
    thread,
};

/// Whether this build runs under a model checker, which must see every wait
/// as a yield (it has no clock and no parallelism).
pub(crate) const MODEL_CHECKING: bool = cfg!(any(dlb_loom, dlb_shuttle));
