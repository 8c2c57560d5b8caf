//! The lock-step harness of the model-based tests: random scripts of
//! operations for both sides of one barrier, run across real processes,
//! with every answer and every state compared with a reference model of
//! the contract (the specification's WRITE and READ steps and the
//! operations built on them), written here on its own and sharing no code
//! with the library.
//!
//! The harness runs one script on one or more implementations at once
//! ([`Backend`]): `model.rs` runs the Rust API alone, and
//! `barrier-capi/tests/differential.rs` runs libbarrier and systemd's own
//! barrier side by side through the C API, step by step, so that the two
//! are compared with each other as well as with the model.
//!
//! The test process is a lock-step scheduler. Each side is a forked process
//! that runs one operation per command it reads from a control pipe and
//! answers with the result, its state and which of its descriptors are
//! open. The scheduler sends one command, waits for the answer, and only
//! then sends the next, so the interleaving is exactly the script's. Before
//! each step it asks the model what the operation will do:
//!
//! - an operation the model says completes at once runs as written
//!   (unbounded, or bounded with any timeout where the API has bounds);
//! - a wait the model says cannot be satisfied runs bounded with a short
//!   timeout, and the model predicts `Err(TimedOut)`: everything the other
//!   side did is already in the kernel, so no machine is too slow for that.
//!   An API without bounds (systemd's) proves the same with a probe: a
//!   process forked from the side runs the unbounded wait on its copy of
//!   the barrier, the scheduler sees it asleep in ppoll(), and it is
//!   killed. That is done only where the other side has nothing unread (the
//!   probe consumes nothing and the side's state stays as it was); a
//!   blocking wait that would first consume something is left out there;
//! - a wait that blocks and that one action of the other side releases
//!   runs unbounded: the scheduler sees the waiting process asleep in
//!   ppoll(), then has the other side act (place, abort, exit or be
//!   killed), then collects the wait's answer;
//! - a side can exit (with or without destroying its end) or be killed with
//!   SIGKILL between steps or while blocked in a wait.
//!
//! Every answer the scheduler reads is due at once: what it waits for is
//! in the kernel (or, for a wait that must time out, its bound is 200 us).
//! A side found asleep in ppoll() where its answer needs no waiting fails
//! there and then; anything else that does not come is called a hang after
//! a few seconds, or as soon as the side has spun for a quarter of a second
//! of CPU time (`common::HANG`, `common::SPIN`).
//!
//! `MODEL_CASES` sets the number of scripts, `MODEL_SEED` the seed (printed
//! on every run, with the first failing script as soon as it fails, and
//! with the smallest failing script once shrinking it ends, within
//! `common::SHRINK_BUDGET`).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use crate::common::{
    await_asleep, exit_now, process_state, read_command, run_child, wait_for, write_all, Ended,
    Forked, Proc, Run, NO_BOUND,
};
use proptest::prelude::*;
use std::fmt;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub use crate::common::Outcome;

// ---------------------------------------------------------------------------
// The reference model, from the specification.

pub const ABORTION: u64 = i64::MAX as u64;
pub const WE_ABORTED: i64 = i64::MIN + 1;
pub const THEY_ABORTED: i64 = i64::MIN + 2;
pub const I_ABORTED: i64 = i64::MIN + 3;

pub fn i_aborted(s: i64) -> bool {
    s == I_ABORTED || s == WE_ABORTED
}
pub fn they_aborted(s: i64) -> bool {
    s == THEY_ABORTED || s == WE_ABORTED
}
pub fn any_aborted(s: i64) -> bool {
    i_aborted(s) || they_aborted(s)
}

/// The waiting operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    WaitNext,
    WaitAbortion,
    SyncNext,
    Sync,
    PlaceAndSync,
}

#[derive(Clone, Debug)]
pub struct Model {
    /// Each side's `barriers` value.
    pub state: [i64; 2],
    /// Whether each side's process is still running.
    pub alive: [bool; 2],
    /// What each side wrote to its eventfd and the other side has not read
    /// yet: the eventfd's counter, a sum.
    pub unread: [u64; 2],
}

