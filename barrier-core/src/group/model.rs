//! An exhaustive check of the wake-up protocol of [`raw`](super::raw):
//! every interleaving of its shared accesses, for groups of 2 and 3
//! members doing a few rounds, with aborts, a death at any step, a ring
//! that fails, bounded waits and an event loop.
//!
//! The model is a transition system. Its state is the shared page (each
//! member's count and what it waits for, the aborts), a store buffer per
//! member, what the kernel holds (in each member's epoll instance the
//! doorbells and hang-ups reported and not yet taken, and the pipes still
//! armed; the write ends still open) and each member's program counter and
//! locals. One transition is one step of one member: a load, a store or a
//! read-modify-write of the page, or a syscall (a ring, an `epoll_wait`, a
//! `poll`, a close), with the code that touches nothing shared up to its
//! next such step; or the flush of the oldest store of a member's buffer
//! to the page; or the death of a member. Every state reachable from the
//! start is visited once (breadth first, over a set of the states seen),
//! so no interleaving is left out.
//!
//! A member's program is a list of calls, made as [`RawGroup`]'s code
//! makes them, access by access: `place` (the addition to its count, the
//! loads of the others' counts until one is short, then of what they wait
//! for until one waits for this level, the one ring), `place_and_sync`'s
//! shortcuts, the wait loop (a look loads the abort mask, then the counts
//! in rank order as far as [`judge`] reads them), publishing what it waits
//! for, sleeping, taking in the hang-ups before an ending look; `abort`;
//! and the fatal error of a ring that fails. It uses the library's own
//! pure parts ([`judge`], [`rings`], [`Knowledge`]) and the orderings the
//! library uses ([`PLACE`], [`SCAN`], [`PUBLISH`], [`LOOK`], [`ABORT`]).
//!
//! Memory: a store (and the store of a read-modify-write) goes into the
//! member's buffer, first in first out, and reaches the page later; a load
//! reads the member's own latest buffered store to that place, else the
//! page. A sequentially consistent load first flushes the buffer up to its
//! last sequentially consistent store: a store passes a later load unless
//! both are `SeqCst`. That is the reordering that breaks a handshake of the
//! kind the protocol makes (each side stores, then loads what the other
//! stored), and the one C11 allows between such accesses (x86 makes it for
//! any store that is not a locked instruction, ARM for a store or a load
//! that is not `SeqCst`); the model reorders nothing else. A syscall
//! flushes its caller's buffer: the kernel's wake-up and sleep paths imply
//! full barriers, so what a member stored before it rings or closes is
//! visible to whoever that wakes.
//!
//! The kernel, as the protocol uses it: a ring (a write to the ringer's
//! eventfd) reports that doorbell in every other member's epoll instance
//! until an `epoll_wait` there takes it (edge-triggered: once, however many
//! rings); a write end that closes (an exit, a death, a fatal error)
//! reports its pipe's hang-up in every instance where the pipe is still
//! armed, and taking it disarms it (one-shot). `epoll_wait` takes every
//! report (at most 4 here, as many as the library's buffer holds), sleeps
//! while there is none, and with a bound may return nothing at any moment;
//! `poll` on the instance (an event loop) returns once a report is pending,
//! without taking it.
//!
//! What is checked:
//! - no lost wake-up: where no member can make a step, every member
//!   finished its program. The programs end with an exit and never need a
//!   death to finish, so a member asleep there was not woken when it should
//!   have been (a death, which would wake it, does not count as a step);
//! - no busy loop: in an event loop, the descriptor does not fire twice
//!   without another member ringing or closing something in between;
//! - the answers: a sync that succeeds saw every other member place enough
//!   and no abort that was on the page when it began; one that does not,
//!   or a wait for an abortion that ends, names a member that aborted or
//!   whose write end closed (or the member itself aborted); only a bounded
//!   wait times out.
//!
//! The protocol is a parameter ([`Protocol`]): [`Protocol::LIBRARY`] is the
//! library's, and the tests also run mutants of it (an ordering weakened,
//! a ring dropped), each of which the check must catch.
//!
//! [`RawGroup`]: super::RawGroup

use super::raw::{ABORT, LOOK, PLACE, PUBLISH, SCAN};
use super::state::{judge, rings, Knowledge, Verdict, Wait};
use core::sync::atomic::Ordering;
use std::collections::HashSet;
use std::{format, println, string::String, vec, vec::Vec};

/// The most members a scenario has.
const N: usize = 3;
/// The most stores a member's buffer holds (more never happens: a
/// member's stores between two of its sequentially consistent loads).
const BUF: usize = 4;
/// The reports `epoll_wait` takes at once in the library.
const EVENTS: usize = 4;
/// A scenario with more states than this is too big for a test.
const MAX_STATES: usize = 4_000_000;

/// What a model member does, as the library's code does it: the
/// orderings of the shared accesses, and when a member rings.
#[derive(Clone, Copy)]
struct Protocol {
    place: Ordering,
    scan: Ordering,
    publish: Ordering,
    look: Ordering,
    abort: Ordering,
    /// Whether a member whose `place` completes a level for which another
    /// waits (as published) rings.
    rings: fn(u64, u64) -> bool,
    /// Whether an abort rings.
    abort_rings: bool,
}

