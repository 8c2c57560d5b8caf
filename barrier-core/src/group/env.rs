//! Handing one member of a group across `execve()` in an environment
//! variable.
//!
//! The variable is `BARRIER_GROUP=` followed by, in decimal and separated
//! by commas: `n`, the rank, the flags (as in [`Knowledge::bits`]), the
//! rank that aborted first (`-1`: none), the members seen gone (a bit
//! mask), then the descriptors: the memfd, the epoll instance, the own
//! pipe's write end (`-1` after a fatal error closed it), the `n`
//! doorbells, and the pipe read ends of the other members in rank order.
//! Formatting needs no allocation; parsing is strict, since the
//! environment is outside input.

use super::logic::{Knowledge, MAX};
use crate::env::Cursor;
use crate::error::Errno;
use core::ffi::CStr;
use libc::c_int;

/// The variable's name.
pub const VAR: &str = "BARRIER_GROUP";
/// The variable's name for libc.
pub(crate) const VAR_C: &CStr = c"BARRIER_GROUP";

/// The most descriptors one member holds: the memfd, its epoll instance,
/// its pipe's write end, every doorbell and the other members' pipe read
/// ends.
pub const FDS_MAX: usize = 3 + MAX + (MAX - 1);

/// Bytes that always hold `BARRIER_GROUP=...` with its NUL, for any `n`
/// (the C header's `BARRIER_GROUP_ENV_MAX`). The longest text needs 1,476:
/// the name and `=` (14), n and rank (2 + 2), the flags (1), the rank that
/// aborted (2), the mask of members gone (20), 130 descriptors of at most
/// 10 digits, 134 commas and the NUL.
pub const ENV_MAX: usize = 1536;

/// One member, as the variable describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Members in the group.
    pub n: usize,
    /// This member's rank.
    pub rank: usize,
    /// What it observed.
    pub knowledge: Knowledge,
    /// The members it saw go, bit `k` for rank `k`.
    pub gone: u64,
    /// Its descriptors: memfd, epoll instance, own pipe write end, `n`
    /// doorbells, `n - 1` pipe read ends.
    pub fds: &'a [c_int],
}

/// Where the own pipe's write end is among [`Member::fds`]: the only one
/// that may be missing.
const OWN_WRITE_END: usize = 2;

/// Writes `NAME=value` and a NUL into `out`; the length without the NUL,
/// or `None` if `out` is too small.
pub(crate) fn format(m: &Member<'_>, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    c.push(VAR.as_bytes())?;
    c.push(b"=")?;
    format_into(m, &mut c)?;
    let len = c.len();
    c.push(b"\0")?;
    Some(len)
}

/// Writes only the value into `out`; returns its length.
pub fn format_value(m: &Member<'_>, out: &mut [u8]) -> Option<usize> {
    let mut c = Cursor::new(out);
    format_into(m, &mut c)?;
    Some(c.len())
}

fn format_into(m: &Member<'_>, c: &mut Cursor<'_>) -> Option<()> {
    let by = m.knowledge.aborted_by().map_or(-1, |r| r as i64);
    for v in [m.n as i64, m.rank as i64, i64::from(m.knowledge.bits()), by] {
        c.push_decimal(v)?;
        c.push(b",")?;
    }
    // The mask may not fit an i64: its last digit goes on its own.
    if m.gone / 10 > 0 {
        c.push_decimal((m.gone / 10) as i64)?;
    }
    c.push_decimal((m.gone % 10) as i64)?;
    for &fd in m.fds {
        c.push(b",")?;
        c.push_decimal(i64::from(fd.max(-1)))?;
    }
    Some(())
}

/// What a field of `-1` parses to; no valid field has this value.
const MINUS_ONE: u64 = u64::MAX;