/// A wait that could not finish: the limit its READ runs to.
#[derive(Clone, Copy, Debug)]
pub struct Blocked {
    limit: i64,
}

impl Model {
    pub fn new() -> Model {
        Model {
            state: [0, 0],
            alive: [true, true],
            unread: [0, 0],
        }
    }

    /// WRITE(value) by side `i`; false if it did nothing.
    pub fn write(&mut self, i: usize, value: u64) -> bool {
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
    pub fn receive(&mut self, i: usize, value: u64) {
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
    pub fn read(&mut self, i: usize, limit: i64) -> bool {
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

    pub fn place(&mut self, i: usize) -> Outcome {
        if any_aborted(self.state[i]) {
            return Outcome::Aborted;
        }
        self.write(i, 1);
        Outcome::Ok
    }

    pub fn abort(&mut self, i: usize) -> Outcome {
        self.write(i, ABORTION);
        if they_aborted(self.state[i]) {
            Outcome::Aborted
        } else {
            Outcome::Ok
        }
    }

    /// Starts a wait: its READ limit, or the answer if it ends before any
    /// READ.
    pub fn begin(&mut self, i: usize, kind: Kind) -> Result<i64, Outcome> {
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
    pub fn finish(&self, i: usize, kind: Kind) -> Outcome {
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
    pub fn wait(&mut self, i: usize, kind: Kind) -> Result<Outcome, Blocked> {
        match self.begin(i, kind) {
            Err(outcome) => Ok(outcome),
            Ok(limit) => self.resume(i, kind, Blocked { limit }),
        }
    }

    /// Goes on with a wait that was blocked.
    pub fn resume(&mut self, i: usize, kind: Kind, blocked: Blocked) -> Result<Outcome, Blocked> {
        if self.read(i, blocked.limit) {
            Ok(self.finish(i, kind))
        } else {
            Err(blocked)
        }
    }

    pub fn gone(&mut self, i: usize) {
        self.alive[i] = false;
    }

    /// Which of side `i`'s descriptors are open, as [`Answer::fds`] has it:
    /// both eventfds and the one pipe end its role keeps (the parent the
    /// read end, the child the write end). Nothing in a script closes one
    /// while the side runs.
    pub fn fds(&self, i: usize) -> u8 {
        FD_ME | FD_THEM | if i == 0 { FD_PIPE_READ } else { FD_PIPE_WRITE }
    }
}

// ---------------------------------------------------------------------------
// Scripts.

/// How a wait is bounded in the script. A wait the model says would block
/// always runs with the short bound instead.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    Unbounded,
    Zero,
    Short,
    Long,
}

pub const SHORT: Duration = Duration::from_micros(200);
pub const LONG: Duration = Duration::from_secs(10);

/// What the other side does to release a blocked wait.
#[derive(Clone, Copy, Debug)]
pub enum Release {
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
pub enum Op {
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
pub struct Step {
    pub side: usize,
    pub op: Op,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", SIDE_NAMES[self.side], self.op)
    }
}

pub const SIDE_NAMES: [&str; 2] = ["parent", "child"];

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

pub fn script() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..2usize, op()).prop_map(|(side, op)| Step { side, op }),
        1..40,
    )
}

// ---------------------------------------------------------------------------
// Implementations.

/// One implementation of the barrier, as the side processes call it.
pub trait Backend {
    /// One end of a barrier.
    type End;
    /// What reports call it.
    fn name(&self) -> &str;
    /// Whether its waits take a bound (the Rust API's do; systemd's have
    /// none).
    fn bounded(&self) -> bool;
    fn create(&self) -> Self::End;
    /// Sets the role of side `side`: 0 the parent, 1 the child.
    fn set_role(&self, end: &mut Self::End, side: usize);
    fn place(&self, end: &mut Self::End) -> Outcome;
    fn abort(&self, end: &mut Self::End) -> Outcome;
    /// A wait; unbounded where `bound` is `None`.
    fn wait(&self, end: &mut Self::End, kind: Kind, bound: Option<Duration>) -> Outcome;
    /// The `barriers` field, and the descriptor fields `me`, `them`,
    /// `pipe[0]` and `pipe[1]`.
    fn raw(&self, end: &Self::End) -> (i64, [RawFd; 4]);
    /// Closes the end's descriptors.
    fn destroy(&self, end: Self::End);
}

/// Bits of [`Answer::fds`]: the field names an open descriptor.
pub const FD_ME: u8 = 1;
pub const FD_THEM: u8 = 2;
pub const FD_PIPE_READ: u8 = 4;
pub const FD_PIPE_WRITE: u8 = 8;
/// Shifted by this, the same bits say the field holds a descriptor number
/// (not negative) that is not open.
pub const FD_STALE_SHIFT: u8 = 4;

/// What a side reports after each command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    /// The `barriers` field.
    pub state: i64,
    /// Which descriptor fields name open descriptors (`FD_*`), and which
    /// name closed ones (the same bits, shifted by `FD_STALE_SHIFT`).
    pub fds: u8,
}

fn fd_report(fds: [RawFd; 4]) -> u8 {
    let mut bits = 0;
    for (n, &fd) in fds.iter().enumerate() {
        if fd < 0 {
            continue;
        }
        // SAFETY: F_GETFD reads the descriptor's flags and takes no pointer.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            bits |= 1 << n;
        } else {
            bits |= 1 << (n + FD_STALE_SHIFT as usize);
        }
    }
    bits
}