impl Protocol {
    /// The library's protocol.
    const LIBRARY: Protocol = Protocol {
        place: PLACE,
        scan: SCAN,
        publish: PUBLISH,
        look: LOOK,
        abort: ABORT,
        rings,
        abort_rings: true,
    };
}

/// A wait's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Bound {
    /// None (`usec` is infinity).
    Inf,
    /// Zero: look, never sleep (an event loop's call).
    Zero,
    /// Some time, which may run out at any moment.
    Some,
}

/// One call of a member's program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Call {
    Place,
    Sync(Bound),
    PlaceAndSync(Bound),
    Abort,
    WaitAbortion(Bound),
    /// An event loop: `sync(0)`; while it times out, `poll` the
    /// descriptor and call it again.
    LoopSync,
    /// Frees the handle: for the others, an exit.
    Exit,
}

/// A call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Res {
    Ok,
    Aborted,
    TimedOut,
    /// A syscall failed (the model's failing ring).
    Os,
}

/// Where a member is: the step it makes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum At {
    /// Between calls: starts the next one.
    Idle,
    /// `place`: adds one to its count.
    AddRmw,
    /// `place`: loads the count of member `k`.
    AddScan(u8),
    /// `place`: loads what member `k` waits for.
    AddWaiting(u8),
    /// `place`: rings.
    AddRing,
    /// A fatal error: adds itself to the abort mask, rings, closes its
    /// write end; then answers `Os`.
    FailOr,
    FailRing,
    FailClose,
    /// `place_and_sync` after completing a level: loads the abort mask.
    Shortcut,
    /// A look: loads the abort mask.
    LookMask,
    /// A look: loads the count of member `k`; `mask` is the abort mask it
    /// loaded, `fast` whether it stops at the first short member, `short`
    /// the members it found short so far.
    LookPlaced {
        k: u8,
        mask: u8,
        short: u8,
    },
    /// The wait loop's head: decides with the last verdict.
    Decide,
    /// Publishes what it waits for.
    Publish,
    /// Sleeps in `epoll_wait`, with the wait's bound.
    Sleep,
    /// `epoll_wait` without sleeping, before an ending look.
    Drain,
    /// `abort`: adds itself to the mask, rings, and if that fails closes
    /// its write end.
    AbortOr,
    AbortRing,
    AbortClose,
    /// An event loop's `poll`.
    Poll,
    /// Answers (and the answer is checked).
    Ret(Res),
    /// The program is over (it exited).
    Done,
    /// Killed.
    Dead,
}

/// The verdict of the last look, as a small value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum V {
    Pending,
    Done,
    Ended(u8),
}

impl From<Verdict> for V {
    fn from(v: Verdict) -> V {
        match v {
            Verdict::Pending => V::Pending,
            Verdict::Done => V::Done,
            Verdict::Ended(r) => V::Ended(r as u8),
        }
    }
}

/// A member of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Member {
    /// The call of its program it is in (or starts next).
    op: u8,
    at: At,
    /// Barriers it placed.
    mine: u8,
    /// Members whose hang-up it took in.
    gone: u8,
    knowledge: Knowledge,
    /// The current call: what `place` reached and whether that completed
    /// its level, or what a sync waits for.
    count: u8,
    complete: bool,
    /// The current wait: a sync (else a wait for an abortion), its bound,
    /// whether it published, ran out of time, took in the hang-ups before
    /// an ending look; the last verdict.
    sync: bool,
    bound: Bound,
    published: bool,
    expired: bool,
    taken_in: bool,
    verdict: V,
    /// The aborts on the page when the call began.
    start_mask: u8,
    /// An event loop: its descriptor fired, and no other member rang or
    /// closed since.
    fired: bool,
}

impl Member {
    const NEW: Member = Member {
        op: 0,
        at: At::Idle,
        mine: 0,
        gone: 0,
        knowledge: Knowledge::NEW,
        count: 0,
        complete: false,
        sync: false,
        bound: Bound::Inf,
        published: false,
        expired: false,
        taken_in: false,
        verdict: V::Pending,
        start_mask: 0,
        fired: false,
    };
}

/// A place in the shared page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Loc {
    Placed(u8),
    Waiting(u8),
    /// A member's bit in the abort mask.
    Aborted(u8),
}

/// A buffered store: where, what, and whether it is sequentially
/// consistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Store {
    loc: Loc,
    value: u8,
    sc: bool,
}

/// The whole system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct World {
    placed: [u8; N],
    waiting: [u8; N],
    aborted: u8,
    buf: [[Option<Store>; BUF]; N],
    /// Per member's epoll instance: bit `k` a ring of member `k` reported
    /// and not taken; bit `N + k` the hang-up of member `k`'s pipe.
    ready: [u8; N],
    /// Per member's epoll instance: bit `k` if member `k`'s pipe is still
    /// armed.
    armed: [u8; N],
    /// Bit `k` if member `k`'s write end is open.
    open: u8,
    m: [Member; N],
    /// Deaths and failing rings the scenario still allows.
    deaths: u8,
    failures: u8,
}

