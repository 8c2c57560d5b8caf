//! A group's protocol: the shared page, the doorbells and the pipes, and
//! the operations built on them.
//!
//! [`RawGroup`] is one member's handle. Its fields are private, so the
//! descriptors and the mapping it names are always its own; it has no
//! `Drop` (the C library keeps it in memory of its own and frees it
//! explicitly): call [`RawGroup::destroy`], or use [`super::Group`].

use super::state::{self, judge, Knowledge, Verdict, Wait, MAX};
use crate::error::{Errno, Error, Misuse};
use crate::{sys, time};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering, Ordering::SeqCst};
use libc::{c_int, pollfd};

// The orderings of the shared accesses the wake-up protocol rests on: a
// member that publishes what it waits for and then looks at the counts,
// and a member that adds to its count and then looks at what the others
// wait for, must not both miss the other's write. That holds only if all
// four accesses are sequentially consistent (a store may pass a later load
// otherwise, on x86 as on ARM). The exhaustive model (model.rs) explores
// the protocol with these very constants.

/// `place`'s addition to the member's count.
pub(super) const PLACE: Ordering = SeqCst;
/// `place`'s loads of the others' counts and of what they wait for.
pub(super) const SCAN: Ordering = SeqCst;
/// A sync's store of what it waits for.
pub(super) const PUBLISH: Ordering = SeqCst;
/// A wait's loads of the counts and of the aborts.
pub(super) const LOOK: Ordering = SeqCst;
/// An abort's addition to the mask of aborts.
pub(super) const ABORT: Ordering = SeqCst;

/// One member's slot in the shared page, on a cache line of its own: only
/// its member writes `placed` and `waiting`; every member reads them.
#[repr(C, align(64))]
struct Slot {
    /// Barriers placed, ever.
    placed: AtomicU64,
    /// The count its last sync that slept waited for (0: none yet).
    waiting: AtomicU64,
    /// 1 once a handle joined under this rank: the first to swap it from 0
    /// has the rank, for good.
    joined: AtomicU32,
}

/// The head of the shared page, written once by `create`: its format and
/// size, and the numbers of the members' descriptors, which every member
/// holds under the same numbers (fork and `execve()` keep them), so that
/// `import_env` finds them here.
#[repr(C, align(64))]
pub(super) struct Head {
    pub(super) magic: u64,
    pub(super) n: u64,
    pub(super) fds: [c_int; 4 * MAX],
    /// Bit `k` set once member `k` aborted or failed: one word, so that a
    /// look learns of every abort with one load.
    aborted: AtomicU64,
}

/// "libbarG2" in ASCII: the shared page's format (2: one doorbell rung
/// for all, and the aborts in one mask).
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"libbarG2");

/// The shared page's length for `n` members: a head and `n` slots, in
/// whole pages of the size the kernel uses.
pub(super) fn shared_len(n: usize) -> usize {
    shared_len_in(n, sys::page_size())
}

/// [`shared_len`] for pages of `page` bytes.
fn shared_len_in(n: usize, page: usize) -> usize {
    let bytes = core::mem::size_of::<Head>() + n * core::mem::size_of::<Slot>();
    bytes.div_ceil(page) * page
}

/// The tag of the other members' doorbells in a member's epoll instance;
/// the pipes are tagged with their member's rank.
pub(super) const DOORBELL: u64 = u64::MAX;
/// `EPOLL_CTL_ADD`.
const ADD: c_int = libc::EPOLL_CTL_ADD;
/// The events a doorbell is watched for: input, edge-triggered, so that
/// each ring reports it once and nobody ever reads it.
pub(super) const EDGE: c_int = libc::EPOLLIN | libc::EPOLLET;
/// The events a pipe is watched for: input, which a pipe that nobody
/// writes to only reports with its hang-up, once.
const ONESHOT: c_int = libc::EPOLLIN | libc::EPOLLONESHOT;

