//! Handing one member of a group across `execve()` in an environment
//! variable.
//!
//! The variable is
//! `BARRIER_GROUP=<rank>,<flags>,<aborted by>,<gone>,<memfd>,<write end>`,
//! in decimal: the member's rank, the flags as in [`Knowledge::bits`], the
//! rank it saw abort first (`-1`: none), the members it saw go (a bit
//! mask, written as a signed 64-bit number), the memfd of the shared page,
//! and 1 if it still holds its pipe's write end (0 after a fatal error
//! closed it).
//!
//! The other descriptors are not in the variable: `execve()` keeps
//! descriptor numbers, and every member holds its descriptors under the
//! numbers the creator gave them, which the shared page records. So the
//! variable stays short whatever the group's size. Formatting needs no
//! allocation; parsing is strict, since the environment is outside input.

use super::raw::{shared_len, Head, RawGroup, BELL, DOORBELL, EDGE, EPOLL, MAGIC, PIPE_R, PIPE_W};
use super::state::{Knowledge, MAX};
use crate::error::{Errno, Error, Misuse};
use crate::sys;
use crate::text::{parse_fields, Cursor};
use core::ffi::CStr;
use libc::c_int;

/// The variable's name.
pub(crate) const VAR: &str = "BARRIER_GROUP";
/// The variable's name for libc.
const VAR_C: &CStr = c"BARRIER_GROUP";

/// Bytes that always hold `BARRIER_GROUP=...` with its NUL. The longest
/// text needs 56: the name
/// and `=` (14), a rank (2), the flags (1), a rank or `-1` (2), a mask of
/// 64 bits (at most 20 characters), a descriptor (10), the write end's
/// flag (1), five commas and the NUL; 64 leaves room to spare.
pub(crate) const ENV_MAX: usize = 64;

/// One member, as the variable describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Member {
    /// The member's rank.
    pub(crate) rank: usize,
    /// What it observed.
    pub(crate) knowledge: Knowledge,
    /// The members it saw go, bit `k` for rank `k`.
    pub(crate) gone: u64,
    /// The memfd of the shared page.
    pub(crate) memfd: c_int,
    /// It still holds its pipe's write end.
    pub(crate) write_end: bool,
}

/// Writes `NAME=value` and a NUL into `out`; the length without the NUL,
/// or `None` if `out` is too small.
pub(crate) fn format(m: &Member, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    c.push(VAR.as_bytes())?;
    c.push(b"=")?;
    format_into(m, &mut c)?;
    let len = c.len();
    c.push(b"\0")?;
    Some(len)
}

/// Writes only the value into `out`; returns its length.
#[cfg(any(feature = "std", test))]
pub(crate) fn format_value(m: &Member, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    format_into(m, &mut c)?;
    Some(c.len())
}

fn format_into(m: &Member, c: &mut Cursor<'_>) -> Option<()> {
    let by = m.knowledge.aborted_by().map_or(-1, |r| r as i64);
    let fields = [
        m.rank as i64,
        i64::from(m.knowledge.bits()),
        by,
        m.gone as i64,
        i64::from(m.memfd),
        i64::from(m.write_end),
    ];
    for (i, v) in fields.into_iter().enumerate() {
        if i > 0 {
            c.push(b",")?;
        }
        c.push_decimal(v)?;
    }
    Some(())
}

/// Parses the variable's value; checks only its form: six fields, a rank
/// below 64, consistent flags, a rank that aborted other than our own, a
/// mask without our own bit, a descriptor that fits an `int`, a write-end
/// flag of 0 or 1. [`Misuse::Malformed`] otherwise. The rest depends on
/// the group's size, which the shared page tells ([`Member::fits`]).
pub(crate) fn parse_value(value: &[u8]) -> Result<Member, Misuse> {
    let mut fields = [0i64; 6];
    parse_fields(value, &mut fields).ok_or(Misuse::Malformed)?;
    let [rank, bits, by, gone, memfd, write_end] = fields;
    let by = match by {
        -1 => None,
        r => Some(usize::try_from(r).map_err(|_| Misuse::Malformed)?),
    };
    let gone = gone as u64;
    let bad = !(0..MAX as i64).contains(&rank)
        || !(0..4).contains(&bits)
        || by == Some(rank as usize)
        || gone & (1 << (rank & 63)) != 0
        || !(0..=i64::from(c_int::MAX)).contains(&memfd)
        || !(0..2).contains(&write_end);
    if bad {
        return Err(Misuse::Malformed);
    }
    let knowledge = Knowledge::from_parts(bits as u8, by).ok_or(Misuse::Malformed)?;
    Ok(Member {
        rank: rank as usize,
        knowledge,
        gone,
        memfd: memfd as c_int,
        write_end: write_end == 1,
    })
}

