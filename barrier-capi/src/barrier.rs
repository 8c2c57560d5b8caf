//! The two-party barrier's entry points: systemd's names and layout.

use crate::ffi::{answer, copy_out, env_buffer, length, look, role_of, state, status, with};
use barrier_core::RawBarrier;
use libc::{c_int, c_uint};

// The header's BARRIER_ENV_MAX is written in cbindgen.toml; keep them equal.
const _: () = assert!(RawBarrier::ENV_MAX == 96);

/// Creates a barrier in `*b`: two eventfds and a pipe, all close-on-exec
/// and non-blocking, counter 0. Whatever `*b` held is overwritten, not
/// closed. `b` must be NULL or point to memory for a `Barrier`; the
/// object then owns four descriptors, three after `barrier_set_role()`.
///
/// Returns 0, or a negative errno: -EINVAL if `b` is NULL, or the error of
/// the failing system call (-EMFILE, -ENFILE, -ENOMEM ...). On failure
/// nothing is left open and `*b` equals `BARRIER_NULL`, so destroying it is
/// safe.
#[no_mangle]
pub unsafe extern "C" fn barrier_create(b: *mut RawBarrier) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, -libc::EINVAL, |b| status(b.create())) }
}

/// The original name of `barrier_create()`, with identical behaviour.
///
/// Returns as `barrier_create()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_init(b: *mut RawBarrier) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { barrier_create(b) }
}

/// Closes every descriptor `*b` holds and resets it to `BARRIER_NULL`.
/// Safe to repeat and safe on `BARRIER_NULL`; NULL is a no-op. Destroying
/// one side's copy is what the other side sees as an exit. Usable with
/// `__attribute__((cleanup(barrier_destroy)))` on a `Barrier` variable.
///
/// Returns NULL, so that `b = barrier_destroy(b);` is possible.
#[no_mangle]
pub unsafe extern "C" fn barrier_destroy(b: *mut RawBarrier) -> *mut RawBarrier {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(b, core::ptr::null_mut(), |b| {
            b.destroy();
            core::ptr::null_mut()
        })
    }
}

/// Destroys `**b`, for `__attribute__((cleanup(barrier_destroyp)))` on a
/// `Barrier *` variable. NULL, or a pointer to NULL, is a no-op.
#[no_mangle]
pub unsafe extern "C" fn barrier_destroyp(b: *mut *mut RawBarrier) {
    // SAFETY: forwarded from the caller, for b and for *b.
    unsafe { look(b, (), |&inner| with(inner, (), |b| b.destroy())) }
}

/// Takes one side's role, once, right after fork(): `BARRIER_PARENT` keeps
/// the pipe's read end, `BARRIER_CHILD` its write end and swaps the
/// eventfds. A no-op for NULL, for an object without a pipe (never
/// created, destroyed), for a second call, and for an unknown role.
#[no_mangle]
pub unsafe extern "C" fn barrier_set_role(b: *mut RawBarrier, role: c_uint) {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, (), |b| role_of(role).map_or((), |r| b.set_role(r))) }
}

/// Places a barrier: the next sync point of this side.
///
/// Returns true if it was placed; false if this side aborted or has seen
/// the other side abort or exit (see `barrier_abort()`), if the write
/// failed (which aborts the barrier on both sides), or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_place(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, false, |b| b.place().is_ok()) }
}

/// Aborts this side; every wait of the other side fails from now on. A
/// no-op if this side already aborted.
///
/// Returns false if this side had already seen the other side abort or
/// exit, if the write failed, or if `b` is NULL; true otherwise. This side
/// sees an abort or exit of the other side only in a wait: an abort when
/// the wait reads it, an exit when the wait needs more barriers than the
/// other side placed. So right after the other side exited, before any
/// wait, this returns true.
#[no_mangle]
pub unsafe extern "C" fn barrier_abort(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, false, |b| b.abort().is_ok()) }
}

/// Waits until at least one more barrier of the other side arrives,
/// however many this side placed.
///
/// Returns true once it arrived. Returns false at once if either side
/// aborted, and false if either side aborts meanwhile (the other side's
/// exit counts, once its earlier barriers are consumed); false before
/// `barrier_set_role()` or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_wait_next(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, false, |b| b.wait_next(barrier_core::INFINITY).is_ok()) }
}

/// Waits until the other side aborts, exits or crashes. This side's own
/// abort does not end the wait.
///
/// Returns true when the other side aborted and this side did not; false
/// if this side aborted too, before `barrier_set_role()`, or if `b` is
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_wait_abortion(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(b, false, |b| {
            b.wait_abortion(barrier_core::INFINITY).is_ok()
        })
    }
}

