//! Model-based test: random scripts of operations for both sides of one
//! barrier run across two real processes, and every answer and every state
//! is compared with a reference model of the contract (the specification's
//! WRITE and READ steps and the operations built on them), written here on
//! its own and sharing no code with the library.
//!
//! The test process is a lock-step scheduler. Each side is a forked process
//! that runs one operation per command it reads from a control pipe and
//! answers with the result and its state. The scheduler sends one command,
//! waits for the answer, and only then sends the next, so the interleaving
//! is exactly the script's. Before each step it asks the model what the
//! operation will do:
//!
//! - an operation the model says completes at once runs as written
//!   (unbounded, or bounded with any timeout);
//! - a wait the model says cannot be satisfied runs bounded with a short
//!   timeout, and the model predicts `Err(TimedOut)`: everything the other
//!   side did is already in the kernel, so no machine is too slow for that;
//! - a wait that blocks and that one action of the other side releases
//!   runs unbounded: the scheduler sees the waiting process asleep in
//!   ppoll(), then has the other side act (place, abort, exit or be
//!   killed), then collects the wait's answer;
//! - a side can exit (with or without destroying its end) or be killed with
//!   SIGKILL between steps or while blocked in a wait.
//!
//! `MODEL_CASES` sets the number of scripts (default 10000), `MODEL_SEED`
//! the seed (printed on every run, and with the smallest failing script on
//! failure).

use barrier_core::{Barrier, Error, Role};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The reference model, from the specification.

const ABORTION: u64 = i64::MAX as u64;
const WE_ABORTED: i64 = i64::MIN + 1;
const THEY_ABORTED: i64 = i64::MIN + 2;
const I_ABORTED: i64 = i64::MIN + 3;

fn i_aborted(s: i64) -> bool {
    s == I_ABORTED || s == WE_ABORTED
}
fn they_aborted(s: i64) -> bool {
    s == THEY_ABORTED || s == WE_ABORTED
}
fn any_aborted(s: i64) -> bool {
    i_aborted(s) || they_aborted(s)
}

/// What an operation answers, in the Rust API's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Aborted,
    TimedOut,
    /// A syscall failed: never expected here, so always a mismatch.
    Os(i32),
}

/// The waiting operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    WaitNext,
    WaitAbortion,
    SyncNext,
    Sync,
    PlaceAndSync,
}

#[derive(Clone, Debug)]
struct Model {
    /// Each side's `barriers` value.
    state: [i64; 2],
    /// Whether each side's process is still running.
    alive: [bool; 2],
    /// What each side wrote to its eventfd and the other side has not read
    /// yet: the eventfd's counter, a sum.
    unread: [u64; 2],
}

/// A wait that could not finish: the limit its READ runs to.
#[derive(Clone, Copy, Debug)]
struct Blocked {
    limit: i64,
}

impl Model {
    fn new() -> Model {
        Model {
            state: [0, 0],
            alive: [true, true],
            unread: [0, 0],
        }
    }

    /// WRITE(value) by side `i`; false if it did nothing.
    fn write(&mut self, i: usize, value: u64) -> bool {
        let s = self.state[i];
        if i_aborted(s) {
            return false;
        }
        self.unread[i] += value;
        self.state[i] = if value >= ABORTION {
            if they_aborted(s) {
                WE_ABORTED
            } else {
                I_ABORTED
            }
        } else if any_aborted(s) {
            s
        } else {
            s + value as i64
        };
        true
    }

    /// Side `i` took `value` from the other side's eventfd (or saw the pipe
    /// hang up, which counts as ABORTION).
    fn receive(&mut self, i: usize, value: u64) {
        let s = self.state[i];
        self.state[i] = if value >= ABORTION {
            if i_aborted(s) {
                WE_ABORTED
            } else {
                THEY_ABORTED
            }
        } else if any_aborted(s) {
            s
        } else {
            s - value as i64
        };
    }

    /// READ(limit) by side `i`: true when it finished, false where it
    /// would have to wait for the other side (having consumed what there
    /// was). The eventfd comes before the pipe: an exit never hides the
    /// barriers placed before it.
    fn read(&mut self, i: usize, limit: i64) -> bool {
        let o = 1 - i;
        if they_aborted(self.state[i]) {
            return true;
        }
        while self.state[i] > limit {
            if self.unread[o] > 0 {
                let v = std::mem::take(&mut self.unread[o]);
                self.receive(i, v);
            } else if !self.alive[o] {
                self.receive(i, ABORTION);
            } else {
                return false;
            }
        }
        true
    }