impl Member {
    /// Whether the ranks it names exist in a group of `n` members.
    pub(crate) fn fits(&self, n: usize) -> bool {
        let others = (u64::MAX >> (MAX - n)) & !(1u64 << self.rank);
        self.rank < n
            && self.knowledge.aborted_by().is_none_or(|r| r < n)
            && self.gone & !others == 0
    }
}

impl RawGroup {
    /// The environment variable that carries a member across `execve()`.
    pub const ENV_VAR: &'static str = VAR;

    /// Bytes that always hold what [`RawGroup::export_env`] writes, for
    /// any group size (the C header's `BARRIER_GROUP_ENV_MAX`).
    pub const ENV_MAX: usize = ENV_MAX;

    /// [`RawGroup::import_env`] into memory of its own, as
    /// [`RawGroup::create_mapped`] does for a new handle; the memory is
    /// mapped first, so that a failure closes nothing.
    ///
    /// # Safety
    /// As for [`RawGroup::import_env`].
    pub unsafe fn import_env_mapped() -> Result<core::ptr::NonNull<RawGroup>, Error> {
        let p = Self::map_handle()?;
        // SAFETY: forwarded from the caller.
        match unsafe { RawGroup::import_env() } {
            Ok(g) => {
                // SAFETY: the mapping is fresh, writable, page-aligned and
                // large enough for a RawGroup.
                unsafe { p.as_ptr().write(g) };
                Ok(p)
            }
            Err(errno) => {
                // SAFETY: mapped just now; nothing uses it.
                unsafe { Self::unmap_handle(p) };
                Err(errno)
            }
        }
    }

    /// Where the `i`-th of the `2n + 1` descriptors that member `me` holds
    /// after join, besides the memfd, is in [`RawGroup::fds`]: its epoll
    /// instance, its pipe's write end, every doorbell, the other members'
    /// pipe read ends.
    pub(super) fn held_at(n: usize, me: usize, i: usize) -> usize {
        match i {
            0 => EPOLL + me,
            1 => PIPE_W + me,
            i if i < 2 + n => BELL + i - 2,
            i => {
                let j = i - 2 - n;
                PIPE_R + j + usize::from(j >= me)
            }
        }
    }

    /// The `i`-th of the `2n + 2` descriptors member `me` holds after
    /// join: the memfd, then those of [`RawGroup::held_at`].
    #[inline(never)]
    pub(super) fn held(&self, me: usize, i: usize) -> c_int {
        match i {
            0 => self.memfd,
            i => self.fds[Self::held_at(self.n, me, i - 1)],
        }
    }

    /// Sets or clears close-on-exec on every descriptor member `me` holds.
    /// On failure, puts back what it changed and returns the error.
    fn set_cloexec_all(&self, me: usize, on: bool) -> Result<(), Errno> {
        for i in 0..2 * self.n + 2 {
            let fd = self.held(me, i);
            if fd < 0 {
                continue;
            }
            if let Err(errno) = sys::set_cloexec(fd, on) {
                for j in 0..i {
                    let _ = sys::set_cloexec(self.held(me, j), !on);
                }
                return Err(errno);
            }
        }
        Ok(())
    }

    /// Before `execve()`, for a joined member: lets its descriptors survive
    /// `execve()` and writes `BARRIER_GROUP=...` and a NUL into `buf`.
    /// Returns the length without the NUL. Async-signal-safe.
    ///
    /// [`Misuse::NotJoined`] before join; [`Misuse::BufferTooSmall`] if
    /// `buf` is too small ([`RawGroup::ENV_MAX`] always suffices). On any
    /// error nothing changed.
    pub fn export_env(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let me = self.rank.ok_or(Misuse::NotJoined)?;
        let text = Member {
            rank: me,
            knowledge: self.knowledge,
            gone: self.gone,
            memfd: self.memfd,
            write_end: self.fds[PIPE_W + me] >= 0,
        };
        let mut scratch = [0u8; ENV_MAX];
        let len = format(&text, &mut scratch).ok_or(Misuse::BufferTooSmall)?;
        let out = buf.get_mut(..=len).ok_or(Misuse::BufferTooSmall)?;
        // The library keeps a member's descriptors all close-on-exec, or
        // all not after an export: on failure they go back to the former.
        self.set_cloexec_all(me, false).map_err(Error::Os)?;
        out.copy_from_slice(&scratch[..=len]);
        Ok(len)
    }

