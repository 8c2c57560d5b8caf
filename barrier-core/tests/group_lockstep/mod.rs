//! The processes of the group model test: one forked process per member of
//! a [`Group`], each running one call per command it reads from its control
//! pipe and answering with the result and what the member has observed
//! (its predicates and `aborted_by`).
//!
//! The test process is the scheduler: it sends a command and reads the
//! answer before it sends the next one, so the interleaving is exactly the
//! script's. A member can also be left blocked in an unbounded wait (the
//! scheduler sees it asleep in `epoll_wait`) and its answer collected
//! later, and it can exit or be killed with SIGKILL, blocked or not.
//!
//! Nothing here waits for time to pass: every blocking read of the
//! scheduler has a watchdog ([`HANG`]) that only turns a hang into a
//! failure.

use barrier_core::{Error, Group};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What a call answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Aborted,
    TimedOut,
    /// A syscall failed: never expected, so always a mismatch.
    Os(i32),
}

impl Outcome {
    fn of(r: Result<(), Error>) -> Outcome {
        match r {
            Ok(()) => Outcome::Ok,
            Err(Error::Aborted) => Outcome::Aborted,
            Err(Error::TimedOut) => Outcome::TimedOut,
            Err(Error::Os(e)) => Outcome::Os(e),
        }
    }

    fn encode(self) -> i64 {
        match self {
            Outcome::Ok => 0,
            Outcome::Aborted => 1,
            Outcome::TimedOut => 2,
            Outcome::Os(e) => 1000 + i64::from(e),
        }
    }

    fn decode(v: i64) -> Outcome {
        match v {
            0 => Outcome::Ok,
            1 => Outcome::Aborted,
            2 => Outcome::TimedOut,
            e => Outcome::Os((e - 1000) as i32),
        }
    }
}

/// A member's answer: the outcome of its call and what it has observed
/// afterwards, as its predicates report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub i_aborted: bool,
    pub they_aborted: bool,
    pub is_aborted: bool,
    pub aborted_by: Option<usize>,
}

/// The calls a member can be told to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Place,
    Abort,
    Sync,
    PlaceAndSync,
    WaitAbortion,
    /// Answers with the predicates only (its outcome is `Ok`).
    Report,
    /// `_exit` with the handle still held: the kernel closes it.
    Exit,
    /// Drops the handle, then `_exit`.
    DropAndExit,
}

impl Call {
    const ALL: [Call; 8] = [
        Call::Place,
        Call::Abort,
        Call::Sync,
        Call::PlaceAndSync,
        Call::WaitAbortion,
        Call::Report,
        Call::Exit,
        Call::DropAndExit,
    ];

    fn code(self) -> u8 {
        Call::ALL.iter().position(|&c| c == self).unwrap() as u8
    }
}

/// The timeout field of a command that means "unbounded".
pub const NO_BOUND: u64 = u64::MAX;

/// Watchdog only: how long the scheduler waits for an answer, an exit or a
/// member to fall asleep before it calls the member hung. Far above what a
/// correct run needs: every answer it waits for is due at once.
pub const HANG: Duration = Duration::from_secs(60);

/// Set once a watchdog fired: shrinking a script that hangs would hang at
/// every try, so the caller reports that script as it is.
pub static HUNG: AtomicBool = AtomicBool::new(false);

/// A watchdog's report, which also sets [`HUNG`].
fn hung(report: String) -> String {
    HUNG.store(true, Relaxed);
    report
}

/// Reads exactly `buf.len()` bytes; false on end of file or error.
fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled part of buf.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n > 0 {
            done += n as usize;
        } else if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
    true
}

/// Writes all of `buf`; false on error (the reader is gone).
fn write_all(fd: RawFd, buf: &[u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unwritten part of buf.
        let n = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) };
        if n > 0 {
            done += n as usize;
        } else if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
    true
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; the kernel closes what it
    // holds.
    unsafe { libc::_exit(code) }
}

