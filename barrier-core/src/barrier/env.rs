//! Handing one end of a barrier across `execve()` in an environment variable.
//!
//! The variable is `BARRIER_FDS=<me>,<them>,<pipe read>,<pipe write>,<barriers>`:
//! the end's four descriptor slots (exactly one pipe end is held, the other
//! is -1) and its state, all in decimal. Formatting needs no allocation
//! and no locks, so it can run between fork() and execve(); parsing is
//! strict, since the environment is outside input.

use super::raw::RawBarrier;
use super::state::{BIAS, COUNTER_MIN};
use crate::error::{Error, Misuse};
use crate::sys;
use crate::text::{parse_fields, Cursor};
use core::ffi::CStr;
use libc::c_int;

/// The variable's name.
pub(crate) const VAR: &str = "BARRIER_FDS";
/// The variable's name for libc.
const VAR_C: &CStr = c"BARRIER_FDS";

/// Bytes that always hold `BARRIER_FDS=...` with its terminating NUL.
/// The longest text needs 81: the name and `=` (12), four descriptors of
/// at most 11 characters, a counter of at most 20, four commas and the
/// NUL; 96 leaves room to spare.
pub(crate) const ENV_MAX: usize = 96;

/// Writes `NAME=value` and a NUL for `end` into `out`; returns the length
/// without the NUL, or `None` if `out` is too small.
pub(crate) fn format(end: &RawBarrier, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    c.push(VAR.as_bytes())?;
    c.push(b"=")?;
    format_value_into(end, &mut c)?;
    let len = c.len();
    c.push(b"\0")?;
    Some(len)
}

/// Writes only the value for `end` into `out`; returns its length.
#[cfg(any(feature = "std", test))]
pub(crate) fn format_value(end: &RawBarrier, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    format_value_into(end, &mut c)?;
    Some(c.len())
}

fn format_value_into(end: &RawBarrier, c: &mut Cursor<'_>) -> Option<()> {
    let fields = [end.me, end.them, end.pipe[0], end.pipe[1]];
    for fd in fields {
        // Every negative value means "no descriptor"; -1 is how it is written.
        c.push_decimal(i64::from(fd.max(-1)))?;
        c.push(b",")?;
    }
    c.push_decimal(end.barriers)
}

/// Parses a variable's value into the end it describes, checking only its
/// form: five decimal fields, two eventfds and exactly one pipe end (the
/// other -1), no descriptor named twice, and a possible state. Whether the
/// descriptors are open and of the right kind is for the caller to check.
pub(crate) fn parse_value(value: &[u8]) -> Result<RawBarrier, Misuse> {
    let mut fields = [0i64; 5];
    parse_fields(value, &mut fields).ok_or(Misuse::Malformed)?;
    let fd = |v: i64| {
        c_int::try_from(v)
            .ok()
            .filter(|&fd| fd >= -1)
            .ok_or(Misuse::Malformed)
    };
    let end = RawBarrier {
        me: fd(fields[0])?,
        them: fd(fields[1])?,
        pipe: [fd(fields[2])?, fd(fields[3])?],
        barriers: fields[4],
    };
    let [r, w] = end.pipe;
    let one_pipe_end = (r >= 0) != (w >= 0);
    let held = [end.me, end.them, r.max(w)];
    let distinct = held[0] != held[1] && held[0] != held[2] && held[1] != held[2];
    // BIAS itself is never a state. At the floor of its range a counter
    // cannot count down any further, so no wait_next could ever end.
    let impossible = end.barriers == BIAS || end.barriers == COUNTER_MIN;
    if end.me < 0 || end.them < 0 || !one_pipe_end || !distinct || impossible {
        return Err(Misuse::Malformed);
    }
    Ok(end)
}

impl RawBarrier {
    /// The environment variable that carries an end across `execve()`.
    pub const ENV_VAR: &'static str = VAR;

