//! The owned, safe Rust API.

use crate::error::Error;
use crate::raw::{self, RawBarrier};
use crate::state::State;
use core::time::Duration;

/// Which side of the barrier a process (or thread) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Role {
    /// Keeps the read end of the exit-detection pipe.
    Parent = raw::PARENT,
    /// Keeps the write end of the exit-detection pipe.
    Child = raw::CHILD,
}

/// One end of a two-party barrier, owning its descriptors.
///
/// Create it, fork, and call [`Barrier::set_role`] on each side. Each side
/// then places numbered sync points and waits for the other side to reach
/// them. Dropping it closes its descriptors, which the other side notices
/// as an abort once it has consumed every barrier placed before.
///
/// ```no_run
/// use barrier_core::{Barrier, Role};
///
/// let mut barrier = Barrier::new()?;
/// // SAFETY: the child only syncs and exits.
/// match unsafe { libc::fork() } {
///     0 => {
///         barrier.set_role(Role::Child);
///         let ok = barrier.place_and_sync().is_ok();
///         unsafe { libc::_exit(if ok { 0 } else { 1 }) };
///     }
///     pid if pid > 0 => {
///         barrier.set_role(Role::Parent);
///         barrier.place_and_sync()?;
///     }
///     _ => panic!("fork failed"),
/// }
/// # Ok::<(), barrier_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Barrier {
    raw: RawBarrier,
}

fn usec(timeout: Duration) -> u64 {
    // u64::MAX microseconds is over half a million years: as good as no bound.
    u64::try_from(timeout.as_micros()).unwrap_or(raw::INFINITY)
}

impl Barrier {
    /// Creates both ends in this process, roles not yet set.
    pub fn new() -> Result<Barrier, Error> {
        let mut raw = RawBarrier::NULL;
        raw.create().map_err(Error::Os)?;
        Ok(Barrier { raw })
    }

    /// Takes this side's role; call it once, right after fork. Later calls
    /// do nothing.
    pub fn set_role(&mut self, role: Role) {
        self.raw.set_role(role as u32);
    }

    /// The current state: counter or aborted.
    pub fn state(&self) -> State {
        self.raw.state()
    }

    /// Places a barrier for the other side to wait for.
    pub fn place(&mut self) -> Result<(), Error> {
        self.raw.place()
    }

    /// Aborts this side: every wait of the other side fails from now on.
    /// `Err(Error::Aborted)` if they had already aborted.
    pub fn abort(&mut self) -> Result<(), Error> {
        self.raw.abort()
    }

    /// Waits until at least one more barrier of theirs arrives.
    pub fn wait_next(&mut self) -> Result<(), Error> {
        self.raw.wait_next(raw::INFINITY)
    }

    /// [`Barrier::wait_next`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn wait_next_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.wait_next(usec(timeout))
    }

    /// Waits until they abort, exit or crash. `Err(Error::Aborted)` if we
    /// aborted as well.
    pub fn wait_abortion(&mut self) -> Result<(), Error> {
        self.raw.wait_abortion(raw::INFINITY)
    }

    /// [`Barrier::wait_abortion`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn wait_abortion_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.wait_abortion(usec(timeout))
    }

    /// Waits for their next barrier that matches one of ours; returns at
    /// once if none of ours is unmatched.
    pub fn sync_next(&mut self) -> Result<(), Error> {
        self.raw.sync_next(raw::INFINITY)
    }

    /// [`Barrier::sync_next`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn sync_next_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.sync_next(usec(timeout))
    }

    /// Waits until they placed at least as many barriers as we did.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.raw.sync(raw::INFINITY)
    }

    /// [`Barrier::sync`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn sync_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.sync(usec(timeout))
    }

    /// Places a barrier, then syncs.
    pub fn place_and_sync(&mut self) -> Result<(), Error> {
        self.raw.place_and_sync(raw::INFINITY)
    }

    /// Borrows the C structure, for code that needs its descriptors.
    pub fn as_raw(&self) -> &RawBarrier {
        &self.raw
    }

    /// Gives up ownership: the caller must destroy the returned structure.
    pub fn into_raw(self) -> RawBarrier {
        let me = core::mem::ManuallyDrop::new(self);
        RawBarrier { ..me.raw }
    }

    /// Takes ownership of a structure made by [`Barrier::into_raw`] or by
    /// the C library.
    ///
    /// # Safety
    /// Every non-negative descriptor in `raw` must be open and owned by the
    /// caller, who gives up that ownership here.
    pub unsafe fn from_raw(raw: RawBarrier) -> Barrier {
        Barrier { raw }
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        self.raw.destroy();
    }
}