    fn place(&mut self, i: usize) -> Outcome {
        if any_aborted(self.state[i]) {
            return Outcome::Aborted;
        }
        self.write(i, 1);
        Outcome::Ok
    }

    fn abort(&mut self, i: usize) -> Outcome {
        self.write(i, ABORTION);
        if they_aborted(self.state[i]) {
            Outcome::Aborted
        } else {
            Outcome::Ok
        }
    }

    /// Starts a wait: its READ limit, or the answer if it ends before any
    /// READ.
    fn begin(&mut self, i: usize, kind: Kind) -> Result<i64, Outcome> {
        let s = self.state[i];
        match kind {
            Kind::WaitAbortion => Ok(THEY_ABORTED),
            _ if any_aborted(s) => Err(Outcome::Aborted),
            Kind::WaitNext => Ok(s - 1),
            Kind::SyncNext => Ok((s - 1).max(0)),
            Kind::Sync => Ok(0),
            Kind::PlaceAndSync => {
                self.place(i);
                Ok(0)
            }
        }
    }

    /// The answer of a wait whose READ finished.
    fn finish(&self, i: usize, kind: Kind) -> Outcome {
        let s = self.state[i];
        let failed = match kind {
            Kind::WaitAbortion => i_aborted(s),
            _ => any_aborted(s),
        };
        if failed {
            Outcome::Aborted
        } else {
            Outcome::Ok
        }
    }

    /// Runs a wait as far as it goes without the other side acting.
    fn wait(&mut self, i: usize, kind: Kind) -> Result<Outcome, Blocked> {
        match self.begin(i, kind) {
            Err(outcome) => Ok(outcome),
            Ok(limit) => self.resume(i, kind, Blocked { limit }),
        }
    }

    /// Goes on with a wait that was blocked.
    fn resume(&mut self, i: usize, kind: Kind, blocked: Blocked) -> Result<Outcome, Blocked> {
        if self.read(i, blocked.limit) {
            Ok(self.finish(i, kind))
        } else {
            Err(blocked)
        }
    }

    fn gone(&mut self, i: usize) {
        self.alive[i] = false;
    }
}

// ---------------------------------------------------------------------------
// Scripts.

/// How a wait is bounded in the script. A wait the model says would block
/// always runs with the short bound instead.
#[derive(Clone, Copy, Debug)]
enum Bound {
    Unbounded,
    Zero,
    Short,
    Long,
}

const SHORT: Duration = Duration::from_micros(200);
const LONG: Duration = Duration::from_secs(10);

/// What the other side does to release a blocked wait.
#[derive(Clone, Copy, Debug)]
enum Release {
    Place,
    Abort,
    Exit,
    Kill,
    /// Places a barrier and exits at once: the waiter may well be woken
    /// with both the barrier and the hang-up ready, and must still count
    /// the barrier first.
    PlaceThenExit,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Place,
    Abort,
    Wait(Kind, Bound),
    /// An unbounded wait, then the other side acts (which releases the
    /// wait if the model says so; otherwise the wait runs bounded first).
    /// The other side acts once the waiter sleeps in its wait, or, when
    /// `raced` is set, at once, racing the waiter into its wait: which of
    /// them gets there first changes nothing the model predicts.
    BlockedUntil {
        kind: Kind,
        release: Release,
        raced: bool,
    },
    Exit {
        destroy: bool,
    },
    Kill,
    /// An unbounded wait, killed with SIGKILL while blocked in it.
    KilledInWait(Kind),
}

#[derive(Clone, Copy)]
struct Step {
    side: usize,
    op: Op,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", SIDE_NAMES[self.side], self.op)
    }
}

