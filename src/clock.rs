//! The clock dlb times itself by and the sleep its idle ranks back off
//! with: the real ones, or the virtual ones of a simulation, so that the
//! protocol's pauses and periods (the idle backoff, the offer check, the
//! take pause, the watchdog) mean the same in a simulated run as in a real
//! one:
//! - in a build against SimGrid's SMPI (`cfg(dlb_smpi)`, see `ci/smpi`),
//!   the simulation's `clock_gettime` and `nanosleep`;
//! - with the `simulate` feature, on a thread that runs a rank of
//!   [`crate::simulate`], that simulator's virtual time (elsewhere in the
//!   same build, real time).
//!
//! Real sleeps of idle ranks across nodes are made precise for the time a
//! rank waits for work ([`PreciseSleeps`], the thread's timer slack).

pub(crate) use crate::mpi::PreciseSleeps;
#[cfg(not(any(dlb_smpi, feature = "simulate")))]
pub(crate) use std::time::Instant;

/// Sleeps for `d` (real time).
#[cfg(not(any(dlb_smpi, feature = "simulate")))]
pub(crate) fn sleep(d: std::time::Duration) {
    std::thread::sleep(d)
}

#[cfg(any(dlb_smpi, feature = "simulate"))]
pub(crate) use virtual_time::{sleep, Instant};

#[cfg(any(dlb_smpi, feature = "simulate"))]
mod virtual_time {
    use std::ops::{Add, AddAssign, Sub};
    use std::time::Duration;

    /// Nanoseconds of SMPI's virtual time.
    #[cfg(dlb_smpi)]
    fn now_ns() -> u64 {
        crate::mpi::simulated::clock_ns()
    }

    /// Nanoseconds of the simulator's virtual time on a simulated rank's
    /// thread, of real time since the first call elsewhere.
    #[cfg(all(feature = "simulate", not(dlb_smpi)))]
    fn now_ns() -> u64 {
        crate::simulate::virtual_now_ns().unwrap_or_else(|| {
            static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
            let start = START.get_or_init(std::time::Instant::now);
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
    }

    /// A moment of virtual time, with the parts of
    /// `std::time::Instant`'s interface that dlb uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Instant(Duration);

    impl Instant {
        pub(crate) fn now() -> Instant {
            Instant(Duration::from_nanos(now_ns()))
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
    #[cfg(dlb_smpi)]
    pub(crate) fn sleep(d: Duration) {
        crate::mpi::simulated::sleep(d)
    }

    /// Lets `d` of virtual time pass on a simulated rank; a real sleep
    /// elsewhere.
    #[cfg(all(feature = "simulate", not(dlb_smpi)))]
    pub(crate) fn sleep(d: Duration) {
        if !crate::simulate::virtual_sleep(d) {
            std::thread::sleep(d)
        }
    }
}
