//! The owned, safe Rust API of a group.

#[cfg(feature = "std")]
use super::env;
use super::raw::RawGroup;
use crate::error::Error;
use crate::time::{usec, INFINITY};
use core::time::Duration;
use libc::pollfd;

/// One member's handle on an N-party barrier, owning its descriptors.
///
/// Create it with [`Group::new`], fork the other members, and have every
/// member, the creator included, [`join`](Group::join) under a rank of its
/// own after the last fork. Members then place barriers and sync: a sync
/// returns once every other member placed at least as many. Any member can
/// abort all the others, and a member that exits or crashes counts as
/// aborted as soon as a wait needs more barriers than it placed. Dropping
/// the handle is, for the others, an exit.
///
/// ```no_run
/// use barrier_core::Group;
///
/// let mut group = Group::new(3)?;
/// for rank in 1..3 {
///     // SAFETY: each child only uses the group and leaves with _exit().
///     if unsafe { libc::fork() } == 0 {
///         group.join(rank)?;
///         let ok = group.place_and_sync().is_ok();
///         unsafe { libc::_exit(if ok { 0 } else { 1 }) };
///     }
/// }
/// group.join(0)?;
/// group.place_and_sync()?; // all three are here
/// # Ok::<(), barrier_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Group {
    raw: RawGroup,
}

impl Group {
    /// Makes a group of `n` members, 2 to [`RawGroup::MAX`] (64;
    /// `Misuse::GroupSize` otherwise).
    pub fn new(n: usize) -> Result<Group, Error> {
        RawGroup::create(n).map(|raw| Group { raw })
    }

    /// Becomes member `rank`, once, after every fork that creates a member.
    /// `Misuse::AlreadyJoined` if this handle joined already,
    /// `Misuse::Rank` for `rank >= n`.
    pub fn join(&mut self, rank: usize) -> Result<(), Error> {
        self.raw.join(rank)
    }

    /// The number of members.
    pub fn size(&self) -> usize {
        self.raw.size()
    }

    /// The rank joined, if any.
    pub fn rank(&self) -> Option<usize> {
        self.raw.rank()
    }

    /// Places a barrier. `Err(Aborted)` once this member observed an abort
    /// or exit, or aborted itself.
    pub fn place(&mut self) -> Result<(), Error> {
        self.raw.place()
    }

    /// Waits until every other member placed at least as many barriers as
    /// this one. `Err(Aborted)` if a member aborted, or one that exited
    /// placed too few.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.raw.sync(INFINITY)
    }

    /// [`Group::sync`], giving up with [`Error::TimedOut`] after `timeout`;
    /// nothing is lost, a later sync waits for the same barrier.
    pub fn sync_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.sync(usec(timeout))
    }

    /// Places a barrier, then syncs.
    pub fn place_and_sync(&mut self) -> Result<(), Error> {
        self.raw.place_and_sync(INFINITY)
    }

    /// [`Group::place_and_sync`] with a bounded sync; after
    /// [`Error::TimedOut`] the barrier is placed, so retry with
    /// [`Group::sync_timeout`].
    pub fn place_and_sync_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.place_and_sync(usec(timeout))
    }

    /// Aborts this member: every wait any member starts afterwards fails.
    /// `Err(Aborted)` if this member had already observed another's abort
    /// or exit; it is aborted either way.
    pub fn abort(&mut self) -> Result<(), Error> {
        self.raw.abort()
    }

    /// Waits until another member aborts, exits or crashes.
    /// `Err(Aborted)` if this member aborted too.
    pub fn wait_abortion(&mut self) -> Result<(), Error> {
        self.raw.wait_abortion(INFINITY)
    }

    /// [`Group::wait_abortion`], giving up with [`Error::TimedOut`] after
    /// `timeout`.
    pub fn wait_abortion_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.raw.wait_abortion(usec(timeout))
    }

    /// This member aborted (or a syscall of its failed).
    pub fn i_aborted(&self) -> bool {
        self.raw.knowledge().i_aborted()
    }

    /// This member saw another abort or exit.
    pub fn they_aborted(&self) -> bool {
        self.raw.knowledge().they_aborted()
    }

    /// Either of the above.
    pub fn is_aborted(&self) -> bool {
        self.raw.knowledge().is_aborted()
    }

    /// The rank of the first other member this member saw abort or exit
    /// (the lowest among those seen at once).
    pub fn aborted_by(&self) -> Option<usize> {
        self.raw.knowledge().aborted_by()
    }

    /// What an event loop watches: one entry, this member's epoll
    /// instance (`POLLIN`), the same from join to drop. Watch it only while
    /// a bounded call returns [`Error::TimedOut`]; when it fires, call that
    /// again with a zero timeout; stop after it returns anything else.
    /// `Misuse::NotJoined` before join.
    pub fn pollfds(&self) -> Result<[pollfd; 1], Error> {
        self.raw.pollfds()
    }

    /// Borrows the handle's protocol layer.
    pub fn as_raw(&self) -> &RawGroup {
        &self.raw
    }

    /// In a program started by `execve()`: takes over the member that the
    /// `BARRIER_GROUP` variable describes (see [`Group::spawn`] and the C
    /// function `barrier_group_export_env`), and removes the variable.
    ///
    /// `Misuse::Unset` if it is unset, `Misuse::Malformed` if it is
    /// malformed, `Misuse::Foreign` if a descriptor is closed or of the
    /// wrong kind.
    ///
    /// # Safety
    /// The descriptors the variable names must belong to nothing else in
    /// this process, and no other thread may read or change the
    /// environment meanwhile.
    pub unsafe fn from_env() -> Result<Group, Error> {
        // SAFETY: forwarded from the caller.
        unsafe { RawGroup::import_env() }.map(|raw| Group { raw })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.raw.destroy();
    }
}

#[cfg(feature = "std")]
impl Group {
    /// Spawns `command` as member `rank` of this group, which this handle
    /// must not have joined. The program takes its membership with
    /// [`Group::from_env`] (or `barrier_group_import_env` in C). Spawn
    /// every member, then join (or drop this handle, if it is not a
    /// member). The rank is the spawned member's from now on: a later
    /// `join` or `spawn` under it answers `Misuse::RankTaken`, unless the
    /// program could not be started. Use the command for one spawn only.
    ///
    /// ```no_run
    /// use barrier_core::Group;
    /// use std::process::Command;
    ///
    /// let mut group = Group::new(3)?;
    /// let mut workers = Vec::new();
    /// for rank in 1..3 {
    ///     workers.push(group.spawn(rank, &mut Command::new("/usr/libexec/my-worker"))?);
    /// }
    /// group.join(0)?;
    /// group.place_and_sync()?; // every worker is up
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(
        &self,
        rank: usize,
        command: &mut std::process::Command,
    ) -> Result<std::process::Child, Error> {
        let mut value = [0u8; env::ENV_MAX];
        let mut keep = [-1; 2 * super::state::MAX + 2];
        let (len, count) = self.raw.spawn_env(rank, &mut value, &mut keep)?;
        let child = crate::spawn::spawn(command, env::VAR, &value[..len], &keep[..count]);
        if child.is_err() {
            self.raw.unclaim(rank);
        }
        child
    }

    /// The descriptor of [`Group::pollfds`], borrowed; `None` before
    /// join.
    pub fn as_fds(&self) -> Option<[std::os::fd::BorrowedFd<'_>; 1]> {
        let [p] = self.pollfds().ok()?;
        // SAFETY: the descriptor is open and owned by self, which the
        // borrow cannot outlive.
        Some([unsafe { std::os::fd::BorrowedFd::borrow_raw(p.fd) }])
    }
}