/// Parses a field: a decimal u64 (digits only, at least one), or `-1`
/// (as [`MINUS_ONE`]).
fn parse_field(field: &[u8]) -> Option<u64> {
    if field == b"-1" {
        return Some(MINUS_ONE);
    }
    if field.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &d in field {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(value)
}

/// Parses the variable's value, putting the descriptors into `fds`;
/// checks only its form: the field count for its `n`, `n` in 2..=64, the
/// rank below `n`, consistent flags, a mask of other members only,
/// descriptors that fit an `int`, only the own write end `-1`, and no
/// descriptor named twice. `EINVAL` otherwise.
pub fn parse_value<'a>(value: &[u8], fds: &'a mut [c_int; FDS_MAX]) -> Result<Member<'a>, Errno> {
    const HEAD: usize = 5;
    let mut fields = [0u64; HEAD + FDS_MAX];
    let mut count = 0;
    for field in value.split(|&b| b == b',') {
        let slot = fields.get_mut(count).ok_or(libc::EINVAL)?;
        *slot = parse_field(field).ok_or(libc::EINVAL)?;
        count += 1;
    }
    let [n, rank, bits, by, gone] = [fields[0], fields[1], fields[2], fields[3], fields[4]];
    if !(2..=MAX as u64).contains(&n) || rank >= n || bits > 3 || count != HEAD + 2 * n as usize + 2
    {
        return Err(libc::EINVAL);
    }
    let (n, rank) = (n as usize, rank as usize);
    let by = match by {
        MINUS_ONE => None,
        r if r < n as u64 && r as usize != rank => Some(r as usize),
        _ => return Err(libc::EINVAL),
    };
    let knowledge = Knowledge::from_parts(bits as u8, by).ok_or(libc::EINVAL)?;
    let others = (u64::MAX >> (MAX - n)) & !(1u64 << rank);
    if gone & !others != 0 {
        return Err(libc::EINVAL);
    }
    let fds = &mut fds[..count - HEAD];
    for (i, (slot, &v)) in fds.iter_mut().zip(&fields[HEAD..count]).enumerate() {
        *slot = match v {
            MINUS_ONE if i == OWN_WRITE_END => -1,
            v if v <= c_int::MAX as u64 => v as c_int,
            _ => return Err(libc::EINVAL),
        };
    }
    for i in 0..fds.len() {
        for j in i + 1..fds.len() {
            if fds[i] >= 0 && fds[i] == fds[j] {
                return Err(libc::EINVAL);
            }
        }
    }
    Ok(Member {
        n,
        rank,
        knowledge,
        gone,
        fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors 3, 4, ... for a member of a group of `n`.
    fn numbered(n: usize) -> ([c_int; FDS_MAX], usize) {
        let mut fds = [-1; FDS_MAX];
        let count = 3 + n + n - 1;
        for (i, fd) in fds[..count].iter_mut().enumerate() {
            *fd = 3 + i as c_int;
        }
        (fds, count)
    }

    #[test]
    fn round_trip() {
        let mut seen = Knowledge::NEW;
        seen.saw(1);
        seen.aborted();
        for (n, rank, k, gone) in [
            (2, 0, Knowledge::NEW, 0),
            (3, 2, seen, 0b011),
            (64, 63, Knowledge::NEW, u64::MAX >> 1),
            (64, 0, Knowledge::NEW, u64::MAX - 1),
        ] {
            let (mut fds, count) = numbered(n);
            if n == 3 {
                fds[OWN_WRITE_END] = -1;
            }
            let m = Member {
                n,
                rank,
                knowledge: k,
                gone,
                fds: &fds[..count],
            };
            let mut buf = [0u8; ENV_MAX];
            let len = format_value(&m, &mut buf).unwrap();
            let mut out = [0; FDS_MAX];
            assert_eq!(parse_value(&buf[..len], &mut out), Ok(m));
        }
    }

    #[test]
    fn the_widest_fits_env_max() {
        let mut k = Knowledge::NEW;
        k.aborted();
        k.saw(62);
        let fds = [c_int::MAX; FDS_MAX];
        let m = Member {
            n: MAX,
            rank: 63,
            knowledge: k,
            gone: u64::MAX,
            fds: &fds,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(len + 1, 1476);
        assert_eq!(buf[len], 0);
        assert_eq!(&buf[..14], b"BARRIER_GROUP=");
        let mut short = [0u8; 1475];
        assert_eq!(format(&m, &mut short), None);
    }

    #[test]
    fn exact_text() {
        let mut k = Knowledge::NEW;
        k.saw(0);
        let fds = [10, 11, 12, 13, 14, 15];
        let m = Member {
            n: 2,
            rank: 1,
            knowledge: k,
            gone: 1,
            fds: &fds,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(&buf[..=len], b"BARRIER_GROUP=2,1,2,0,1,10,11,12,13,14,15\0");
    }

    #[test]
    fn rejects_malformed_values() {
        let bad: &[&[u8]] = &[
            b"",
            b"2",
            b"2,0,0,-1,0,10,11,12,13,14",
            b"2,0,0,-1,0,10,11,12,13,14,15,16",
            b"2,0,0,-1,0,10,11,12,13,14,15,",
            b"1,0,0,-1,0,10,11,12,13",
            b"65,0,0,-1,0,10,11,12,13,14,15",
            b"2,2,0,-1,0,10,11,12,13,14,15",
            b"2,0,4,-1,0,10,11,12,13,14,15",
            b"2,0,2,-1,0,10,11,12,13,14,15",
            b"2,0,0,1,0,10,11,12,13,14,15",
            b"2,0,2,0,0,10,11,12,13,14,15",
            b"2,0,2,2,0,10,11,12,13,14,15",
            b"2,0,0,-1,1,10,11,12,13,14,15",
            b"2,0,0,-1,4,10,11,12,13,14,15",
            b"2,0,0,-1,-1,10,11,12,13,14,15",
            b"2,0,0,-1,18446744073709551616,10,11,12,13,14,15",
            b"2,0,0,-1,0,-1,11,12,13,14,15",
            b"2,0,0,-1,0,10,-1,12,13,14,15",
            b"2,0,0,-1,0,10,11,12,-1,14,15",
            b"2,0,0,-1,0,10,11,12,13,14,10",
            b"2,0,0,-1,0,10,11,12,13,14,2147483648",
            b"2,0,0,-1,0,10,11,12,13,14,9999999999",
            b"2,0,0,-1,0,10,11,12,13,14,+15",
            b"2,0,0,-1,0,10,11,12,13,14,-2",
            b"2,0,0,-1,0,10,11,12,13,14,15x",
            b"2,0,0,-1,0,10,11,12,13,14,99999999999999999999999",
            b"2,0,0,-1,0,10,11,12,13,14,15,",
            b"2,0,0,-1,0,10,11,12,13,14,,15",
        ];
        for value in bad {
            let mut fds = [0; FDS_MAX];
            assert_eq!(
                parse_value(value, &mut fds),
                Err(libc::EINVAL),
                "{:?}",
                core::str::from_utf8(value)
            );
        }
        let mut fds = [0; FDS_MAX];
        assert!(parse_value(b"2,0,0,-1,0,10,11,-1,13,14,15", &mut fds).is_ok());
        assert!(parse_value(b"2,0,3,1,2,10,11,12,13,14,15", &mut fds).is_ok());
    }
}
