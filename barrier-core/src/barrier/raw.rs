//! The barrier protocol, working in place on the C structure.
//!
//! [`RawBarrier`] has exactly the layout of systemd's `struct Barrier`, so
//! the C library hands the caller's pointer straight to these methods. The
//! protocol is the two primitive steps of the design, WRITE (add to our
//! eventfd) and READ (consume the other side's eventfd until the counter is
//! at or below a limit, treating a hung-up pipe as an abort), and the
//! operations built from them. The contract of its `unsafe` methods is
//! in the crate's documentation ("The raw types").

use super::state::{State, ABORTION, SINGLE};
use crate::error::{Errno, Error, Misuse};
use crate::{sys, time};
use libc::{c_int, pollfd};

/// Which side of the barrier a process (or thread) is; the values are
/// those of the C header's `BARRIER_PARENT` and `BARRIER_CHILD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Role {
    /// Keeps the read end of the exit-detection pipe.
    Parent = 0,
    /// Keeps the write end of the exit-detection pipe.
    Child = 1,
}

/// One end of a barrier, laid out as systemd's `struct Barrier`.
///
/// A negative descriptor means "no descriptor". Programs may read the
/// fields directly; a program that changes them by hand takes over the
/// responsibility for the descriptors.
//
// This comment is the C header's documentation of `struct Barrier`; the
// contract of the unsafe methods is in the crate's documentation.
#[repr(C)]
#[derive(Debug, PartialEq, Eq)]
pub struct RawBarrier {
    /// The eventfd this end writes to.
    pub me: c_int,
    /// The eventfd this end reads the other end's barriers from.
    pub them: c_int,
    /// The exit-detection pipe: read end, write end. After the role is set
    /// only one of them is kept.
    pub pipe: [c_int; 2],
    /// The state: a counter of barriers placed minus barriers consumed,
    /// or one of the reserved "aborted" values near `INT64_MIN`.
    pub barriers: i64,
}

// `RawBarrier::NULL` is defined through this macro so that cbindgen, which
// reads this crate's source for the C header without expanding macros,
// does not emit it: the header has its own `BARRIER_NULL` (cbindgen.toml).
// A `cbindgen:ignore` line in its doc comment would do the same, but would
// show in the rustdoc.
macro_rules! null_constant {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        pub const NULL: RawBarrier = RawBarrier {
            me: -1,
            them: -1,
            pipe: [-1, -1],
            barriers: 0,
        };
    };
}

impl RawBarrier {
    null_constant! {
        /// An object that holds no descriptors; `destroy` on it is a no-op.
        /// (The C header spells it `BARRIER_NULL`.)
    }

    /// Makes the two eventfds and the pipe, counter 0. Whatever the object
    /// held before is overwritten, not closed. On failure nothing is left
    /// open and the object equals [`RawBarrier::NULL`].
    pub fn create(&mut self) -> Result<(), Error> {
        *self = RawBarrier::NULL;
        let made = (|| -> Result<(), Errno> {
            self.me = sys::eventfd()?;
            self.them = sys::eventfd()?;
            self.pipe = sys::pipe()?;
            Ok(())
        })();
        if made.is_err() {
            // SAFETY: everything held was created just now.
            unsafe { self.destroy() };
        }
        made.map_err(Error::Os)
    }

    /// Makes two ready ends with their roles set, each owning its own
    /// descriptors (3 each), for two threads or to hand one end to another
    /// process. Closing one end's descriptors is, for the other end, the
    /// other side exiting. On failure both are [`RawBarrier::NULL`] and
    /// nothing is left open.
    pub fn create_pair(parent: &mut RawBarrier, child: &mut RawBarrier) -> Result<(), Error> {
        *child = RawBarrier::NULL;
        parent.create()?;
        let made = (|| -> Result<(), Errno> {
            child.me = sys::dup_cloexec(parent.them)?;
            child.them = sys::dup_cloexec(parent.me)?;
            Ok(())
        })();
        if let Err(errno) = made {
            // SAFETY: everything held was created just now.
            unsafe {
                parent.destroy();
                child.destroy();
            }
            return Err(Error::Os(errno));
        }
        child.pipe = [-1, parent.pipe[1]];
        parent.pipe[1] = -1;
        Ok(())
    }

