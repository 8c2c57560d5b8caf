//! Every syscall the barrier makes, and nothing else.
//!
//! Each wrapper turns the C convention (-1 and `errno`) into a `Result`
//! carrying the positive errno value, and retries `EINTR` where retrying is
//! the right answer. Nothing here knows about barriers.

use crate::error::Errno;
use core::ffi::CStr;
use core::mem::size_of;
use libc::{c_int, c_void, pollfd, timespec};

fn errno() -> Errno {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// A non-blocking, close-on-exec eventfd with counter 0.
pub fn eventfd() -> Result<c_int, Errno> {
    // SAFETY: eventfd takes no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

/// A non-blocking, close-on-exec pipe: `[read end, write end]`.
pub fn pipe() -> Result<[c_int; 2], Errno> {
    let mut fds: [c_int; 2] = [-1, -1];
    // SAFETY: fds is a writable array of two ints, as pipe2 requires.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(fds)
    }
}

/// Closes `fd` if it is a descriptor, and returns the "no descriptor" value
/// to store in its place. Errors are ignored: on Linux the descriptor is
/// released even when close reports one, so retrying would be wrong.
pub fn close(fd: c_int) -> c_int {
    if fd >= 0 {
        // SAFETY: close takes no pointers; the caller owns fd.
        unsafe { libc::close(fd) };
    }
    -1
}

/// Adds `value` to the eventfd `fd`.
///
/// An eventfd refuses a write only when its counter would overflow; then
/// this waits for the reader to drain it rather than spinning.
#[inline]
pub fn write_u64(fd: c_int, value: u64) -> Result<(), Errno> {
    // The first attempt inline, retries out of the way.
    match write_once(fd, value) {
        Err(why @ (libc::EINTR | libc::EAGAIN)) => write_u64_retry(fd, value, why),
        done => done,
    }
}

/// One write of `value` to `fd`.
#[inline]
fn write_once(fd: c_int, value: u64) -> Result<(), Errno> {
    // SAFETY: the buffer is a live u64 of exactly the length passed.
    let n = unsafe {
        libc::write(
            fd,
            (&value as *const u64).cast::<c_void>(),
            size_of::<u64>(),
        )
    };
    if n == size_of::<u64>() as isize {
        Ok(())
    } else if n >= 0 {
        Err(libc::EIO)
    } else {
        Err(errno())
    }
}

/// [`write_u64`] after an attempt failed with `why`, `EINTR` or `EAGAIN`.
#[cold]
#[inline(never)]
fn write_u64_retry(fd: c_int, value: u64, mut why: Errno) -> Result<(), Errno> {
    loop {
        if why == libc::EAGAIN {
            let mut pfd = [pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            }];
            match poll(&mut pfd, None) {
                Ok(_) | Err(libc::EINTR) | Err(libc::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        match write_once(fd, value) {
            Err(again @ (libc::EINTR | libc::EAGAIN)) => why = again,
            done => return done,
        }
    }
}

/// Reads and resets the eventfd `fd`: `Ok(None)` if it was not readable
/// after all (another reader got there first).
#[inline]
pub fn read_u64(fd: c_int) -> Result<Option<u64>, Errno> {
    let mut value: u64 = 0;
    loop {
        // SAFETY: the buffer is a live, writable u64 of exactly the length passed.
        let n = unsafe {
            libc::read(
                fd,
                (&mut value as *mut u64).cast::<c_void>(),
                size_of::<u64>(),
            )
        };
        if n == size_of::<u64>() as isize {
            return Ok(Some(value));
        }
        if n >= 0 {
            return Err(libc::EIO);
        }
        match errno() {
            libc::EINTR => {}
            libc::EAGAIN => return Ok(None),
            e => return Err(e),
        }
    }
}

/// Waits for events on `fds` for at most `timeout` (`None`: no bound).
/// Returns how many entries have events; 0 means the time ran out.
/// `EINTR` is returned, not retried: only the caller knows how much of its
/// time remains.
#[inline]
pub fn poll(fds: &mut [pollfd], timeout: Option<timespec>) -> Result<usize, Errno> {
    let ts = timeout
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const timespec);
    // SAFETY: fds is a live, writable slice of pollfd and its length is
    // passed with it; ts is null or points to a live timespec; no signal
    // mask is passed.
    let r = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts,
            core::ptr::null(),
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// The monotonic clock, in nanoseconds.
#[inline(never)]
pub fn now_nsec() -> u64 {
    let mut ts = timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a live, writable timespec. CLOCK_MONOTONIC cannot fail
    // on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// A close-on-exec duplicate of `fd`.
pub fn dup_cloexec(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: fcntl with F_DUPFD_CLOEXEC takes an integer argument.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Sets or clears `FD_CLOEXEC` on `fd`; returns whether it was set before.
/// Async-signal-safe.
pub fn set_cloexec(fd: c_int, on: bool) -> Result<bool, Errno> {
    // SAFETY: F_GETFD takes no argument.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(errno());
    }
    let wanted = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: F_SETFD takes an integer argument.
    if wanted != flags && unsafe { libc::fcntl(fd, libc::F_SETFD, wanted) } < 0 {
        return Err(errno());
    }
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// Whether `a` and `b` are the same open file (one a duplicate of the
/// other). False when the kernel cannot tell (kcmp unavailable).
pub fn same_file(a: c_int, b: c_int) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: getpid takes nothing.
    let pid = unsafe { libc::getpid() } as libc::c_long;
    // SAFETY: kcmp takes only integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a as libc::c_long,
            b as libc::c_long,
        )
    };
    r == 0
}

/// What an open descriptor is, as far as the barrier cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// An eventfd.
    EventFd,
    /// The read end of a pipe.
    PipeRead,
    /// The write end of a pipe.
    PipeWrite,
    /// An epoll instance.
    Epoll,
    /// Anything else.
    Other,
}

/// Finds out what `fd` is and whether it is non-blocking; `Err(EBADF)` if
/// it is not open.
///
/// The kind is read from the name the kernel gives the descriptor in
/// /proc/self/fd (`pipe:[...]`, `anon_inode:[eventfd]`,
/// `anon_inode:[eventpoll]`), so this needs /proc; a pipe's end from its
/// access mode.
pub fn inspect(fd: c_int) -> Result<(FdKind, bool), Errno> {
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if fl < 0 {
        return Err(errno());
    }
    // "/proc/self/fd/", at most 11 characters and a NUL.
    let mut path = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0\0";
    crate::text::Cursor::new(&mut path[14..25])
        .push_decimal(i64::from(fd))
        .ok_or(libc::EINVAL)?;
    let mut target = [0u8; 32];
    // SAFETY: path is NUL-terminated; target is writable for its length.
    let len = unsafe {
        libc::readlink(
            path.as_ptr().cast(),
            target.as_mut_ptr().cast(),
            target.len(),
        )
    };
    if len < 0 {
        return Err(errno());
    }
    let name = &target[..len as usize];
    let kind = if same(name, b"anon_inode:[eventfd]") {
        FdKind::EventFd
    } else if same(name, b"anon_inode:[eventpoll]") {
        FdKind::Epoll
    } else if same(name.get(..5).unwrap_or_default(), b"pipe:") {
        match fl & libc::O_ACCMODE {
            libc::O_RDONLY => FdKind::PipeRead,
            libc::O_WRONLY => FdKind::PipeWrite,
            _ => FdKind::Other,
        }
    } else {
        FdKind::Other
    };
    Ok((kind, fl & libc::O_NONBLOCK != 0))
}

/// Whether `a` and `b` hold the same bytes: a plain loop, where comparing
/// with a constant would unroll into a comparison per byte.
#[inline(never)]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The value of the environment variable `name`, by the rule of
/// secure_getenv(3): `None` in a process that runs with privileges its
/// caller does not have (set-user-ID or set-group-ID, or with file
/// capabilities: the kernel's `AT_SECURE`), whose environment comes from
/// whoever started it.
///
/// The returned slice borrows the process environment: it is valid until
/// the variable is changed, which the caller must not do meanwhile.
pub fn secure_getenv(name: &CStr) -> Option<&'static [u8]> {
    extern "C" {
        // In glibc (since 2.17) and musl; the libc crate declares it for
        // other systems only.
        fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
    }
    // SAFETY: name is NUL-terminated.
    let p = unsafe { secure_getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: getenv returned a NUL-terminated string, which lives until
    // the variable changes (see above).
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Removes the environment variable `name`.
pub fn unsetenv(name: &CStr) {
    // SAFETY: name is NUL-terminated.
    unsafe { libc::unsetenv(name.as_ptr()) };
}

/// The size of a page of memory, as the kernel gives it to the process
/// (4 KiB on x86-64, 16 or 64 KiB on some arm64 and ppc64 kernels). glibc
/// answers it from memory, without a syscall.
pub fn page_size() -> usize {
    // SAFETY: sysconf takes an integer.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    // It cannot fail; were it to, the smallest page of any Linux target.
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// A close-on-exec memfd of `len` bytes, sealed against growing and
/// shrinking (so no holder can make the mapping fault), for a group's
/// shared page.
pub fn memfd(name: &CStr, len: usize) -> Result<c_int, Errno> {
    // SAFETY: name is NUL-terminated.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(errno());
    }
    let len = libc::off_t::try_from(len).map_err(|_| libc::EINVAL);
    // SAFETY: ftruncate and fcntl(F_ADD_SEALS) take integers.
    let sized = len.and_then(|len| {
        if unsafe { libc::ftruncate(fd, len) } < 0
            || unsafe {
                libc::fcntl(
                    fd,
                    libc::F_ADD_SEALS,
                    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW,
                )
            } < 0
        {
            Err(errno())
        } else {
            Ok(())
        }
    });
    match sized {
        Ok(()) => Ok(fd),
        Err(e) => {
            close(fd);
            Err(e)
        }
    }
}

/// The size of the memfd `fd`, which must be a regular file sealed
/// against growing and shrinking (as [`memfd`] makes it); `EBADF` if it
/// is not.
pub fn sealed_size(fd: c_int) -> Result<u64, Errno> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is a live, writable stat; F_GET_SEALS takes no argument.
    let (stat, seals) = unsafe { (libc::fstat(fd, &mut st), libc::fcntl(fd, libc::F_GET_SEALS)) };
    let sealed = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
    if stat < 0
        || st.st_mode & libc::S_IFMT != libc::S_IFREG
        || seals < 0
        || seals & sealed != sealed
    {
        return Err(libc::EBADF);
    }
    Ok(st.st_size as u64)
}

/// Maps `len` bytes: of `fd` shared, or private anonymous memory for
/// `fd < 0`. The memory is readable and writable.
pub fn map(fd: c_int, len: usize) -> Result<*mut c_void, Errno> {
    let flags = if fd < 0 {
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS
    } else {
        libc::MAP_SHARED
    };
    // SAFETY: a fresh mapping chosen by the kernel touches no existing
    // memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(p)
    }
}