/// One member's handle on a barrier group, opaque. It is made before the
/// fork (or taken over after `execve()`), joined by each process under a
/// rank of its own, and used by one thread at a time.
//
// This comment is also the C header's documentation of `BarrierGroup`, so
// it names no Rust item. In Rust: made by `create` or `import_env`; every
// method that acts on the group answers Misuse::NotJoined before `join`.
#[derive(Debug)]
pub struct RawGroup {
    pub(super) n: usize,
    /// The rank joined, or `None`.
    pub(super) rank: Option<usize>,
    pub(super) knowledge: Knowledge,
    /// Members whose pipe hung up, as this member saw.
    pub(super) gone: u64,
    pub(super) shared: *mut Head,
    pub(super) memfd: c_int,
    /// The members' descriptors, in four runs of [`MAX`], one entry per
    /// member in each, -1 where this handle holds none (see [`EPOLL`],
    /// [`BELL`], [`PIPE_R`], [`PIPE_W`]).
    pub(super) fds: [c_int; 4 * MAX],
}

/// Where each member's epoll instance is in [`RawGroup::fds`]; it watches
/// the other members' doorbells and pipes. After join, only our own is
/// held.
pub(super) const EPOLL: usize = 0;
/// Where each member's eventfd, which it rings to wake the others, is.
/// All are held.
pub(super) const BELL: usize = MAX;
/// Where the read ends of the members' pipes are: a hang-up means the
/// member is gone. After join, every one but our own is held.
pub(super) const PIPE_R: usize = 2 * MAX;
/// Where the write ends of the members' pipes are. After join, only our
/// own is held (until a fatal error closes it).
pub(super) const PIPE_W: usize = 3 * MAX;

// SAFETY: the shared page is only touched through atomics, and the
// descriptors belong to the handle, so it may move to another thread.
unsafe impl Send for RawGroup {}

impl RawGroup {
    /// The largest number of members (the C header's `BARRIER_GROUP_MAX`).
    pub const MAX: usize = MAX;

    /// A handle of a group of `n` that holds nothing.
    pub(super) fn empty(n: usize) -> RawGroup {
        RawGroup {
            n,
            rank: None,
            knowledge: Knowledge::NEW,
            gone: 0,
            shared: core::ptr::null_mut(),
            memfd: -1,
            fds: [-1; 4 * MAX],
        }
    }

    /// Closes the descriptor at `at` in `fds`, if held.
    fn close(&mut self, at: usize) {
        self.fds[at] = sys::close(self.fds[at]);
    }

    /// Makes a group of `n` members (2 to [`RawGroup::MAX`]): the shared
    /// page, `n` eventfds and `n` pipes, all close-on-exec.
    /// [`Misuse::GroupSize`] for another `n`; on any failure nothing is
    /// left open or mapped.
    pub fn create(n: usize) -> Result<RawGroup, Error> {
        let mut g = RawGroup::empty(n);
        g.make()?;
        Ok(g)
    }

    /// [`RawGroup::create`] in memory of its own (a private anonymous
    /// mapping), for callers that keep the handle behind a pointer without
    /// an allocator, such as the C library. On failure nothing is left
    /// open or mapped.
    pub fn create_mapped(n: usize) -> Result<core::ptr::NonNull<RawGroup>, Error> {
        // Refused before anything is mapped.
        if !(2..=MAX).contains(&n) {
            return Err(Misuse::GroupSize.into());
        }
        let p = Self::map_handle()?;
        // SAFETY: the mapping is fresh, writable, page-aligned and large
        // enough for a RawGroup, and only this function knows it.
        let made = unsafe {
            p.as_ptr().write(RawGroup::empty(n));
            (*p.as_ptr()).make()
        };
        if let Err(errno) = made {
            // SAFETY: as above; `make` left the handle empty.
            unsafe { Self::unmap_handle(p) };
            return Err(errno);
        }
        Ok(p)
    }

