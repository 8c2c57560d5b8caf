//! Handing one member of a group across `execve()` in an environment
//! variable.
//!
//! The variable is
//! `BARRIER_GROUP=<n>,<rank>,<flags>,<aborted by>,<memfd>,<own pipe write end>,<n doorbells>,<n-1 pipe read ends>`,
//! all in decimal: the pipe read ends of the other members in rank order,
//! the flags as in [`Knowledge::bits`], `-1` for "nobody" and for a write
//! end closed by a fatal error. Formatting needs no allocation; parsing is
//! strict, since the environment is outside input.

use super::logic::{Knowledge, MAX};
use crate::env::Cursor;
use crate::error::Errno;
use core::ffi::CStr;
use libc::c_int;

/// The variable's name.
pub const VAR: &str = "BARRIER_GROUP";
/// The variable's name for libc.
pub(crate) const VAR_C: &CStr = c"BARRIER_GROUP";

/// The most descriptors one member holds: the memfd, its pipe's write
/// end, every doorbell and the other members' pipe read ends.
pub const FDS_MAX: usize = 2 + MAX + (MAX - 1);

/// Bytes that always hold `BARRIER_GROUP=...` with its NUL, for any `n`
/// (the C header's `BARRIER_GROUP_ENV_MAX`). The longest text needs 1,444:
/// the name and `=` (14), n and rank (2 + 2), the flags (1), the rank that
/// aborted (2), 129 descriptors of at most 10 digits, 132 commas and the
/// NUL.
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
    /// Its descriptors: memfd, own pipe write end, `n` doorbells, `n - 1`
    /// pipe read ends.
    pub fds: &'a [c_int],
}

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
    let head = [m.n as i64, m.rank as i64, i64::from(m.knowledge.bits()), by];
    for (i, v) in head
        .into_iter()
        .chain(m.fds.iter().map(|&fd| i64::from(fd.max(-1))))
        .enumerate()
    {
        if i > 0 {
            c.push(b",")?;
        }
        c.push_decimal(v)?;
    }
    Some(())
}

/// Parses a non-negative decimal of at most 10 digits, or `-1`.
fn parse_field(field: &[u8]) -> Option<i64> {
    if field == b"-1" {
        return Some(-1);
    }
    if field.is_empty() || field.len() > 10 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        field
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0')),
    )
}

/// Parses the variable's value, putting the descriptors into `fds`;
/// checks only its form: the field count for its `n`, `n` in 2..=64, the
/// rank below `n`, consistent flags, descriptors that fit an `int`, only
/// the own write end `-1`, and no descriptor named twice. `EINVAL`
/// otherwise.
pub fn parse_value<'a>(value: &[u8], fds: &'a mut [c_int; FDS_MAX]) -> Result<Member<'a>, Errno> {
    let mut fields = value.split(|&b| b == b',');
    let mut next = || fields.next().and_then(parse_field).ok_or(libc::EINVAL);
    let n = next()?;
    let rank = next()?;
    let bits = next()?;
    let by = next()?;
    if !(2..=MAX as i64).contains(&n) || !(0..n).contains(&rank) || !(0..4).contains(&bits) {
        return Err(libc::EINVAL);
    }
    let (n, rank) = (n as usize, rank as usize);
    let by = match by {
        -1 => None,
        r if r < n as i64 && r as usize != rank => Some(r as usize),
        _ => return Err(libc::EINVAL),
    };
    let knowledge = Knowledge::from_parts(bits as u8, by).ok_or(libc::EINVAL)?;
    let count = 2 + n + (n - 1);
    for (i, slot) in fds[..count].iter_mut().enumerate() {
        let v = next()?;
        // Only our own write end (index 1) may be missing.
        if v > i64::from(c_int::MAX) || (v < 0 && i != 1) {
            return Err(libc::EINVAL);
        }
        *slot = v as c_int;
    }
    if fields.next().is_some() {
        return Err(libc::EINVAL);
    }
    let fds = &fds[..count];
    for (i, &a) in fds.iter().enumerate() {
        if a >= 0 && fds[i + 1..].contains(&a) {
            return Err(libc::EINVAL);
        }
    }
    Ok(Member {
        n,
        rank,
        knowledge,
        fds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Descriptors 3, 4, ... for a member of a group of `n`.
    fn numbered(n: usize) -> ([c_int; FDS_MAX], usize) {
        let mut fds = [-1; FDS_MAX];
        let count = 2 + n + n - 1;
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
        for (n, rank, k) in [
            (2, 0, Knowledge::NEW),
            (3, 2, seen),
            (64, 63, Knowledge::NEW),
        ] {
            let (mut fds, count) = numbered(n);
            if n == 3 {
                fds[1] = -1;
            }
            let m = Member {
                n,
                rank,
                knowledge: k,
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
            fds: &fds,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(len + 1, 1444);
        assert_eq!(buf[len], 0);
        assert_eq!(&buf[..14], b"BARRIER_GROUP=");
        let mut short = [0u8; 1443];
        assert_eq!(format(&m, &mut short), None);
    }

    #[test]
    fn exact_text() {
        let mut k = Knowledge::NEW;
        k.saw(0);
        let fds = [10, 11, 12, 13, 14];
        let m = Member {
            n: 2,
            rank: 1,
            knowledge: k,
            fds: &fds,
        };
        let mut buf = [0u8; ENV_MAX];
        let len = format(&m, &mut buf).unwrap();
        assert_eq!(&buf[..=len], b"BARRIER_GROUP=2,1,2,0,10,11,12,13,14\0");
    }

    #[test]
    fn rejects_malformed_values() {
        let bad: &[&[u8]] = &[
            b"",
            b"2",
            b"2,0,0,-1,10,11,12,13",
            b"2,0,0,-1,10,11,12,13,14,15",
            b"2,0,0,-1,10,11,12,13,14,",
            b"1,0,0,-1,10,11,12",
            b"65,0,0,-1,10,11,12,13,14",
            b"2,2,0,-1,10,11,12,13,14",
            b"2,0,4,-1,10,11,12,13,14",
            b"2,0,2,-1,10,11,12,13,14",
            b"2,0,0,1,10,11,12,13,14",
            b"2,0,2,0,10,11,12,13,14",
            b"2,0,2,2,10,11,12,13,14",
            b"2,0,0,-1,-1,11,12,13,14",
            b"2,0,0,-1,10,11,-1,13,14",
            b"2,0,0,-1,10,11,12,13,10",
            b"2,0,0,-1,10,11,12,13,2147483648",
            b"2,0,0,-1,10,11,12,13,+14",
            b"2,0,0,-1,10,11,12,13,-2",
            b"2,0,0,-1,10,11,12,13,14x",
            b"2,0,0,-1,10,11,12,13,00000000014",
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
        assert!(parse_value(b"2,0,0,-1,10,-1,12,13,14", &mut fds).is_ok());
        assert!(parse_value(b"2,0,3,1,10,11,12,13,14", &mut fds).is_ok());
    }
}
