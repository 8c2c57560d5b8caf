//! The C API of barrier groups (`barrier_group_*`): an opaque
//! `BarrierGroup` handle over the core's `RawGroup`, kept in a mapping of
//! its own (no allocator).
//!
//! Every `BarrierGroup *` a C caller passes is, by the API's contract,
//! NULL or a handle from `barrier_group_new()` or
//! `barrier_group_import_env()` not yet freed. The doc comments follow the
//! rules of the crate's (they become the header and the man pages).

use crate::ffi::{answer, copy_out, env_buffer, hand_out, length, look, with};
use barrier_core::RawGroup;
use core::ptr::NonNull;
use libc::{c_int, c_uint};

// The header's constants are written in cbindgen.toml; keep them equal.
const _: () = assert!(RawGroup::MAX == 64 && RawGroup::ENV_MAX == 64);

/// Creates a group of `n` members in `*g`: a shared page, and an eventfd,
/// a pipe and an epoll instance per member, all close-on-exec. Fork (or spawn) the other
/// members, then every member, this process included, calls
/// `barrier_group_join()` with a rank of its own. A process that will not
/// be a member frees its handle right after the last fork. The handle
/// holds `4n + 1` descriptors, `2n + 2` after join.
///
/// Returns 0 and sets `*g`; -EINVAL if `g` is NULL or `n` is below 2 or
/// above `BARRIER_GROUP_MAX`; or the error of the failing system call
/// (-EMFILE, -ENOMEM ...), with nothing left open. On every failure with
/// `g` non-NULL, `*g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_new(g: *mut *mut RawGroup, n: c_uint) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { hand_out(g, || RawGroup::create_mapped(n as usize)) }
}

/// Makes this process member `rank` (0 to n - 1) of the group, once, after
/// every fork that creates a member. Each member needs a distinct rank: the
/// first handle to join under a rank has it for good, in whichever process
/// it is, and a later join under it (even after that member exited) is
/// refused.
///
/// Returns 0; -EINVAL if `g` is NULL; -EALREADY if this handle already
/// joined; -EINVAL if `rank` is not below the group's size; -EBUSY if
/// another handle joined under `rank` first (this handle is unchanged and
/// may join under another rank).
#[no_mangle]
pub unsafe extern "C" fn barrier_group_join(g: *mut RawGroup, rank: c_uint) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        with(g, -libc::EINVAL, |g| {
            g.join(rank as usize)
                .map_or_else(|e| e.to_negative_errno(), |()| 0)
        })
    }
}

/// Frees the handle: closes its descriptors and unmaps its memory. For the
/// other members this is an exit. NULL is a no-op; a handle that never
/// joined may be freed too. As with free(), a freed handle must never be
/// used again, not even freed a second time: its memory is gone, and such a
/// call may crash. Use `g = barrier_group_free(g);`, or
/// `barrier_group_freep()` for cleanup at the end of a scope, so that the
/// variable is NULL afterwards.
///
/// Returns NULL, so that `g = barrier_group_free(g);` is possible.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_free(g: *mut RawGroup) -> *mut RawGroup {
    NonNull::new(g).map_or(core::ptr::null_mut(), |p| {
        // SAFETY: a live handle of this library, which the caller gives up.
        unsafe { RawGroup::free_mapped(p) };
        core::ptr::null_mut()
    })
}

/// Frees `*g` and sets it to NULL, for
/// `__attribute__((cleanup(barrier_group_freep)))` on a `BarrierGroup *`
/// variable. NULL, or a pointer to NULL, is a no-op.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_freep(g: *mut *mut RawGroup) {
    // SAFETY: forwarded from the caller, for g and for *g.
    unsafe { with(g, (), |inner| *inner = barrier_group_free(*inner)) }
}

/// Tells the number of members.
///
/// Returns n; 0 if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_size(g: *const RawGroup) -> c_uint {
    // SAFETY: forwarded from the caller.
    unsafe { look(g, 0, |g| g.size() as c_uint) }
}

