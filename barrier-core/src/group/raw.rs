//! A group's protocol: the shared page, the doorbells and the pipes, and
//! the operations built on them.
//!
//! [`RawGroup`] is one member's handle. Its fields are private, so the
//! descriptors and the mapping it names are always its own; it has no
//! `Drop` (the C library keeps it in memory of its own and frees it
//! explicitly): call [`RawGroup::destroy`], or use [`super::Group`].

use super::env;
use super::logic::{self, judge, Knowledge, Peer, Verdict, Wait, MAX};
use crate::error::{Errno, Error};
use crate::sys;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use libc::{c_int, pollfd};

/// One member's slot in the shared page, on a cache line of its own: only
/// its member writes `placed`, `aborted` and `waiting`; every member reads
/// them.
#[repr(C, align(64))]
struct Slot {
    /// Barriers placed, ever.
    placed: AtomicU64,
    /// What the member waits for ([`Wait::code`]), 0 when it does not.
    waiting: AtomicU64,
    /// 1 once the member aborted or failed.
    aborted: AtomicU32,
}

/// The head of the shared page: checked by `import_env`.
#[repr(C, align(64))]
struct Head {
    magic: u64,
    n: u64,
}

/// "libbarG1" in ASCII: the shared page's format.
const MAGIC: u64 = u64::from_le_bytes(*b"libbarG1");

/// The shared page's length for `n` members: a head and `n` slots, in
/// whole pages.
fn shared_len(n: usize) -> usize {
    let bytes = core::mem::size_of::<Head>() + n * core::mem::size_of::<Slot>();
    bytes.div_ceil(4096) * 4096
}

/// When a bounded wait gives up: `None` for no bound.
fn deadline(usec: u64) -> Option<u64> {
    (usec != crate::raw::INFINITY)
        .then(|| sys::now_nsec().saturating_add(usec.saturating_mul(1000)))
}

/// The `epoll_wait` timeout for `nsec` nanoseconds: milliseconds, rounded
/// up so that a wait never ends early (the loop checks the deadline).
fn timeout_ms(nsec: u64) -> c_int {
    c_int::try_from(nsec.div_ceil(1_000_000)).unwrap_or(c_int::MAX)
}

/// The tag of a member's doorbell in its epoll instance; the pipes are
/// tagged with their member's rank.
const DOORBELL: u64 = u64::MAX;

/// One member's handle on a group.
///
/// Made by [`RawGroup::create`] (before the fork) or
/// [`RawGroup::import_env`] (after `execve()`); each process then joins it
/// under its own rank. Every method that acts on the group returns
/// `EINVAL` before [`RawGroup::join`].
#[derive(Debug)]
pub struct RawGroup {
    n: usize,
    /// The rank joined, or `None`.
    rank: Option<usize>,
    knowledge: Knowledge,
    /// Members whose pipe hung up, as this member saw.
    gone: u64,
    shared: *mut Head,
    memfd: c_int,
    /// Every member's epoll instance, which watches its doorbell and the
    /// other members' pipes. After join, only our own.
    epoll: [c_int; MAX],
    /// Every member's eventfd, rung to wake it.
    doorbell: [c_int; MAX],
    /// Read ends of the members' pipes: a hang-up means the member is
    /// gone. After join, every one but our own.
    pipe_r: [c_int; MAX],
    /// Write ends of the members' pipes. After join, only our own (until a
    /// fatal error closes it).
    pipe_w: [c_int; MAX],
}

// SAFETY: the shared page is only touched through atomics, and the
// descriptors belong to the handle, so it may move to another thread.
unsafe impl Send for RawGroup {}

impl RawGroup {
    /// A handle that holds nothing.
    const EMPTY: RawGroup = RawGroup {
        n: 0,
        rank: None,
        knowledge: Knowledge::NEW,
        gone: 0,
        shared: core::ptr::null_mut(),
        memfd: -1,
        epoll: [-1; MAX],
        doorbell: [-1; MAX],
        pipe_r: [-1; MAX],
        pipe_w: [-1; MAX],
    };

