//! The one error type of the Rust API.

use core::fmt;

/// A positive `errno` value.
pub type Errno = libc::c_int;

/// Why a barrier operation did not succeed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// Either side aborted (for a group: this member, or another one it
    /// saw); an exit or crash counts as an abort. The barrier stays
    /// aborted.
    Aborted,
    /// A bounded wait ran out of time first. Nothing is lost: what was
    /// consumed stays consumed, and waiting again waits for the same thing.
    TimedOut,
    /// A syscall failed with this `errno`. A failure inside `place`,
    /// `abort` or a wait is fatal: the barrier is aborted, as
    /// [`Error::Aborted`] would be.
    Os(Errno),
    /// The call was refused before any syscall ran, because of how it was
    /// called; nothing changed.
    Misuse(Misuse),
}

/// How a call was misused; each has the errno the C library answers
/// ([`Misuse::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
// Each discriminant is the errno shifted left by 8, plus a number that
// tells apart the misuses sharing an errno: errno() is then a shift.
#[repr(i32)]
pub enum Misuse {
    /// The call needs the end's role, which is not set yet (`EINVAL`).
    NoRole = libc::EINVAL << 8,
    /// The object lacks a descriptor the call needs: it was never made,
    /// was destroyed, or a fatal error closed it (`EBADF`).
    NoDescriptor = libc::EBADF << 8,
    /// A group of fewer than 2 or more than 64 members (`EINVAL`).
    GroupSize = (libc::EINVAL << 8) | 1,
    /// A rank that is not below the group's size (`EINVAL`).
    Rank = (libc::EINVAL << 8) | 2,
    /// A group call before `join` (`EINVAL`).
    NotJoined = (libc::EINVAL << 8) | 3,
    /// `join` on a handle that joined already (`EALREADY`).
    AlreadyJoined = libc::EALREADY << 8,
    /// `join` under a rank that another member joined first (`EBUSY`).
    RankTaken = libc::EBUSY << 8,
    /// A buffer too small for what the call writes (`ENOBUFS`).
    BufferTooSmall = libc::ENOBUFS << 8,
    /// An import, and the environment variable is not set (`ENOENT`).
    Unset = libc::ENOENT << 8,
    /// An import, and the environment variable's value is malformed, or
    /// names members the group does not have (`EINVAL`).
    Malformed = (libc::EINVAL << 8) | 4,
    /// A descriptor is not what the library made: closed, of the wrong
    /// kind, or not a group's shared page (`EBADF`).
    Foreign = (libc::EBADF << 8) | 1,
    /// A spawn from an end whose role is set, or from a member that joined
    /// (`EINVAL`).
    NotFresh = (libc::EINVAL << 8) | 5,
    /// A spawn would have to keep descriptor 0, 1 or 2 open, which the
    /// spawned program's standard streams replace (`EINVAL`).
    StdioDescriptor = (libc::EINVAL << 8) | 6,
    /// An async end made outside a tokio runtime (`EINVAL`).
    NoRuntime = (libc::EINVAL << 8) | 7,
}

impl Misuse {
    /// The errno the C library answers for this misuse.
    pub const fn errno(self) -> Errno {
        self as i32 >> 8
    }

    fn describe(self) -> &'static str {
        match self {
            Misuse::NoRole => "the role is not set",
            Misuse::NoDescriptor => "the object holds no descriptor for this call",
            Misuse::GroupSize => "a group has 2 to 64 members",
            Misuse::Rank => "the rank is not below the group's size",
            Misuse::NotJoined => "the handle has not joined",
            Misuse::AlreadyJoined => "the handle joined already",
            Misuse::RankTaken => "another member joined under this rank",
            Misuse::BufferTooSmall => "the buffer is too small",
            Misuse::Unset => "the environment variable is not set",
            Misuse::Malformed => "the environment variable is malformed",
            Misuse::Foreign => "a descriptor is not one the library made",
            Misuse::NotFresh => "only a fresh end or an unjoined handle can spawn",
            Misuse::StdioDescriptor => "a descriptor to hand over is 0, 1 or 2",
            Misuse::NoRuntime => "not inside a tokio runtime",
        }
    }
}