/// Tells the rank this handle joined under.
///
/// Returns the rank; -1 before `barrier_group_join()` or if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_rank(g: *const RawGroup) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { look(g, -1, |g| g.rank().map_or(-1, |r| r as c_int)) }
}

/// Places a barrier: this member's next sync point.
///
/// Returns 1 if it was placed; 0 if this member has observed an abort or
/// exit of another member, or aborted itself; -EINVAL if `g` is NULL or
/// before `barrier_group_join()`; another negative errno if a system call
/// failed, which aborts this member for everyone.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_place(g: *mut RawGroup) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(g, -libc::EINVAL, |g| answer(g.place())) }
}

/// Waits until every other member has placed at least as many barriers as
/// this one, for at most `usec` microseconds (`BARRIER_INFINITY`: no bound;
/// 0: never blocks, but takes in what has already happened).
///
/// An abort by any member ends it, even when the counts are already there;
/// a member that exited (or crashed, or freed its handle) ends it only if
/// it placed fewer barriers than this one: what it placed before it went
/// still counts.
///
/// Returns 1 when synced; 0 if a member aborted, or one that exited placed
/// too few, or this member aborted; -ETIMEDOUT if time ran out first
/// (nothing is lost: calling again waits for the same barrier); -EINVAL if
/// `g` is NULL or before `barrier_group_join()`; another negative errno if
/// a system call failed, which aborts this member for everyone.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_sync(g: *mut RawGroup, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(g, -libc::EINVAL, |g| answer(g.sync(usec))) }
}

/// `barrier_group_place()`, then `barrier_group_sync()`.
///
/// Returns as `barrier_group_sync()`, or 0 if the barrier could not be
/// placed. After -ETIMEDOUT the barrier is placed: retry with
/// `barrier_group_sync()`, not this.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_place_and_sync(g: *mut RawGroup, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(g, -libc::EINVAL, |g| answer(g.place_and_sync(usec))) }
}

/// Aborts this member: every wait that any member starts after this
/// returns fails, and the waits in progress are woken. Repeating it is
/// harmless.
///
/// Returns 1; 0 if this member had already observed another member's abort
/// or exit (it is aborted all the same); -EINVAL if `g` is NULL or before
/// `barrier_group_join()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_abort(g: *mut RawGroup) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(g, -libc::EINVAL, |g| answer(g.abort())) }
}

/// Waits until another member aborts or exits (or crashes, or frees its
/// handle), for at most `usec` microseconds. This member's own abort does
/// not end it. Once it has seen an exit, this member counts the group as
/// aborted.
///
/// Returns 1 if another member aborted or exited and this member did not
/// abort; 0 if one did but this member has aborted too; -ETIMEDOUT;
/// -EINVAL if `g` is NULL or before `barrier_group_join()`; another
/// negative errno if a system call failed.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_wait_abortion(g: *mut RawGroup, usec: u64) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { with(g, -libc::EINVAL, |g| answer(g.wait_abortion(usec))) }
}

/// Tells whether this member aborted (or a system call of its failed).
///
/// Returns true if so; false if not, or if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_i_aborted(g: *const RawGroup) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { look(g, false, |g| g.knowledge().i_aborted()) }
}

/// Tells whether this member has seen another member abort or exit (an
/// exit counts once a wait needed more from it than it placed, or ended
/// `barrier_group_wait_abortion()`).
///
/// Returns true if so; false if not, or if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_they_aborted(g: *const RawGroup) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { look(g, false, |g| g.knowledge().they_aborted()) }
}

/// Tells whether this member aborted or has seen another member abort or
/// exit.
///
/// Returns true if so; false if not, or if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_is_aborted(g: *const RawGroup) -> bool {
    // SAFETY: forwarded from the caller.
    unsafe { look(g, false, |g| g.knowledge().is_aborted()) }
}

