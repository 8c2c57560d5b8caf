//! What the lock-step harnesses share (`lockstep/` for the two-party
//! barrier, `group_lockstep/` for groups): the answer of a call, the
//! processes the scheduler forks and talks to through a command pipe and an
//! answer pipe, how it sees one of them asleep in a syscall, and the seeded
//! runner of the random scripts.
//!
//! What a forked process calls here makes only syscalls (no allocation, no
//! locks).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use barrier_core::Error;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// What a call answers, in the Rust API's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Aborted,
    TimedOut,
    /// Where the API has no bound: the wait was seen asleep in ppoll() (by a
    /// probe) while everything the other side did was in the kernel. Only
    /// the two-party barrier has such an API.
    Blocked,
    /// A syscall failed: never expected, so always a mismatch.
    Os(i32),
}

impl Outcome {
    /// The outcome of a call of the Rust API.
    pub fn of(r: Result<(), Error>) -> Outcome {
        match r {
            Ok(()) => Outcome::Ok,
            Err(Error::Aborted) => Outcome::Aborted,
            Err(Error::TimedOut) => Outcome::TimedOut,
            Err(Error::Os(e)) => Outcome::Os(e),
            Err(e) => Outcome::Os(-e.to_negative_errno()),
        }
    }

    /// As a field of an answer.
    pub fn encode(self) -> i64 {
        match self {
            Outcome::Ok => 0,
            Outcome::Aborted => 1,
            Outcome::TimedOut => 2,
            Outcome::Blocked => 3,
            Outcome::Os(e) => 1000 + i64::from(e),
        }
    }

    pub fn decode(v: i64) -> Outcome {
        match v {
            0 => Outcome::Ok,
            1 => Outcome::Aborted,
            2 => Outcome::TimedOut,
            3 => Outcome::Blocked,
            e => Outcome::Os((e - 1000) as i32),
        }
    }
}

/// The timeout field of a command that means "unbounded".
pub const NO_BOUND: u64 = u64::MAX;

/// Reads a command in a forked process: its code, its argument and its
/// bound (`None` for [`NO_BOUND`]). At end of file (the scheduler is gone)
/// the process exits with status 3.
pub fn read_command(fd: RawFd) -> (u8, u8, Option<Duration>) {
    let mut c = [0u8; 16];
    if !read_exact(fd, &mut c) {
        exit_now(3);
    }
    let usec = u64::from_ne_bytes(c[8..].try_into().unwrap());
    (
        c[0],
        c[1],
        (usec != NO_BOUND).then(|| Duration::from_micros(usec)),
    )
}

/// Watchdog only: how long the scheduler waits for what is due at once (an
/// answer, an exit, a process falling asleep in the wait it was told to
/// make) before it calls the process hung. Every such thing needs only the
/// process to run: what it waits for is already in the kernel, and the
/// longest bounded wait that must time out is a millisecond. A few seconds
/// are far above what a correct run needs on a loaded machine, and keep a
/// failing run from going quiet for minutes. A process found asleep in its
/// wait where the answer needs no waiting is not given that long (see
/// [`Proc::await_answer`]).
pub const HANG: Duration = Duration::from_secs(5);

/// The CPU time a process may use on what is due at once before it is
/// called hung (it spins): what it does for one command takes microseconds,
/// a fork for a probe a few milliseconds.
pub const SPIN: Duration = Duration::from_millis(250);

/// How long shrinking a failing script may take, all tries together (the
/// try under way when it runs out is finished).
pub const SHRINK_BUDGET: Duration = Duration::from_secs(60);

/// How long the scheduler lets a process be before it looks at what it is
/// doing, and then between two looks.
const LOOK_AFTER: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------
// Syscalls.

/// Moves `len` bytes with `io`, which moves what is left from offset `done`
/// on and returns what read(2) or write(2) returned; false on end of file
/// or error.
fn move_all(len: usize, mut io: impl FnMut(usize) -> isize) -> bool {
    let mut done = 0;
    while done < len {
        let n = io(done);
        if n > 0 {
            done += n as usize;
        } else if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
    true
}

/// Reads exactly `buf.len()` bytes; false on end of file or error.
pub fn read_exact(fd: RawFd, buf: &mut [u8]) -> bool {
    let len = buf.len();
    move_all(len, |done| {
        // SAFETY: the pointer and length describe the unfilled part of buf.
        unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), len - done) }
    })
}

