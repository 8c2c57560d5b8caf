//! [`AsyncBarrier`]: a [`Barrier`] whose waits are futures on tokio's
//! reactor (cargo feature `tokio`).
//!
//! Nothing here waits in the library: every wait is the bounded call with a
//! zero timeout, which consumes whatever the other side already wrote and
//! answers at once, and between two such calls the future sleeps until the
//! reactor reports one of the two descriptors [`Barrier::pollfds`] names:
//! the other side's eventfd (readable: they placed or aborted) or our pipe
//! end (hang-up: they are gone). The state lives in the barrier, never in
//! the future, which is what makes every future here cancel-safe.
//!
//! The reactor watches duplicates of the two descriptors, owned here, so
//! that what it watches stays open for as long as it is registered,
//! whatever the barrier closes. A failed syscall, after which the barrier
//! closes its pipe end to tell the other side, closes the duplicates too
//! at once: the other side then sees this end go, as with the blocking
//! calls. Tokio's readiness is edge-triggered; it is cleared only after a
//! zero-timeout call found nothing ready, so no event is lost and no
//! wake-up repeats.

use crate::{Barrier, Error, Misuse};
use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::task::{Context, Poll};
use std::time::Duration;

/// A [`Barrier`] end whose waits are futures, for a tokio runtime with its
/// I/O driver enabled.
///
/// Made from an end with its role set: after `set_role` in a forked child
/// or its parent, one end of [`Barrier::pair`], an end from
/// [`Barrier::from_env`], or the parent's end after [`Barrier::spawn`].
/// The answers are those of the blocking calls: `Ok(())`;
/// `Err(Error::Aborted)` once either side aborted (the other side's exit or
/// crash counts as its abort); `Err(Error::Os(errno))` where a syscall
/// failed, which is fatal as in the blocking calls.
///
/// # Cancel safety
///
/// Every future is cancel-safe. Dropping one (in `tokio::select!`, or when
/// `tokio::time::timeout` runs out) loses nothing: what it consumed is
/// recorded in the barrier, and calling the same wait again waits for the
/// same barrier. [`AsyncBarrier::place_and_sync`] places when it is
/// called, not when it is first polled; after dropping its future, wait
/// for that barrier with [`AsyncBarrier::sync`] (calling `place_and_sync`
/// again would place another).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use barrier_core::{AsyncBarrier, Barrier};
///
/// let (parent, child) = Barrier::pair()?;
/// let mut parent = AsyncBarrier::new(parent)?;
/// let mut child = AsyncBarrier::new(child)?;
/// let task = tokio::spawn(async move {
///     child.wait_next().await?;
///     child.place()
/// });
/// parent.place_and_sync().await?;
/// task.await??;
/// # Ok(())
/// # }
/// ```
pub struct AsyncBarrier {
    /// What the reactor watches; `None` after a fatal error.
    watch: Option<Watch>,
    barrier: Barrier,
}

/// Duplicates of the two descriptors to watch, registered.
struct Watch {
    /// Our pipe end: hang-up when the other side is gone.
    hangup: AsyncFd<OwnedFd>,
    /// Whether `hangup` is the pipe's read end (the parent's) or its write
    /// end (the child's), whose hang-up tokio reports as the writing
    /// direction closed.
    read_end: bool,
    /// The other side's eventfd: readable when they placed or aborted.
    them: AsyncFd<OwnedFd>,
}

/// The waits, each made of its zero-timeout call.
#[derive(Clone, Copy)]
enum Wait {
    Next,
    Abortion,
    SyncNext,
    Sync,
}