const SIDE_NAMES: [&str; 2] = ["parent", "child"];
const ROLES: [Role; 2] = [Role::Parent, Role::Child];

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::WaitNext),
        Just(Kind::WaitAbortion),
        Just(Kind::SyncNext),
        Just(Kind::Sync),
        Just(Kind::PlaceAndSync),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let bound = prop_oneof![
        Just(Bound::Unbounded),
        Just(Bound::Zero),
        Just(Bound::Short),
        Just(Bound::Long),
    ];
    let release = prop_oneof![
        4 => Just(Release::Place),
        1 => Just(Release::Abort),
        1 => Just(Release::Exit),
        1 => Just(Release::Kill),
        2 => Just(Release::PlaceThenExit),
    ];
    prop_oneof![
        30 => Just(Op::Place),
        3 => Just(Op::Abort),
        35 => (kind(), bound).prop_map(|(k, b)| Op::Wait(k, b)),
        14 => (kind(), release, any::<bool>()).prop_map(|(kind, release, raced)| {
            Op::BlockedUntil {
                kind,
                release,
                raced,
            }
        }),
        1 => any::<bool>().prop_map(|destroy| Op::Exit { destroy }),
        1 => Just(Op::Kill),
        1 => kind().prop_map(Op::KilledInWait),
    ]
}

fn script() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..2usize, op()).prop_map(|(side, op)| Step { side, op }),
        1..40,
    )
}

// ---------------------------------------------------------------------------
// The two sides: forked processes that run one command at a time.

const CMD_PLACE: u8 = 1;
const CMD_ABORT: u8 = 2;
const CMD_WAIT: u8 = 3;
const CMD_EXIT: u8 = 4;
const CMD_DESTROY_AND_EXIT: u8 = 5;
const CMD_REPORT: u8 = 6;
const CMD_PLACE_AND_EXIT: u8 = 7;

/// The timeout field of a command that means "unbounded".
const NO_BOUND: u64 = u64::MAX;

/// Watchdog only: how long the scheduler waits for an answer before it
/// calls the side hung. Far above anything a correct run needs (the
/// longest bounded wait a correct run can be asked to do completes at once).
const HANG: Duration = Duration::from_secs(60);

fn encode_kind(k: Kind) -> u8 {
    match k {
        Kind::WaitNext => 0,
        Kind::WaitAbortion => 1,
        Kind::SyncNext => 2,
        Kind::Sync => 3,
        Kind::PlaceAndSync => 4,
    }
}

fn encode_outcome(r: Result<(), Error>) -> i64 {
    match r {
        Ok(()) => 0,
        Err(Error::Aborted) => 1,
        Err(Error::TimedOut) => 2,
        Err(Error::Os(e)) => 1000 + i64::from(e),
    }
}