/// A probe's outcome as its exit status, and back.
fn probe_status(o: Outcome) -> i32 {
    match o {
        Outcome::Os(e) => 10 + e.clamp(0, 200),
        o => o.encode() as i32,
    }
}

fn probe_outcome(status: i32) -> Outcome {
    if status >= 10 {
        Outcome::Os(status - 10)
    } else {
        Outcome::decode(i64::from(status))
    }
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
/// Forks a probe that runs an unbounded wait on its copy of the barrier;
/// the answer carries its pid.
const CMD_PROBE: u8 = 8;
/// Kills and reaps the probe: `Blocked` if it was still waiting, else
/// what its wait answered.
const CMD_REAP_PROBE: u8 = 9;

fn encode_kind(k: Kind) -> u8 {
    match k {
        Kind::WaitNext => 0,
        Kind::WaitAbortion => 1,
        Kind::SyncNext => 2,
        Kind::Sync => 3,
        Kind::PlaceAndSync => 4,
    }
}

fn decode_kind(k: u8) -> Kind {
    match k {
        0 => Kind::WaitNext,
        1 => Kind::WaitAbortion,
        2 => Kind::SyncNext,
        3 => Kind::Sync,
        _ => Kind::PlaceAndSync,
    }
}

/// Forks a probe that runs an unbounded wait on its copy of `end` and
/// exits with the answer; returns its pid.
fn start_probe<B: Backend>(backend: &B, end: &mut B::End, kind: Kind) -> libc::pid_t {
    // SAFETY: getpid takes nothing.
    let side = unsafe { libc::getpid() };
    // SAFETY: the probe only calls the barrier, prctl and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // A probe outlives no side: it dies with the side that forked it.
        // SAFETY: prctl with integer arguments; getppid takes nothing.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != side {
                libc::_exit(6);
            }
        }
        exit_now(probe_status(backend.wait(end, kind, None)));
    }
    pid
}

/// Kills and reaps the probe: `Blocked` if the kill ended it, else what
/// its wait answered.
fn reap_probe(pid: libc::pid_t) -> Outcome {
    if pid <= 0 {
        return Outcome::Os(libc::ECHILD);
    }
    // SAFETY: kill takes no pointers; pid is our unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    match wait_for(pid) {
        Ended::Killed(libc::SIGKILL) => Outcome::Blocked,
        Ended::Exited(status) => probe_outcome(status),
        Ended::Killed(_) => Outcome::Os(libc::EINTR),
    }
}