    /// In the program started by `execve()`: takes over the member that
    /// `$BARRIER_GROUP` describes and removes the variable. Maps the shared
    /// page the memfd holds (checking its format and size), finds there the
    /// numbers of the member's other descriptors, checks each one's kind
    /// (epoll instance, pipe ends and eventfds, non-blocking where the
    /// library makes them so), and makes them all close-on-exec again.
    ///
    /// In a process that runs with privileges its caller does not have
    /// (set-user-ID, set-group-ID, file capabilities), the variable is not
    /// read at all, as secure_getenv(3) does.
    ///
    /// On failure nothing was closed or changed: [`Misuse::Unset`] if the
    /// variable is unset (or not read), [`Misuse::Malformed`] if it is malformed or names
    /// a rank the group does not have, [`Misuse::Foreign`] if a descriptor
    /// is closed or of the wrong kind (or the memfd holds no shared page of
    /// a group), or `Os` with the error of `mmap` or `fcntl`.
    ///
    /// # Safety
    /// The descriptors of the member must belong to nothing else in this
    /// process (the handle takes them over), and no other thread may read
    /// or change the environment meanwhile.
    pub unsafe fn import_env() -> Result<RawGroup, Error> {
        let value = sys::secure_getenv(VAR_C).ok_or(Misuse::Unset)?;
        let m = parse_value(value)?;
        let size = sys::sealed_size(m.memfd).map_err(|_| Misuse::Foreign)?;
        // At least a head, and no more than a group of MAX needs.
        if !(core::mem::size_of::<Head>() as u64..=shared_len(MAX) as u64).contains(&size) {
            return Err(Misuse::Foreign.into());
        }
        let shared: *mut Head = sys::map(m.memfd, size as usize).map_err(Error::Os)?.cast();
        // SAFETY: the mapping is at least a Head long; `create` writes the
        // head before any other process can see the page, and nothing
        // writes it afterwards.
        let head = unsafe { &*shared };
        let n = head.n as usize;
        let mut g = RawGroup::empty(n);
        g.rank = Some(m.rank);
        g.knowledge = m.knowledge;
        g.gone = m.gone;
        g.memfd = m.memfd;
        let taken = (|| -> Result<(), Error> {
            let valid =
                head.magic == MAGIC && (2..=MAX).contains(&n) && size as usize == shared_len(n);
            if !valid {
                return Err(Misuse::Foreign.into());
            }
            if !m.fits(n) {
                return Err(Misuse::Malformed.into());
            }
            for i in 0..2 * n + 1 {
                let at = Self::held_at(n, m.rank, i);
                let fd = head.fds[at];
                let kind = match at / MAX {
                    0 => sys::FdKind::Epoll,
                    1 => sys::FdKind::EventFd,
                    2 => sys::FdKind::PipeRead,
                    _ if !m.write_end => continue,
                    _ => sys::FdKind::PipeWrite,
                };
                // The library makes every descriptor but the epoll instance
                // (and the memfd) non-blocking.
                let ok = matches!(sys::inspect(fd), Ok((k, nonblocking))
                    if k == kind && (nonblocking || kind == sys::FdKind::Epoll));
                if !ok || fd == m.memfd || g.fds.contains(&fd) {
                    return Err(Misuse::Foreign.into());
                }
                g.fds[at] = fd;
            }
            // An epoll instance of this group's, and not another one at
            // that number: it has an entry for the next member's doorbell
            // (changing an entry to what it is fails with ENOENT where
            // there is none).
            let (ep, bell) = (g.fds[EPOLL + m.rank], g.fds[BELL + (m.rank + 1) % n]);
            sys::epoll_ctl(ep, libc::EPOLL_CTL_MOD, bell, EDGE, DOORBELL)
                .map_err(|_| Misuse::Foreign)?;
            g.set_cloexec_all(m.rank, true).map_err(Error::Os)
        })();
        if let Err(errno) = taken {
            // Nothing was closed; set_cloexec_all put the flags back.
            // SAFETY: mapped just now with this length; nothing uses it.
            unsafe { sys::unmap(shared.cast(), size as usize) };
            return Err(errno);
        }
        sys::unsetenv(VAR_C);
        g.shared = shared;
        Ok(g)
    }