fn decode_outcome(v: i64) -> Outcome {
    match v {
        0 => Outcome::Ok,
        1 => Outcome::Aborted,
        2 => Outcome::TimedOut,
        e => Outcome::Os((e - 1000) as i32),
    }
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

fn run_wait(b: &mut Barrier, kind: Kind, usec: u64) -> Result<(), Error> {
    if usec == NO_BOUND {
        return match kind {
            Kind::WaitNext => b.wait_next(),
            Kind::WaitAbortion => b.wait_abortion(),
            Kind::SyncNext => b.sync_next(),
            Kind::Sync => b.sync(),
            Kind::PlaceAndSync => b.place_and_sync(),
        };
    }
    let t = Duration::from_micros(usec);
    match kind {
        Kind::WaitNext => b.wait_next_timeout(t),
        Kind::WaitAbortion => b.wait_abortion_timeout(t),
        Kind::SyncNext => b.sync_next_timeout(t),
        Kind::Sync => b.sync_timeout(t),
        Kind::PlaceAndSync => b.place().and_then(|()| b.sync_timeout(t)),
    }
}

/// The body of a side's process: runs commands until told to exit. Does
/// not allocate.
fn side_main(mut barrier: Barrier, cmd: RawFd, res: RawFd) -> ! {
    loop {
        let mut c = [0u8; 16];
        if !read_exact(cmd, &mut c) {
            // SAFETY: _exit ends the process at once.
            unsafe { libc::_exit(3) };
        }
        let usec = u64::from_ne_bytes(c[8..16].try_into().unwrap());
        let kind = match c[1] {
            0 => Kind::WaitNext,
            1 => Kind::WaitAbortion,
            2 => Kind::SyncNext,
            3 => Kind::Sync,
            _ => Kind::PlaceAndSync,
        };
        let result = match c[0] {
            CMD_PLACE => barrier.place(),
            CMD_ABORT => barrier.abort(),
            CMD_WAIT => run_wait(&mut barrier, kind, usec),
            CMD_EXIT => {
                // SAFETY: _exit ends the process at once; the kernel closes
                // the barrier's descriptors.
                unsafe { libc::_exit(0) }
            }
            CMD_DESTROY_AND_EXIT => {
                drop(barrier);
                // SAFETY: as above.
                unsafe { libc::_exit(0) }
            }
            CMD_REPORT => Ok(()),
            CMD_PLACE_AND_EXIT => barrier.place(),
            // SAFETY: as above.
            _ => unsafe { libc::_exit(4) },
        };
        let mut r = [0u8; 16];
        r[..8].copy_from_slice(&encode_outcome(result).to_ne_bytes());
        r[8..].copy_from_slice(&barrier.state().raw().to_ne_bytes());
        if !write_all(res, &r) {
            // SAFETY: as above.
            unsafe { libc::_exit(5) };
        }
        if c[0] == CMD_PLACE_AND_EXIT {
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
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

struct Proc {
    pid: libc::pid_t,
    cmd: OwnedFd,
    res: OwnedFd,
    running: bool,
}

/// How a side's process ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Exited(i32),
    Killed(i32),
}

impl Proc {
    fn send(&self, code: u8, kind: u8, usec: u64) -> Result<(), String> {
        let mut c = [0u8; 16];
        c[0] = code;
        c[1] = kind;
        c[8..].copy_from_slice(&usec.to_ne_bytes());
        if write_all(self.cmd.as_raw_fd(), &c) {
            Ok(())
        } else {
            Err("could not send a command: the side is gone".into())
        }
    }

    /// The answer to the last command: its outcome and the side's state.
    fn answer(&self) -> Result<(Outcome, i64), String> {
        let mut pfd = libc::pollfd {
            fd: self.res.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let deadline = Instant::now() + HANG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: pfd is one live pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if r > 0 {
                break;
            }
            if r == 0 {
                return Err(format!("no answer within {HANG:?}: the side hung"));
            }
        }
        let mut r = [0u8; 16];
        if !read_exact(self.res.as_raw_fd(), &mut r) {
            return Err("the side died instead of answering".into());
        }
        let outcome = i64::from_ne_bytes(r[..8].try_into().unwrap());
        let state = i64::from_ne_bytes(r[8..].try_into().unwrap());
        Ok((decode_outcome(outcome), state))
    }

    /// Whether an answer is waiting to be read.
    fn has_answer(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.res.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one live pollfd.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    /// Waits until the side sleeps in ppoll() (it blocked in a wait).
    /// False if it answered instead, i.e. did not block. Not a timing
    /// assumption: it only waits for the side to get there.
    fn await_blocked(&self) -> Result<bool, String> {
        let syscall = format!("/proc/{}/syscall", self.pid);
        let stat = format!("/proc/{}/stat", self.pid);
        let ppoll = libc::SYS_ppoll.to_string();
        let deadline = Instant::now() + HANG;
        loop {
            if self.has_answer() {
                return Ok(false);
            }
            let blocked = match std::fs::read_to_string(&syscall) {
                Ok(s) => s.split(' ').next() == Some(ppoll.as_str()),
                // Without /proc/PID/syscall, asleep is the best evidence.
                Err(_) => std::fs::read_to_string(&stat)
                    .ok()
                    .and_then(|s| s.rsplit_once(") ").map(|(_, t)| t.starts_with('S')))
                    .unwrap_or(false),
            };
            if blocked {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Err("the side neither blocked nor answered".into());
            }
            std::thread::yield_now();
        }
    }

    fn kill(&self) {
        // SAFETY: kill takes no pointers; pid is our unreaped child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
    }

    fn reap(&mut self) -> Ended {
        let mut status = 0;
        loop {
            // SAFETY: status is a live int.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                break;
            }
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EINTR),
                "waitpid"
            );
        }
        self.running = false;
        if libc::WIFEXITED(status) {
            Ended::Exited(libc::WEXITSTATUS(status))
        } else {
            Ended::Killed(libc::WTERMSIG(status))
        }
    }
}

/// Both sides of one script's barrier. Dropping it kills and reaps
/// whatever still runs, so a failing case leaves nothing behind.
struct Sides {
    procs: Vec<Proc>,
}

impl Sides {
    fn start() -> Sides {
        let mut barrier = Barrier::new().expect("creating the barrier");
        let mut procs: Vec<Proc> = Vec::with_capacity(2);
        for role in ROLES {
            let (cmd_r, cmd_w) = pipe();
            let (res_r, res_w) = pipe();
            // SAFETY: the child runs side_main, which makes only syscalls
            // and barrier calls (no allocation, no locks), then _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                // The other side's control pipes are not ours to hold.
                for p in &procs {
                    // SAFETY: closing descriptors this process inherited and
                    // never uses; the OwnedFds are forgotten with the process.
                    unsafe {
                        libc::close(p.cmd.as_raw_fd());
                        libc::close(p.res.as_raw_fd());
                    }
                }
                drop(cmd_w);
                drop(res_r);
                barrier.set_role(role);
                let b = std::mem::replace(&mut barrier, placeholder());
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    side_main(b, cmd_r.as_raw_fd(), res_w.as_raw_fd())
                }));
                drop(r);
                // SAFETY: _exit ends the process at once.
                unsafe { libc::_exit(101) };
            }
            procs.push(Proc {
                pid,
                cmd: cmd_w,
                res: res_r,
                running: true,
            });
        }
        // The creator's copy goes, so that each side's exit is visible.
        drop(barrier);
        Sides { procs }
    }
}