/// What one exploration runs.
struct Scenario {
    name: &'static str,
    n: usize,
    programs: [&'static [Call]; N],
    deaths: u8,
    failures: u8,
}

/// How an exploration went.
#[derive(Debug)]
struct Explored {
    states: usize,
    finals: usize,
}

/// The model: a scenario under a protocol.
struct Model<'a> {
    s: &'a Scenario,
    p: Protocol,
}

fn sc(o: Ordering) -> bool {
    o == Ordering::SeqCst
}

impl Model<'_> {
    fn start(&self) -> World {
        let n = self.s.n;
        let all = (1u8 << n) - 1;
        let mut w = World {
            placed: [0; N],
            waiting: [0; N],
            aborted: 0,
            buf: [[None; BUF]; N],
            ready: [0; N],
            armed: [0; N],
            open: all,
            m: [Member::NEW; N],
            deaths: self.s.deaths,
            failures: self.s.failures,
        };
        for i in 0..n {
            w.armed[i] = all & !(1 << i);
        }
        w
    }

    fn call(&self, w: &World, i: usize) -> Option<Call> {
        self.s.programs[i].get(usize::from(w.m[i].op)).copied()
    }

    fn others(&self, i: usize) -> impl Iterator<Item = usize> {
        (0..self.s.n).filter(move |&k| k != i)
    }

    // ---- memory ----------------------------------------------------------

    fn read_mem(w: &World, loc: Loc) -> u8 {
        match loc {
            Loc::Placed(k) => w.placed[usize::from(k)],
            Loc::Waiting(k) => w.waiting[usize::from(k)],
            Loc::Aborted(k) => (w.aborted >> k) & 1,
        }
    }

    fn write_mem(w: &mut World, loc: Loc, value: u8) {
        match loc {
            Loc::Placed(k) => w.placed[usize::from(k)] = value,
            Loc::Waiting(k) => w.waiting[usize::from(k)] = value,
            Loc::Aborted(k) => {
                w.aborted = (w.aborted & !(1 << k)) | ((value & 1) << k);
            }
        }
    }

    /// The latest value of `loc`, buffered or not: what is true of it.
    fn latest(w: &World, loc: Loc) -> u8 {
        for i in 0..N {
            if let Some(s) = w.buf[i].iter().rev().flatten().find(|s| s.loc == loc) {
                return s.value;
            }
        }
        Self::read_mem(w, loc)
    }

    /// Flushes member `i`'s oldest store to the page.
    fn flush_one(w: &mut World, i: usize) {
        if let Some(s) = w.buf[i][0] {
            Self::write_mem(w, s.loc, s.value);
            w.buf[i].copy_within(1.., 0);
            w.buf[i][BUF - 1] = None;
        }
    }

    fn store(w: &mut World, i: usize, loc: Loc, value: u8, order: Ordering) {
        let at = w.buf[i]
            .iter()
            .position(Option::is_none)
            .expect("store buffer full");
        w.buf[i][at] = Some(Store {
            loc,
            value,
            sc: sc(order),
        });
    }

    fn load(w: &mut World, i: usize, loc: Loc, order: Ordering) -> u8 {
        if sc(order) {
            if let Some(last) = w.buf[i].iter().rposition(|s| s.is_some_and(|s| s.sc)) {
                for _ in 0..=last {
                    Self::flush_one(w, i);
                }
            }
        }
        match w.buf[i].iter().rev().flatten().find(|s| s.loc == loc) {
            Some(s) => s.value,
            None => Self::read_mem(w, loc),
        }
    }

    /// The abort mask as member `i` loads it.
    fn load_mask(&self, w: &mut World, i: usize) -> u8 {
        // One load of one word: flush as one sequentially consistent load
        // would, then read every bit.
        let _ = Self::load(w, i, Loc::Aborted(i as u8), self.p.look);
        (0..self.s.n as u8).fold(0, |m, k| m | (Self::peek(w, i, Loc::Aborted(k)) << k))
    }

    /// A read without the flush (the rest of one load already made).
    fn peek(w: &World, i: usize, loc: Loc) -> u8 {
        match w.buf[i].iter().rev().flatten().find(|s| s.loc == loc) {
            Some(s) => s.value,
            None => Self::read_mem(w, loc),
        }
    }

    // ---- the kernel --------------------------------------------------------

    /// A syscall of member `i`: the kernel's locks order memory, so that
    /// the stores the member made before it are visible to any member it
    /// wakes (a wake-up, and going to sleep, imply a full barrier).
    fn syscall(w: &mut World, i: usize) {
        while w.buf[i][0].is_some() {
            Self::flush_one(w, i);
        }
    }

    /// Member `i` rings: every other member's instance reports it.
    fn ring(&self, w: &mut World, i: usize) {
        Self::syscall(w, i);
        for j in self.others(i) {
            w.ready[j] |= 1 << i;
            w.m[j].fired = false;
        }
    }

    /// Member `i`'s write end closes: its pipe hangs up wherever armed.
    fn close(&self, w: &mut World, i: usize) {
        Self::syscall(w, i);
        if w.open & (1 << i) == 0 {
            return;
        }
        w.open &= !(1 << i);
        for j in self.others(i) {
            if w.armed[j] & (1 << i) != 0 {
                w.ready[j] |= 1 << (N + i);
            }
            w.m[j].fired = false;
        }
    }

    /// `epoll_wait` of member `i` that returns what is reported: takes
    /// it, records the hang-ups; how many reports it took.
    fn take(w: &mut World, i: usize) -> usize {
        Self::syscall(w, i);
        let ready = w.ready[i];
        assert!((ready.count_ones() as usize) <= EVENTS);
        w.ready[i] = 0;
        let hung = ready >> N;
        w.armed[i] &= !hung;
        w.m[i].gone |= hung;
        ready.count_ones() as usize
    }

    // ---- one member's steps -------------------------------------------------

    /// Every successor of `w` by a step of member `i`, with its label.
    fn steps(&self, w: &World, i: usize, out: &mut Vec<(World, Step)>) -> Result<(), String> {
        let m = w.m[i];
        let mut next = *w;
        match m.at {
            At::Done | At::Dead => return Ok(()),
            At::Idle => {
                let Some(call) = self.call(w, i) else {
                    return Err(format!("member {i}: the program does not end with Exit"));
                };
                self.begin(&mut next, i, call);
            }
            At::AddRmw => {
                let count = m.mine + 1;
                Self::store(&mut next, i, Loc::Placed(i as u8), count, self.p.place);
                next.m[i].mine = count;
                next.m[i].count = count;
                next.m[i].at = At::AddScan(self.scan_from(i, 0).expect("a group has two members"));
            }
            At::AddScan(k) => {
                let v = Self::load(&mut next, i, Loc::Placed(k), self.p.scan);
                if v < m.count {
                    next.m[i].complete = false;
                    self.after_add(&mut next, i);
                } else if let Some(k2) = self.scan_from(i, k + 1) {
                    next.m[i].at = At::AddScan(k2);
                } else {
                    next.m[i].complete = true;
                    self.after_scan(&mut next, i, 0);
                }
            }
            At::AddWaiting(k) => {
                let v = Self::load(&mut next, i, Loc::Waiting(k), self.p.scan);
                if (self.p.rings)(u64::from(v), u64::from(m.count)) {
                    next.m[i].at = At::AddRing;
                } else {
                    self.after_scan(&mut next, i, k + 1);
                }
            }
            At::AddRing => {
                if w.failures > 0 {
                    let mut failed = next;
                    failed.failures -= 1;
                    failed.m[i].knowledge.aborted();
                    failed.m[i].at = At::FailOr;
                    out.push((failed, Step::new(i, "(fails)")));
                }
                self.ring(&mut next, i);
                self.after_add(&mut next, i);
            }
            At::FailOr => {
                Self::store(&mut next, i, Loc::Aborted(i as u8), 1, self.p.abort);
                next.m[i].at = At::FailRing;
            }
            At::FailRing => {
                // The same write again: it may fail again (no ring), and
                // the write end closes next either way.
                let mut silent = next;
                silent.m[i].at = At::FailClose;
                out.push((silent, Step::new(i, "(fails)")));
                self.ring(&mut next, i);
                next.m[i].at = At::FailClose;
            }
            At::FailClose => {
                self.close(&mut next, i);
                next.m[i].at = At::Ret(Res::Os);
            }
            At::Shortcut => {
                let mask = self.load_mask(&mut next, i) & !(1 << i);
                if mask == 0 {
                    next.m[i].at = At::Ret(Res::Ok);
                } else {
                    self.begin_wait(&mut next, i, true, true);
                }
            }
            At::LookMask => {
                let mask = self.load_mask(&mut next, i);
                match self.scan_from(i, 0) {
                    Some(k) if m.sync => {
                        next.m[i].at = At::LookPlaced { k, mask, short: 0 };
                    }
                    _ => self.looked(&mut next, i, mask, 0),
                }
            }
            At::LookPlaced { k, mask, mut short } => {
                let v = Self::load(&mut next, i, Loc::Placed(k), self.p.look);
                // Only whether it is short matters to a sync (judge compares
                // the count with the target).
                if v < m.count {
                    short |= 1 << k;
                }
                // As judge reads: up to the first short member when no
                // member aborted or is gone, else all.
                let plain = (mask & !(1 << i)) | m.gone == 0;
                match self.scan_from(i, k + 1) {
                    Some(k) if !(plain && short != 0) => {
                        next.m[i].at = At::LookPlaced { k, mask, short };
                    }
                    _ => self.looked(&mut next, i, mask, short),
                }
            }
            At::Decide => self.decide(&mut next, i),
            At::Publish => {
                Self::store(&mut next, i, Loc::Waiting(i as u8), m.count, self.p.publish);
                next.m[i].published = true;
                next.m[i].at = At::LookMask;
            }
            At::Sleep => {
                if m.bound == Bound::Some {
                    // The time may run out at any moment: epoll_wait
                    // returns nothing.
                    let mut out_of_time = *w;
                    out_of_time.m[i].expired = true;
                    out_of_time.m[i].at = At::LookMask;
                    out.push((out_of_time, Step::new(i, "(times out)")));
                }
                let took = Self::take(&mut next, i);
                match m.bound {
                    // Asleep until something is reported.
                    Bound::Inf | Bound::Some if took == 0 => return Ok(()),
                    Bound::Zero if took == 0 => next.m[i].expired = true,
                    _ => {}
                }
                next.m[i].taken_in &= took < EVENTS;
                next.m[i].at = At::LookMask;
            }
            At::Drain => {
                let took = Self::take(&mut next, i);
                next.m[i].taken_in &= took < EVENTS;
                next.m[i].at = At::LookMask;
            }
            At::AbortOr => {
                Self::store(&mut next, i, Loc::Aborted(i as u8), 1, self.p.abort);
                next.m[i].at = if self.p.abort_rings {
                    At::AbortRing
                } else {
                    self.abort_answer(&next, i)
                };
            }
            At::AbortRing => {
                if w.failures > 0 {
                    let mut failed = next;
                    failed.failures -= 1;
                    failed.m[i].at = At::AbortClose;
                    out.push((failed, Step::new(i, "(fails)")));
                }
                self.ring(&mut next, i);
                next.m[i].at = self.abort_answer(&next, i);
            }
            At::AbortClose => {
                self.close(&mut next, i);
                next.m[i].at = self.abort_answer(&next, i);
            }
            At::Poll => {
                if w.ready[i] == 0 {
                    return Ok(());
                }
                if m.fired {
                    return Err(format!(
                        "member {i}: its descriptor fired again, though no other member rang or \
                         closed anything since it last fired (a busy loop)"
                    ));
                }
                // Fired: the same call again, with usec 0.
                next.m[i].fired = true;
                self.begin(&mut next, i, Call::LoopSync);
            }
            At::Ret(res) => {
                self.check_answer(w, i, res)?;
                let call = self.call(w, i);
                let mm = &mut next.m[i];
                if call == Some(Call::LoopSync) && res == Res::TimedOut {
                    mm.at = At::Poll;
                } else {
                    // Between calls only what lasts matters.
                    *mm = Member {
                        op: mm.op + 1,
                        mine: mm.mine,
                        gone: mm.gone,
                        knowledge: mm.knowledge,
                        ..Member::NEW
                    };
                }
            }
        }
        out.push((next, Step::new(i, "")));
        Ok(())
    }

    /// The first other member from `k` on, if any.
    fn scan_from(&self, i: usize, k: u8) -> Option<u8> {
        (usize::from(k)..self.s.n)
            .find(|&j| j != i)
            .map(|j| j as u8)
    }

    /// Where `place` goes after finding every other count high enough:
    /// the loads of what the others wait for, from `k` on.
    fn after_scan(&self, w: &mut World, i: usize, k: u8) {
        match self.scan_from(i, k) {
            Some(k) => w.m[i].at = At::AddWaiting(k),
            None => self.after_add(w, i),
        }
    }

    /// After `place`'s accesses: the answer of a `place`, or the sync of
    /// a `place_and_sync`.
    fn after_add(&self, w: &mut World, i: usize) {
        let m = w.m[i];
        w.m[i].at = match self.call(w, i) {
            Some(Call::PlaceAndSync(bound)) => {
                w.m[i].bound = bound;
                if m.complete {
                    At::Shortcut
                } else {
                    self.begin_wait(w, i, true, false);
                    return;
                }
            }
            _ => At::Ret(Res::Ok),
        };
    }

    /// Starts `call`.
    fn begin(&self, w: &mut World, i: usize, call: Call) {
        let k = w.m[i].knowledge;
        w.m[i].start_mask = w.aborted;
        w.m[i].at = match call {
            Call::Place | Call::PlaceAndSync(_) if k.is_aborted() => At::Ret(Res::Aborted),
            Call::Place | Call::PlaceAndSync(_) => At::AddRmw,
            Call::Sync(_) | Call::LoopSync if k.is_aborted() => At::Ret(Res::Aborted),
            Call::Sync(bound) => {
                w.m[i].bound = bound;
                self.begin_wait(w, i, true, true);
                return;
            }
            Call::LoopSync => {
                w.m[i].bound = Bound::Zero;
                self.begin_wait(w, i, true, true);
                return;
            }
            Call::Abort if !k.i_aborted() => {
                w.m[i].knowledge.aborted();
                At::AbortOr
            }
            Call::Abort => self.abort_answer(w, i),
            Call::WaitAbortion(_) if k.they_aborted() => self.abortion_answer(w, i),
            Call::WaitAbortion(bound) => {
                w.m[i].bound = bound;
                self.begin_wait(w, i, false, true);
                return;
            }
            Call::Exit => {
                self.close(w, i);
                w.m[i] = Member {
                    at: At::Done,
                    ..Member::NEW
                };
                return;
            }
        };
    }

    fn abort_answer(&self, w: &World, i: usize) -> At {
        if w.m[i].knowledge.they_aborted() {
            At::Ret(Res::Aborted)
        } else {
            At::Ret(Res::Ok)
        }
    }

    fn abortion_answer(&self, w: &World, i: usize) -> At {
        if w.m[i].knowledge.i_aborted() {
            At::Ret(Res::Aborted)
        } else {
            At::Ret(Res::Ok)
        }
    }

    /// Starts a wait (a sync for the member's own count, or a wait for an
    /// abortion): its first look, or, without `look_first`, straight to
    /// the loop's head with a pending verdict.
    fn begin_wait(&self, w: &mut World, i: usize, sync: bool, look_first: bool) {
        let m = &mut w.m[i];
        m.sync = sync;
        m.count = m.mine;
        m.published = false;
        m.expired = false;
        m.taken_in = false;
        m.verdict = V::Pending;
        m.at = if look_first { At::LookMask } else { At::Decide };
    }

    /// A look loaded what it loads: the verdict of the library's `judge`
    /// on what it saw (`short`: the members it found short of the target).
    fn looked(&self, w: &mut World, i: usize, mask: u8, short: u8) {
        let m = w.m[i];
        let wait = if m.sync {
            Wait::Sync(u64::from(m.count))
        } else {
            Wait::Abortion
        };
        // A short member placed one fewer than the target, any other the
        // target: all judge tells apart. It reads no count this look did
        // not load.
        let target = u64::from(m.count);
        let placed = |k: usize| {
            if short & (1 << k) != 0 {
                target - 1
            } else {
                target
            }
        };
        let verdict = judge(wait, i, self.s.n, mask.into(), m.gone.into(), placed);
        self.verdict(w, i, verdict.into());
    }

    fn verdict(&self, w: &mut World, i: usize, verdict: V) {
        w.m[i].verdict = verdict;
        w.m[i].at = At::Decide;
    }

    /// The wait loop's head: where the member goes with its last verdict.
    fn decide(&self, w: &mut World, i: usize) {
        let m = w.m[i];
        let ending = matches!(m.verdict, V::Ended(_));
        if !ending || m.taken_in {
            let res = match m.verdict {
                V::Pending => None,
                V::Done => Some(Res::Ok),
                V::Ended(r) => {
                    w.m[i].knowledge.saw(usize::from(r));
                    Some(Res::Aborted)
                }
            };
            if let Some(res) = res {
                // A wait for an abortion that ended answers by this
                // member's own abort.
                w.m[i].at = if m.sync {
                    At::Ret(res)
                } else {
                    self.abortion_answer(w, i)
                };
                return;
            }
            if m.expired {
                w.m[i].at = At::Ret(Res::TimedOut);
                return;
            }
        }
        w.m[i].at = if ending {
            w.m[i].taken_in = true;
            At::Drain
        } else if m.published {
            At::Sleep
        } else {
            At::Publish
        };
    }

    /// Checks an answer against what is true of the group.
    fn check_answer(&self, w: &World, i: usize, res: Res) -> Result<(), String> {
        let m = w.m[i];
        let Some(call) = self.call(w, i) else {
            return Ok(());
        };
        let sync = matches!(call, Call::Sync(_) | Call::PlaceAndSync(_) | Call::LoopSync);
        let others = ((1u8 << self.s.n) - 1) & !(1 << i);
        if sync && res == Res::Ok {
            for k in self.others(i) {
                let placed = Self::latest(w, Loc::Placed(k as u8));
                if placed < m.count {
                    return Err(format!(
                        "member {i}: a sync for {} succeeded, member {k} placed {placed}",
                        m.count
                    ));
                }
            }
            if m.start_mask & others != 0 {
                return Err(format!(
                    "member {i}: a sync succeeded, though an abort was on the page before it \
                     began"
                ));
            }
        }
        let ended = (sync && res == Res::Aborted)
            || (matches!(call, Call::WaitAbortion(_)) && res == Res::Ok);
        if ended {
            match m.knowledge.aborted_by() {
                Some(by) => {
                    let aborted = Self::latest(w, Loc::Aborted(by as u8)) == 1;
                    let closed = w.open & (1 << by) == 0;
                    if !aborted && !closed {
                        return Err(format!(
                            "member {i}: {call:?} ended on member {by}, which neither aborted nor \
                             exited"
                        ));
                    }
                }
                None if !m.knowledge.i_aborted() => {
                    return Err(format!(
                        "member {i}: {call:?} answered {res:?} without a cause"
                    ));
                }
                None => {}
            }
        }
        if res == Res::TimedOut
            && !matches!(
                call,
                Call::Sync(Bound::Some | Bound::Zero)
                    | Call::PlaceAndSync(Bound::Some | Bound::Zero)
                    | Call::LoopSync
                    | Call::WaitAbortion(Bound::Some | Bound::Zero)
            )
        {
            return Err(format!("member {i}: {call:?} timed out"));
        }
        Ok(())
    }

    // ---- the search ------------------------------------------------------------

    /// Every successor of `w`; whether any member can make a step (a
    /// flush or a death is not one).
    fn successors(&self, w: &World, out: &mut Vec<(World, Step)>) -> Result<bool, String> {
        let mut moves = false;
        for i in 0..self.s.n {
            let mut mine = Vec::new();
            self.steps(w, i, &mut mine)?;
            moves |= !mine.is_empty();
            for (next, step) in mine {
                self.settle(next, i, step, out)?;
            }
            if w.buf[i][0].is_some() {
                let mut next = *w;
                Self::flush_one(&mut next, i);
                out.push((next, Step::new(i, "flushes its oldest store")));
            }
            if w.deaths > 0 && !matches!(w.m[i].at, At::Done | At::Dead) {
                let mut next = *w;
                next.deaths -= 1;
                while next.buf[i][0].is_some() {
                    Self::flush_one(&mut next, i);
                }
                self.close(&mut next, i);
                // What a dead member knew no longer matters.
                next.m[i] = Member {
                    at: At::Dead,
                    ..Member::NEW
                };
                out.push((next, Step::new(i, "is killed")));
            }
        }
        Ok(moves)
    }

    /// Runs member `i` on through the steps that touch nothing shared (the
    /// wait loop's head, answering, starting a call other than an exit):
    /// interleaving them with the others' steps would make no difference.
    fn settle(
        &self,
        w: World,
        i: usize,
        step: Step,
        out: &mut Vec<(World, Step)>,
    ) -> Result<(), String> {
        let local = match w.m[i].at {
            At::Decide | At::Ret(_) => true,
            At::Idle => self.call(&w, i) != Some(Call::Exit),
            _ => false,
        };
        if !local {
            out.push((w, step));
            return Ok(());
        }
        let mut more = Vec::new();
        self.steps(&w, i, &mut more)?;
        for (next, _) in more {
            self.settle(next, i, step, out)?;
        }
        Ok(())
    }

    /// A state where no member can make a step: every member must have
    /// finished. (A flush wakes nobody, and a member asleep that only a
    /// death would wake lost a wake-up.)
    fn check_final(&self, w: &World) -> Result<(), String> {
        for i in 0..self.s.n {
            if !matches!(w.m[i].at, At::Done | At::Dead) {
                return Err(format!(
                    "member {i} is stuck at {:?} in {:?}: a lost wake-up",
                    w.m[i].at,
                    self.call(w, i)
                ));
            }
        }
        Ok(())
    }

    /// The steps from the start to state `at`, and why it fails.
    fn trace(&self, states: &[(World, u32, Step)], mut at: u32, why: String) -> String {
        let mut steps = Vec::new();
        while at != 0 {
            let (_, parent, step) = states[at as usize];
            let before = states[parent as usize].0;
            let i = usize::from(step.member);
            steps.push(format!(
                "member {i} at {:?} in {:?} {}",
                before.m[i].at,
                self.call(&before, i),
                step.what
            ));
            at = parent;
        }
        steps.reverse();
        format!(
            "{}: {why}\n  after:\n    {}",
            self.s.name,
            steps.join("\n    ")
        )
    }

    /// Visits every state reachable from the start; on a violation, the
    /// steps that lead to it.
    fn explore(&self) -> Result<Explored, String> {
        let start = self.start();
        let mut seen: HashSet<World> = HashSet::from([start]);
        let mut states: Vec<(World, u32, Step)> = vec![(start, 0, Step::new(0, "starts"))];
        let mut finals = 0;
        let mut out = Vec::new();
        let mut at = 0;
        while at < states.len() {
            let w = states[at].0;
            out.clear();
            let moves = match self.successors(&w, &mut out) {
                Ok(moves) => moves,
                Err(why) => return Err(self.trace(&states, at as u32, why)),
            };
            if !moves {
                finals += 1;
                if let Err(why) = self.check_final(&w) {
                    return Err(self.trace(&states, at as u32, why));
                }
            }
            for (next, step) in out.drain(..) {
                if seen.insert(next) {
                    states.push((next, at as u32, step));
                }
            }
            at += 1;
            if states.len() > MAX_STATES {
                return Err(format!("{}: more than {MAX_STATES} states", self.s.name));
            }
        }
        Ok(Explored {
            states: states.len(),
            finals,
        })
    }
}

