//! The clock dlb times itself by and the sleep its idle ranks back off
//! with: the real ones, or, in a build against SimGrid's SMPI
//! (`cfg(dlb_smpi)`, see `ci/smpi`), the simulation's virtual ones, so that
//! the protocol's pauses and periods (the idle backoff, the offer check,
//! the take pause, the watchdog) mean the same in a simulated run as in a
//! real one.

#[cfg(not(dlb_smpi))]
pub(crate) use std::time::Instant;

/// Sleeps for `d` (real time).
#[cfg(not(dlb_smpi))]
pub(crate) fn sleep(d: std::time::Duration) {
    std::thread::sleep(d)
}

#[cfg(dlb_smpi)]
pub(crate) use simulated::{sleep, Instant};

#[cfg(dlb_smpi)]
mod simulated {
    use crate::mpi::simulated as smpi;
    use std::ops::{Add, AddAssign, Sub};
    use std::time::Duration;

    /// A moment of the simulation's virtual time, with the parts of
    /// `std::time::Instant`'s interface that dlb uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Instant(Duration);

    impl Instant {
        pub(crate) fn now() -> Instant {
            Instant(Duration::from_nanos(smpi::clock_ns()))
        }
        pub(crate) fn duration_since(&self, earlier: Instant) -> Duration {
            self.0.saturating_sub(earlier.0)
        }
        pub(crate) fn saturating_duration_since(&self, earlier: Instant) -> Duration {
            self.duration_since(earlier)
        }
        pub(crate) fn elapsed(&self) -> Duration {
            Instant::now().duration_since(*self)
        }
    }

    impl Add<Duration> for Instant {
        type Output = Instant;
        fn add(self, d: Duration) -> Instant {
            Instant(self.0.saturating_add(d))
        }
    }

    impl AddAssign<Duration> for Instant {
        fn add_assign(&mut self, d: Duration) {
            *self = *self + d;
        }
    }

    impl Sub<Instant> for Instant {
        type Output = Duration;
        fn sub(self, earlier: Instant) -> Duration {
            self.duration_since(earlier)
        }
    }

    /// Lets `d` of virtual time pass for this rank.
    pub(crate) fn sleep(d: Duration) {
        smpi::sleep(d)
    }
}
