//! What the entry points need to meet C: pointers checked for NULL, and
//! the core's results turned into the C API's answers.

use barrier_core::{Error, RawBarrier};
use libc::c_int;

/// Runs `op` on the object behind `p` (a `Barrier` or a `BarrierGroup`),
/// or returns `null` for NULL.
///
/// # Safety
/// `p` must be NULL or valid for reads and writes of its object.
pub(crate) unsafe fn with<O, T>(p: *mut O, null: T, op: impl FnOnce(&mut O) -> T) -> T {
    // SAFETY: the caller guarantees p is NULL or valid; as_mut checks NULL.
    match unsafe { p.as_mut() } {
        Some(p) => op(p),
        None => null,
    }
}

/// Reads the object behind `p`, or returns `null` for NULL.
///
/// # Safety
/// `p` must be NULL or valid for reads of its object.
pub(crate) unsafe fn look<O, T>(p: *const O, null: T, op: impl FnOnce(&O) -> T) -> T {
    // SAFETY: the caller guarantees p is NULL or valid; as_ref checks NULL.
    match unsafe { p.as_ref() } {
        Some(p) => op(p),
        None => null,
    }
}

/// Reads the state of the structure behind `b`, `None` for NULL.
///
/// # Safety
/// `b` must be NULL or valid for reads of a `Barrier`.
pub(crate) unsafe fn state(b: *const RawBarrier) -> Option<barrier_core::State> {
    // SAFETY: forwarded from the caller.
    unsafe { look(b, None, |b| Some(b.state())) }
}

/// The `int` answer of a call that makes, takes over or joins: 0 done, a
/// negative errno otherwise.
#[inline(never)]
pub(crate) fn status(result: Result<(), Error>) -> c_int {
    match result {
        Ok(()) => 0,
        Err(e) => e.to_negative_errno(),
    }
}

/// The `int` answer of a call that places or waits (the bounded waits, and
/// the group calls): 1 done, 0 aborted, a negative errno otherwise.
pub(crate) fn answer(result: Result<(), Error>) -> c_int {
    match result {
        Ok(()) => 1,
        Err(Error::Aborted) => 0,
        Err(e) => e.to_negative_errno(),
    }
}

/// The caller's buffer for an environment variable: `size` bytes at `buf`,
/// of which no more than `max` are ever written; an empty one for NULL and
/// 0; `None` (-EINVAL) for NULL with a size.
///
/// # Safety
/// `buf` must be NULL or valid for writes of `size` bytes.
pub(crate) unsafe fn env_buffer<'a>(
    buf: *mut libc::c_char,
    size: usize,
    max: usize,
) -> Option<&'a mut [u8]> {
    if buf.is_null() {
        return (size == 0).then_some(&mut []);
    }
    // No more than `max` bytes are ever written, and a slice may not be
    // longer than isize::MAX.
    // SAFETY: buf is valid for writes of size >= size.min(max) bytes.
    Some(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size.min(max)) })
}
