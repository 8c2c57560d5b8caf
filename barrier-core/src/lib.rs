//! An inter-process barrier compatible with systemd's, and barrier groups
//! of up to 64 processes.
//!
//! Two processes, usually a parent and the child it just forked, place
//! numbered sync points and wait for each other to reach them. Either side
//! can abort, which the other side sees; the other side's exit or crash
//! counts as an abort too, but only once every barrier it placed before
//! exiting has been consumed. The barrier is two eventfds and a pipe; its
//! whole state is one signed counter ([`State`]). It allocates nothing.
//!
//! - [`Barrier`]: one end, owning its descriptors; `AsyncBarrier` (feature
//!   `tokio`) makes its waits futures.
//! - [`RawBarrier`]: the same protocol in place on the C layout of
//!   systemd's `struct Barrier`, which the C library (`libbarrier`) wraps.
//! - [`Group`] and [`RawGroup`]: a barrier of `n` processes (2 to
//!   [`RawGroup::MAX`]): a sync returns once every other member has placed
//!   at least as many barriers, any member can abort all the others, and a
//!   member's exit or crash is seen by all of them, with the same rule that
//!   barriers placed before it still count. [`Knowledge`] is what one
//!   member has seen.
//! - [`Error`]: every failure; [`Misuse`] tells a call refused before any
//!   syscall from a syscall that failed.
//!
//! The crate is `no_std` apart from the `std` feature (on by default),
//! which adds conversions into `std::io::Error`, spawning a program as the
//! other side ([`Barrier::spawn`], [`Group::spawn`]) and borrowed
//! descriptors ([`Barrier::as_fds`]).
//!
//! **Linux only.** It is built on eventfd, `pipe2`, `ppoll`, epoll, memfd
//! and `/proc/self/fd`; on any other target the crate fails to compile with
//! an error that says so.
//!
//! # Example
//!
//! A parent and the child it forks pass two sync points together; then the
//! child exits, and the parent sees the exit as the child's abort.
//!
//! ```
//! use barrier_core::{Barrier, Error, Role};
//!
//! let mut barrier = Barrier::new()?;
//! // SAFETY: this program has one thread; the child only uses the barrier
//! // (which is async-signal-safe, see below) and leaves with _exit().
//! let pid = unsafe { libc::fork() };
//! assert!(pid >= 0, "fork failed");
//! if pid == 0 {
//!     barrier.set_role(Role::Child);
//!     let ok = barrier.place_and_sync().is_ok() && barrier.place_and_sync().is_ok();
//!     // SAFETY: _exit ends the child without running the parent's destructors.
//!     unsafe { libc::_exit(if ok { 0 } else { 1 }) };
//! }
//! barrier.set_role(Role::Parent);
//! barrier.place_and_sync()?; // both reached the first point
//! barrier.place_and_sync()?; // and the second
//! // The child has nothing more to place: its exit is what ends this wait.
//! assert_eq!(barrier.wait_next(), Err(Error::Aborted));
//! assert!(barrier.state().they_aborted());
//!
//! let mut status = 0;
//! // SAFETY: status is a valid out-pointer and pid is our child.
//! assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
//! assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
//! # Ok::<(), Error>(())
//! ```
//!
//! In `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! barrier-core = "0.1"
//! ```
//!
//! # Threads
//!
//! One end is one party: it must not be used from two threads at once.
//! Every call that changes an end takes `&mut self`, so safe Rust cannot
//! do it; [`Barrier`] is `Send`, so an end may move to another thread.
//! In C (and through [`RawBarrier`]) nothing stops it, and the outcome of
//! two concurrent calls on one object is undefined: the counter is a plain
//! integer, and two readers would take each other's barriers. For two
//! threads of one process make two ends with [`Barrier::pair`], one per
//! thread.
//!
//! # Signals
//!
//! No call returns early because of a signal. A wait interrupted by a
//! signal handler (`EINTR`, with or without `SA_RESTART`) goes on waiting,
//! a bounded one for the rest of its time, measured on the monotonic
//! clock; a write interrupted the same way is retried. The waits leave the
//! signal mask alone. To stop a wait from elsewhere, use the bounded
//! calls, or let the other side abort or exit.
//!
//! # Async-signal-safety
//!
//! Every call is made of syscalls (`eventfd2`, `pipe2`, `close`, `read`,
//! `write`, `ppoll`, `fcntl`, `clock_gettime`; for groups also
//! `memfd_create`, `ftruncate`, `mmap`, `munmap` and `epoll_*`) on the
//! object's own descriptors and memory: none allocates, takes a lock, or
//! touches state shared with other threads. So these may run where only
//! async-signal-safe functions may, such as in the child of `fork()` in a
//! multithreaded program, before `execve()`, or in a signal handler that
//! uses an object the interrupted code is not using:
//!
//! - [`Barrier`]: `new`, `pair`, `set_role`, `place`, `abort`, every wait
//!   (bounded or not), `place_and_sync`, `state`, `pollfds`, `as_raw`,
//!   `into_raw`, `from_raw`, and dropping it;
//! - [`RawBarrier`]: every method except `import_env`, including
//!   [`RawBarrier::export_env`], which prepares an end for `execve()`;
//! - [`Group`] and [`RawGroup`]: every method except `from_env`, `spawn`,
//!   `import_env` and `import_env_mapped`; making and dropping a group
//!   (and, in C, `barrier_group_new` and `barrier_group_free`) also map and
//!   unmap memory with `mmap` and `munmap`, system calls that take no lock in
//!   user space, safe on Linux though not on POSIX's list;
//! - the C library: every function except `barrier_import_env` and
//!   `barrier_group_import_env`.
//!
//! Not async-signal-safe: [`Barrier::from_env`] and
//! [`RawBarrier::import_env`] (`barrier_import_env`), and their group
//! counterparts (`Group::from_env`, [`RawGroup::import_env`],
//! `barrier_group_import_env`), which read and change the environment;
//! [`Barrier::spawn`] and `Group::spawn`, which use `std::process`; and the
//! conversion of an [`Error`] into `std::io::Error`, which may allocate.
//! The C suite's `test-noalloc` checks that no call allocates (and that
//! only those that make, import or free a group map memory), and forks
//! from a process whose other thread holds the allocator's lock to run the
//! C calls on this list in the child.
//!
//! # The raw types
//!
//! [`RawBarrier`]'s `unsafe` methods read, write, close or change the flags
//! of the descriptors the object names. Their common contract: every
//! non-negative descriptor in the object is open and owned by it, so that
//! nothing else in the process closes it or uses it other than through
//! this object. [`Barrier`] upholds this for Rust code; the C library's
//! contract with its callers (an object initialised with `BARRIER_NULL` or
//! by the library) does the same for C. [`RawGroup`] keeps its fields
//! private and needs no such contract, except where it takes descriptors
//! over from the environment.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "barrier-core supports Linux only: it is built on eventfd, pipe2, ppoll and /proc/self/fd"
);