/// A barrier that holds nothing, to leave behind where one was moved out.
fn placeholder() -> Barrier {
    // SAFETY: NULL holds no descriptors.
    unsafe { Barrier::from_raw(barrier_core::RawBarrier::NULL) }
}

impl Drop for Sides {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.running {
                p.kill();
                p.reap();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Running a script against the model.

/// What the scripts exercised, counted over the whole run (shrinking
/// included), to show the mix is what it should be.
struct Tally {
    steps: AtomicU64,
    timed_out: AtomicU64,
    released: AtomicU64,
    killed_in_wait: AtomicU64,
    ended: AtomicU64,
    they_aborted_seen: AtomicU64,
}

static TALLY: Tally = Tally {
    steps: AtomicU64::new(0),
    timed_out: AtomicU64::new(0),
    released: AtomicU64::new(0),
    killed_in_wait: AtomicU64::new(0),
    ended: AtomicU64::new(0),
    they_aborted_seen: AtomicU64::new(0),
};

struct Checker {
    model: Model,
    sides: Sides,
    step: usize,
    script_len: usize,
}

impl Checker {
    fn expect(
        &self,
        i: usize,
        what: &str,
        got: (Outcome, i64),
        want: Outcome,
    ) -> Result<(), String> {
        let want_state = self.model.state[i];
        TALLY.steps.fetch_add(1, Relaxed);
        if want == Outcome::TimedOut {
            TALLY.timed_out.fetch_add(1, Relaxed);
        }
        if they_aborted(want_state) {
            TALLY.they_aborted_seen.fetch_add(1, Relaxed);
        }
        if got != (want, want_state) {
            return Err(format!(
                "step {}: {} {}: got {:?} with state {}, the model says {:?} with state {} (model: {:?})",
                self.step, SIDE_NAMES[i], what, got.0, got.1, want, want_state, self.model
            ));
        }
        Ok(())
    }

    /// Runs a command that must answer at once, and checks the answer.
    fn simple(
        &mut self,
        i: usize,
        code: u8,
        kind: Kind,
        usec: u64,
        want: Outcome,
        what: &str,
    ) -> Result<(), String> {
        self.sides.procs[i].send(code, encode_kind(kind), usec)?;
        let got = self.sides.procs[i].answer()?;
        self.expect(i, what, got, want)
    }

    fn place(&mut self, i: usize) -> Result<(), String> {
        let want = self.model.place(i);
        self.simple(i, CMD_PLACE, Kind::Sync, 0, want, "place")
    }

    fn abort(&mut self, i: usize) -> Result<(), String> {
        let want = self.model.abort(i);
        self.simple(i, CMD_ABORT, Kind::Sync, 0, want, "abort")
    }