/// A transition's label: whose step, and what is special about it.
#[derive(Clone, Copy, Debug)]
struct Step {
    member: u8,
    what: &'static str,
}

impl Step {
    fn new(member: usize, what: &'static str) -> Step {
        Step {
            member: member as u8,
            what,
        }
    }
}

// ---- the scenarios ------------------------------------------------------------

use Bound::{Inf, Some as Bounded, Zero};
use Call::*;

const ROUNDS: &[Call] = &[PlaceAndSync(Inf), PlaceAndSync(Inf), Exit];
const ROUNDS3: &[Call] = &[
    PlaceAndSync(Inf),
    PlaceAndSync(Inf),
    PlaceAndSync(Inf),
    Exit,
];

/// The scenarios, the small ones first (they catch every mutant of the
/// tests below, and so end those tests soon). Each program ends by
/// exiting, and no scenario needs a death to finish.
fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "2 members, 3 rounds, a death anywhere",
            n: 2,
            programs: [
                &[
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    Exit,
                ],
                &[
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    Exit,
                ],
                &[],
            ],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "2 members, an abort that must wake a sync, a death anywhere",
            n: 2,
            programs: [
                &[PlaceAndSync(Inf), Abort, WaitAbortion(Inf), Exit],
                &[PlaceAndSync(Inf), PlaceAndSync(Inf), Exit],
                &[],
            ],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "2 members, an event loop, a death anywhere",
            n: 2,
            programs: [
                &[Place, LoopSync, Place, LoopSync, Place, LoopSync, Exit],
                &[
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    PlaceAndSync(Inf),
                    Exit,
                ],
                &[],
            ],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "2 members, bounded syncs, a ring that fails",
            n: 2,
            programs: [
                &[
                    PlaceAndSync(Bounded),
                    Sync(Inf),
                    PlaceAndSync(Inf),
                    WaitAbortion(Inf),
                    Exit,
                ],
                &[PlaceAndSync(Inf), PlaceAndSync(Bounded), Sync(Inf), Exit],
                &[],
            ],
            deaths: 0,
            failures: 1,
        },
        Scenario {
            name: "3 members, 2 rounds, a death anywhere",
            n: 3,
            programs: [ROUNDS, ROUNDS, ROUNDS],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "3 members, 2 rounds, two deaths anywhere",
            n: 3,
            programs: [ROUNDS, ROUNDS, ROUNDS],
            deaths: 2,
            failures: 0,
        },
        Scenario {
            name: "3 members, one ahead of the others, a bounded sync, a death anywhere",
            n: 3,
            programs: [
                &[Place, Place, Sync(Inf), Exit],
                &[Place, Sync(Bounded), PlaceAndSync(Inf), Exit],
                ROUNDS,
            ],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "3 members, an abort, a wait for an abortion, a death anywhere",
            n: 3,
            programs: [
                &[Place, WaitAbortion(Inf), Exit],
                &[PlaceAndSync(Inf), Abort, Exit],
                ROUNDS,
            ],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "3 members, an event loop, a death anywhere",
            n: 3,
            programs: [&[Place, LoopSync, Exit], ROUNDS, ROUNDS],
            deaths: 1,
            failures: 0,
        },
        Scenario {
            name: "3 members, aborts that race, a ring that fails",
            n: 3,
            programs: [
                &[PlaceAndSync(Inf), Abort, Exit],
                &[PlaceAndSync(Inf), PlaceAndSync(Zero), Sync(Inf), Exit],
                &[Abort, WaitAbortion(Inf), Exit],
            ],
            deaths: 0,
            failures: 1,
        },
    ]
}