/// Waits for the other side's next barrier that matches one of ours;
/// returns at once if they are level with or ahead of us.
///
/// Returns true when matched; false if either side aborted (before or
/// meanwhile), before `barrier_set_role()`, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_sync_next(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, false, |b| b.sync_next(barrier_core::INFINITY).is_ok()) }
}

/// Waits until the other side placed at least as many barriers as this
/// side.
///
/// Returns true when they did; false if either side aborted (before or
/// meanwhile), before `barrier_set_role()`, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_sync(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, false, |b| b.sync(barrier_core::INFINITY).is_ok()) }
}

/// `barrier_place()`, then `barrier_sync()`.
///
/// Returns the result of `barrier_sync()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_place_and_sync(b: *mut RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(b, false, |b| {
            b.place_and_sync(barrier_core::INFINITY).is_ok()
        })
    }
}

/// Tells whether this side aborted (alone or as well as the other side).
///
/// Returns true if so; false if not, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_i_aborted(b: *const RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { state(b) }.is_some_and(|s| s.i_aborted())
}

/// Tells whether the other side aborted, exited or crashed (alone or as
/// well as this side), as far as this side has seen.
///
/// Returns true if so; false if not, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_they_aborted(b: *const RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { state(b) }.is_some_and(|s| s.they_aborted())
}

/// Tells whether both sides aborted.
///
/// Returns true if so; false if not, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_we_aborted(b: *const RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { state(b) }.is_some_and(|s| s.we_aborted())
}

/// Tells whether either side aborted.
///
/// Returns true if so; false if not, or if `b` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_is_aborted(b: *const RawBarrier) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { state(b) }.is_some_and(|s| s.is_aborted())
}

/// `barrier_wait_next()`, waiting at most `usec` microseconds.
///
/// Returns as `barrier_sync_timeout()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_wait_next_timeout(b: *mut RawBarrier, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, -libc::EINVAL, |b| answer(b.wait_next(usec))) }
}

/// `barrier_wait_abortion()`, waiting at most `usec` microseconds.
///
/// Returns 1 if the other side aborted or exited and this side did not
/// abort, 0 if both aborted, otherwise as `barrier_sync_timeout()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_wait_abortion_timeout(b: *mut RawBarrier, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, -libc::EINVAL, |b| answer(b.wait_abortion(usec))) }
}

/// `barrier_sync_next()`, waiting at most `usec` microseconds.
///
/// Returns as `barrier_sync_timeout()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_sync_next_timeout(b: *mut RawBarrier, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, -libc::EINVAL, |b| answer(b.sync_next(usec))) }
}

/// `barrier_sync()`, waiting at most `usec` microseconds
/// (`BARRIER_INFINITY`: no bound; 0: never blocks, but consumes what has
/// already arrived).
///
/// Returns 1 where `barrier_sync()` returns true, 0 where it returns false
/// because of an abort, -ETIMEDOUT if time ran out first, -EINVAL if `b`
/// is NULL or before `barrier_set_role()`, -EBADF if the object holds no
/// descriptors (`BARRIER_NULL`, destroyed), another negative errno if a
/// system call failed (which aborts the barrier on both sides). After
/// -ETIMEDOUT the object is consistent: what was consumed stays consumed,
/// and calling again waits for the same barrier. In an event loop, the
/// descriptors of `barrier_get_pollfds()` are watched after -ETIMEDOUT
/// only: any other result ends the watch.
#[no_mangle]
pub unsafe extern "C" fn barrier_sync_timeout(b: *mut RawBarrier, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(b, -libc::EINVAL, |b| answer(b.sync(usec))) }
}