/// The body of a side's process: runs commands until told to exit. Does
/// not allocate.
fn side_main<B: Backend>(backend: &B, mut end: B::End, cmd: RawFd, res: RawFd) -> ! {
    let mut probe: libc::pid_t = 0;
    loop {
        let (code, kind, bound) = read_command(cmd);
        let kind = decode_kind(kind);
        let mut extra = 0i64;
        let outcome = match code {
            CMD_PLACE | CMD_PLACE_AND_EXIT => backend.place(&mut end),
            CMD_ABORT => backend.abort(&mut end),
            CMD_WAIT => backend.wait(&mut end, kind, bound),
            CMD_EXIT => exit_now(0),
            CMD_DESTROY_AND_EXIT => {
                backend.destroy(end);
                exit_now(0)
            }
            CMD_REPORT => Outcome::Ok,
            CMD_PROBE => {
                probe = start_probe(backend, &mut end, kind);
                extra = i64::from(probe);
                Outcome::Ok
            }
            CMD_REAP_PROBE => reap_probe(std::mem::take(&mut probe)),
            _ => exit_now(4),
        };
        let (state, fds) = backend.raw(&end);
        let mut r = [0u8; 32];
        r[..8].copy_from_slice(&outcome.encode().to_ne_bytes());
        r[8..16].copy_from_slice(&state.to_ne_bytes());
        r[16..24].copy_from_slice(&i64::from(fd_report(fds)).to_ne_bytes());
        r[24..].copy_from_slice(&extra.to_ne_bytes());
        if !write_all(res, &r) {
            exit_now(5);
        }
        if code == CMD_PLACE_AND_EXIT {
            exit_now(0);
        }
    }
}

/// Waits until process `pid` sleeps in ppoll() (it blocked in a wait), or
/// until `finished()` says it answered instead: true, false. Not a timing
/// assumption: it only waits for the process to get there (with a
/// watchdog, see [`await_asleep`]).
pub fn await_blocked(pid: libc::pid_t, finished: impl Fn() -> bool) -> Result<bool, String> {
    await_asleep(pid, &[libc::SYS_ppoll], finished).map_err(|e| format!("process {pid}: {e}"))
}

/// One side's process, with what reports call it (the implementation and
/// the side).
pub struct Side {
    proc: Proc,
    name: String,
}