    /// Makes a group of `n` members (2 to [`MAX`]): the shared page, `n`
    /// eventfds and `n` pipes, all close-on-exec. `EINVAL` for another
    /// `n`; on any failure nothing is left open or mapped.
    pub fn create(n: usize) -> Result<RawGroup, Errno> {
        if !(2..=MAX).contains(&n) {
            return Err(libc::EINVAL);
        }
        let mut g = RawGroup {
            n,
            ..RawGroup::EMPTY
        };
        let made = (|| {
            let len = shared_len(n);
            g.memfd = sys::memfd(c"libbarrier-group", len)?;
            g.shared = sys::map(g.memfd, len)?.cast();
            // SAFETY: the page is fresh, zero-filled, and at least a Head long.
            unsafe {
                (*g.shared).magic = MAGIC;
                (*g.shared).n = n as u64;
            }
            for k in 0..n {
                g.doorbell[k] = sys::eventfd()?;
                [g.pipe_r[k], g.pipe_w[k]] = sys::pipe()?;
            }
            for k in 0..n {
                g.epoll[k] = sys::epoll()?;
                sys::epoll_add(g.epoll[k], g.doorbell[k], DOORBELL)?;
                for j in (0..n).filter(|&j| j != k) {
                    sys::epoll_add(g.epoll[k], g.pipe_r[j], j as u64)?;
                }
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(g),
            Err(errno) => {
                g.destroy();
                Err(errno)
            }
        }
    }

    /// Closes every descriptor, unmaps the shared page and leaves a handle
    /// that holds nothing. For the other members this is an exit. Safe to
    /// repeat.
    pub fn destroy(&mut self) {
        for fd in self
            .doorbell
            .iter_mut()
            .chain(self.epoll.iter_mut())
            .chain(self.pipe_r.iter_mut())
            .chain(self.pipe_w.iter_mut())
        {
            *fd = sys::close(*fd);
        }
        self.memfd = sys::close(self.memfd);
        if !self.shared.is_null() {
            // SAFETY: the page was mapped with this length, and nothing
            // refers to it once the handle lets go.
            unsafe { sys::unmap(self.shared.cast(), shared_len(self.n)) };
        }
        *self = RawGroup {
            n: self.n,
            ..RawGroup::EMPTY
        };
    }

    /// Moves the handle into memory of its own (a private anonymous
    /// mapping), for callers that keep it behind a pointer without an
    /// allocator, such as the C library. On failure the handle is
    /// destroyed.
    pub fn into_mapped(mut self) -> Result<core::ptr::NonNull<RawGroup>, Errno> {
        let mapped = sys::map(-1, core::mem::size_of::<RawGroup>())
            .map(|p| core::ptr::NonNull::new(p.cast::<RawGroup>()));
        match mapped {
            Ok(Some(p)) => {
                // SAFETY: the mapping is fresh, writable, page-aligned and
                // large enough for a RawGroup.
                unsafe { p.as_ptr().write(self) };
                Ok(p)
            }
            // A mapping at address 0 cannot be told from NULL in C; the
            // kernel does not place one there unasked.
            Ok(None) | Err(_) => {
                self.destroy();
                Err(mapped.err().unwrap_or(libc::ENOMEM))
            }
        }
    }

    /// [`RawGroup::import_env`] into memory of its own, as
    /// [`RawGroup::into_mapped`] does for a new handle; the memory is
    /// mapped first, so that a failure closes nothing.
    ///
    /// # Safety
    /// As for [`RawGroup::import_env`].
    pub unsafe fn import_env_mapped() -> Result<core::ptr::NonNull<RawGroup>, Errno> {
        let len = core::mem::size_of::<RawGroup>();
        let p = sys::map(-1, len)?.cast::<RawGroup>();
        // SAFETY: forwarded from the caller.
        let imported = unsafe { RawGroup::import_env() };
        match (imported, core::ptr::NonNull::new(p)) {
            (Ok(g), Some(p)) => {
                // SAFETY: the mapping is fresh, writable, page-aligned and
                // large enough for a RawGroup.
                unsafe { p.as_ptr().write(g) };
                Ok(p)
            }
            (imported, _) => {
                // SAFETY: mapped just now with this length; nothing uses it.
                unsafe { sys::unmap(p.cast(), len) };
                // Give the descriptors back untouched (a mapping at 0 only).
                imported.map(core::mem::forget)?;
                Err(libc::ENOMEM)
            }
        }
    }

    /// Destroys a handle made by [`RawGroup::into_mapped`] and unmaps its
    /// memory.
    ///
    /// # Safety
    /// `p` must come from [`RawGroup::into_mapped`] and not be used again.
    pub unsafe fn free_mapped(p: core::ptr::NonNull<RawGroup>) {
        // SAFETY: p points to a live handle in its own mapping (the caller's
        // contract).
        unsafe {
            (*p.as_ptr()).destroy();
            sys::unmap(p.as_ptr().cast(), core::mem::size_of::<RawGroup>());
        }
    }

    /// The number of members.
    pub fn size(&self) -> usize {
        self.n
    }

    /// The rank joined, if any.
    pub fn rank(&self) -> Option<usize> {
        self.rank
    }

    /// What this member has observed.
    pub fn knowledge(&self) -> Knowledge {
        self.knowledge
    }

    /// Becomes member `rank`: keeps its own epoll instance, the write end
    /// of its own pipe and the read ends of the others'. `EALREADY` if this handle joined already,
    /// then `EINVAL` for `rank >= n` (or a handle that holds nothing).
    pub fn join(&mut self, rank: usize) -> Result<(), Errno> {
        if self.rank.is_some() {
            return Err(libc::EALREADY);
        }
        if rank >= self.n || self.shared.is_null() {
            return Err(libc::EINVAL);
        }
        for k in 0..self.n {
            if k == rank {
                self.pipe_r[k] = sys::close(self.pipe_r[k]);
            } else {
                self.pipe_w[k] = sys::close(self.pipe_w[k]);
                self.epoll[k] = sys::close(self.epoll[k]);
            }
        }
        self.rank = Some(rank);
        Ok(())
    }

    /// Our rank, or `EINVAL` before join.
    fn me(&self) -> Result<usize, Error> {
        self.rank.ok_or(Error::Os(libc::EINVAL))
    }

    fn slot(&self, k: usize) -> &Slot {
        // SAFETY: the page holds a Head followed by n slots (shared_len),
        // stays mapped while the handle holds it, and is only touched
        // through atomics; k < n at every caller.
        unsafe { &*self.shared.add(1).cast::<Slot>().add(k) }
    }

    /// The other members, as the shared page and our record of hang-ups
    /// show them now.
    fn peers(&self, me: usize) -> impl Iterator<Item = Peer> + '_ {
        (0..self.n).filter(move |&k| k != me).map(|k| {
            let s = self.slot(k);
            Peer {
                rank: k,
                placed: s.placed.load(SeqCst),
                aborted: s.aborted.load(SeqCst) != 0,
                gone: self.gone & (1 << k) != 0,
            }
        })
    }

    /// Rings member `k`'s doorbell.
    fn ring(&self, k: usize) -> Result<(), Errno> {
        sys::write_u64(self.doorbell[k], 1)
    }

    /// Rings every other member that waits for something (for an abort).
    /// The first failure is returned; the others are still rung.
    fn ring_waiting(&self, me: usize) -> Result<(), Errno> {
        let mut result = Ok(());
        for k in (0..self.n).filter(|&k| k != me) {
            if self.slot(k).waiting.load(SeqCst) != 0 {
                if let Err(errno) = self.ring(k) {
                    result = result.and(Err(errno));
                }
            }
        }
        result
    }

    /// Marks this member aborted for everyone and wakes those that wait.
    /// If a doorbell cannot be rung, closing our pipe's write end wakes
    /// every member anyway (they see our abort flag when they look).
    fn announce_abort(&mut self, me: usize) {
        self.knowledge.aborted();
        self.slot(me).aborted.store(1, SeqCst);
        if self.ring_waiting(me).is_err() {
            self.pipe_w[me] = sys::close(self.pipe_w[me]);
        }
    }

    /// A fatal syscall error: this member's abort, for itself and for the
    /// others. Our pipe's write end is closed too, so that every member
    /// wakes even if the doorbells cannot be rung.
    #[cold]
    fn fail(&mut self, me: usize, errno: Errno) -> Error {
        self.announce_abort(me);
        self.pipe_w[me] = sys::close(self.pipe_w[me]);
        Error::Os(errno)
    }

    /// Places a barrier. `Err(Aborted)` once this member observed any
    /// abort or exit (or aborted); `Os(EINVAL)` before join; another `Os`
    /// if a doorbell could not be rung (fatal; the barrier counts as placed
    /// but this member is aborted).
    pub fn place(&mut self) -> Result<(), Error> {
        let me = self.me()?;
        if self.knowledge.is_aborted() {
            return Err(Error::Aborted);
        }
        let count = self.slot(me).placed.fetch_add(1, SeqCst) + 1;
        // Only the member that completes a level wakes those waiting for it.
        let others = || (0..self.n).filter(move |&k| k != me);
        if others().all(|k| self.slot(k).placed.load(SeqCst) >= count) {
            for k in others() {
                if logic::rings(self.slot(k).waiting.load(SeqCst), count) {
                    if let Err(errno) = self.ring(k) {
                        return Err(self.fail(me, errno));
                    }
                }
            }
        }
        Ok(())
    }

    /// Aborts this member: every wait that any member starts afterwards
    /// fails. `Err(Aborted)` if this member had already observed another
    /// member's abort or exit (it is aborted all the same); `Os(EINVAL)`
    /// before join. Repeating it is harmless.
    pub fn abort(&mut self) -> Result<(), Error> {
        let me = self.me()?;
        if !self.knowledge.i_aborted() {
            self.announce_abort(me);
        }
        if self.knowledge.they_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Waits until every other member placed at least as many barriers as
    /// this one. `Err(Aborted)` if any member aborted, or one that exited
    /// placed too few; `Err(TimedOut)` after `usec` microseconds (nothing
    /// is lost); `Os(EINVAL)` before join.
    pub fn sync(&mut self, usec: u64) -> Result<(), Error> {
        let me = self.me()?;
        if self.knowledge.is_aborted() {
            return Err(Error::Aborted);
        }
        let target = self.slot(me).placed.load(SeqCst);
        self.wait(me, Wait::Sync(target), usec)
    }

    /// [`RawGroup::place`], then [`RawGroup::sync`].
    pub fn place_and_sync(&mut self, usec: u64) -> Result<(), Error> {
        self.place()?;
        self.sync(usec)
    }

    /// Waits until another member aborts or exits; our own abort never
    /// ends it. `Ok` unless this member aborted too (`Err(Aborted)`).
    pub fn wait_abortion(&mut self, usec: u64) -> Result<(), Error> {
        let me = self.me()?;
        if !self.knowledge.they_aborted() {
            self.wait(me, Wait::Abortion, usec)?;
        }
        if self.knowledge.i_aborted() {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Ends a wait on `verdict`: `Ok` if the wait is over (for an
    /// abortion, the abort or exit it waited for was recorded), `Err` for a
    /// sync that ended on an abort or exit; `None` if still pending.
    fn conclude(&mut self, wait: Wait, verdict: Verdict) -> Option<Result<(), Error>> {
        match verdict {
            Verdict::Pending => None,
            Verdict::Done => Some(Ok(())),
            Verdict::Ended(rank) => {
                self.knowledge.saw(rank);
                Some(match wait {
                    Wait::Sync(_) => Err(Error::Aborted),
                    Wait::Abortion => Ok(()),
                })
            }
        }
    }

    /// The wait loop: look at the shared page; if nothing is decided,
    /// publish what we wait for, look again (so that a member completing
    /// it meanwhile either sees us waiting or we see its count), and sleep
    /// on our doorbell and the other members' pipes.
    ///
    /// On a timeout what we wait for stays published, so a caller that
    /// then watches the pollfds in an event loop is woken as well.
    #[inline(never)]
    fn wait(&mut self, me: usize, wait: Wait, usec: u64) -> Result<(), Error> {
        let verdict = match self.look(me, wait) {
            Ok(verdict) => verdict,
            Err(errno) => return Err(self.fail(me, errno)),
        };
        if let Some(done) = self.conclude(wait, verdict) {
            return done;
        }
        self.slot(me).waiting.store(wait.code(), SeqCst);
        let deadline = deadline(usec);
        loop {
            let verdict = match self.look(me, wait) {
                Ok(verdict) => verdict,
                Err(errno) => return Err(self.fail(me, errno)),
            };
            if let Some(done) = self.conclude(wait, verdict) {
                self.slot(me).waiting.store(0, SeqCst);
                return done;
            }
            let timeout = deadline.map_or(-1, |d| timeout_ms(d.saturating_sub(sys::now_nsec())));
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX];
            let ready = match sys::epoll_wait(self.epoll[me], &mut events, timeout) {
                Ok(0) => {
                    if deadline.is_some_and(|d| sys::now_nsec() >= d) {
                        return Err(Error::TimedOut);
                    }
                    continue;
                }
                Ok(ready) => ready,
                Err(libc::EINTR) | Err(libc::EAGAIN) => continue,
                Err(errno) => return Err(self.fail(me, errno)),
            };
            if let Err(errno) = self.take_in(me, &events[..ready]) {
                return Err(self.fail(me, errno));
            }
        }
    }

    /// One look at the other members for `wait`. A look that ends the
    /// wait first takes in the hang-ups already reported (without
    /// sleeping), so that an exit that happened before the look is seen
    /// with any abort: the lowest rank among them is the one recorded,
    /// whether or not an earlier wait happened to notice the exit.
    fn look(&mut self, me: usize, wait: Wait) -> Result<Verdict, Errno> {
        let verdict = judge(wait, self.peers(me));
        if !matches!(verdict, Verdict::Ended(_)) {
            return Ok(verdict);
        }
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX];
        match sys::epoll_wait(self.epoll[me], &mut events, 0) {
            Ok(ready) => self.take_in(me, &events[..ready])?,
            Err(libc::EINTR) => {}
            Err(errno) => return Err(errno),
        }
        Ok(judge(wait, self.peers(me)))
    }

    /// Takes in what `epoll_wait` reported: empties our doorbell, and
    /// records each member whose pipe hung up as gone, removing its pipe
    /// from our epoll instance so that it wakes nobody again.
    fn take_in(&mut self, me: usize, events: &[libc::epoll_event]) -> Result<(), Errno> {
        for ev in events {
            let tag = ev.u64;
            if tag == DOORBELL {
                sys::read_u64(self.doorbell[me])?;
            } else if let Some(k) = usize::try_from(tag).ok().filter(|&k| k < self.n && k != me) {
                if self.gone & (1 << k) == 0 {
                    self.gone |= 1 << k;
                    sys::epoll_del(self.epoll[me], self.pipe_r[k])?;
                }
            }
        }
        Ok(())
    }

    /// What an event loop watches for this member: one entry, its epoll
    /// instance (`POLLIN`), which is readable when its doorbell rang or a
    /// member it has not yet seen go hung up. The same from join to
    /// destroy. Returns how many entries were written (1). `EINVAL` before
    /// join; `ENOBUFS` if `out` is empty.
    pub fn pollfds(&self, out: &mut [pollfd]) -> Result<usize, Errno> {
        let me = self.rank.ok_or(libc::EINVAL)?;
        let slot = out.first_mut().ok_or(libc::ENOBUFS)?;
        *slot = pollfd {
            fd: self.epoll[me],
            events: libc::POLLIN,
            revents: 0,
        };
        Ok(1)
    }

    /// The descriptors a joined member holds, in the order of the
    /// environment variable: the memfd, our epoll instance, our pipe's
    /// write end (-1 after a fatal error), every doorbell, the other
    /// members' pipe read ends.
    fn held(&self, me: usize) -> impl Iterator<Item = c_int> + '_ {
        [self.memfd, self.epoll[me], self.pipe_w[me]]
            .into_iter()
            .chain(self.doorbell[..self.n].iter().copied())
            .chain(
                (0..self.n)
                    .filter(move |&k| k != me)
                    .map(|k| self.pipe_r[k]),
            )
    }

    /// Before `execve()`, for a joined member: lets its descriptors survive
    /// `execve()` and writes `BARRIER_GROUP=...` and a NUL into `buf`.
    /// Returns the length without the NUL. Async-signal-safe.
    ///
    /// `EINVAL` before join; `ENOBUFS` if `buf` is too small
    /// ([`env::ENV_MAX`] always suffices). On any error nothing changed.
    pub fn export_env(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let me = self.rank.ok_or(libc::EINVAL)?;
        let mut fds = [-1; env::FDS_MAX];
        let mut count = 0;
        for fd in self.held(me) {
            fds[count] = fd;
            count += 1;
        }
        let fds = &fds[..count];
        let text = env::Member {
            n: self.n,
            rank: me,
            knowledge: self.knowledge,
            gone: self.gone,
            fds,
        };
        let mut scratch = [0u8; env::ENV_MAX];
        let len = env::format(&text, &mut scratch).ok_or(libc::ENOBUFS)?;
        let out = buf.get_mut(..=len).ok_or(libc::ENOBUFS)?;
        let mut was = [false; env::FDS_MAX];
        for (i, &fd) in fds.iter().enumerate().filter(|(_, &fd)| fd >= 0) {
            match sys::set_cloexec(fd, false) {
                Ok(before) => was[i] = before,
                Err(errno) => {
                    for (&done, &before) in fds[..i].iter().zip(&was).filter(|(&fd, _)| fd >= 0) {
                        let _ = sys::set_cloexec(done, before);
                    }
                    return Err(errno);
                }
            }
        }
        out.copy_from_slice(&scratch[..=len]);
        Ok(len)
    }

    /// In the program started by `execve()`: takes over the member that
    /// `$BARRIER_GROUP` describes and removes the variable. Checks every
    /// descriptor's kind (the memfd a shared page of this format and size,
    /// eventfds, pipe ends, all non-blocking but the memfd), maps the page
    /// and makes the descriptors close-on-exec again.
    ///
    /// On failure nothing was closed or changed: `ENOENT` if the variable
    /// is unset, `EINVAL` if it is malformed, `EBADF` if a descriptor is
    /// closed or of the wrong kind, or the error of `mmap`.
    ///
    /// # Safety
    /// The descriptors the variable names must belong to nothing else in
    /// this process (the handle takes them over), and no other thread may
    /// read or change the environment meanwhile.
    pub unsafe fn import_env() -> Result<RawGroup, Errno> {
        let value = sys::getenv(env::VAR_C).ok_or(libc::ENOENT)?;
        let mut fds = [-1; env::FDS_MAX];
        let m = env::parse_value(value, &mut fds)?;
        let n = m.n;
        let me = m.rank;
        let fds = m.fds;
        let (memfd, epoll, own_w) = (fds[0], fds[1], fds[2]);
        let doorbells = &fds[3..3 + n];
        let reads = &fds[3 + n..];
        let len = shared_len(n);
        if sys::regular_file_size(memfd).map_or(true, |size| size < len as u64) {
            return Err(libc::EBADF);
        }
        let kind_ok =
            |fd: c_int, kind: sys::FdKind| matches!(sys::inspect(fd), Ok((k, true)) if k == kind);
        let epoll_ok = matches!(sys::inspect(epoll), Ok((sys::FdKind::Epoll, _)));
        if !epoll_ok
            || (own_w >= 0 && !kind_ok(own_w, sys::FdKind::PipeWrite))
            || !doorbells
                .iter()
                .all(|&fd| kind_ok(fd, sys::FdKind::EventFd))
            || !reads.iter().all(|&fd| kind_ok(fd, sys::FdKind::PipeRead))
        {
            return Err(libc::EBADF);
        }
        let shared: *mut Head = sys::map(memfd, len)?.cast();
        // SAFETY: the mapping is at least a Head long; its fields are only
        // written by `create`, before any member could hand it on.
        let head_ok = unsafe { (*shared).magic == MAGIC && (*shared).n == n as u64 };
        if !head_ok {
            // SAFETY: mapped just now with this length.
            unsafe { sys::unmap(shared.cast(), len) };
            return Err(libc::EBADF);
        }
        let mut g = RawGroup {
            n,
            rank: Some(me),
            knowledge: m.knowledge,
            gone: m.gone,
            shared,
            memfd,
            ..RawGroup::EMPTY
        };
        g.epoll[me] = epoll;
        g.pipe_w[me] = own_w;
        g.doorbell[..n].copy_from_slice(doorbells);
        for (k, &fd) in (0..n).filter(|&k| k != me).zip(reads) {
            g.pipe_r[k] = fd;
        }
        for fd in fds.iter().copied().filter(|&fd| fd >= 0) {
            if let Err(errno) = sys::set_cloexec(fd, true) {
                // Give back what was taken without closing anything.
                for fd in fds.iter().copied().filter(|&fd| fd >= 0) {
                    let _ = sys::set_cloexec(fd, false);
                }
                // SAFETY: mapped just now with this length.
                unsafe { sys::unmap(shared.cast(), len) };
                return Err(errno);
            }
        }
        sys::unsetenv(env::VAR_C);
        Ok(g)
    }

    /// What a spawned member `rank` of this unjoined handle would hold, in
    /// the environment variable's order, and that variable's value: for
    /// [`super::Group::spawn`]. `EINVAL` if the handle joined already or
    /// `rank >= n`.
    #[cfg(feature = "std")]
    pub(crate) fn spawn_env(
        &self,
        rank: usize,
        value: &mut [u8; env::ENV_MAX],
        keep: &mut [c_int; env::FDS_MAX],
    ) -> Result<(usize, usize), Errno> {
        if self.rank.is_some() || rank >= self.n || self.shared.is_null() {
            return Err(libc::EINVAL);
        }
        let mut count = 0;
        for fd in self.held(rank) {
            keep[count] = fd;
            count += 1;
        }
        let text = env::Member {
            n: self.n,
            rank,
            knowledge: Knowledge::NEW,
            gone: 0,
            fds: &keep[..count],
        };
        let len = env::format_value(&text, value).ok_or(libc::ENOBUFS)?;
        Ok((len, count))
    }
}