    /// Closes every descriptor held and resets the object to
    /// [`RawBarrier::NULL`]. Safe to repeat.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn destroy(&mut self) {
        self.me = sys::close(self.me);
        self.them = sys::close(self.them);
        self.pipe = [sys::close(self.pipe[0]), sys::close(self.pipe[1])];
        self.barriers = 0;
    }

    /// Takes one side's role, right after fork: the parent keeps the pipe's
    /// read end, the child its write end and swaps the eventfds. A no-op if
    /// the role was already set or the object holds no pipe.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn set_role(&mut self, role: Role) {
        if self.pipe[0] < 0 || self.pipe[1] < 0 {
            return;
        }
        match role {
            Role::Parent => self.pipe[1] = sys::close(self.pipe[1]),
            Role::Child => {
                self.pipe[0] = sys::close(self.pipe[0]);
                core::mem::swap(&mut self.me, &mut self.them);
            }
        }
    }

    /// The pipe end this side keeps: [`Misuse::NoRole`] before the role is
    /// set (both ends held), [`Misuse::NoDescriptor`] if it holds neither.
    fn hangup_fd(&self) -> Result<c_int, Misuse> {
        match self.pipe {
            [r, w] if r >= 0 && w >= 0 => Err(Misuse::NoRole),
            [r, w] if r < 0 && w < 0 => Err(Misuse::NoDescriptor),
            [r, w] => Ok(r.max(w)),
        }
    }

    /// What to watch for this end to make progress: first our pipe end,
    /// whose hang-up or error (reported whatever the events asked) means the
    /// other side is gone, then the other side's eventfd, for input.
    ///
    /// The order matters to the wait itself: poll() looks at the entries in
    /// turn, so a hang-up it reports on the first was in place before it
    /// looked at the second, and any barrier placed before that exit is
    /// seen there too.
    ///
    /// [`Misuse::NoRole`] before the role is set;
    /// [`Misuse::NoDescriptor`] if a descriptor is missing.
    pub fn pollfds(&self) -> Result<[pollfd; 2], Error> {
        let hup_fd = self.hangup_fd()?;
        if self.them < 0 {
            return Err(Misuse::NoDescriptor.into());
        }
        Ok(Self::watch(hup_fd, self.them))
    }

    /// The entries of [`RawBarrier::pollfds`], in their order.
    fn watch(hup_fd: c_int, them: c_int) -> [pollfd; 2] {
        [
            pollfd {
                fd: hup_fd,
                events: libc::POLLHUP,
                revents: 0,
            },
            pollfd {
                fd: them,
                events: libc::POLLIN,
                revents: 0,
            },
        ]
    }

    /// The current state.
    pub fn state(&self) -> State {
        State::from_raw(self.barriers)
    }

    fn update(&mut self, change: impl FnOnce(&mut State)) {
        let mut state = self.state();
        change(&mut state);
        self.barriers = state.raw();
    }

    /// An unrecoverable error: closing our pipe end is what tells the other
    /// side, and both directions count as aborted from now on.
    #[cold]
    fn fail(&mut self, errno: Errno) -> Error {
        self.pipe = [sys::close(self.pipe[0]), sys::close(self.pipe[1])];
        self.update(State::failed);
        Error::Os(errno)
    }

    /// WRITE: adds `value` to our eventfd and records it.
    ///
    /// Inline, as `read` and `wait_until` below: around a syscall of a
    /// few hundred nanoseconds, every call and register save on the way
    /// there is what the library costs over the bare syscalls. What is
    /// rare stays out of line: the retries, `fail`, and the wait itself.
    #[inline]
    fn write(&mut self, value: u64) -> Result<(), Error> {
        if self.state().i_aborted() {
            return Err(Error::Aborted);
        }
        if let Err(errno) = sys::write_u64(self.me, value) {
            return Err(self.fail(errno));
        }
        self.update(|s| s.wrote(value));
        Ok(())
    }

    /// READ: consumes what the other side wrote until the state is at or
    /// below `limit`, they abort, or `usec` microseconds pass.
    ///
    /// The checks that need no syscall are here, inline; the wait itself
    /// is [`RawBarrier::wait`].
    #[inline]
    fn read(&mut self, limit: i64, usec: u64) -> Result<(), Error> {
        if self.state().they_aborted() {
            return Ok(());
        }
        // Before the role is set (NoRole), or on an object that holds
        // nothing (NoDescriptor), a wait is refused outright, even one that
        // would not need to block, so misuse shows at once.
        let hup_fd = self.hangup_fd()?;
        if self.state().reached(limit) {
            return Ok(());
        }
        self.wait(hup_fd, limit, usec)
    }

    /// The waiting part of READ, for a state above `limit`: polls `hup_fd`
    /// (our pipe end) and their eventfd, and consumes what they wrote.
    ///
    /// The eventfd always wins over the pipe's hang-up, and is polled after
    /// it (see [`RawBarrier::pollfds`]), so an exit never hides barriers
    /// placed before it.
    #[inline(never)]
    fn wait(&mut self, hup_fd: c_int, limit: i64, usec: u64) -> Result<(), Error> {
        if self.them < 0 {
            return Err(self.fail(libc::EBADF));
        }
        let deadline = time::deadline(usec);
        // The descriptors stay the same for the whole wait: only `fail`
        // changes them, and it ends the wait.
        let mut fds = Self::watch(hup_fd, self.them);
        loop {
            let timeout =
                deadline.map(|d| time::timespec_from_nsec(d.saturating_sub(sys::now_nsec())));
            match sys::poll(&mut fds, timeout) {
                Ok(0) => {
                    if deadline.is_some_and(|d| sys::now_nsec() >= d) {
                        return Err(Error::TimedOut);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(libc::EINTR) | Err(libc::EAGAIN) => continue,
                Err(errno) => return Err(self.fail(errno)),
            }
            let (pipe, eventfd) = (fds[0].revents, fds[1].revents);
            if (pipe | eventfd) & libc::POLLNVAL != 0 {
                return Err(self.fail(libc::EBADF));
            }
            let value = if eventfd != 0 {
                match sys::read_u64(fds[1].fd) {
                    Ok(Some(value)) => value,
                    Ok(None) => continue,
                    Err(errno) => return Err(self.fail(errno)),
                }
            } else if pipe & (libc::POLLHUP | libc::POLLERR) != 0 {
                ABORTION as u64
            } else {
                continue;
            };
            self.update(|s| s.received(value));
            if self.state().reached(limit) {
                return Ok(());
            }
        }
    }

    /// A wait that first refuses when anything aborted, then reads to
    /// `limit`, and succeeds unless anything aborted meanwhile.
    #[inline]
    fn wait_until(&mut self, limit: fn(State) -> i64, usec: u64) -> Result<(), Error> {
        if self.state().is_aborted() {
            return Err(Error::Aborted);
        }
        self.read(limit(self.state()), usec)?;
        if self.state().is_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Places a barrier. Fails if either side aborted or the write failed.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn place(&mut self) -> Result<(), Error> {
        if self.state().is_aborted() {
            return Err(Error::Aborted);
        }
        self.write(SINGLE as u64)
    }

    /// Aborts this side (a no-op if it already did). Fails with
    /// [`Error::Aborted`] if the other side had aborted, or with the errno
    /// of a failed write.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn abort(&mut self) -> Result<(), Error> {
        if let Err(e @ Error::Os(_)) = self.write(ABORTION as u64) {
            return Err(e);
        }
        if self.state().they_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Waits until at least one more barrier of theirs arrives, whatever we
    /// placed.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn wait_next(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(State::next_limit, usec)
    }

    /// Waits until they abort or exit. Our own abort never ends this wait;
    /// it succeeds unless we aborted too.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn wait_abortion(&mut self, usec: u64) -> Result<(), Error> {
        self.read(State::ABORTION_LIMIT, usec)?;
        if self.state().i_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Waits for their next barrier that matches one of ours; returns at
    /// once if none of ours is unmatched.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn sync_next(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(State::sync_next_limit, usec)
    }

    /// Waits until they placed at least as many barriers as we did.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn sync(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(|_| State::SYNC_LIMIT, usec)
    }

    /// Places a barrier, then syncs.
    ///
    /// # Safety
    /// See [the raw types](crate#the-raw-types).
    pub unsafe fn place_and_sync(&mut self, usec: u64) -> Result<(), Error> {
        // SAFETY: forwarded from the caller.
        unsafe { self.place()? };
        // SAFETY: forwarded from the caller.
        unsafe { self.sync(usec) }
    }
}