/// Writes all of `buf`; false on error (the reader is gone).
pub fn write_all(fd: RawFd, buf: &[u8]) -> bool {
    move_all(buf.len(), |done| {
        // SAFETY: the pointer and length describe the unwritten part of buf.
        unsafe { libc::write(fd, buf[done..].as_ptr().cast(), buf.len() - done) }
    })
}

pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; the kernel closes whatever
    // it holds.
    unsafe { libc::_exit(code) }
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

/// Waits for process `pid` (our child) to end, and says how.
pub fn wait_for(pid: libc::pid_t) -> Ended {
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

// ---------------------------------------------------------------------------
// Processes.

/// The state letter of a process in /proc/PID/stat ('S' asleep, 'R'
/// running, 'Z' a zombie ...), or '?' if it cannot be read.
pub fn process_state(pid: libc::pid_t) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, t)| t.chars().next()))
        .unwrap_or('?')
}

/// The syscall process `pid` is asleep ('S') in, as /proc tells it: `None`
/// if it is not asleep, `Some(None)` if /proc does not tell the syscall.
fn asleep_in_syscall(pid: libc::pid_t) -> Option<Option<libc::c_long>> {
    if process_state(pid) != 'S' {
        return None;
    }
    Some(
        std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .ok()
            .and_then(|s| s.split(' ').next().and_then(|nr| nr.parse().ok())),
    )
}

/// Whether process `pid` is asleep ('S') in one of `syscalls`, where /proc
/// tells the syscall (where it does not, asleep is the best evidence).
fn asleep_in(pid: libc::pid_t, syscalls: &[libc::c_long]) -> bool {
    asleep_in_syscall(pid).is_some_and(|nr| nr.is_none_or(|nr| syscalls.contains(&nr)))
}

/// The CPU time process `pid` has used, in user and kernel mode.
fn cpu_time(pid: libc::pid_t) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // utime and stime, the 14th and 15th fields, in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf takes an integer.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    Some(Duration::from_millis(ticks * 1000 / hz.max(1)))
}

/// A watch on a process that must get somewhere at once (answer, fall
/// asleep in a wait): it is hung after [`HANG`], or as soon as it has used
/// [`SPIN`] of CPU time without getting there. Nothing is read from /proc
/// before [`LOOK_AFTER`], which nearly every process beats.
struct Watch {
    pid: libc::pid_t,
    started: Instant,
    next_look: Cell<Instant>,
    /// The CPU time it had used at the first look.
    cpu: Cell<Option<Duration>>,
}

impl Watch {
    fn new(pid: libc::pid_t) -> Watch {
        let started = Instant::now();
        Watch {
            pid,
            started,
            next_look: Cell::new(started + LOOK_AFTER),
            cpu: Cell::new(None),
        }
    }

    /// Why the process is called hung, if it is.
    fn hung(&self) -> Option<String> {
        let now = Instant::now();
        if now < self.next_look.get() {
            return None;
        }
        self.next_look.set(now + LOOK_AFTER);
        let state = process_state(self.pid);
        if now - self.started > HANG {
            return Some(format!("nothing within {HANG:?} (process state {state})"));
        }
        let cpu = cpu_time(self.pid)?;
        let first = self.cpu.get().unwrap_or(cpu);
        self.cpu.set(Some(first));
        let used = cpu - first;
        (used > SPIN).then(|| {
            format!(
                "busy for {used:?} of CPU time in {:.1?} (process state {state})",
                now - self.started
            )
        })
    }
}

/// Waits until process `pid` is asleep in one of `syscalls` without having
/// answered (`answered()`): `Ok(true)`; `Ok(false)` if it answered
/// instead; `Err` with why it is called hung if neither happened (see
/// [`Watch`]). Not a timing assumption: it only waits for the process to
/// get there.
pub fn await_asleep(
    pid: libc::pid_t,
    syscalls: &[libc::c_long],
    answered: impl Fn() -> bool,
) -> Result<bool, String> {
    let watch = Watch::new(pid);
    loop {
        if answered() {
            return Ok(false);
        }
        // The answer is checked again after the state: a process seen
        // asleep before it answered would have its answer there now.
        if asleep_in(pid, syscalls) && !answered() {
            return Ok(true);
        }
        if let Some(why) = watch.hung() {
            return Err(format!("neither asleep in its wait nor answered: {why}"));
        }
        std::thread::yield_now();
    }
}

