//! The owned, safe Rust API.

#[cfg(feature = "std")]
use super::env;
use super::raw::RawBarrier;
pub use super::raw::Role;
use super::state::State;
use crate::error::Error;
#[cfg(feature = "std")]
use crate::error::Misuse;
use crate::time::{usec, INFINITY};
use core::time::Duration;

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

impl Barrier {
    /// Creates both ends in this process, roles not yet set.
    pub fn new() -> Result<Barrier, Error> {
        let mut raw = RawBarrier::NULL;
        raw.create()?;
        Ok(Barrier { raw })
    }

    /// Takes this side's role; call it once, right after fork. Later calls
    /// do nothing.
    pub fn set_role(&mut self, role: Role) {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.set_role(role) };
    }

    /// The current state: counter or aborted.
    pub fn state(&self) -> State {
        self.raw.state()
    }

    /// Places a barrier for the other side to wait for.
    pub fn place(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.place() }
    }

    /// Aborts this side: every wait of the other side fails from now on.
    /// `Err(Error::Aborted)` if they had already aborted.
    pub fn abort(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.abort() }
    }

    /// Waits until at least one more barrier of theirs arrives.
    pub fn wait_next(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.wait_next(INFINITY) }
    }

    /// [`Barrier::wait_next`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn wait_next_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.wait_next(usec(timeout)) }
    }

    /// Waits until they abort, exit or crash. `Err(Error::Aborted)` if we
    /// aborted as well.
    pub fn wait_abortion(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.wait_abortion(INFINITY) }
    }

    /// [`Barrier::wait_abortion`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn wait_abortion_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.wait_abortion(usec(timeout)) }
    }

    /// Waits for their next barrier that matches one of ours; returns at
    /// once if none of ours is unmatched.
    pub fn sync_next(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.sync_next(INFINITY) }
    }

    /// [`Barrier::sync_next`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn sync_next_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.sync_next(usec(timeout)) }
    }

    /// Waits until they placed at least as many barriers as we did.
    pub fn sync(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.sync(INFINITY) }
    }

    /// [`Barrier::sync`], giving up with [`Error::TimedOut`] after `timeout`.
    pub fn sync_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.sync(usec(timeout)) }
    }

    /// Places a barrier, then syncs.
    pub fn place_and_sync(&mut self) -> Result<(), Error> {
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.place_and_sync(INFINITY) }
    }

    /// Two ready ends, `(parent, child)`, with roles set and each owning its
    /// own descriptors: for two threads of one process, or to hand one end
    /// to another process. Dropping one end is, for the other, the other
    /// side exiting.
    ///
    /// ```
    /// use barrier_core::Barrier;
    ///
    /// let (mut parent, mut child) = Barrier::pair()?;
    /// let worker = std::thread::spawn(move || {
    ///     child.wait_next()?;
    ///     child.place()
    /// });
    /// parent.place_and_sync()?;
    /// worker.join().unwrap()?;
    /// # Ok::<(), barrier_core::Error>(())
    /// ```
    pub fn pair() -> Result<(Barrier, Barrier), Error> {
        let (mut parent, mut child) = (RawBarrier::NULL, RawBarrier::NULL);
        RawBarrier::create_pair(&mut parent, &mut child)?;
        Ok((Barrier { raw: parent }, Barrier { raw: child }))
    }

    /// What an event loop should watch for this end, in this order: our
    /// pipe end (`POLLHUP`; hang-up and error are reported whatever the
    /// events ask), then the other side's eventfd (`POLLIN`). When either
    /// entry reports an event, a bounded call with a zero timeout makes
    /// progress without blocking. `Err(Error::Misuse(Misuse::NoRole))`
    /// before the role is set.
    pub fn pollfds(&self) -> Result<[libc::pollfd; 2], Error> {
        self.raw.pollfds()
    }

    /// In a program started by execve(): takes over the end that the
    /// `BARRIER_FDS` variable describes (see [`Barrier::spawn`] and the C
    /// function `barrier_export_env`), and removes the variable.
    ///
    /// `Misuse::Unset` if it is unset, `Misuse::Malformed` if it is
    /// malformed, `Misuse::Foreign` if a descriptor is closed or of the
    /// wrong kind.
    /// Call it early, before starting threads.
    ///
    /// # Safety
    /// The descriptors the variable names must belong to nothing else in
    /// this process (the returned barrier owns them), and no other thread
    /// may read or change the environment meanwhile.
    pub unsafe fn from_env() -> Result<Barrier, Error> {
        let mut raw = RawBarrier::NULL;
        // SAFETY: forwarded from the caller.
        unsafe { raw.import_env() }?;
        Ok(Barrier { raw })
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
        // SAFETY: a Barrier owns the descriptors it names.
        unsafe { self.raw.destroy() };
    }
}

#[cfg(feature = "std")]
impl Barrier {
    /// Spawns `command` as the other side of this barrier, which must be
    /// fresh from [`Barrier::new`] (roles not set). The spawned program
    /// takes its end with [`Barrier::from_env`] (or `barrier_import_env`
    /// in C); this end becomes the parent.
    ///
    /// It sets `BARRIER_FDS` in the command's environment and makes the
    /// child end's descriptors survive execve() in the forked process, so
    /// use the command for one spawn only.
    ///
    /// ```no_run
    /// use barrier_core::Barrier;
    /// use std::process::Command;
    ///
    /// let mut barrier = Barrier::new()?;
    /// let mut child = barrier.spawn(&mut Command::new("/usr/libexec/my-helper"))?;
    /// barrier.place_and_sync()?; // the helper is up
    /// child.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(
        &mut self,
        command: &mut std::process::Command,
    ) -> Result<std::process::Child, Error> {
        let [r, w] = self.raw.pipe;
        // A fresh barrier holds both pipe ends.
        if r < 0 || w < 0 {
            return Err(Misuse::NotFresh.into());
        }
        // What the child would hold after fork() and set_role(CHILD); its
        // copy of the read end is close-on-exec, so execve() drops it.
        let child_end = RawBarrier {
            me: self.raw.them,
            them: self.raw.me,
            pipe: [-1, w],
            barriers: self.raw.barriers,
        };
        let mut value = [0u8; env::ENV_MAX];
        let len = env::format_value(&child_end, &mut value).ok_or(Misuse::BufferTooSmall)?;
        let keep = [child_end.me, child_end.them, w];
        let child = crate::spawn::spawn(command, env::VAR, &value[..len], &keep)?;
        self.set_role(Role::Parent);
        Ok(child)
    }

    /// The two descriptors to watch, borrowed, in the order of
    /// [`Barrier::pollfds`]: first our pipe end (hang-up: the other side is
    /// gone), then the other side's eventfd (readable: they placed or
    /// aborted). `None` before the role is set.
    pub fn as_fds(&self) -> Option<[std::os::fd::BorrowedFd<'_>; 2]> {
        let fds = self.raw.pollfds().ok()?;
        // SAFETY: both descriptors are open and owned by self, which the
        // returned borrows cannot outlive.
        Some(fds.map(|p| unsafe { std::os::fd::BorrowedFd::borrow_raw(p.fd) }))
    }
}