/// Tells which member this member first saw abort or exit.
///
/// Returns its rank (the lowest among those seen at the same time); -1 if
/// none, or if `g` is NULL.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_aborted_by(g: *const RawGroup) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe {
        look(g, -1, |g| {
            g.knowledge().aborted_by().map_or(-1, |r| r as c_int)
        })
    }
}

/// For event loops: fills `fds`, which must have room for `n` entries,
/// with what to watch for this member: one entry, an epoll descriptor
/// (`POLLIN`) that becomes readable when another member rings (it
/// completed a level, or aborted) or goes away. The set is the same from
/// join to free; the descriptor belongs to the handle and must not be
/// closed.
///
/// Watch it only while a bounded call (`barrier_group_sync()`,
/// `barrier_group_place_and_sync()`, `barrier_group_wait_abortion()`) has
/// just returned -ETIMEDOUT; when it fires, call the same function again
/// with `usec` 0; stop watching once it returns anything else.
///
/// Returns the number of entries filled (1); -ENOBUFS if `n` is 0
/// (nothing written; `BARRIER_GROUP_POLLFDS_MAX` always suffices); -EINVAL
/// if `g` or `fds` is NULL or before `barrier_group_join()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_get_pollfds(
    g: *const RawGroup,
    fds: *mut libc::pollfd,
    n: usize,
) -> c_int {
    // SAFETY: forwarded from the caller, for g and for fds.
    unsafe { look(g, -libc::EINVAL, |g| copy_out(fds, n, g.pollfds())) }
}

/// After `barrier_group_join()`, before execve(): makes this member's
/// descriptors survive execve() and writes `BARRIER_GROUP=<...>` with a
/// terminating NUL into `buf`, which must have room for `size` bytes, to
/// put into the new program's environment, where
/// `barrier_group_import_env()` takes the membership over.
/// Async-signal-safe.
///
/// Returns the string's length (without the NUL); -ENOBUFS if `size`
/// leaves no room for the NUL (`BARRIER_GROUP_ENV_MAX` always suffices),
/// and nothing changed; -EINVAL if `g` is NULL, `buf` is NULL while `size`
/// is not 0, or before `barrier_group_join()`.
#[no_mangle]
pub unsafe extern "C" fn barrier_group_export_env(
    g: *const RawGroup,
    buf: *mut libc::c_char,
    size: usize,
) -> c_int {
    // SAFETY: forwarded from the caller, for g and for buf.
    unsafe {
        look(g, -libc::EINVAL, |g| {
            env_buffer(buf, size, RawGroup::ENV_MAX)
                .map_or(-libc::EINVAL, |out| length(g.export_env(out)))
        })
    }
}

/// In the program started by execve(): takes over the membership that
/// `$BARRIER_GROUP` describes into `*g`, already joined under the same
/// rank. Checks that every descriptor is open and of the right kind (this
/// needs /proc). On success the descriptors are close-on-exec again and
/// the variable is removed. Like getenv() and unsetenv(), not
/// thread-safe. In a process that runs with privileges its caller does not
/// have (set-user-ID, set-group-ID, file capabilities), the variable is not
/// read at all, as secure_getenv() does.
///
/// Returns 0 and sets `*g`. On failure `*g` is NULL, nothing is closed,
/// and the return is -ENOENT if the variable is unset or not read, -EINVAL
/// if its value is malformed or `g` is NULL, -EBADF if a descriptor is
/// closed or of the wrong kind, or the error of mapping memory (-ENOMEM).
#[no_mangle]
pub unsafe extern "C" fn barrier_group_import_env(g: *mut *mut RawGroup) -> c_int {
    // SAFETY: forwarded from the caller; by the API's contract the
    // descriptors the variable names are handed to this call, and it does
    // not run beside another thread's use of the environment.
    unsafe { hand_out(g, || RawGroup::import_env_mapped()) }
}
