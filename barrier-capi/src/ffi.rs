//! What the entry points need to meet C: pointers checked for NULL, and
//! the core's results turned into the C API's answers.

use barrier_core::{Error, RawBarrier, RawGroup, Role};
use core::ptr::NonNull;
use libc::{c_int, c_uint, pollfd};

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
#[inline(never)]
pub(crate) fn answer(result: Result<(), Error>) -> c_int {
    match result {
        Ok(()) => 1,
        Err(Error::Aborted) => 0,
        Err(e) => e.to_negative_errno(),
    }
}

/// The `int` answer of a call that writes into the caller's memory: how
/// many bytes or entries it wrote, or a negative errno.
pub(crate) fn length(result: Result<usize, Error>) -> c_int {
    match result {
        // Never more than the few dozen bytes of a variable, or 2 entries.
        Ok(len) => len as c_int,
        Err(e) => e.to_negative_errno(),
    }
}

/// The role of `barrier_set_role()`'s argument; `None` for an unknown one.
pub(crate) fn role_of(raw: c_uint) -> Option<Role> {
    match raw {
        0 => Some(Role::Parent),
        1 => Some(Role::Child),
        _ => None,
    }
}

/// Copies what to watch into the caller's array `out` of `n` entries:
/// the number of entries, -EINVAL if `out` is NULL, the error of `watch`,
/// or -ENOBUFS if `n` is too small (nothing written then).
///
/// # Safety
/// `out` must be NULL or valid for writes of `n` entries.
pub(crate) unsafe fn copy_out<const N: usize>(
    out: *mut pollfd,
    n: usize,
    watch: Result<[pollfd; N], Error>,
) -> c_int {
    if out.is_null() {
        return -libc::EINVAL;
    }
    match watch {
        Ok(_) if n < N => -libc::ENOBUFS,
        Ok(watch) => {
            // SAFETY: out is valid for n >= N entries, as the caller
            // guarantees.
            unsafe { core::ptr::copy_nonoverlapping(watch.as_ptr(), out, N) };
            N as c_int
        }
        Err(e) => e.to_negative_errno(),
    }
}

/// Sets `*g` to the handle `make` returns and answers 0, or sets it to NULL
/// and answers the negative errno; -EINVAL if `g` is NULL (then `make` is
/// not called).
///
/// # Safety
/// `g` must be NULL or valid for writes of a pointer.
pub(crate) unsafe fn hand_out(
    g: *mut *mut RawGroup,
    make: impl FnOnce() -> Result<NonNull<RawGroup>, Error>,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(g, -libc::EINVAL, |g| {
            let made = make();
            *g = made.map_or(core::ptr::null_mut(), NonNull::as_ptr);
            status(made.map(|_| ()))
        })
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