    /// Maps private memory for one handle.
    pub(super) fn map_handle() -> Result<core::ptr::NonNull<RawGroup>, Error> {
        let p = sys::map(-1, core::mem::size_of::<RawGroup>()).map_err(Error::Os)?;
        // A mapping at address 0 cannot be told from NULL in C; the kernel
        // does not place one there unasked.
        core::ptr::NonNull::new(p.cast()).ok_or(Error::Os(libc::ENOMEM))
    }

    /// Unmaps the memory of [`RawGroup::map_handle`].
    ///
    /// # Safety
    /// Nothing may use `p` any more; what it holds is not destroyed.
    pub(super) unsafe fn unmap_handle(p: core::ptr::NonNull<RawGroup>) {
        // SAFETY: mapped by map_handle with this length (the caller's
        // contract says nothing uses it).
        unsafe { sys::unmap(p.as_ptr().cast(), core::mem::size_of::<RawGroup>()) };
    }

    /// Makes what an empty handle of `self.n` members needs; on failure
    /// destroys what it made.
    fn make(&mut self) -> Result<(), Error> {
        let n = self.n;
        if !(2..=MAX).contains(&n) {
            return Err(Misuse::GroupSize.into());
        }
        let made = (|| -> Result<(), Errno> {
            let len = shared_len(n);
            self.memfd = sys::memfd(c"libbarrier-group", len)?;
            self.shared = sys::map(self.memfd, len)?.cast();
            for k in 0..n {
                self.fds[BELL + k] = sys::eventfd()?;
                [self.fds[PIPE_R + k], self.fds[PIPE_W + k]] = sys::pipe()?;
            }
            for k in 0..n {
                self.fds[EPOLL + k] = sys::epoll()?;
                let ep = self.fds[EPOLL + k];
                // A doorbell reports each ring once (edge-triggered). A
                // pipe only ever reports its hang-up, once: then the
                // member is gone, and its entry is disabled (one-shot).
                for j in (0..n).filter(|&j| j != k) {
                    sys::epoll_ctl(ep, ADD, self.fds[BELL + j], EDGE, DOORBELL)?;
                    sys::epoll_ctl(ep, ADD, self.fds[PIPE_R + j], ONESHOT, j as u64)?;
                }
            }
            // SAFETY: the page is fresh, zero-filled, and at least a Head
            // long; no other process has it yet.
            unsafe {
                (*self.shared).magic = MAGIC;
                (*self.shared).n = n as u64;
                (*self.shared).fds = self.fds;
            }
            Ok(())
        })();
        if made.is_err() {
            self.destroy();
        }
        made.map_err(Error::Os)
    }

    /// Closes every descriptor, unmaps the shared page and leaves a handle
    /// that holds nothing. For the other members this is an exit. Safe to
    /// repeat.
    pub fn destroy(&mut self) {
        for at in 0..self.fds.len() {
            self.close(at);
        }
        self.memfd = sys::close(self.memfd);
        if !self.shared.is_null() {
            // SAFETY: the page was mapped with this length, and nothing
            // refers to it once the handle lets go.
            unsafe { sys::unmap(self.shared.cast(), shared_len(self.n)) };
        }
        *self = RawGroup::empty(self.n);
    }