/// The errno of an error of std or tokio (`EIO` where it carries none).
fn os(e: io::Error) -> Error {
    Error::Os(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Registers a duplicate of `fd`.
fn register(fd: libc::c_int, interest: Interest) -> Result<AsyncFd<OwnedFd>, Error> {
    // SAFETY: fd is one of the barrier's open descriptors, borrowed only
    // for the duplication.
    let dup = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .map_err(os)?;
    // SAFETY: the duplicate is owned by the AsyncFd and stays open, the
    // same file description, until the AsyncFd is dropped.
    unsafe { AsyncFd::register_with_interest(dup, interest) }.map_err(|e| os(e.into()))
}

impl AsyncBarrier {
    /// Registers the end's two descriptors with the current runtime's
    /// reactor.
    ///
    /// `Misuse::NoRole` if the role is not set, `Misuse::NoRuntime` outside
    /// a tokio runtime, `Os` if the descriptors cannot be duplicated or
    /// registered. A runtime without its I/O driver panics, as tokio's own
    /// I/O types do.
    pub fn new(barrier: Barrier) -> Result<AsyncBarrier, Error> {
        let [hangup, them] = barrier.pollfds()?;
        ::tokio::runtime::Handle::try_current().map_err(|_| Misuse::NoRuntime)?;
        let read_end = barrier.as_raw().pipe[0] == hangup.fd;
        // The child holds the pipe's write end, whose hang-up (POLLERR)
        // tokio sees through the writing direction. It is writable at
        // once; the first wait clears that.
        let interest = if read_end {
            Interest::READABLE
        } else {
            Interest::WRITABLE
        };
        let watch = Watch {
            hangup: register(hangup.fd, interest)?,
            read_end,
            them: register(them.fd, Interest::READABLE)?,
        };
        Ok(AsyncBarrier {
            watch: Some(watch),
            barrier,
        })
    }

    /// Deregisters and closes the duplicates, and gives the barrier back.
    pub fn into_inner(self) -> Barrier {
        self.barrier
    }

    /// The barrier, for its state and descriptors.
    pub fn get_ref(&self) -> &Barrier {
        &self.barrier
    }

    /// Places a barrier ([`Barrier::place`]); never blocks.
    pub fn place(&mut self) -> Result<(), Error> {
        let r = self.barrier.place();
        self.checked(r)
    }

    /// Aborts ([`Barrier::abort`]); never blocks.
    pub fn abort(&mut self) -> Result<(), Error> {
        let r = self.barrier.abort();
        self.checked(r)
    }

    /// Waits until the other side placed at least as many barriers as this
    /// one ([`Barrier::sync`]).
    pub async fn sync(&mut self) -> Result<(), Error> {
        self.wait(Wait::Sync).await
    }

    /// Waits for the other side's next barrier that matches one of ours
    /// ([`Barrier::sync_next`]).
    pub async fn sync_next(&mut self) -> Result<(), Error> {
        self.wait(Wait::SyncNext).await
    }

    /// Waits for one more barrier of the other side's
    /// ([`Barrier::wait_next`]).
    pub async fn wait_next(&mut self) -> Result<(), Error> {
        self.wait(Wait::Next).await
    }

    /// Waits until the other side aborts or is gone
    /// ([`Barrier::wait_abortion`]).
    pub async fn wait_abortion(&mut self) -> Result<(), Error> {
        self.wait(Wait::Abortion).await
    }

    /// Places a barrier now, then waits as [`AsyncBarrier::sync`] does.
    pub fn place_and_sync(&mut self) -> impl Future<Output = Result<(), Error>> + '_ {
        let placed = self.place();
        async move {
            placed?;
            self.wait(Wait::Sync).await
        }
    }

    /// After a fatal error, the barrier closed its pipe end so that the
    /// other side sees this end go: the duplicates go too.
    fn checked(&mut self, r: Result<(), Error>) -> Result<(), Error> {
        if let Err(Error::Os(_)) = r {
            self.watch = None;
        }
        r
    }

    async fn wait(&mut self, wait: Wait) -> Result<(), Error> {
        poll_fn(|cx| self.poll_wait(cx, wait)).await
    }

    /// Makes what progress there is without blocking; if the wait is not
    /// over, registers for a wake-up when either descriptor is reported.
    fn poll_wait(&mut self, cx: &mut Context<'_>, wait: Wait) -> Poll<Result<(), Error>> {
        loop {
            let r = match self.try_wait(wait) {
                Err(Error::TimedOut) => None,
                r => Some(self.checked(r)),
            };
            let watch = match (r, &self.watch) {
                (Some(r), _) => return Poll::Ready(r),
                (None, Some(watch)) => watch,
                // A fatal error left the barrier aborted: never here.
                (None, None) => return Poll::Ready(Err(Error::Os(libc::EBADF))),
            };
            // Nothing was ready when the call looked, so a readiness the
            // reactor holds from before is stale: clear it and look again.
            // Pending once neither is ready, with the waker registered.
            let them = watch.them.poll_read_ready(cx);
            let hangup = if watch.read_end {
                watch.hangup.poll_read_ready(cx)
            } else {
                watch.hangup.poll_write_ready(cx)
            };
            let mut stale = false;
            for ready in [them, hangup] {
                match ready {
                    Poll::Ready(Ok(mut guard)) => {
                        guard.clear_ready();
                        stale = true;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Err(os(e)));
                    }
                    Poll::Pending => {}
                }
            }
            if !stale {
                return Poll::Pending;
            }
        }
    }

    fn try_wait(&mut self, wait: Wait) -> Result<(), Error> {
        let b = &mut self.barrier;
        match wait {
            Wait::Next => b.wait_next_timeout(Duration::ZERO),
            Wait::Abortion => b.wait_abortion_timeout(Duration::ZERO),
            Wait::SyncNext => b.sync_next_timeout(Duration::ZERO),
            Wait::Sync => b.sync_timeout(Duration::ZERO),
        }
    }
}