/// Unmaps a mapping made by [`map`].
///
/// # Safety
/// `p` and `len` must be those of a mapping made by [`map`] that nothing
/// uses any more.
pub unsafe fn unmap(p: *mut c_void, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { libc::munmap(p, len) };
}

/// A close-on-exec epoll instance.
pub fn epoll() -> Result<c_int, Errno> {
    // SAFETY: epoll_create1 takes an integer.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

/// Adds `fd` to the epoll instance `ep` (`op` `EPOLL_CTL_ADD`), or
/// changes its entry there (`EPOLL_CTL_MOD`), to report `events` tagged
/// with `data`. Hang-up and error are always reported.
pub fn epoll_ctl(ep: c_int, op: c_int, fd: c_int, events: c_int, data: u64) -> Result<(), Errno> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: data,
    };
    // SAFETY: ev is a live epoll_event.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Waits for events on the epoll instance `ep` for at most `timeout_ms`
/// milliseconds (-1: no bound). Returns how many entries of `events` were
/// filled; 0 means the time ran out. `EINTR` is returned, not retried.
pub fn epoll_wait(
    ep: c_int,
    events: &mut [libc::epoll_event],
    timeout_ms: c_int,
) -> Result<usize, Errno> {
    let max = c_int::try_from(events.len()).unwrap_or(c_int::MAX);
    // SAFETY: events is a live, writable slice of at least max entries.
    let r = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), max, timeout_ms) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}