    /// The value of the environment variable for a member `rank` spawned
    /// from this handle, which must not have joined, and the descriptors it
    /// keeps across `execve()`: for [`super::Group::spawn`]. Claims the
    /// rank ([`RawGroup::unclaim`] gives it back if the program does not
    /// start).
    #[cfg(feature = "std")]
    pub(crate) fn spawn_env(
        &self,
        rank: usize,
        value: &mut [u8; ENV_MAX],
        keep: &mut [c_int; 2 * MAX + 2],
    ) -> Result<(usize, usize), Misuse> {
        if self.rank.is_some() {
            return Err(Misuse::NotFresh);
        }
        if self.shared.is_null() {
            return Err(Misuse::NoDescriptor);
        }
        if rank >= self.n {
            return Err(Misuse::Rank);
        }
        let count = 2 * self.n + 2;
        for (i, slot) in keep[..count].iter_mut().enumerate() {
            *slot = self.held(rank, i);
        }
        let text = Member {
            rank,
            knowledge: Knowledge::NEW,
            gone: 0,
            memfd: self.memfd,
            write_end: true,
        };
        let len = format_value(&text, value).ok_or(Misuse::BufferTooSmall)?;
        // Last: a refusal above leaves the rank free.
        self.claim(rank)?;
        Ok((len, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(bits: u8, by: Option<usize>) -> Knowledge {
        Knowledge::from_parts(bits, by).unwrap()
    }

    #[test]
    fn round_trip() {
        for m in [
            Member {
                rank: 0,
                knowledge: Knowledge::NEW,
                gone: 0,
                memfd: 3,
                write_end: true,
            },
            Member {
                rank: 2,
                knowledge: seen(3, Some(1)),
                gone: 0b011,
                memfd: 2147483647,
                write_end: false,
            },
            Member {
                rank: 63,
                knowledge: seen(1, None),
                gone: u64::MAX >> 1,
                memfd: 0,
                write_end: true,
            },
            Member {
                rank: 0,
                knowledge: seen(2, Some(63)),
                gone: u64::MAX - 1,
                memfd: 10,
                write_end: true,
            },
        ] {
            let mut buf = [0u8; ENV_MAX];
            let len = format_value(&m, &mut buf).unwrap();
            assert_eq!(parse_value(&buf[..len]), Ok(m));
        }
    }

    #[test]
    fn the_widest_fits_env_max() {
        let m = Member {
            rank: 62,
            knowledge: seen(3, Some(63)),
            gone: (1 << 63) | 1,
            memfd: c_int::MAX,
            write_end: true,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(len + 1, 56);
        assert_eq!(buf[len], 0);
        assert_eq!(&buf[..14], b"BARRIER_GROUP=");
        let mut short = [0u8; 55];
        assert_eq!(format(&m, &mut short), None);
    }

    #[test]
    fn exact_text() {
        let m = Member {
            rank: 1,
            knowledge: seen(2, Some(0)),
            gone: 1,
            memfd: 10,
            write_end: true,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(&buf[..=len], b"BARRIER_GROUP=1,2,0,1,10,1\0");
    }

    #[test]
    fn rejects_malformed_values() {
        let bad: &[&[u8]] = &[
            b"",
            b"1",
            b"1,0,-1,0,10",
            b"1,0,-1,0,10,1,7",
            b"1,0,-1,0,10,1,",
            b"1,0,-1,0,,1",
            b"64,0,-1,0,10,1",
            b"1,4,-1,0,10,1",
            b"1,2,-1,0,10,1",
            b"1,0,0,0,10,1",
            b"1,2,1,0,10,1",
            b"1,0,-1,2,10,1",
            b"1,0,-1,0,-1,1",
            b"1,0,-1,0,2147483648,1",
            b"1,0,-1,0,10,2",
            b"1,0,-1,0,10,-1",
            b"1,0,-1,9223372036854775808,10,1",
            b"1,0,-1,-9223372036854775806,10,1",
            b"+1,0,-1,0,10,1",
            b"1,0,-1,0,10x,1",
            b"1,0,-2,0,10,1",
            b"1,0,--1,0,10,1",
            b"1, 0,-1,0,10,1",
        ];
        for value in bad {
            assert_eq!(
                parse_value(value),
                Err(Misuse::Malformed),
                "{:?}",
                core::str::from_utf8(value)
            );
        }
        assert!(parse_value(b"1,0,-1,0,10,0").is_ok());
        assert!(parse_value(b"1,3,0,1,10,1").is_ok());
    }

    #[test]
    fn fits_the_group_size() {
        let m = parse_value(b"2,2,1,1,10,1").unwrap();
        assert!(m.fits(3));
        assert!(!m.fits(2));
        let m = parse_value(b"0,0,-1,4,10,1").unwrap();
        assert!(m.fits(3) && !m.fits(2));
        let m = parse_value(b"0,2,5,0,10,1").unwrap();
        assert!(m.fits(6) && !m.fits(5));
        let m = parse_value(b"63,0,-1,0,10,1").unwrap();
        assert!(m.fits(64) && !m.fits(63));
    }
}