/// A forked process that runs the commands the scheduler writes to its
/// command pipe, and writes its answers to its answer pipe. Dropped while
/// it runs, it is killed and reaped, so a failing script leaves nothing
/// behind.
pub struct Proc {
    pub pid: libc::pid_t,
    cmd: OwnedFd,
    res: OwnedFd,
    running: bool,
}

/// What [`Proc::fork`] returns in each of the two processes.
pub enum Forked {
    Parent(Proc),
    /// The read end of the new process's command pipe, and the write end
    /// of its answer pipe.
    Child {
        cmd: OwnedFd,
        res: OwnedFd,
    },
}

impl Proc {
    /// Forks a process with a command pipe and an answer pipe of its own.
    /// The child closes the pipes of `others`, the processes forked before
    /// it: they are not its to hold, and end of file on them tells the
    /// scheduler that one of those is gone.
    ///
    /// # Safety
    ///
    /// The test process may run other threads: the child may make only
    /// syscalls and barrier calls (no allocation, no locks), then `_exit`
    /// (see [`run_child`]).
    pub unsafe fn fork<'a>(others: impl Iterator<Item = &'a Proc>) -> Forked {
        let (cmd_r, cmd_w) = pipe();
        let (res_r, res_w) = pipe();
        // SAFETY: the caller's promise.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid != 0 {
            return Forked::Parent(Proc {
                pid,
                cmd: cmd_w,
                res: res_r,
                running: true,
            });
        }
        for p in others {
            // SAFETY: closing descriptors this process inherited and never
            // uses; their OwnedFds are forgotten with the process.
            unsafe {
                libc::close(p.cmd.as_raw_fd());
                libc::close(p.res.as_raw_fd());
            }
        }
        drop(cmd_w);
        drop(res_r);
        Forked::Child {
            cmd: cmd_r,
            res: res_w,
        }
    }

    /// Sends a command (see [`read_command`]), bounded by `usec` where it
    /// waits; false if the process is gone.
    pub fn command(&self, code: u8, arg: u8, usec: u64) -> bool {
        let mut c = [0u8; 16];
        c[0] = code;
        c[1] = arg;
        c[8..].copy_from_slice(&usec.to_ne_bytes());
        write_all(self.cmd.as_raw_fd(), &c)
    }

    /// Waits until the answer pipe is readable (an answer, or end of file
    /// once the process is gone); false after `timeout`.
    pub fn readable(&self, timeout: Duration) -> bool {
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

    /// Waits for an answer that is due at once (or for end of file once the
    /// process is gone). `Err` with what the process does instead: asleep
    /// in one of `waits`, the syscalls it sleeps in while it waits, where
    /// `may_wait` is false (the answer needs no waiting: whatever it waits
    /// for is already in the kernel, so a wait that sleeps has gone wrong
    /// and would never answer); or nothing at all (see [`Watch`]).
    ///
    /// A process that answers within [`LOOK_AFTER`], as nearly every one
    /// does, is never looked at; a wait woken by what the scheduler did
    /// before is runnable, not asleep, from the moment that returned.
    pub fn await_answer(&self, waits: &[libc::c_long], may_wait: bool) -> Result<(), String> {
        let watch = Watch::new(self.pid);
        loop {
            if self.readable(LOOK_AFTER) {
                return Ok(());
            }
            if !may_wait {
                let asleep = asleep_in_syscall(self.pid).flatten();
                // The answer is checked again after the state: a process
                // seen asleep before it answered would have its answer
                // there now.
                if asleep.is_some_and(|nr| waits.contains(&nr)) && !self.has_answer() {
                    return Err(format!(
                        "asleep in its wait (syscall {}) instead of answering at once",
                        asleep.unwrap_or_default()
                    ));
                }
            }
            if let Some(why) = watch.hung() {
                return Err(format!("no answer: {why}"));
            }
        }
    }

    /// Whether the process has written something (or is gone).
    pub fn has_answer(&self) -> bool {
        self.readable(Duration::ZERO)
    }

    /// Reads an answer of `buf.len()` bytes; false if the process ended
    /// instead.
    pub fn read_answer(&self, buf: &mut [u8]) -> bool {
        read_exact(self.res.as_raw_fd(), buf)
    }

    /// Sends SIGKILL (the process is reaped with [`Proc::reap`]).
    pub fn kill(&self) {
        // SAFETY: kill takes no pointers; pid is our unreaped child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    /// Waits for the process to end, and says how.
    pub fn reap(&mut self) -> Ended {
        self.running = false;
        wait_for(self.pid)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running {
            self.kill();
            self.reap();
        }
    }
}

/// Runs the body of a forked process, which ends with `_exit`; should it
/// panic or return instead, the process ends with status 101, so that it
/// never goes on in the test's own code.
pub fn run_child(body: impl FnOnce()) -> ! {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    drop(r);
    exit_now(101)
}

// ---------------------------------------------------------------------------
// Random scripts.

pub fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
    )
}