impl Error {
    /// This error as a negative errno, for callers that need one number
    /// for every error: `Aborted` is `-ECANCELED`, `TimedOut` is
    /// `-ETIMEDOUT`, `Os(e)` is `-e`, `Misuse(m)` is `-m.errno()`.
    ///
    /// The C library's bounded calls (`barrier_sync_timeout` and the
    /// like) use it for every error but `Aborted`: an abort is not an
    /// error there, and they return 0 for it.
    pub const fn to_negative_errno(self) -> i32 {
        match self {
            Error::Aborted => -libc::ECANCELED,
            Error::TimedOut => -libc::ETIMEDOUT,
            Error::Os(e) => -e,
            Error::Misuse(m) => -m.errno(),
        }
    }
}

impl From<Misuse> for Error {
    fn from(m: Misuse) -> Error {
        Error::Misuse(m)
    }
}

/// The symbolic name of `errno`, for the errors a barrier can meet.
fn errno_name(errno: Errno) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EPIPE => "EPIPE",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOBUFS => "ENOBUFS",
        libc::EALREADY => "EALREADY",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECANCELED => "ECANCELED",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EPROTO => "EPROTO",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        _ => return None,
    })
}

/// Writes `errno` by name, or as `errno N` where it has none here.
fn write_errno(f: &mut fmt::Formatter<'_>, errno: Errno) -> fmt::Result {
    match errno_name(errno) {
        Some(name) => f.write_str(name),
        None => write!(f, "errno {errno}"),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Aborted => f.write_str("Aborted"),
            Error::TimedOut => f.write_str("TimedOut"),
            Error::Os(e) => {
                f.write_str("Os(")?;
                write_errno(f, *e)?;
                f.write_str(")")
            }
            Error::Misuse(m) => write!(f, "Misuse({m:?})"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Aborted => f.write_str("barrier aborted"),
            Error::TimedOut => f.write_str("barrier wait timed out"),
            Error::Os(e) => {
                f.write_str("barrier syscall failed: ")?;
                write_errno(f, *e)
            }
            Error::Misuse(m) => write!(f, "barrier misuse: {m}"),
        }
    }
}

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())?;
        f.write_str(" (")?;
        write_errno(f, self.errno())?;
        f.write_str(")")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind;
        match e {
            Error::Aborted => std::io::Error::new(ErrorKind::ConnectionAborted, e),
            Error::TimedOut => std::io::Error::new(ErrorKind::TimedOut, e),
            Error::Os(errno) => std::io::Error::from_raw_os_error(errno),
            Error::Misuse(Misuse::Unset) => std::io::Error::new(ErrorKind::NotFound, e),
            Error::Misuse(_) => std::io::Error::new(ErrorKind::InvalidInput, e),
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn errno_by_name() {
        assert_eq!(format!("{:?}", Error::Os(libc::EMFILE)), "Os(EMFILE)");
        assert_eq!(
            format!("{}", Error::Os(libc::EMFILE)),
            "barrier syscall failed: EMFILE"
        );
        assert_eq!(format!("{:?}", Error::Os(4095)), "Os(errno 4095)");
    }

    #[test]
    fn misuse_is_not_a_syscall() {
        let e = Error::from(Misuse::NoRole);
        assert_eq!(format!("{e:?}"), "Misuse(NoRole)");
        assert_eq!(
            format!("{e}"),
            "barrier misuse: the role is not set (EINVAL)"
        );
        assert_eq!(e.to_negative_errno(), -libc::EINVAL);
        assert_eq!(
            Error::from(Misuse::AlreadyJoined).to_negative_errno(),
            -libc::EALREADY
        );
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(io.raw_os_error(), None);
    }
}
