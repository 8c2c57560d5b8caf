//! Time: the timeouts of the bounded waits, in microseconds, and the
//! deadlines and syscall timeouts made from them.

use core::time::Duration;
use libc::{c_int, timespec};

/// A timeout meaning "wait without a bound", in microseconds (the C
/// header's `BARRIER_INFINITY`).
pub const INFINITY: u64 = u64::MAX;

/// When a wait of `usec` microseconds started now gives up, in
/// nanoseconds of the monotonic clock: `None` for no bound.
pub(crate) fn deadline(usec: u64) -> Option<u64> {
    (usec != INFINITY).then(|| crate::sys::now_nsec().saturating_add(usec.saturating_mul(1000)))
}

/// Microseconds, rounded up so that a wait never ends before `timeout`.
pub(crate) fn usec(timeout: Duration) -> u64 {
    // u64::MAX microseconds is over half a million years: as good as no bound.
    u64::try_from(timeout.as_nanos().div_ceil(1000)).unwrap_or(INFINITY)
}

/// A relative timeout of `nsec` nanoseconds for `ppoll`.
pub(crate) fn timespec_from_nsec(nsec: u64) -> timespec {
    // Seconds beyond what time_t holds are as good as forever.
    let secs = nsec / 1_000_000_000;
    timespec {
        tv_sec: secs.min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: (nsec % 1_000_000_000) as libc::c_long,
    }
}

/// The `epoll_wait` timeout for `nsec` nanoseconds: milliseconds, rounded
/// up so that a wait never ends early, and capped at `c_int::MAX` (the
/// loop then waits again).
pub(crate) fn timeout_ms(nsec: u64) -> c_int {
    c_int::try_from(nsec.div_ceil(1_000_000)).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_round_up() {
        assert_eq!(usec(Duration::ZERO), 0);
        assert_eq!(usec(Duration::from_nanos(1)), 1);
        assert_eq!(usec(Duration::from_nanos(1001)), 2);
        assert_eq!(usec(Duration::from_millis(5)), 5000);
        assert_eq!(usec(Duration::MAX), INFINITY);
    }

    #[test]
    fn milliseconds_round_up_and_cap() {
        assert_eq!(timeout_ms(0), 0);
        assert_eq!(timeout_ms(1), 1);
        assert_eq!(timeout_ms(1_000_000), 1);
        assert_eq!(timeout_ms(1_000_001), 2);
        assert_eq!(timeout_ms(u64::MAX), c_int::MAX);
    }

    #[test]
    fn timespecs_split_seconds() {
        let t = timespec_from_nsec(2_500_000_001);
        assert_eq!((t.tv_sec, t.tv_nsec), (2, 500_000_001));
        assert_eq!(
            timespec_from_nsec(u64::MAX).tv_sec,
            (u64::MAX / 1_000_000_000) as libc::time_t
        );
    }
}