/// For event loops (poll(), epoll, sd-event, libuv): fills `fds`, which
/// must have room for `n` entries, with what to watch for this end: this
/// side's pipe end (hang-up and error, which poll() reports whatever the
/// events asked) and the other side's eventfd (`POLLIN`), in that order.
///
/// When one is ready, a `*_timeout()` call with a timeout of 0 makes
/// progress without blocking. The descriptors stay the same for the life
/// of the object, until a fatal error or `barrier_destroy()`; they belong
/// to the object and must not be closed by the caller.
///
/// Watch them only while a bounded call has just returned -ETIMEDOUT.
/// When a call returns 1 (done), 0 (aborted, or the other side is gone) or
/// another negative errno, remove the watches before anything else, and
/// watch again only when a later bounded call returns -ETIMEDOUT. Watching
/// longer makes the loop spin: after 0 the other side's pipe end stays
/// hung up, after 1 their eventfd may stay readable (a call with nothing
/// to wait for returns 1 without reading it), and both are level-triggered.
/// An errno other than -ETIMEDOUT is the only case in which the library
/// has closed its pipe end; its number may be reused by the next
/// descriptor opened, so the watch must go before this thread opens one
/// (in a threaded program, another thread opening a descriptor meanwhile
/// can still take the number). Removing means removing the watch (a
/// source, a handle, an epoll entry): an interest set of 0 does not stop
/// the hang-up from being reported.
///
/// Returns the number of entries filled (2); -EINVAL if `b` or `fds` is
/// NULL, or before `barrier_set_role()`; -EBADF if the object holds no
/// descriptors (`BARRIER_NULL`, destroyed) or has lost its pipe end (after
/// a fatal error); -ENOBUFS, with nothing written, if `n` is less than
/// 2.
#[no_mangle]
pub unsafe extern "C" fn barrier_get_pollfds(
    b: *const RawBarrier,
    fds: *mut libc::pollfd,
    n: usize,
) -> c_int {
    // SAFETY: forwarded from the caller, for b and for fds.
    unsafe { look(b, -libc::EINVAL, |b| copy_out(fds, n, b.pollfds())) }
}

/// Creates two ready ends of one barrier in `*parent` and `*child`, roles
/// already set, each owning its own descriptors (3 each): for two threads
/// of one process, or to hand one end to another process. Destroying one
/// end is, for the other, the other side exiting. The two objects must
/// not overlap.
///
/// Returns 0; -EINVAL if either pointer is NULL or both are the same; or
/// the error of the failing system call. On failure both are
/// `BARRIER_NULL` and nothing is left open.
#[no_mangle]
pub unsafe extern "C" fn barrier_create_pair(
    parent: *mut RawBarrier,
    child: *mut RawBarrier,
) -> c_int {
    // SAFETY: forwarded from the caller; the two are not the same object,
    // so the two references do not alias.
    unsafe {
        match core::ptr::eq(parent, child) {
            true => -libc::EINVAL,
            false => with(parent, -libc::EINVAL, |p| {
                with(child, -libc::EINVAL, |c| {
                    status(RawBarrier::create_pair(p, c))
                })
            }),
        }
    }
}

/// After fork() and `barrier_set_role()`, before execve(): makes this
/// end's descriptors survive execve() and writes `BARRIER_FDS=<...>` with a
/// terminating NUL into `buf`, which must have room for `size` bytes, to
/// put into the new program's environment, where `barrier_import_env()`
/// takes the end over. Async-signal-safe: no allocation, no locks.
///
/// Returns the string's length (without the NUL); -ENOBUFS if `size` is
/// too small (`BARRIER_ENV_MAX` always suffices); -EINVAL if `b` is NULL,
/// `buf` is NULL while `size` is not 0, or the role is not set; -EBADF if
/// the object lacks a descriptor. On any error nothing changes.
#[no_mangle]
pub unsafe extern "C" fn barrier_export_env(
    b: *mut RawBarrier,
    buf: *mut libc::c_char,
    size: usize,
) -> c_int {
    // SAFETY: forwarded from the caller, for b (whose descriptors the
    // object owns) and for buf.
    unsafe {
        look(b, -libc::EINVAL, |b| {
            env_buffer(buf, size, RawBarrier::ENV_MAX)
                .map_or(-libc::EINVAL, |out| length(b.export_env(out)))
        })
    }
}

/// In the program started by execve(): takes over the end that
/// `$BARRIER_FDS` names, counter included, into `*b`. Checks that every
/// descriptor is open and of the right kind (this needs /proc). On
/// success the descriptors are close-on-exec again and the variable is
/// removed from the environment. Like getenv() and unsetenv(), not
/// thread-safe. In a process that runs with privileges its caller does not
/// have (set-user-ID, set-group-ID, file capabilities), the variable is not
/// read at all, as secure_getenv() does: whoever starts such a program
/// must not be able to hand it a barrier end.
///
/// Returns 0 on success. On failure `*b` is `BARRIER_NULL`, nothing it
/// does not own is closed, and the return is -ENOENT if the variable is
/// unset or not read, -EINVAL if its value is malformed (or `b` is NULL), -EBADF if a
/// descriptor is closed or of the wrong kind.
#[no_mangle]
pub unsafe extern "C" fn barrier_import_env(b: *mut RawBarrier) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(b, -libc::EINVAL, |b| {
            b.import_env()
                .map_or_else(|e| e.to_negative_errno(), |()| 0)
        })
    }
}
