//! The barrier protocol, working in place on the C structure.
//!
//! [`RawBarrier`] has exactly the layout of systemd's `struct Barrier`, so
//! the C library hands the caller's pointer straight to these methods. The
//! protocol is the two primitive steps of the design, WRITE (add to our
//! eventfd) and READ (consume the other side's eventfd until the counter is
//! at or below a limit, treating a hung-up pipe as an abort), and the
//! operations built from them.

use crate::error::Error;
use crate::state::{State, ABORTION, SINGLE};
use crate::sys::{self, Errno};
use libc::{c_int, c_uint, pollfd};

/// Role value of the process that keeps the pipe's read end.
pub const PARENT: c_uint = 0;
/// Role value of the process that keeps the pipe's write end.
pub const CHILD: c_uint = 1;

/// A timeout meaning "wait without a bound", in microseconds.
pub const INFINITY: u64 = u64::MAX;

/// One end of a barrier, laid out as systemd's `struct Barrier`.
///
/// A negative descriptor means "no descriptor". The fields are public
/// because C callers read them directly; code that changes them by hand
/// takes over the responsibility for the descriptors.
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

impl RawBarrier {
    /// An object that holds no descriptors; `destroy` on it is a no-op.
    /// (The C header spells it `BARRIER_NULL`.)
    ///
    /// cbindgen:ignore
    pub const NULL: RawBarrier = RawBarrier {
        me: -1,
        them: -1,
        pipe: [-1, -1],
        barriers: 0,
    };

    /// Makes the two eventfds and the pipe, counter 0. Whatever the object
    /// held before is overwritten, not closed. On failure nothing is left
    /// open and the object equals [`RawBarrier::NULL`].
    pub fn create(&mut self) -> Result<(), Errno> {
        *self = RawBarrier::NULL;
        let made = (|| {
            self.me = sys::eventfd()?;
            self.them = sys::eventfd()?;
            self.pipe = sys::pipe()?;
            Ok(())
        })();
        if made.is_err() {
            self.destroy();
        }
        made
    }

    /// Closes every descriptor held and resets the object to
    /// [`RawBarrier::NULL`]. Safe to repeat.
    pub fn destroy(&mut self) {
        self.me = sys::close(self.me);
        self.them = sys::close(self.them);
        self.pipe = [sys::close(self.pipe[0]), sys::close(self.pipe[1])];
        self.barriers = 0;
    }

    /// Takes one side's role, right after fork: the parent keeps the pipe's
    /// read end, the child its write end and swaps the eventfds. A no-op if
    /// the role was already set, the object holds no pipe, or `role` is
    /// neither [`PARENT`] nor [`CHILD`].
    pub fn set_role(&mut self, role: c_uint) {
        if self.pipe[0] < 0 || self.pipe[1] < 0 {
            return;
        }
        match role {
            PARENT => self.pipe[1] = sys::close(self.pipe[1]),
            CHILD => {
                self.pipe[0] = sys::close(self.pipe[0]);
                core::mem::swap(&mut self.me, &mut self.them);
            }
            _ => {}
        }
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
    fn fail(&mut self, errno: Errno) -> Error {
        self.pipe = [sys::close(self.pipe[0]), sys::close(self.pipe[1])];
        self.update(State::failed);
        Error::Os(errno)
    }

    /// WRITE: adds `value` to our eventfd and records it.
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
    /// The eventfd is always drained before the pipe is looked at, so an
    /// exit never hides barriers placed before it.
    fn read(&mut self, limit: i64, usec: u64) -> Result<(), Error> {
        if self.state().they_aborted() {
            return Ok(());
        }
        // Exactly one pipe end is kept once the role is set. Before that (or
        // on an object that holds nothing) a wait is refused outright, even
        // one that would not need to block, so misuse shows at once.
        let hup_fd = match self.pipe {
            [r, w] if r >= 0 && w < 0 => r,
            [r, w] if r < 0 && w >= 0 => w,
            _ => return Err(Error::Os(libc::EINVAL)),
        };
        if self.them < 0 {
            return Err(self.fail(libc::EBADF));
        }
        let deadline = (usec != INFINITY).then(|| sys::now_usec().saturating_add(usec));
        while !self.state().reached(limit) {
            let mut fds = [
                pollfd {
                    fd: hup_fd,
                    events: libc::POLLHUP,
                    revents: 0,
                },
                pollfd {
                    fd: self.them,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let timeout =
                deadline.map(|d| sys::timespec_from_usec(d.saturating_sub(sys::now_usec())));
            match sys::poll(&mut fds, timeout) {
                Ok(0) => {
                    if deadline.is_some_and(|d| sys::now_usec() >= d) {
                        return Err(Error::TimedOut);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(libc::EINTR) | Err(libc::EAGAIN) => continue,
                Err(errno) => return Err(self.fail(errno)),
            }
            if (fds[0].revents | fds[1].revents) & libc::POLLNVAL != 0 {
                return Err(self.fail(libc::EBADF));
            }
            let value = if fds[1].revents != 0 {
                match sys::read_u64(self.them) {
                    Ok(Some(value)) => value,
                    Ok(None) => continue,
                    Err(errno) => return Err(self.fail(errno)),
                }
            } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                ABORTION as u64
            } else {
                continue;
            };
            self.update(|s| s.received(value));
        }
        Ok(())
    }

    /// A wait that first refuses when anything aborted, then reads to
    /// `limit`, and succeeds unless anything aborted meanwhile.
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
    pub fn place(&mut self) -> Result<(), Error> {
        if self.state().is_aborted() {
            return Err(Error::Aborted);
        }
        self.write(SINGLE as u64)
    }

    /// Aborts this side (a no-op if it already did). Fails with
    /// [`Error::Aborted`] if the other side had aborted, or with the errno
    /// of a failed write.
    pub fn abort(&mut self) -> Result<(), Error> {
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
    pub fn wait_next(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(State::next_limit, usec)
    }

    /// Waits until they abort or exit. Our own abort never ends this wait;
    /// it succeeds unless we aborted too.
    pub fn wait_abortion(&mut self, usec: u64) -> Result<(), Error> {
        self.read(State::ABORTION_LIMIT, usec)?;
        if self.state().i_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Waits for their next barrier that matches one of ours; returns at
    /// once if none of ours is unmatched.
    pub fn sync_next(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(State::sync_next_limit, usec)
    }

    /// Waits until they placed at least as many barriers as we did.
    pub fn sync(&mut self, usec: u64) -> Result<(), Error> {
        self.wait_until(|_| State::SYNC_LIMIT, usec)
    }

    /// Places a barrier, then syncs.
    pub fn place_and_sync(&mut self, usec: u64) -> Result<(), Error> {
        self.place()?;
        self.sync(usec)
    }
}