/// Longer scenarios, too long for every test run (a few million states
/// and a gigabyte of memory): `cargo test -p barrier-core --lib -- --ignored
/// deeper`.
fn deeper_scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "3 members, 3 rounds, a death anywhere",
        n: 3,
        programs: [ROUNDS3, ROUNDS3, ROUNDS3],
        deaths: 1,
        failures: 0,
    }]
}

/// Explores every scenario under `p`; the first violation found.
fn check(p: Protocol) -> Result<Vec<(&'static str, Explored)>, String> {
    explore_all(scenarios(), p)
}

fn explore_all(
    scenarios: Vec<Scenario>,
    p: Protocol,
) -> Result<Vec<(&'static str, Explored)>, String> {
    let mut done = Vec::new();
    for s in scenarios {
        let explored = Model { s: &s, p }.explore()?;
        done.push((s.name, explored));
    }
    Ok(done)
}

#[test]
fn the_library_protocol_has_no_lost_wake_up() {
    report(scenarios());
}

#[test]
#[ignore]
fn deeper() {
    report(deeper_scenarios());
}

/// Explores `scenarios` under the library's protocol, and prints what it
/// explored.
fn report(scenarios: Vec<Scenario>) {
    let started = std::time::Instant::now();
    match explore_all(scenarios, Protocol::LIBRARY) {
        Ok(done) => {
            for (name, e) in done {
                println!("{name}: {} states, {} final", e.states, e.finals);
            }
            println!("explored in {:?}", started.elapsed());
        }
        Err(why) => panic!("{why}"),
    }
}

