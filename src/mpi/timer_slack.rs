//! Precise sleeps for idle ranks across nodes: the calling thread's timer
//! slack (Linux), lowered while a rank waits in `give_more` and restored
//! when it leaves.
//!
//! Linux lets a sleep of a normal thread end up to its *timer slack* late,
//! 50 µs by default, so that timers can be coalesced. Across nodes on
//! software RMA an idle rank serves others' operations only between its
//! sleeps, and the end of a run passes through several such serves (a
//! forward, rank 0's watch, a relay: see the protocol's module doc), with
//! sleeps capped at 32 µs for leaders and 128 µs for the others. With the
//! default slack a 32 µs sleep took about 90 µs here (Linux 6.18, p50 of
//! 2,000), with a slack of 1 µs about 40 µs. The slack is per thread and
//! the user's own: dlb lowers it only for the time a rank waits for work,
//! and puts the old value back.
//!
//! Elsewhere (another OS, SMPI's virtual time) nothing changes.
//!
//! Like `host_threads`, it sits in this layer, beside the MPI wrappers,
//! because it is the layer that talks to the system (and may hold
//! `unsafe`).

/// The slack while idle: small against the shortest sleep (8 µs), large
/// enough that the kernel may still merge timers that expire together.
#[cfg(all(target_os = "linux", not(dlb_smpi)))]
const IDLE_SLACK_NS: libc::c_ulong = 1_000;

/// Lowers the calling thread's timer slack until dropped, then restores
/// it. Best effort: where the OS refuses, sleeps are as before.
#[derive(Debug)]
pub(crate) struct PreciseSleeps {
    /// The slack to put back, if it was changed.
    #[cfg(all(target_os = "linux", not(dlb_smpi)))]
    previous: Option<libc::c_ulong>,
}

impl PreciseSleeps {
    /// Lowers the calling thread's timer slack (see the module doc).
    pub(crate) fn begin() -> PreciseSleeps {
        #[cfg(all(target_os = "linux", not(dlb_smpi)))]
        {
            // SAFETY: PR_GET_TIMERSLACK takes no pointer and only returns
            // the calling thread's slack in ns (or -1 with errno set).
            let current = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
            let Ok(current) = libc::c_ulong::try_from(current) else {
                return PreciseSleeps { previous: None };
            };
            if current <= IDLE_SLACK_NS {
                return PreciseSleeps { previous: None };
            }
            // SAFETY: PR_SET_TIMERSLACK takes the new slack by value (not
            // 0, which would mean "the default") and changes only the
            // calling thread's timers; it returns 0 or -1 with errno set.
            let set = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, IDLE_SLACK_NS, 0, 0, 0) };
            PreciseSleeps {
                previous: (set == 0).then_some(current),
            }
        }
        #[cfg(not(all(target_os = "linux", not(dlb_smpi))))]
        PreciseSleeps {}
    }
}

impl Drop for PreciseSleeps {
    fn drop(&mut self) {
        #[cfg(all(target_os = "linux", not(dlb_smpi)))]
        if let Some(previous) = self.previous {
            // SAFETY: as in `begin`: the slack read there, by value (not 0:
            // `begin` changes nothing when it read 0 or less than ours).
            // A refusal leaves the lower slack, which only makes sleeps
            // more precise: nothing to report.
            let _ = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, previous, 0, 0, 0) };
        }
    }
}

#[cfg(all(test, target_os = "linux", not(dlb_smpi)))]
mod tests {
    use super::*;

    fn slack() -> libc::c_int {
        // SAFETY: as in `PreciseSleeps::begin`.
        unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) }
    }

    #[test]
    fn lowers_the_slack_while_held_and_restores_it() {
        // A thread of its own: the slack is per thread.
        std::thread::spawn(|| {
            // SAFETY: as in `PreciseSleeps::begin`.
            let set = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 50_000, 0, 0, 0) };
            assert_eq!(set, 0);
            {
                let _precise = PreciseSleeps::begin();
                assert_eq!(slack(), IDLE_SLACK_NS as libc::c_int);
            }
            assert_eq!(slack(), 50_000);
        })
        .join()
        .unwrap();
    }
}