    /// Destroys a handle kept in memory of its own and unmaps that
    /// memory.
    ///
    /// # Safety
    /// `p` must come from [`RawGroup::create_mapped`] or
    /// [`RawGroup::import_env_mapped`] and not be used again.
    pub unsafe fn free_mapped(p: core::ptr::NonNull<RawGroup>) {
        // SAFETY: p points to a live handle in its own mapping (the caller's
        // contract).
        unsafe {
            (*p.as_ptr()).destroy();
            Self::unmap_handle(p);
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
    /// of its own pipe and the read ends of the others'.
    /// [`Misuse::AlreadyJoined`] if this handle joined already, then
    /// [`Misuse::NoDescriptor`] for a handle that holds nothing,
    /// [`Misuse::Rank`] for `rank >= n`, and [`Misuse::RankTaken`] if
    /// another handle of the group (in this process or another) joined
    /// under `rank` first; nothing changes then, and the handle may join
    /// under another rank.
    pub fn join(&mut self, rank: usize) -> Result<(), Error> {
        if self.rank.is_some() {
            return Err(Misuse::AlreadyJoined.into());
        }
        if self.shared.is_null() {
            return Err(Misuse::NoDescriptor.into());
        }
        if rank >= self.n {
            return Err(Misuse::Rank.into());
        }
        self.claim(rank)?;
        for k in 0..self.n {
            if k == rank {
                self.close(PIPE_R + k);
            } else {
                self.close(PIPE_W + k);
                self.close(EPOLL + k);
            }
        }
        self.rank = Some(rank);
        Ok(())
    }

    /// Takes `rank` for this handle or a member it spawns, for good:
    /// [`Misuse::RankTaken`] if a handle took it first. One atomic swap on
    /// the shared page, so that of two members claiming a rank at once, in
    /// any processes, exactly one has it.
    pub(super) fn claim(&self, rank: usize) -> Result<(), Misuse> {
        let joined = &self.slot(rank).joined;
        match joined.compare_exchange(0, 1, SeqCst, SeqCst) {
            Ok(_) => Ok(()),
            Err(_) => Err(Misuse::RankTaken),
        }
    }

    /// Gives back a rank claimed for a member whose program did not start.
    #[cfg(feature = "std")]
    pub(super) fn unclaim(&self, rank: usize) {
        self.slot(rank).joined.store(0, SeqCst);
    }

    /// Our rank, or [`Misuse::NotJoined`] before join.
    fn me(&self) -> Result<usize, Misuse> {
        self.rank.ok_or(Misuse::NotJoined)
    }

    fn slot(&self, k: usize) -> &Slot {
        // SAFETY: the page holds a Head followed by n slots (shared_len),
        // stays mapped while the handle holds it, and is only touched
        // through atomics; k < n at every caller.
        unsafe { &*self.shared.add(1).cast::<Slot>().add(k) }
    }

    fn head(&self) -> &Head {
        // SAFETY: as for slot(); the page begins with the head.
        unsafe { &*self.shared }
    }

    /// What a wait sees now: the abort mask, our record of hang-ups and as
    /// many of the others' counts as [`judge`] reads.
    fn look(&self, me: usize, wait: Wait) -> Verdict {
        let aborted = self.head().aborted.load(LOOK);
        judge(wait, me, self.n, aborted, self.gone, |k| {
            self.slot(k).placed.load(LOOK)
        })
    }

    /// Rings our doorbell: one write, which every other member's epoll
    /// instance reports.
    fn ring(&self, me: usize) -> Result<(), Errno> {
        sys::write_u64(self.fds[BELL + me], 1)
    }

    /// Marks this member aborted for everyone and wakes every other
    /// member (a member may be watching its epoll instance from an event
    /// loop, or be in any wait). If our doorbell cannot be rung, closing
    /// our pipe's write end wakes them anyway (they see the abort when
    /// they look).
    fn announce_abort(&mut self, me: usize) {
        self.knowledge.aborted();
        self.head().aborted.fetch_or(1 << me, ABORT);
        if self.ring(me).is_err() {
            self.close(PIPE_W + me);
        }
    }

    /// A fatal syscall error: this member's abort, for itself and for the
    /// others. Our pipe's write end is closed too, so that every member
    /// wakes even if the doorbells cannot be rung.
    #[cold]
    fn fail(&mut self, me: usize, errno: Errno) -> Error {
        self.announce_abort(me);
        self.close(PIPE_W + me);
        Error::Os(errno)
    }

    /// Places a barrier. `Err(Aborted)` once this member observed any
    /// abort or exit (or aborted); [`Misuse::NotJoined`] before join;
    /// `Os` if a doorbell could not be rung (fatal; the barrier counts as
    /// placed but this member is aborted).
    pub fn place(&mut self) -> Result<(), Error> {
        let me = self.me()?;
        self.add(me).map(|_| ())
    }

    /// Places a barrier for member `me` (see [`RawGroup::place`]): the
    /// count it reached, and whether that completed its level (every other
    /// member has placed as many).
    fn add(&mut self, me: usize) -> Result<(u64, bool), Error> {
        if self.knowledge.is_aborted() {
            return Err(Error::Aborted);
        }
        let count = self.slot(me).placed.fetch_add(1, PLACE) + 1;
        // Only the member that completes a level wakes those waiting for
        // it, with one ring for all of them.
        let others = || (0..self.n).filter(move |&k| k != me);
        let complete = others().all(|k| self.slot(k).placed.load(SCAN) >= count);
        if complete && others().any(|k| state::rings(self.slot(k).waiting.load(SCAN), count)) {
            if let Err(errno) = self.ring(me) {
                return Err(self.fail(me, errno));
            }
        }
        Ok((count, complete))
    }

    /// Aborts this member: every wait that any member starts afterwards
    /// fails. `Err(Aborted)` if this member had already observed another
    /// member's abort or exit (it is aborted all the same);
    /// [`Misuse::NotJoined`] before join. Repeating it is harmless.
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
    /// is lost); [`Misuse::NotJoined`] before join.
    pub fn sync(&mut self, usec: u64) -> Result<(), Error> {
        let me = self.me()?;
        if self.knowledge.is_aborted() {
            return Err(Error::Aborted);
        }
        let target = self.slot(me).placed.load(SeqCst);
        self.wait(me, Wait::Sync(target), usec, true)
    }

    /// [`RawGroup::place`], then [`RawGroup::sync`]. What the place saw
    /// spares the sync its first look: the member that completed the
    /// level is done unless another member aborted, and any other has a
    /// member to wait for.
    pub fn place_and_sync(&mut self, usec: u64) -> Result<(), Error> {
        let me = self.me()?;
        let (target, complete) = self.add(me)?;
        if complete && self.head().aborted.load(LOOK) & !(1 << me) == 0 {
            return Ok(());
        }
        self.wait(me, Wait::Sync(target), usec, complete)
    }

    /// Waits until another member aborts or exits; our own abort never
    /// ends it. `Ok` unless this member aborted too (`Err(Aborted)`).
    pub fn wait_abortion(&mut self, usec: u64) -> Result<(), Error> {
        let me = self.me()?;
        if !self.knowledge.they_aborted() {
            self.wait(me, Wait::Abortion, usec, true)?;
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
    /// publish what we wait for, look again (so that a member completing it
    /// meanwhile either sees us waiting or we see its count), and sleep on
    /// the other members' doorbells and pipes.
    ///
    /// Without `look_first` the wait is known to be pending: it skips its
    /// first look.
    #[inline(never)]
    fn wait(&mut self, me: usize, wait: Wait, usec: u64, look_first: bool) -> Result<(), Error> {
        // Set once what we wait for is published: the first look needs
        // neither that nor the clock.
        let mut deadline: Option<Option<u64>> = None;
        let mut expired = false;
        // A look that ends the wait first takes in the hang-ups already
        // reported (without sleeping), so that an exit that happened
        // before the look is seen together with any abort, and the lowest
        // rank among them is the one recorded, whether or not an earlier
        // wait happened to notice the exit.
        let mut taken_in = false;
        let mut skip = !look_first;
        loop {
            // One look, here only, so that it is inlined.
            let verdict = if skip {
                skip = false;
                Verdict::Pending
            } else {
                self.look(me, wait)
            };
            let ending = matches!(verdict, Verdict::Ended(_));
            if !ending || taken_in {
                if let Some(done) = self.conclude(wait, verdict) {
                    return done;
                }
                // The time ran out, and a last look found nothing either.
                if expired {
                    return Err(Error::TimedOut);
                }
            }
            let timeout = if ending {
                taken_in = true;
                0
            } else if let Some(deadline) = deadline {
                deadline.map_or(-1, |d| time::timeout_ms(d.saturating_sub(sys::now_nsec())))
            } else {
                self.publish(me, wait);
                deadline = Some(time::deadline(usec));
                continue;
            };
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
            let ready = match sys::epoll_wait(self.fds[EPOLL + me], &mut events, timeout) {
                // epoll_wait never ends early, and the time left was
                // rounded up: it ran out, unless it was more than one call
                // can take (the cap) or there is no bound (-1).
                Ok(0) => {
                    expired = !ending && (0..c_int::MAX).contains(&timeout);
                    0
                }
                Ok(ready) => ready,
                Err(libc::EINTR) | Err(libc::EAGAIN) => 0,
                Err(errno) => return Err(self.fail(me, errno)),
            };
            if let Err(errno) = self.take_in(me, &events[..ready]) {
                return Err(self.fail(me, errno));
            }
            // A full buffer may have left hang-ups behind: take in more.
            taken_in &= ready < events.len();
        }
    }

    /// Publishes the count a sync waits for, for the member that completes
    /// it to ring. It stays published after the wait, a count every member
    /// reached already, which no later ring looks for (each rings for the
    /// count it reached), so the wait need not withdraw it; and so a
    /// caller that watches the pollfds in an event loop after a timeout is
    /// woken too. 0, the first value, is never waited for: a sync for 0
    /// barriers never sleeps. A wait for an abortion publishes nothing:
    /// every abort rings.
    fn publish(&self, me: usize, wait: Wait) {
        if let Wait::Sync(target) = wait {
            self.slot(me).waiting.store(target, PUBLISH);
        }
    }

    /// Takes in what `epoll_wait` reported: records each member whose
    /// pipe hung up as gone (its entry, one-shot, reports nothing more). A
    /// doorbell needs nothing: it reports each ring once, and nobody reads
    /// it. `EBADF` for an entry this handle never made.
    fn take_in(&mut self, me: usize, events: &[libc::epoll_event]) -> Result<(), Errno> {
        for ev in events {
            match usize::try_from(ev.u64) {
                _ if ev.u64 == DOORBELL => {}
                Ok(k) if k < self.n && k != me => self.gone |= 1 << k,
                _ => return Err(libc::EBADF),
            }
        }
        Ok(())
    }

    /// What an event loop watches for this member: one entry, its epoll
    /// instance (`POLLIN`), which is readable when another member rang
    /// since a wait last looked, or a member it has not yet seen go hung
    /// up. The same from join to destroy. [`Misuse::NotJoined`] before
    /// join.
    pub fn pollfds(&self) -> Result<[pollfd; 1], Error> {
        let me = self.me()?;
        Ok([pollfd {
            fd: self.fds[EPOLL + me],
            events: libc::POLLIN,
            revents: 0,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_memory_per_page_size() {
        // A head of 1088 bytes (the descriptor numbers of 64 members), then
        // a slot of 64 bytes per member.
        assert_eq!(core::mem::size_of::<Head>(), 1088);
        assert_eq!(core::mem::size_of::<Slot>(), 64);
        // 4 KiB pages: one page up to 47 members, two from 48.
        assert_eq!(shared_len_in(2, 4096), 4096);
        assert_eq!(shared_len_in(47, 4096), 4096);
        assert_eq!(shared_len_in(48, 4096), 8192);
        assert_eq!(shared_len_in(MAX, 4096), 8192);
        // 16 and 64 KiB pages: one page for any size.
        for page in [16384, 65536] {
            assert_eq!(shared_len_in(2, page), page);
            assert_eq!(shared_len_in(MAX, page), page);
        }
        // The handle itself fits one page of any size.
        assert!(core::mem::size_of::<RawGroup>() <= 4096);
        assert_eq!(shared_len(2), sys::page_size());
    }
}
