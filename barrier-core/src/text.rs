//! The text of the environment variables: decimal fields, written into
//! fixed buffers without allocating and read strictly.

/// Appends to a fixed buffer without panicking; reports overflow instead.
pub(crate) struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Cursor<'a> {
        Cursor { buf, len: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        self.buf.get_mut(self.len..end)?.copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    pub(crate) fn push_decimal(&mut self, value: i64) -> Option<()> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut magnitude = value.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        if value < 0 {
            self.push(b"-")?;
        }
        self.push(&digits[i..])
    }
}

/// One decimal field: an optional `-`, then digits and nothing else;
/// `None` if it is anything else or does not fit an `i64`.
fn parse_i64(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN parses too.
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// Parses exactly `out.len()` comma-separated decimal fields of `value`
/// into `out`; `None` if there are more or fewer, or one is malformed.
pub(crate) fn parse_fields(value: &[u8], out: &mut [i64]) -> Option<()> {
    let mut parts = value.split(|&b| b == b',');
    for slot in out.iter_mut() {
        *slot = parts.next().and_then(parse_i64)?;
    }
    parts.next().is_none().then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_extremes() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"007"), Some(7));
    }

    #[test]
    fn fields_are_exactly_as_many_as_asked() {
        let mut out = [0i64; 3];
        assert_eq!(parse_fields(b"1,-2,3", &mut out), Some(()));
        assert_eq!(out, [1, -2, 3]);
        assert_eq!(parse_fields(b"1,-2", &mut out), None);
        assert_eq!(parse_fields(b"1,-2,3,4", &mut out), None);
        assert_eq!(parse_fields(b"1,,3", &mut out), None);
    }

    #[test]
    fn cursor_reports_overflow() {
        let mut buf = [0u8; 4];
        let mut c = Cursor::new(&mut buf);
        assert_eq!(c.push_decimal(-12), Some(()));
        assert_eq!(c.push_decimal(34), None);
        assert_eq!(c.len(), 3);
        assert_eq!(&buf[..3], b"-12");
    }
}