/// A mutant the check must catch, with what it reports.
fn caught(p: Protocol) -> String {
    match check(p) {
        Ok(_) => panic!("the check missed a broken protocol"),
        Err(why) => {
            println!("{why}");
            why
        }
    }
}

#[test]
fn a_weakened_publish_is_caught() {
    // What a sync waits for, published with a release store: the member
    // completing the level may miss it, while the sync misses its count.
    let why = caught(Protocol {
        publish: Ordering::Release,
        ..Protocol::LIBRARY
    });
    assert!(why.contains("lost wake-up"), "{why}");
}

#[test]
fn a_weakened_look_is_caught() {
    let why = caught(Protocol {
        look: Ordering::Acquire,
        ..Protocol::LIBRARY
    });
    assert!(why.contains("lost wake-up"), "{why}");
}

#[test]
fn a_weakened_place_is_caught() {
    let why = caught(Protocol {
        place: Ordering::Release,
        ..Protocol::LIBRARY
    });
    assert!(why.contains("lost wake-up"), "{why}");
}

#[test]
fn a_dropped_ring_is_caught() {
    // The member completing a level rings only when another waits for
    // the level after it.
    let why = caught(Protocol {
        rings: |waiting, count| waiting == count + 1,
        ..Protocol::LIBRARY
    });
    assert!(why.contains("lost wake-up"), "{why}");
}

#[test]
fn an_abort_without_a_ring_is_caught() {
    let why = caught(Protocol {
        abort_rings: false,
        ..Protocol::LIBRARY
    });
    assert!(why.contains("lost wake-up"), "{why}");
}