#[cfg(feature = "std")]
extern crate std;

mod barrier;
mod error;
mod group;
#[cfg(feature = "std")]
mod spawn;
mod sys;
mod text;
mod time;

#[cfg(feature = "tokio")]
pub use barrier::AsyncBarrier;
pub use barrier::{Barrier, RawBarrier, Role, State};
pub use error::{Errno, Error, Misuse};
pub use group::{Group, Knowledge, RawGroup};
pub use time::INFINITY;

/// Defines a `#[panic_handler]` that aborts, unless this crate was built
/// with its `std` feature, in which case std provides the handler.
///
/// For no_std libraries built on this crate (such as the C library): the
/// decision must follow this crate's features, which a workspace build may
/// turn on for every crate at once.
///
/// Not part of the public API: it exists for the C library of this
/// workspace and may change in any release.
#[cfg(not(feature = "std"))]
#[doc(hidden)]
#[macro_export]
macro_rules! panic_handler_unless_std {
    () => {
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
            // SAFETY: abort takes no arguments and never returns.
            unsafe { $crate::__libc::abort() }
        }
    };
}

/// Defines a `#[panic_handler]` that aborts, unless this crate was built
/// with its `std` feature, in which case std provides the handler.
///
/// Not part of the public API: it exists for the C library of this
/// workspace and may change in any release.
#[cfg(feature = "std")]
#[doc(hidden)]
#[macro_export]
macro_rules! panic_handler_unless_std {
    () => {};
}

#[doc(hidden)]
pub use libc as __libc;