/// How a test runs its random scripts.
pub struct Run<'a> {
    /// What the test is called in what it prints.
    pub what: &'a str,
    /// The environment variable that sets the number of scripts.
    pub cases_var: &'a str,
    /// The environment variable that sets the seed.
    pub seed_var: &'a str,
    pub default_cases: u32,
    /// An odd constant that spreads the seed over the generator's 32 bytes
    /// (each test keeps its own, so that a seed it printed still gives the
    /// same scripts).
    pub mix: u64,
    /// How many times a failing script may be shrunk.
    pub max_shrink_iters: u32,
}

impl Run<'_> {
    /// The number of scripts and the seed (the clock, unless the
    /// environment sets one), printed, and a runner that draws every script
    /// from that seed: (runner, cases, seed).
    pub fn runner(&self) -> (TestRunner, u32, u64) {
        let cases = env_u64(self.cases_var).map_or(self.default_cases, |n| n as u32);
        let seed = env_u64(self.seed_var).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
        println!("{}: {cases} scripts, {}={seed}", self.what, self.seed_var);
        let mut seed_bytes = [0u8; 32];
        for (k, chunk) in seed_bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&(seed ^ (k as u64).wrapping_mul(self.mix)).to_le_bytes());
        }
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: self.max_shrink_iters,
            max_shrink_time: SHRINK_BUDGET.as_millis() as u32,
            ..Config::default()
        };
        let runner = TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
        );
        (runner, cases, seed)
    }

    /// Runs `test` on the scripts [`Run::runner`] draws. The first script
    /// that fails is written to stderr at once, with the seed, before it is
    /// shrunk (for at most [`SHRINK_BUDGET`]); then this panics with the
    /// smallest failing script found. Returns the number of scripts and how
    /// long they took.
    pub fn run<S>(
        &self,
        scripts: &S,
        test: impl Fn(&S::Value) -> Result<(), String>,
    ) -> (u32, Duration)
    where
        S: Strategy,
        S::Value: fmt::Debug,
    {
        let (mut runner, cases, seed) = self.runner();
        let started = Instant::now();
        // Scripts run before the first failure, then tries while shrinking.
        let tried = Cell::new(0u32);
        let failed_at: Cell<Option<Instant>> = Cell::new(None);
        let result = runner.run(scripts, |script| {
            tried.set(tried.get() + 1);
            // A panic of the harness fails the script like an error.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&script)))
                .unwrap_or_else(|panic| {
                    let text = (panic.downcast_ref::<String>().map(String::as_str))
                        .or_else(|| panic.downcast_ref::<&str>().copied());
                    Err(format!("the harness panicked: {}", text.unwrap_or("?")))
                });
            if let (Err(why), None) = (&result, failed_at.get()) {
                failed_at.set(Some(Instant::now()));
                // Past the test harness's capture of the output: this must
                // show while the run goes on.
                let _ = writeln!(
                    std::io::stderr(),
                    "{what}: script {k} of {cases} fails, {t:.1?} into the run (rerun with \
                     {seed_var}={seed}):\n{script:#?}\n{why}\n{what}: shrinking it, for at most \
                     {SHRINK_BUDGET:?}",
                    what = self.what,
                    k = tried.get(),
                    t = started.elapsed(),
                    seed_var = self.seed_var,
                );
                tried.set(0);
            }
            result.map_err(TestCaseError::fail)
        });
        match result {
            Ok(()) => (cases, started.elapsed()),
            Err(TestError::Fail(why, script)) => panic!(
                "{what}: a script fails (rerun with {seed_var}={seed}); shrunk in {tries} tries, \
                 {t:.1?}.\nsmallest failing script:\n{script:#?}\n{why}",
                what = self.what,
                seed_var = self.seed_var,
                tries = tried.get(),
                t = failed_at.get().map_or(Duration::ZERO, |at| at.elapsed()),
            ),
            Err(e) => panic!("{}: {}={seed}: {e}", self.what, self.seed_var),
        }
    }
}