impl std::ops::Deref for Side {
    type Target = Proc;

    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl std::ops::DerefMut for Side {
    fn deref_mut(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// The commands and answers of a side's process.
impl Side {
    fn send(&self, code: u8, kind: Kind, usec: u64) -> Result<(), String> {
        if self.command(code, encode_kind(kind), usec) {
            Ok(())
        } else {
            Err(format!(
                "{}: could not send a command: the side is gone",
                self.name
            ))
        }
    }

    /// The answer to the last command, and its extra field. It is due at
    /// once; `may_wait` where the command is a wait bounded to time out, so
    /// that its sleep in ppoll() is no fault (see
    /// [`Proc::await_answer`]).
    fn answer_after(&self, may_wait: bool) -> Result<(Answer, i64), String> {
        self.await_answer(&[libc::SYS_ppoll], may_wait)
            .map_err(|e| format!("{}: {e}", self.name))?;
        let mut r = [0u8; 32];
        if !self.read_answer(&mut r) {
            return Err(format!("{} died instead of answering", self.name));
        }
        let field = |n: usize| i64::from_ne_bytes(r[n * 8..n * 8 + 8].try_into().unwrap());
        let answer = Answer {
            outcome: Outcome::decode(field(0)),
            state: field(1),
            fds: field(2) as u8,
        };
        Ok((answer, field(3)))
    }

    /// The answer to the last command, which needs no waiting, and its
    /// extra field.
    fn answer(&self) -> Result<(Answer, i64), String> {
        self.answer_after(false)
    }

    /// Sends a command and returns its answer, which needs no waiting.
    fn ask(&self, code: u8, kind: Kind, usec: u64) -> Result<Answer, String> {
        self.send(code, kind, usec)?;
        Ok(self.answer()?.0)
    }

    /// Reaps the process once it is on its way out (told to exit, or
    /// killed): end of file on its answer pipe, whose write end only it
    /// holds, says so at once, and then waitpid cannot hang.
    fn reap_gone(&mut self) -> Result<Ended, String> {
        self.await_answer(&[], true)
            .map_err(|e| format!("{} did not exit: {e}", self.name))?;
        Ok(self.reap())
    }
}

/// Both sides of one script's barrier, in one implementation. Dropping it
/// kills and reaps whatever still runs, so a failing case leaves nothing
/// behind.
pub struct Sides {
    name: String,
    bounded: bool,
    procs: Vec<Side>,
}

impl Sides {
    /// Creates a barrier, forks the parent's and the child's process, and
    /// destroys the creator's copy. `earlier` are sides already running,
    /// whose control pipes the new processes must not hold.
    pub fn start<B: Backend>(backend: &B, earlier: &[Sides]) -> Sides {
        let end = backend.create();
        let mut procs: Vec<Side> = Vec::with_capacity(2);
        for (side, side_name) in SIDE_NAMES.iter().enumerate() {
            let others = (earlier.iter().flat_map(|s| &s.procs))
                .chain(&procs)
                .map(|s| &s.proc);
            // SAFETY: the child runs side_main, which makes only syscalls
            // and barrier calls (no allocation, no locks), then _exit.
            match unsafe { Proc::fork(others) } {
                Forked::Parent(proc) => procs.push(Side {
                    proc,
                    name: format!("{} {side_name}", backend.name()),
                }),
                Forked::Child { cmd, res } => run_child(|| {
                    let mut end = end;
                    backend.set_role(&mut end, side);
                    side_main(backend, end, cmd.as_raw_fd(), res.as_raw_fd())
                }),
            }
        }
        // The creator's copy goes, so that each side's exit is visible.
        backend.destroy(end);
        Sides {
            name: backend.name().to_string(),
            bounded: backend.bounded(),
            procs,
        }
    }
}

/// One set of sides per implementation, each started apart from the
/// others.
pub fn start_all<B: Backend>(backends: &[B]) -> Vec<Sides> {
    let mut all: Vec<Sides> = Vec::with_capacity(backends.len());
    for b in backends {
        let sides = Sides::start(b, &all);
        all.push(sides);
    }
    all
}

// ---------------------------------------------------------------------------
// Running a script against the model.

/// What the scripts exercised, counted over the whole run (shrinking
/// included), to show the mix is what it should be.
struct Tally {
    steps: AtomicU64,
    timed_out: AtomicU64,
    probed: AtomicU64,
    not_probed: AtomicU64,
    released: AtomicU64,
    killed_in_wait: AtomicU64,
    ended: AtomicU64,
    they_aborted_seen: AtomicU64,
}

static TALLY: Tally = Tally {
    steps: AtomicU64::new(0),
    timed_out: AtomicU64::new(0),
    probed: AtomicU64::new(0),
    not_probed: AtomicU64::new(0),
    released: AtomicU64::new(0),
    killed_in_wait: AtomicU64::new(0),
    ended: AtomicU64::new(0),
    they_aborted_seen: AtomicU64::new(0),
};

/// What side `o`'s releasing action does to the model: the answer its
/// command gives, where it gives one.
fn apply_release(model: &mut Model, o: usize, release: Release) -> Option<Outcome> {
    match release {
        Release::Place => Some(model.place(o)),
        Release::Abort => Some(model.abort(o)),
        Release::Exit | Release::Kill => {
            model.gone(o);
            None
        }
        Release::PlaceThenExit => {
            let want = model.place(o);
            model.gone(o);
            Some(want)
        }
    }
}

struct Checker {
    model: Model,
    /// The same barrier in each implementation.
    pairs: Vec<Sides>,
    /// Whether waits run bounded: only where every implementation has
    /// bounds.
    bounded: bool,
    step: usize,
    script_len: usize,
}

impl Checker {
    fn new(pairs: Vec<Sides>, script_len: usize) -> Checker {
        Checker {
            model: Model::new(),
            bounded: pairs.iter().all(|s| s.bounded),
            pairs,
            step: 0,
            script_len,
        }
    }

    /// Compares what each implementation answered with the others' answers
    /// and with the model's.
    fn expect(&self, i: usize, what: &str, got: &[Answer], want: Outcome) -> Result<(), String> {
        let want = Answer {
            outcome: want,
            state: self.model.state[i],
            fds: self.model.fds(i),
        };
        TALLY.steps.fetch_add(1, Relaxed);
        if matches!(want.outcome, Outcome::TimedOut | Outcome::Blocked) {
            TALLY.timed_out.fetch_add(1, Relaxed);
        }
        if they_aborted(want.state) {
            TALLY.they_aborted_seen.fetch_add(1, Relaxed);
        }
        for (n, a) in got.iter().enumerate().skip(1) {
            if *a != got[0] {
                return Err(format!(
                    "{} {}: the implementations differ: {} answered {:?}, {} answered {:?} (model: {:?})",
                    SIDE_NAMES[i], what, self.pairs[0].name, got[0], self.pairs[n].name, a,
                    self.model
                ));
            }
        }
        if got[0] != want {
            return Err(format!(
                "{} {}: got {:?}, the model says {:?} (model: {:?})",
                SIDE_NAMES[i], what, got[0], want, self.model
            ));
        }
        Ok(())
    }

    /// Runs a command that must answer at once in every implementation
    /// (after its short bound where the model says it times out), and
    /// checks the answers.
    fn simple(
        &mut self,
        i: usize,
        code: u8,
        kind: Kind,
        usec: u64,
        want: Outcome,
        what: &str,
    ) -> Result<(), String> {
        let got = self
            .pairs
            .iter()
            .map(|s| {
                s.procs[i].send(code, kind, usec)?;
                Ok(s.procs[i].answer_after(want == Outcome::TimedOut)?.0)
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.expect(i, what, &got, want)
    }

    fn place(&mut self, i: usize) -> Result<(), String> {
        let want = self.model.place(i);
        self.simple(i, CMD_PLACE, Kind::Sync, 0, want, "place")
    }

    fn abort(&mut self, i: usize) -> Result<(), String> {
        let want = self.model.abort(i);
        self.simple(i, CMD_ABORT, Kind::Sync, 0, want, "abort")
    }

    /// Reaps side `i` in every implementation, which must have ended as
    /// `want`.
    fn reap_all(&mut self, i: usize, want: Ended, what: &str) -> Result<(), String> {
        for s in &mut self.pairs {
            let ended = s.procs[i].reap_gone()?;
            if ended != want {
                return Err(format!(
                    "{} {} {}: ended {:?}",
                    s.name, SIDE_NAMES[i], what, ended
                ));
            }
        }
        Ok(())
    }

    fn exit(&mut self, i: usize, destroy: bool) -> Result<(), String> {
        let code = if destroy {
            CMD_DESTROY_AND_EXIT
        } else {
            CMD_EXIT
        };
        for s in &self.pairs {
            s.procs[i].send(code, Kind::Sync, 0)?;
        }
        self.model.gone(i);
        if self.step < self.script_len {
            TALLY.ended.fetch_add(1, Relaxed);
        }
        self.reap_all(i, Ended::Exited(0), "exit")
    }

    fn kill(&mut self, i: usize) -> Result<(), String> {
        for s in &self.pairs {
            s.procs[i].kill();
        }
        self.model.gone(i);
        TALLY.ended.fetch_add(1, Relaxed);
        self.reap_all(i, Ended::Killed(libc::SIGKILL), "kill")
    }

    /// A wait with the given bound; one the model says would block runs
    /// with the short bound and must time out. Where the API has no bounds,
    /// see `wait_unbounded`.
    fn wait(&mut self, i: usize, kind: Kind, bound: Bound) -> Result<(), String> {
        if !self.bounded {
            return self.wait_unbounded(i, kind);
        }
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

    /// A wait where the API has no bounds: one the model says completes
    /// runs as it is; one that blocks is proved to block by a probe, where
    /// the probe consumes nothing (the other side has nothing unread), and
    /// is left out otherwise.
    fn wait_unbounded(&mut self, i: usize, kind: Kind) -> Result<(), String> {
        let mut trial = self.model.clone();
        if let Ok(want) = trial.wait(i, kind) {
            self.model = trial;
            return self.simple(i, CMD_WAIT, kind, NO_BOUND, want, &format!("{kind:?}"));
        }
        let kind = if kind == Kind::PlaceAndSync {
            // Its place is a step of its own: the probe's would stay in the
            // kernel when the probe goes.
            self.place(i)?;
            Kind::Sync
        } else {
            kind
        };
        if self.model.unread[1 - i] > 0 {
            TALLY.not_probed.fetch_add(1, Relaxed);
            return Ok(());
        }
        let mut got = Vec::with_capacity(self.pairs.len());
        for s in &self.pairs {
            let p = &s.procs[i];
            p.send(CMD_PROBE, kind, NO_BOUND)?;
            let pid = p.answer()?.1 as libc::pid_t;
            await_blocked(pid, || process_state(pid) == 'Z')
                .map_err(|e| format!("{}'s probe: {e}", p.name))?;
            got.push(p.ask(CMD_REAP_PROBE, kind, 0)?);
        }
        TALLY.probed.fetch_add(1, Relaxed);
        self.expect(i, &format!("{kind:?} (in a probe)"), &got, Outcome::Blocked)
    }

    /// Runs side `o`'s releasing action in implementation `pair`: the
    /// answer of its command, where it gives one.
    fn act(&mut self, pair: usize, o: usize, release: Release) -> Result<Option<Answer>, String> {
        let p = &mut self.pairs[pair].procs[o];
        let (answer, ends) = match release {
            Release::Place => return Ok(Some(p.ask(CMD_PLACE, Kind::Sync, 0)?)),
            Release::Abort => return Ok(Some(p.ask(CMD_ABORT, Kind::Sync, 0)?)),
            Release::Exit => {
                p.send(CMD_EXIT, Kind::Sync, 0)?;
                (None, Ended::Exited(0))
            }
            Release::Kill => {
                p.kill();
                (None, Ended::Killed(libc::SIGKILL))
            }
            Release::PlaceThenExit => (
                Some(p.ask(CMD_PLACE_AND_EXIT, Kind::Sync, 0)?),
                Ended::Exited(0),
            ),
        };
        let ended = p.reap_gone()?;
        if ended != ends {
            return Err(format!(
                "{} {} {release:?}: ended {:?}",
                self.pairs[pair].name, SIDE_NAMES[o], ended
            ));
        }
        Ok(answer)
    }

    /// Checks the answers of side `o`'s releasing action.
    fn check_release(
        &self,
        o: usize,
        release: Release,
        want: Option<Outcome>,
        got: &[Answer],
    ) -> Result<(), String> {
        if !matches!(release, Release::Place | Release::Abort) {
            TALLY.ended.fetch_add(1, Relaxed);
        }
        match want {
            Some(want) => self.expect(o, &format!("{release:?}"), got, want),
            None => Ok(()),
        }
    }

    fn release(&mut self, o: usize, release: Release) -> Result<(), String> {
        let want = apply_release(&mut self.model, o, release);
        let mut got = Vec::with_capacity(self.pairs.len());
        for pair in 0..self.pairs.len() {
            got.extend(self.act(pair, o, release)?);
        }
        self.check_release(o, release, want, &got)
    }

    /// Starts an unbounded wait that the model says blocks, in
    /// implementation `pair`, and waits until the side sleeps in it.
    fn start_blocked(&self, pair: usize, i: usize, kind: Kind) -> Result<(), String> {
        let p = &self.pairs[pair].procs[i];
        p.send(CMD_WAIT, kind, NO_BOUND)?;
        let blocked = await_blocked(p.pid, || p.has_answer());
        if !blocked.map_err(|e| format!("{} {kind:?}: {e}", p.name))? {
            let got = p.answer()?.0;
            return Err(format!(
                "{} {} {kind:?}: the model says it blocks, but it answered {:?} (model: {:?})",
                self.pairs[pair].name, SIDE_NAMES[i], got, self.model
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
        apply_release(&mut after, o, release);
        if after.resume(i, kind, blocked).is_err() {
            self.wait(i, kind, Bound::Short)?;
            return self.release(o, release);
        }
        // It does: block for real (or race), release, collect.
        let blocked = self.model.wait(i, kind).unwrap_err();
        let release_want = apply_release(&mut self.model, o, release);
        let want = self.model.resume(i, kind, blocked).expect("released");
        let mut released = Vec::with_capacity(self.pairs.len());
        let mut got = Vec::with_capacity(self.pairs.len());
        for pair in 0..self.pairs.len() {
            if raced {
                self.pairs[pair].procs[i].send(CMD_WAIT, kind, NO_BOUND)?;
            } else {
                self.start_blocked(pair, i, kind)?;
            }
            released.extend(self.act(pair, o, release)?);
            got.push(self.pairs[pair].procs[i].answer()?.0);
        }
        self.check_release(o, release, release_want, &released)?;
        TALLY.released.fetch_add(1, Relaxed);
        self.expect(i, &format!("{kind:?} released by {release:?}"), &got, want)
    }

    fn killed_in_wait(&mut self, i: usize, kind: Kind) -> Result<(), String> {
        if self.model.clone().wait(i, kind).is_ok() {
            self.wait(i, kind, Bound::Unbounded)?;
            return self.kill(i);
        }
        let _ = self.model.wait(i, kind);
        for pair in 0..self.pairs.len() {
            self.start_blocked(pair, i, kind)?;
        }
        TALLY.killed_in_wait.fetch_add(1, Relaxed);
        self.kill(i)
    }

    fn run(&mut self, script: &[Step]) -> Result<(), String> {
        for (n, step) in script.iter().enumerate() {
            self.step = n;
            self.run_step(step)
                .map_err(|e| format!("step {n} ({step:?}): {e}"))?;
        }
        self.step = script.len();
        for (i, side) in SIDE_NAMES.iter().enumerate() {
            if self.model.alive[i] {
                self.simple(i, CMD_REPORT, Kind::Sync, 0, Outcome::Ok, "final state")
                    .and_then(|()| self.exit(i, true))
                    .map_err(|e| format!("at the end, the {side} reports and exits: {e}"))?;
            }
        }
        Ok(())
    }

    fn run_step(&mut self, step: &Step) -> Result<(), String> {
        let i = step.side;
        if self.model.alive[i] {
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
        Ok(())
    }
}

// ---------------------------------------------------------------------------

/// Runs `MODEL_CASES` scripts (default `default_cases`), each on the sides
/// `start` makes afresh; the first failing script is printed at once, and
/// the test panics with the smallest one shrinking finds. `what` names the
/// test in what it prints.
pub fn run_scripts(what: &str, default_cases: u32, start: impl Fn() -> Vec<Sides>) {
    let (cases, took) = Run {
        what,
        cases_var: "MODEL_CASES",
        seed_var: "MODEL_SEED",
        default_cases,
        mix: 0x9e37_79b9_7f4a_7c15,
        max_shrink_iters: 4000,
    }
    .run(&script(), |s| Checker::new(start(), s.len()).run(s));
    let t = |c: &AtomicU64| c.load(Relaxed);
    println!(
        "{what}: {cases} scripts passed in {took:.1?}: {} answers checked, {} blocking waits \
         proved ({} by a probe; {} more left out, as a probe would consume), {} blocked \
         waits released by the other side, {} sides exited or were killed mid-script \
         ({} of them killed while blocked in a wait), {} answers after the other side \
         aborted or left",
        t(&TALLY.steps),
        t(&TALLY.timed_out),
        t(&TALLY.probed),
        t(&TALLY.not_probed),
        t(&TALLY.released),
        t(&TALLY.ended),
        t(&TALLY.killed_in_wait),
        t(&TALLY.they_aborted_seen),
    );
}