/// The body of a member's process: runs commands until told to exit.
/// Makes only syscalls and group calls (no allocation).
fn member_main(mut group: Group, cmd: RawFd, res: RawFd) -> ! {
    loop {
        let mut c = [0u8; 16];
        if !read_exact(cmd, &mut c) {
            exit_now(3);
        }
        let usec = u64::from_ne_bytes(c[8..].try_into().unwrap());
        let bound = (usec != NO_BOUND).then(|| Duration::from_micros(usec));
        let call = *Call::ALL
            .get(usize::from(c[0]))
            .unwrap_or_else(|| exit_now(4));
        let g = &mut group;
        let r = match (call, bound) {
            (Call::Place, _) => g.place(),
            (Call::Abort, _) => g.abort(),
            (Call::Sync, None) => g.sync(),
            (Call::Sync, Some(t)) => g.sync_timeout(t),
            (Call::PlaceAndSync, None) => g.place_and_sync(),
            (Call::PlaceAndSync, Some(t)) => g.place_and_sync_timeout(t),
            (Call::WaitAbortion, None) => g.wait_abortion(),
            (Call::WaitAbortion, Some(t)) => g.wait_abortion_timeout(t),
            (Call::Report, _) => Ok(()),
            (Call::Exit, _) => exit_now(0),
            (Call::DropAndExit, _) => {
                drop(group);
                exit_now(0)
            }
        };
        let flags = i64::from(g.i_aborted())
            | i64::from(g.they_aborted()) << 1
            | i64::from(g.is_aborted()) << 2;
        let by = g.aborted_by().map_or(-1, |r| r as i64);
        let mut a = [0u8; 24];
        a[..8].copy_from_slice(&Outcome::of(r).encode().to_ne_bytes());
        a[8..16].copy_from_slice(&flags.to_ne_bytes());
        a[16..].copy_from_slice(&by.to_ne_bytes());
        if !write_all(res, &a) {
            exit_now(5);
        }
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: fds is a writable array of two ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 just opened both descriptors, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// How a process ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(i32),
}

/// Waits for our child `pid` to end, and says how.
fn wait_for(pid: libc::pid_t) -> Ended {
    let mut status = 0;
    loop {
        // SAFETY: status is a live int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINTR),
            "waitpid"
        );
    }
    if libc::WIFEXITED(status) {
        Ended::Exited(libc::WEXITSTATUS(status))
    } else {
        Ended::Killed(libc::WTERMSIG(status))
    }
}

/// The state letter of a process in /proc/PID/stat ('S' asleep, 'R'
/// running ...), or '?' if it cannot be read.
pub fn process_state(pid: libc::pid_t) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, t)| t.chars().next()))
        .unwrap_or('?')
}

/// The syscalls a member sleeps in while it waits.
fn epoll_waits() -> &'static [libc::c_long] {
    #[cfg(target_arch = "x86_64")]
    return &[
        libc::SYS_epoll_wait,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    return &[libc::SYS_epoll_pwait, libc::SYS_epoll_pwait2];
}

/// Whether process `pid` is asleep ('S') in `epoll_wait`, where /proc
/// tells the syscall (a member answering a command sleeps in `read`).
fn asleep_in_epoll(pid: libc::pid_t) -> bool {
    if process_state(pid) != 'S' {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        Ok(s) => s
            .split(' ')
            .next()
            .and_then(|nr| nr.parse::<libc::c_long>().ok())
            .is_some_and(|nr| epoll_waits().contains(&nr)),
        Err(_) => true,
    }
}

struct Proc {
    pid: libc::pid_t,
    cmd: OwnedFd,
    res: OwnedFd,
    running: bool,
}

impl Proc {
    /// Waits until the answer pipe is readable (an answer, or end of file
    /// once the member is gone); false after [`HANG`].
    fn readable(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.res.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: pfd is one live pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if r > 0 {
                return true;
            }
            if r == 0 && left.is_zero() {
                return false;
            }
        }
    }
}

/// The members of one group, each in a process of its own. Dropping it
/// kills and reaps whatever still runs, so a failing script leaves nothing
/// behind.
pub struct Members {
    procs: Vec<Proc>,
}

