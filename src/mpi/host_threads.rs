//! What the simulator (`crate::simulate`, feature `simulate`) asks of the
//! host OS for its threads: one OS thread per simulated rank, exactly one
//! of them running at a time, so the cost of a simulation is the cost of
//! passing the baton between threads (a futex wake and a futex wait). Two
//! settings make that cheap, measured with `dlbsim` on this 2-CPU machine
//! (Linux 6.18), dlb on `hw_rdma`, uniform jobs:
//!
//! - **one CPU for all of a simulation's threads** ([`pin_current_thread`]
//!   to the CPU the simulation started on, [`current_cpu`]): a wake-up
//!   then never crosses CPUs. 1024 ranks: 2.4 s of wall time unpinned,
//!   0.5 s pinned;
//! - **a futex hash table as large as the number of threads**
//!   ([`widen_futex_hash`]): since Linux 6.16 a process gets a private
//!   futex hash sized by its online CPUs, 16 buckets here, so with 16384
//!   parked threads every wake walked a chain of about 1000 waiters
//!   (`futex_wake` was 70% of the run under `perf`). 16384 ranks: 63 s
//!   pinned, 22 s with the wider hash.
//!
//! Both are optimizations only: where a call is not available (another OS,
//! an older kernel, a CPU set that excludes the CPU) the simulation runs
//! the same, in virtual time, just slower in wall time.
//!
//! Like `timer_slack`, it sits in this layer, beside the MPI wrappers,
//! because it is the layer that talks to the system (and may hold
//! `unsafe`).

/// The CPU the calling thread runs on now, if the OS says.
pub(crate) fn current_cpu() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu takes no arguments and only returns a number
        // (or -1 with errno set, handled below).
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Restricts the calling thread to `cpu`. Threads it starts afterwards
/// inherit the restriction. Best effort: where the OS refuses (the CPU is not
/// in the process's allowed set), the thread runs where it may, as before.
pub(crate) fn pin_current_thread(cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return;
        }
        // SAFETY: an all-zero cpu_set_t is a valid empty set (a plain
        // array of integers).
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below the set's capacity in bits (checked
        // above), so CPU_SET writes inside `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t
        // of the size passed, only read. On failure (EINVAL: the CPU is not
        // allowed here) the thread's affinity stays as it was, which is
        // all this function promises.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// From <linux/prctl.h> (Linux 6.16); not in the libc crate yet.
#[cfg(target_os = "linux")]
mod prctl {
    pub(super) const PR_FUTEX_HASH: libc::c_int = 78;
    pub(super) const SET_SLOTS: libc::c_ulong = 1;
    pub(super) const GET_SLOTS: libc::c_ulong = 2;
}

/// Buckets in the process's private futex hash table: `Some(0)` when it uses
/// the system's global table, `None` where the kernel has no such setting
/// (before Linux 6.16, or another OS).
pub(crate) fn futex_hash_slots() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only (unsigned long, as the
        // kernel reads them); GET_SLOTS returns the
        // process's setting, or -1 with errno (no such option here).
        let have = unsafe {
            libc::prctl(
                prctl::PR_FUTEX_HASH,
                prctl::GET_SLOTS,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        usize::try_from(have).ok()
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Gives the process a private futex hash table of at least `waiters`
/// buckets (rounded up to a power of two, at most 2^16), never fewer than it
/// has. Best effort: where the kernel has no such setting
/// ([`futex_hash_slots`] is `None`) or refuses, the process keeps its table.
pub(crate) fn widen_futex_hash(waiters: usize) {
    let want = waiters.next_power_of_two().clamp(16, 1 << 16);
    match futex_hash_slots() {
        // 0 is the global table, also sized by CPUs: replaced as well.
        Some(have) if have < want => {
            #[cfg(target_os = "linux")]
            // SAFETY: prctl with integer arguments only (unsigned long); SET_SLOTS with a
            // power of two reallocates the process's futex hash (the kernel
            // moves queued waiters over). On failure the old table stays,
            // which is all this function promises.
            unsafe {
                libc::prctl(
                    prctl::PR_FUTEX_HASH,
                    prctl::SET_SLOTS,
                    want as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_thread_runs_on_its_cpu() {
        let Some(cpu) = current_cpu() else { return };
        std::thread::spawn(move || {
            pin_current_thread(cpu);
            for _ in 0..100 {
                std::thread::yield_now();
                assert_eq!(current_cpu(), Some(cpu));
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_futex_hash_grows_and_never_shrinks() {
        if futex_hash_slots().is_none() {
            return;
        }
        widen_futex_hash(3000);
        assert!(futex_hash_slots().unwrap() >= 4096);
        widen_futex_hash(20);
        assert!(futex_hash_slots().unwrap() >= 4096);
    }
}