    fn exit(&mut self, i: usize, destroy: bool) -> Result<(), String> {
        let code = if destroy {
            CMD_DESTROY_AND_EXIT
        } else {
            CMD_EXIT
        };
        self.sides.procs[i].send(code, 0, 0)?;
        let ended = self.sides.procs[i].reap();
        self.model.gone(i);
        if self.step < self.script_len {
            TALLY.ended.fetch_add(1, Relaxed);
        }
        if ended != Ended::Exited(0) {
            return Err(format!(
                "step {}: {} exit: ended {:?}",
                self.step, SIDE_NAMES[i], ended
            ));
        }
        Ok(())
    }

    fn kill(&mut self, i: usize) -> Result<(), String> {
        self.sides.procs[i].kill();
        let ended = self.sides.procs[i].reap();
        self.model.gone(i);
        TALLY.ended.fetch_add(1, Relaxed);
        if ended != Ended::Killed(libc::SIGKILL) {
            return Err(format!(
                "step {}: {} kill: ended {:?}",
                self.step, SIDE_NAMES[i], ended
            ));
        }
        Ok(())
    }

    /// A wait with the given bound; one the model says would block runs
    /// with the short bound and must time out.
    fn wait(&mut self, i: usize, kind: Kind, bound: Bound) -> Result<(), String> {
        let (want, usec) = match self.model.wait(i, kind) {
            Ok(outcome) => {
                let usec = match bound {
                    Bound::Unbounded => NO_BOUND,
                    Bound::Zero => 0,
                    Bound::Short => SHORT.as_micros() as u64,
                    Bound::Long => LONG.as_micros() as u64,
                };
                (outcome, usec)
            }
            Err(_) => {
                let usec = match bound {
                    Bound::Zero => 0,
                    _ => SHORT.as_micros() as u64,
                };
                (Outcome::TimedOut, usec)
            }
        };
        let what = format!("{kind:?} (timeout {usec} us)");
        self.simple(i, CMD_WAIT, kind, usec, want, &what)
    }

    fn release(&mut self, o: usize, release: Release) -> Result<(), String> {
        match release {
            Release::Place => self.place(o),
            Release::Abort => self.abort(o),
            Release::Exit => self.exit(o, false),
            Release::Kill => self.kill(o),
            Release::PlaceThenExit => {
                let want = self.model.place(o);
                self.simple(
                    o,
                    CMD_PLACE_AND_EXIT,
                    Kind::Sync,
                    0,
                    want,
                    "place, then exit",
                )?;
                let ended = self.sides.procs[o].reap();
                self.model.gone(o);
                TALLY.ended.fetch_add(1, Relaxed);
                if ended != Ended::Exited(0) {
                    return Err(format!(
                        "step {}: {} exit: ended {:?}",
                        self.step, SIDE_NAMES[o], ended
                    ));
                }
                Ok(())
            }
        }
    }

    /// Starts an unbounded wait that the model says blocks, and waits until
    /// the side sleeps in it.
    fn start_blocked(&mut self, i: usize, kind: Kind) -> Result<(), String> {
        self.sides.procs[i].send(CMD_WAIT, encode_kind(kind), NO_BOUND)?;
        if !self.sides.procs[i].await_blocked()? {
            let got = self.sides.procs[i].answer()?;
            return Err(format!(
                "step {}: {} {kind:?}: the model says it blocks, but it answered {:?} with state {} (model: {:?})",
                self.step, SIDE_NAMES[i], got.0, got.1, self.model
            ));
        }
        Ok(())
    }