    /// Bytes that always hold what [`RawBarrier::export_env`] writes (the C
    /// header's `BARRIER_ENV_MAX`).
    pub const ENV_MAX: usize = ENV_MAX;

    /// Before execve(), after the role is set: lets this end's descriptors
    /// survive execve() and writes `BARRIER_FDS=...` and a NUL into `buf`,
    /// for the new program's environment. Returns the length without the
    /// NUL. Async-signal-safe: no allocation, no locks.
    ///
    /// [`Misuse::BufferTooSmall`] if `buf` is too small
    /// ([`RawBarrier::ENV_MAX`] always suffices); [`Misuse::NoRole`] before
    /// the role is set; [`Misuse::NoDescriptor`] if a descriptor is
    /// missing. On any error nothing has changed.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn export_env(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let [hup_fd, them] = self.pollfds()?.map(|p| p.fd);
        if self.me < 0 {
            return Err(Misuse::NoDescriptor.into());
        }
        // Format aside first: a buffer that turns out too small is left as
        // it was.
        let mut text = [0u8; ENV_MAX];
        let len = format(self, &mut text).ok_or(Misuse::BufferTooSmall)?;
        let out = buf.get_mut(..=len).ok_or(Misuse::BufferTooSmall)?;
        let fds = [self.me, them, hup_fd];
        let mut was_cloexec = [false; 3];
        for (i, &fd) in fds.iter().enumerate() {
            match sys::set_cloexec(fd, false) {
                Ok(was) => was_cloexec[i] = was,
                Err(errno) => {
                    for (&done, &was) in fds[..i].iter().zip(&was_cloexec) {
                        let _ = sys::set_cloexec(done, was);
                    }
                    return Err(Error::Os(errno));
                }
            }
        }
        out.copy_from_slice(&text[..=len]);
        Ok(len)
    }

    /// In the program started by execve(): takes over the end that
    /// `$BARRIER_FDS` describes, counter included, and removes the
    /// variable. Checks that each descriptor is open, of the right kind and
    /// non-blocking (as every descriptor the library makes is), and that the
    /// two eventfds are different ones; then makes them close-on-exec again.
    ///
    /// In a process that runs with privileges its caller does not have
    /// (set-user-ID, set-group-ID, file capabilities), the variable is not
    /// read at all, as secure_getenv(3) does: its environment comes from
    /// whoever started it, who must not be able to hand it a barrier end.
    ///
    /// On failure the object is [`RawBarrier::NULL`] and nothing was closed
    /// or changed: [`Misuse::Unset`] if the variable is unset (or not
    /// read),
    /// [`Misuse::Malformed`] if its value is malformed, [`Misuse::Foreign`]
    /// if a descriptor is closed, of the wrong kind, or named twice.
    ///
    /// # Safety
    /// The descriptors the variable names must belong to no one else in
    /// this process (they become this object's), and no other thread may
    /// read or change the environment meanwhile.
    pub unsafe fn import_env(&mut self) -> Result<(), Error> {
        *self = RawBarrier::NULL;
        let value = sys::secure_getenv(VAR_C).ok_or(Misuse::Unset)?;
        let end = parse_value(value)?;
        // The parsed end holds exactly one pipe end and both eventfds.
        let (hup_fd, them) = (end.pipe[0].max(end.pipe[1]), end.them);
        let hup_kind = if end.pipe[0] >= 0 {
            sys::FdKind::PipeRead
        } else {
            sys::FdKind::PipeWrite
        };
        let expected = [
            (end.me, sys::FdKind::EventFd),
            (them, sys::FdKind::EventFd),
            (hup_fd, hup_kind),
        ];
        for (fd, kind) in expected {
            match sys::inspect(fd) {
                Ok((k, nonblocking)) if k == kind && nonblocking => {}
                _ => return Err(Misuse::Foreign.into()),
            }
        }
        if sys::same_file(end.me, them) {
            return Err(Misuse::Foreign.into());
        }
        for (fd, _) in expected {
            sys::set_cloexec(fd, true).map_err(Error::Os)?;
        }
        sys::unsetenv(VAR_C);
        *self = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barrier::state::{I_ABORTED, THEY_ABORTED, WE_ABORTED};

    fn end(me: c_int, them: c_int, pipe: [c_int; 2], barriers: i64) -> RawBarrier {
        RawBarrier {
            me,
            them,
            pipe,
            barriers,
        }
    }

    #[test]
    fn round_trip() {
        for e in [
            end(3, 4, [5, -1], 0),
            end(10, 9, [-1, 2147483647], -7),
            end(0, 1, [2, -1], i64::MAX),
            end(7, 8, [-1, 9], WE_ABORTED),
            end(7, 8, [-1, 9], I_ABORTED),
            end(7, 8, [-1, 9], COUNTER_MIN + 1),
        ] {
            let mut buf = [0u8; ENV_MAX];
            let n = format_value(&e, &mut buf).unwrap();
            assert_eq!(parse_value(&buf[..n]), Ok(e));
        }
    }

    #[test]
    fn full_variable_fits_env_max() {
        let widest = end(
            -2147483648,
            -2147483648,
            [-2147483648, -2147483648],
            i64::MIN,
        );
        let mut buf = [0u8; ENV_MAX];
        let n = format(&widest, &mut buf).unwrap();
        assert_eq!(&buf[..12], b"BARRIER_FDS=");
        assert_eq!(buf[n], 0);
        assert!(n < ENV_MAX);
        let mut small = [0u8; 20];
        assert_eq!(format(&widest, &mut small), None);
    }

    #[test]
    fn any_negative_descriptor_is_written_as_minus_one() {
        let mut buf = [0u8; ENV_MAX];
        let n = format_value(&end(3, 4, [-9, 5], 0), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"3,4,-1,5,0");
    }

    #[test]
    fn exact_text() {
        let mut buf = [0u8; ENV_MAX];
        let n = format(&end(3, 4, [5, -1], -2), &mut buf).unwrap();
        assert_eq!(&buf[..=n], b"BARRIER_FDS=3,4,5,-1,-2\0");
    }

    #[test]
    fn rejects_malformed_values() {
        let bad: &[&[u8]] = &[
            b"",
            b"garbage",
            b"3,4,5",
            b"3,4,5,-1",
            b"3,4,5,-1,0,",
            b"3,4,5,-1,0,0",
            b"3,4,5,-1,",
            b",4,5,-1,0",
            b"3,4,5,-1,0x",
            b"+3,4,5,-1,0",
            b" 3,4,5,-1,0",
            b"3,4,5,-1,-",
            b"3,4,-1,-1,0",
            b"3,4,5,6,0",
            b"3,3,5,-1,0",
            b"3,4,3,-1,0",
            b"3,4,-1,4,0",
            b"-1,4,5,-1,0",
            b"3,-1,5,-1,0",
            b"3,4,-2,5,0",
            b"2147483648,4,5,-1,0",
            b"3,4,5,-1,9223372036854775808",
            b"3,4,5,-1,-9223372036854775808",
            b"3,4,5,-1,-9223372036854775804",
            b"3,4,5,-1,99999999999999999999999",
        ];
        for value in bad {
            assert_eq!(
                parse_value(value),
                Err(Misuse::Malformed),
                "{:?}",
                core::str::from_utf8(value)
            );
        }
    }

    #[test]
    fn accepts_every_possible_state() {
        for state in [
            0,
            1,
            -1,
            i64::MAX,
            I_ABORTED + 2,
            I_ABORTED,
            THEY_ABORTED,
            WE_ABORTED,
        ] {
            let mut buf = [0u8; ENV_MAX];
            let n = format_value(&end(3, 4, [5, -1], state), &mut buf).unwrap();
            assert!(parse_value(&buf[..n]).is_ok(), "{state}");
        }
    }
}
