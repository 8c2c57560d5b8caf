//! The one error type of the Rust API.

use core::fmt;

/// A positive `errno` value.
pub type Errno = libc::c_int;

/// Why a barrier operation did not succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Either side aborted; an exit or crash of the other side counts as
    /// an abort of theirs. The barrier stays aborted.
    Aborted,
    /// A bounded wait ran out of time first. Nothing is lost: what was
    /// consumed stays consumed, and waiting again waits for the same thing.
    TimedOut,
    /// A syscall failed with this `errno`. A failure inside `place`,
    /// `abort` or a wait is fatal: the barrier is aborted on both sides, as
    /// [`Error::Aborted`] would be. `EINVAL` also reports misuse, such as
    /// waiting before the role is set.
    Os(Errno),
}

impl Error {
    /// This error as a negative errno, for callers that need one number
    /// for every error: `Aborted` is `-ECANCELED`, `TimedOut` is
    /// `-ETIMEDOUT`, `Os(e)` is `-e`.
    ///
    /// The C library's bounded calls (`barrier_sync_timeout` and the
    /// like) use it for `TimedOut` and `Os` only: an abort is not an error
    /// there, and they return 0 for it.
    pub const fn to_negative_errno(self) -> i32 {
        match self {
            Error::Aborted => -libc::ECANCELED,
            Error::TimedOut => -libc::ETIMEDOUT,
            Error::Os(e) => -e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Aborted => f.write_str("barrier aborted"),
            Error::TimedOut => f.write_str("barrier wait timed out"),
            Error::Os(e) => write!(f, "barrier syscall failed with errno {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e {
            Error::Aborted => std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e),
            Error::TimedOut => std::io::Error::new(std::io::ErrorKind::TimedOut, e),
            Error::Os(errno) => std::io::Error::from_raw_os_error(errno),
        }
    }
}