    fn blocked_until(
        &mut self,
        i: usize,
        kind: Kind,
        release: Release,
        raced: bool,
    ) -> Result<(), String> {
        let o = 1 - i;
        if !self.model.alive[o] {
            // Nobody to release it, and nothing to block on either.
            return self.wait(i, kind, Bound::Unbounded);
        }
        let mut trial = self.model.clone();
        let blocked = match trial.wait(i, kind) {
            Ok(_) => {
                self.wait(i, kind, Bound::Unbounded)?;
                return self.release(o, release);
            }
            Err(blocked) => blocked,
        };
        // Would the other side's action release it?
        let mut after = trial.clone();
        match release {
            Release::Place => {
                let _ = after.place(o);
            }
            Release::Abort => {
                let _ = after.abort(o);
            }
            Release::Exit | Release::Kill => after.gone(o),
            Release::PlaceThenExit => {
                let _ = after.place(o);
                after.gone(o);
            }
        }
        if after.resume(i, kind, blocked).is_err() {
            self.wait(i, kind, Bound::Short)?;
            return self.release(o, release);
        }
        // It does: block for real (or race), release, collect.
        let blocked = self.model.wait(i, kind).unwrap_err();
        if raced {
            self.sides.procs[i].send(CMD_WAIT, encode_kind(kind), NO_BOUND)?;
        } else {
            self.start_blocked(i, kind)?;
        }
        self.release(o, release)?;
        let want = self.model.resume(i, kind, blocked).expect("released");
        let got = self.sides.procs[i].answer()?;
        TALLY.released.fetch_add(1, Relaxed);
        self.expect(i, &format!("{kind:?} released by {release:?}"), got, want)
    }

    fn killed_in_wait(&mut self, i: usize, kind: Kind) -> Result<(), String> {
        if self.model.clone().wait(i, kind).is_ok() {
            self.wait(i, kind, Bound::Unbounded)?;
            return self.kill(i);
        }
        let _ = self.model.wait(i, kind);
        self.start_blocked(i, kind)?;
        TALLY.killed_in_wait.fetch_add(1, Relaxed);
        self.kill(i)
    }

    fn run(&mut self, script: &[Step]) -> Result<(), String> {
        for (n, step) in script.iter().enumerate() {
            self.step = n;
            let i = step.side;
            if !self.model.alive[i] {
                continue;
            }
            match step.op {
                Op::Place => self.place(i)?,
                Op::Abort => self.abort(i)?,
                Op::Wait(kind, bound) => self.wait(i, kind, bound)?,
                Op::BlockedUntil {
                    kind,
                    release,
                    raced,
                } => self.blocked_until(i, kind, release, raced)?,
                Op::Exit { destroy } => self.exit(i, destroy)?,
                Op::Kill => self.kill(i)?,
                Op::KilledInWait(kind) => self.killed_in_wait(i, kind)?,
            }
        }
        self.step = script.len();
        for i in 0..2 {
            if self.model.alive[i] {
                self.simple(i, CMD_REPORT, Kind::Sync, 0, Outcome::Ok, "final state")?;
                self.exit(i, true)?;
            }
        }
        Ok(())
    }
}

fn check_script(script: &[Step]) -> Result<(), String> {
    let mut checker = Checker {
        model: Model::new(),
        sides: Sides::start(),
        step: 0,
        script_len: script.len(),
    };
    checker.run(script)
}

// ---------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
    )
}

#[test]
fn scripts_match_the_model() {
    let cases = env_u64("MODEL_CASES").unwrap_or(10_000) as u32;
    let seed = env_u64("MODEL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    println!("model test: {cases} scripts, MODEL_SEED={seed}");
    let mut seed_bytes = [0u8; 32];
    for (n, chunk) in seed_bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes(),
        );
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let started = Instant::now();
    let result = runner.run(&script(), |s| check_script(&s).map_err(TestCaseError::fail));
    match result {
        Ok(()) => {
            let t = |c: &AtomicU64| c.load(Relaxed);
            println!(
                "model test: {cases} scripts passed in {:.1?}: {} answers checked, {} timed out as \
                 predicted, {} blocked waits released by the other side, {} sides exited or \
                 were killed mid-script ({} of them killed while blocked in a wait), {} answers \
                 after the other side aborted or left",
                started.elapsed(),
                t(&TALLY.steps),
                t(&TALLY.timed_out),
                t(&TALLY.released),
                t(&TALLY.ended),
                t(&TALLY.killed_in_wait),
                t(&TALLY.they_aborted_seen),
            );
        }
        Err(TestError::Fail(why, script)) => panic!(
            "a script disagrees with the model (rerun with MODEL_SEED={seed}).\n\
             smallest failing script:\n{script:#?}\n{why}"
        ),
        Err(e) => panic!("MODEL_SEED={seed}: {e}"),
    }
}