impl Members {
    /// Creates a group of `n`, forks one process per member, each of which
    /// joins under its rank, and drops the creator's handle right after
    /// the last fork (so that every member's exit is seen). Member `early`,
    /// if any, exits before it joins; it is reaped before this returns.
    pub fn start(n: usize, early: Option<usize>) -> Result<Members, String> {
        let group = Group::new(n).expect("creating the group");
        let mut procs: Vec<Proc> = Vec::with_capacity(n);
        for rank in 0..n {
            let (cmd_r, cmd_w) = pipe();
            let (res_r, res_w) = pipe();
            // SAFETY: the child makes only syscalls and group calls (no
            // allocation, no locks), then _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                // The other members' control pipes are not ours to hold:
                // end of file on them tells the scheduler a member is gone.
                for p in &procs {
                    // SAFETY: closing descriptors inherited and never used;
                    // their OwnedFds are forgotten with the process.
                    unsafe {
                        libc::close(p.cmd.as_raw_fd());
                        libc::close(p.res.as_raw_fd());
                    }
                }
                drop(cmd_w);
                drop(res_r);
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    // Moved in here, so that it is never dropped twice.
                    let mut group = group;
                    if early == Some(rank) {
                        exit_now(0);
                    }
                    if group.join(rank).is_err() {
                        exit_now(7);
                    }
                    member_main(group, cmd_r.as_raw_fd(), res_w.as_raw_fd())
                }));
                drop(r);
                exit_now(101);
            }
            procs.push(Proc {
                pid,
                cmd: cmd_w,
                res: res_r,
                running: true,
            });
        }
        drop(group);
        let mut members = Members { procs };
        if let Some(rank) = early {
            members.reap(rank)?;
        }
        Ok(members)
    }

    /// Tells member `rank` to make `call`, bounded by `usec` where it
    /// waits ([`NO_BOUND`] for none).
    pub fn send(&self, rank: usize, call: Call, usec: u64) -> Result<(), String> {
        let mut c = [0u8; 16];
        c[0] = call.code();
        c[8..].copy_from_slice(&usec.to_ne_bytes());
        if write_all(self.procs[rank].cmd.as_raw_fd(), &c) {
            Ok(())
        } else {
            Err(format!("member {rank} is gone: could not send {call:?}"))
        }
    }

    /// The answer to member `rank`'s last command (watchdog: [`HANG`]).
    pub fn answer(&self, rank: usize) -> Result<Answer, String> {
        let p = &self.procs[rank];
        if !p.readable(HANG) {
            return Err(hung(format!("member {rank}: no answer within {HANG:?}")));
        }
        let mut a = [0u8; 24];
        if !read_exact(p.res.as_raw_fd(), &mut a) {
            return Err(format!("member {rank} died instead of answering"));
        }
        let field = |k: usize| i64::from_ne_bytes(a[k * 8..k * 8 + 8].try_into().unwrap());
        let flags = field(1);
        Ok(Answer {
            outcome: Outcome::decode(field(0)),
            i_aborted: flags & 1 != 0,
            they_aborted: flags & 2 != 0,
            is_aborted: flags & 4 != 0,
            aborted_by: usize::try_from(field(2)).ok(),
        })
    }

    /// Sends a command and returns its answer.
    pub fn ask(&self, rank: usize, call: Call, usec: u64) -> Result<Answer, String> {
        self.send(rank, call, usec)?;
        self.answer(rank)
    }

    /// Whether member `rank` has written something (or is gone).
    pub fn has_answer(&self, rank: usize) -> bool {
        self.procs[rank].readable(Duration::ZERO)
    }

    /// Waits until member `rank`, told to wait, is asleep in its wait and
    /// has not answered: true; false if it answered instead. Not a timing
    /// assumption: it only waits for the member to get there (watchdog:
    /// [`HANG`]).
    pub fn await_asleep(&self, rank: usize) -> Result<bool, String> {
        let pid = self.procs[rank].pid;
        let deadline = Instant::now() + HANG;
        loop {
            if self.has_answer(rank) {
                return Ok(false);
            }
            // The answer is checked again after the state: a member seen
            // asleep before it answered would have its answer there now.
            if asleep_in_epoll(pid) && !self.has_answer(rank) {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Err(hung(format!(
                    "member {rank} (pid {pid}) neither fell asleep nor answered within {HANG:?} \
                     (state {})",
                    process_state(pid)
                )));
            }
            std::thread::yield_now();
        }
    }

    /// Member `rank` exits (dropping its handle first if `drop`); checks
    /// that it ended with status 0.
    pub fn exit(&mut self, rank: usize, drop: bool) -> Result<(), String> {
        let call = if drop { Call::DropAndExit } else { Call::Exit };
        self.send(rank, call, 0)?;
        self.reap(rank)
    }

    /// Reaps member `rank`, which exits by itself; checks that it ended
    /// with status 0.
    fn reap(&mut self, rank: usize) -> Result<(), String> {
        let p = &mut self.procs[rank];
        // Only the member holds its answer pipe's write end: end of file
        // there means it is on its way out, so waitpid cannot hang.
        if !p.readable(HANG) {
            return Err(hung(format!("member {rank} did not exit within {HANG:?}")));
        }
        p.running = false;
        match wait_for(p.pid) {
            Ended::Exited(0) => Ok(()),
            e => Err(format!("member {rank} told to exit ended {e:?}")),
        }
    }

    /// Kills member `rank` with SIGKILL and reaps it.
    pub fn kill(&mut self, rank: usize) -> Result<(), String> {
        let p = &mut self.procs[rank];
        // SAFETY: kill takes no pointers; pid is our unreaped child.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
        p.running = false;
        match wait_for(p.pid) {
            Ended::Killed(libc::SIGKILL) => Ok(()),
            e => Err(format!("member {rank}, killed, ended {e:?}")),
        }
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.running {
                // SAFETY: kill takes no pointers; pid is our unreaped child.
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
                p.running = false;
                wait_for(p.pid);
            }
        }
    }
}
