//! Model-based test of barrier groups: random scripts of calls for groups
//! of 2 to 8 members, run on the Rust API ([`barrier_core::Group`]) in one
//! forked process per member, in lock step, with every answer and every
//! member's predicates and `aborted_by` compared with a reference model of
//! the group contract (libbarrier(3), "Groups", and the pages of the
//! `barrier_group_*` functions) after every step.
//!
//! The model ([`Model`]) is written from the specification alone. Each
//! member has a count of barriers placed, an abort flag the others can see,
//! whether its process still runs, and what it has observed: whether it
//! aborted itself, and the first other member it saw abort or exit. `place`
//! and `abort` do not look at the others; a wait looks at all of them at
//! once, and sees every abort and every exit that happened before it.
//!
//! How a step runs (the processes are in `group_lockstep/`):
//!
//! - a call the model says completes runs with the script's bound
//!   (unbounded, zero or short) and must answer what the model says, at
//!   once: found asleep in `epoll_wait` instead, it fails there and then;
//! - a bounded wait the model says cannot complete must answer
//!   `TimedOut`, and changes nothing (a `place_and_sync`'s barrier stays
//!   placed): everything the other members did is already in the kernel,
//!   so no machine is too slow for that;
//! - an unbounded wait the model says cannot complete is started and left
//!   pending: the member must be seen asleep in `epoll_wait` without an
//!   answer. After every later step the model says which pending waits
//!   that step releases and what they answer; those answers are collected
//!   before the next step, and every wait still pending must be seen
//!   asleep again. A wait the model says is due (released) must answer
//!   in the same way;
//! - a member can exit (with or without dropping its handle) or be killed
//!   with SIGKILL, also while it is blocked in a wait. Steps for a member
//!   that is gone, or blocked (other than a kill), are skipped. In some
//!   scripts one member exits before it joins, which counts as an exit.
//!
//! At the end, the members still running report their state and exit one
//! by one (the lowest rank not blocked first); members blocked with nobody
//! left to release them are killed.
//!
//! Anything else due at once that does not come (an answer, an exit, a
//! member falling asleep in its wait) is called a hang after a few seconds,
//! or as soon as the member has spun for a quarter of a second of CPU time
//! (`common::HANG`, `common::SPIN`).
//!
//! `GROUP_MODEL_CASES` sets the number of scripts (default 8000: about
//! 35 s in the default profile on 2 busy cores, 10000 took 43 s),
//! `GROUP_MODEL_SEED` the seed (printed on every run, with the first
//! failing script as soon as it fails, and with the smallest failing script
//! once shrinking it ends, within `common::SHRINK_BUDGET`).

mod common;
mod group_lockstep;

use common::{Outcome, Run, NO_BOUND};
use group_lockstep::{Answer, Call, Members};
use proptest::prelude::*;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

// ---------------------------------------------------------------------------
// The reference model, from the contract of libbarrier(3).

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// Every other member placed at least this many barriers.
    Sync(u64),
    /// Another member aborts or exits.
    Abortion,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct MemberModel {
    /// `placed[i]`: barriers this member placed.
    placed: u64,
    /// It called `abort`: every wait started afterwards fails.
    aborted: bool,
    /// Its process still runs with its handle.
    alive: bool,
    /// Observed: this member aborted.
    i_aborted: bool,
    /// Observed: the first other member it saw abort or exit.
    by: Option<usize>,
    /// An unbounded wait it is blocked in: the call, and what it waits
    /// for.
    pending: Option<(Call, Wait)>,
}

#[derive(Clone, PartialEq, Eq)]
struct Model {
    m: Vec<MemberModel>,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.m.iter().enumerate() {
            write!(f, "\n  member {i}: placed {}", m.placed)?;
            let flags = [
                (m.aborted, "aborted"),
                (!m.alive, "gone"),
                (m.i_aborted, "i_aborted"),
            ];
            for (_, name) in flags.iter().filter(|(set, _)| *set) {
                write!(f, ", {name}")?;
            }
            if let Some(by) = m.by {
                write!(f, ", aborted_by {by}")?;
            }
            if let Some((call, wait)) = m.pending {
                write!(f, ", blocked in {call:?} for {wait:?}")?;
            }
        }
        Ok(())
    }
}

impl Model {
    fn new(n: usize) -> Model {
        let fresh = MemberModel {
            placed: 0,
            aborted: false,
            alive: true,
            i_aborted: false,
            by: None,
            pending: None,
        };
        Model { m: vec![fresh; n] }
    }

    /// Has member `i` observed anything that makes it count the group as
    /// aborted (its own abort, another's abort or exit)?
    fn observed_abort(&self, i: usize) -> bool {
        self.m[i].i_aborted || self.m[i].by.is_some()
    }

    /// place: fails once the member observed any abort or exit; does not
    /// look at the others.
    fn place(&mut self, i: usize) -> Outcome {
        if self.observed_abort(i) {
            return Outcome::Aborted;
        }
        self.m[i].placed += 1;
        Outcome::Ok
    }

    /// abort: the member is aborted afterwards, either way; it answers by
    /// what it had observed of the others before (it does not look).
    fn abort(&mut self, i: usize) -> Outcome {
        self.m[i].aborted = true;
        self.m[i].i_aborted = true;
        if self.m[i].by.is_some() {
            Outcome::Aborted
        } else {
            Outcome::Ok
        }
    }

    /// One look of member `i` at every other member, for `wait`: the
    /// answer if the wait is over, or `Err(wait)` if it must go on waiting.
    /// An abort ends any wait (even a satisfied sync); an exit ends a sync
    /// only when the member placed fewer barriers than needed (pending
    /// beats exit), and a wait for an abortion at once. Of those seen in
    /// the same look, the lowest rank is the one recorded.
    fn look(&mut self, i: usize, wait: Wait) -> Result<Outcome, Wait> {
        let mut ended = None;
        let mut short = false;
        for (j, o) in self.m.iter().enumerate().filter(|&(j, _)| j != i) {
            let needed = match wait {
                Wait::Sync(t) => o.placed < t,
                Wait::Abortion => true,
            };
            if o.aborted || (!o.alive && needed) {
                ended = ended.or(Some(j));
            } else if needed {
                short = true;
            }
        }
        let me = &mut self.m[i];
        match (ended, wait) {
            (Some(j), _) => {
                me.by.get_or_insert(j);
                Ok(match wait {
                    Wait::Sync(_) => Outcome::Aborted,
                    Wait::Abortion if me.i_aborted => Outcome::Aborted,
                    Wait::Abortion => Outcome::Ok,
                })
            }
            (None, Wait::Sync(_)) if !short => Ok(Outcome::Ok),
            _ => Err(wait),
        }
    }

    /// sync: fails at once if the member observed an abort (it does not
    /// look then); else waits for every other member to have placed as
    /// many barriers as it did.
    fn sync(&mut self, i: usize) -> Result<Outcome, Wait> {
        if self.observed_abort(i) {
            return Ok(Outcome::Aborted);
        }
        self.look(i, Wait::Sync(self.m[i].placed))
    }

    fn place_and_sync(&mut self, i: usize) -> Result<Outcome, Wait> {
        match self.place(i) {
            Outcome::Ok => self.sync(i),
            failed => Ok(failed),
        }
    }

    /// wait_abortion: over at once if the member already saw another abort
    /// or exit; its own abort never ends it. Answers `Ok` unless the member
    /// aborted too.
    fn wait_abortion(&mut self, i: usize) -> Result<Outcome, Wait> {
        if self.m[i].by.is_some() {
            return Ok(if self.m[i].i_aborted {
                Outcome::Aborted
            } else {
                Outcome::Ok
            });
        }
        self.look(i, Wait::Abortion)
    }

    /// Starts a waiting call.
    fn wait(&mut self, i: usize, call: Call) -> Result<Outcome, Wait> {
        match call {
            Call::Sync => self.sync(i),
            Call::PlaceAndSync => self.place_and_sync(i),
            Call::WaitAbortion => self.wait_abortion(i),
            _ => unreachable!("{call:?} does not wait"),
        }
    }

    /// The member exited, was killed or dropped its handle.
    fn gone(&mut self, i: usize) {
        self.m[i].alive = false;
        self.m[i].pending = None;
    }

    /// What member `i` answers for `outcome`, its predicates included.
    fn answer(&self, i: usize, outcome: Outcome) -> Answer {
        let me = &self.m[i];
        Answer {
            outcome,
            i_aborted: me.i_aborted,
            they_aborted: me.by.is_some(),
            is_aborted: me.i_aborted || me.by.is_some(),
            aborted_by: me.by,
        }
    }
}

// ---------------------------------------------------------------------------
// Scripts.

/// How a waiting call is bounded in the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    Unbounded,
    Zero,
    /// [`SHORT_USEC`].
    Short,
}

const SHORT_USEC: u64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Place,
    Abort,
    Sync(Bound),
    PlaceAndSync(Bound),
    WaitAbortion(Bound),
    /// `_exit`, dropping the handle first or not.
    Exit {
        drop: bool,
    },
    /// SIGKILL, blocked in a wait or not.
    Kill,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Step {
    member: usize,
    op: Op,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member {}: {:?}", self.member, self.op)
    }
}

#[derive(Clone)]
struct Script {
    n: usize,
    /// A member that exits before it joins: for the others, it exited.
    early: Option<usize>,
    steps: Vec<Step>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} members", self.n)?;
        if let Some(e) = self.early {
            write!(f, " (member {e} exits before it joins)")?;
        }
        writeln!(f, ", {} steps:", self.steps.len())?;
        for (k, s) in self.steps.iter().enumerate() {
            writeln!(f, "  {k:3}  {s:?}")?;
        }
        Ok(())
    }
}

fn op() -> impl Strategy<Value = Op> {
    let bound = prop_oneof![
        3 => Just(Bound::Unbounded),
        3 => Just(Bound::Zero),
        1 => Just(Bound::Short),
    ];
    prop_oneof![
        30 => Just(Op::Place),
        4 => Just(Op::Abort),
        20 => bound.clone().prop_map(Op::Sync),
        25 => bound.clone().prop_map(Op::PlaceAndSync),
        6 => bound.prop_map(Op::WaitAbortion),
        3 => any::<bool>().prop_map(|drop| Op::Exit { drop }),
        3 => Just(Op::Kill),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    (2..=8usize).prop_flat_map(|n| {
        let steps = prop::collection::vec(
            (0..n, op()).prop_map(|(member, op)| Step { member, op }),
            1..=(6 * n + 8),
        );
        (prop::option::weighted(0.05, 0..n), steps).prop_map(move |(early, steps)| Script {
            n,
            early,
            steps,
        })
    })
}

// ---------------------------------------------------------------------------
// Running a script against the model.

/// What the scripts exercised, over the whole run (shrinking included), to
/// show that the mix is what it should be.
struct Tally {
    answers: AtomicU64,
    aborted: AtomicU64,
    by_set: AtomicU64,
    timed_out: AtomicU64,
    pending: AtomicU64,
    released: AtomicU64,
    released_aborted: AtomicU64,
    still_pending: AtomicU64,
    killed_in_wait: AtomicU64,
    gone: AtomicU64,
    early: AtomicU64,
    skipped: AtomicU64,
}

static TALLY: Tally = Tally {
    answers: AtomicU64::new(0),
    aborted: AtomicU64::new(0),
    by_set: AtomicU64::new(0),
    timed_out: AtomicU64::new(0),
    pending: AtomicU64::new(0),
    released: AtomicU64::new(0),
    released_aborted: AtomicU64::new(0),
    still_pending: AtomicU64::new(0),
    killed_in_wait: AtomicU64::new(0),
    gone: AtomicU64::new(0),
    early: AtomicU64::new(0),
    skipped: AtomicU64::new(0),
};

struct Checker {
    model: Model,
    members: Members,
}

impl Checker {
    fn fail(&self, i: usize, what: &str, got: impl fmt::Debug, want: impl fmt::Debug) -> String {
        format!("member {i} {what}: got {got:?}, the model says {want:?}")
    }

    /// Compares member `i`'s answer with the model's.
    fn expect(&self, i: usize, what: &str, got: Answer, want: Outcome) -> Result<(), String> {
        let want = self.model.answer(i, want);
        TALLY.answers.fetch_add(1, Relaxed);
        match want.outcome {
            Outcome::Aborted => TALLY.aborted.fetch_add(1, Relaxed),
            Outcome::TimedOut => TALLY.timed_out.fetch_add(1, Relaxed),
            _ => 0,
        };
        if want.aborted_by.is_some() {
            TALLY.by_set.fetch_add(1, Relaxed);
        }
        if got != want {
            return Err(self.fail(i, what, got, want));
        }
        Ok(())
    }

    fn simple(&mut self, i: usize, call: Call, usec: u64, want: Outcome) -> Result<(), String> {
        let got = self.members.ask(i, call, usec)?;
        self.expect(i, &format!("{call:?}"), got, want)
    }

    /// Collects the answer of an unbounded wait that the model says is
    /// due: the member must answer, not sleep in its wait. What it waits
    /// for has happened before this is called (a place or an abort rings
    /// the doorbells before it answers; an exit or a kill hangs up the pipe
    /// before the process can be reaped), and whatever woke the member made
    /// it runnable right then: a member seen asleep in `epoll_wait` again,
    /// without an answer, went back to sleep instead of answering.
    fn collect(&self, i: usize, what: &str, want: Outcome) -> Result<(), String> {
        if self.members.await_asleep(i)? {
            let want = self.model.answer(i, want);
            return Err(self.fail(i, what, "asleep in its wait", want));
        }
        let got = self.members.answer(i)?;
        self.expect(i, what, got, want)
    }

    /// A waiting call: at once where the model says it completes; where it
    /// cannot, bounded it times out, and unbounded it is left pending.
    fn wait(&mut self, i: usize, call: Call, bound: Bound) -> Result<(), String> {
        // What the call does before it would wait (a place) stays done,
        // whatever comes of the wait.
        let result = self.model.wait(i, call);
        let usec = match bound {
            Bound::Unbounded => NO_BOUND,
            Bound::Zero => 0,
            Bound::Short => SHORT_USEC,
        };
        let what = match bound {
            Bound::Unbounded => format!("{call:?} (unbounded)"),
            _ => format!("{call:?} (timeout {usec} us)"),
        };
        match (result, bound) {
            (Ok(want), Bound::Unbounded) => {
                self.members.send(i, call, NO_BOUND)?;
                self.collect(i, &what, want)
            }
            (Ok(want), _) => {
                let got = self.members.ask(i, call, usec)?;
                self.expect(i, &what, got, want)
            }
            (Err(_), Bound::Zero | Bound::Short) => {
                self.members.send(i, call, usec)?;
                let got = self.members.answer_after(i, true)?;
                self.expect(i, &what, got, Outcome::TimedOut)
            }
            (Err(wait), Bound::Unbounded) => {
                self.members.send(i, call, NO_BOUND)?;
                if !self.members.await_asleep(i)? {
                    let got = self.members.answer(i)?;
                    return Err(self.fail(i, &what, got, "it blocks"));
                }
                self.model.m[i].pending = Some((call, wait));
                TALLY.pending.fetch_add(1, Relaxed);
                Ok(())
            }
        }
    }

    /// After each step: collects the answers of the pending waits that it
    /// released, and sees the others asleep again, still without an answer.
    fn settle(&mut self) -> Result<(), String> {
        for w in 0..self.model.m.len() {
            let Some((call, wait)) = self.model.m[w].pending else {
                continue;
            };
            match self.model.look(w, wait) {
                Ok(want) => {
                    self.model.m[w].pending = None;
                    TALLY.released.fetch_add(1, Relaxed);
                    if want == Outcome::Aborted {
                        TALLY.released_aborted.fetch_add(1, Relaxed);
                    }
                    self.collect(w, &format!("{call:?}, released"), want)?;
                }
                Err(_) => {
                    if !self.members.await_asleep(w)? {
                        let got = self.members.answer(w)?;
                        let what = format!("{call:?}, pending");
                        return Err(self.fail(w, &what, got, "it still blocks"));
                    }
                    TALLY.still_pending.fetch_add(1, Relaxed);
                }
            }
        }
        Ok(())
    }

    fn exit(&mut self, i: usize, drop: bool) -> Result<(), String> {
        self.model.gone(i);
        TALLY.gone.fetch_add(1, Relaxed);
        self.members.exit(i, drop)
    }

    fn kill(&mut self, i: usize) -> Result<(), String> {
        if self.model.m[i].pending.is_some() {
            TALLY.killed_in_wait.fetch_add(1, Relaxed);
        }
        self.model.gone(i);
        TALLY.gone.fetch_add(1, Relaxed);
        self.members.kill(i)
    }

    fn step(&mut self, i: usize, op: Op) -> Result<(), String> {
        let me = self.model.m[i];
        if !me.alive || (me.pending.is_some() && op != Op::Kill) {
            TALLY.skipped.fetch_add(1, Relaxed);
            return Ok(());
        }
        match op {
            Op::Place => {
                let want = self.model.place(i);
                self.simple(i, Call::Place, 0, want)?;
            }
            Op::Abort => {
                let want = self.model.abort(i);
                self.simple(i, Call::Abort, 0, want)?;
            }
            Op::Sync(b) => self.wait(i, Call::Sync, b)?,
            Op::PlaceAndSync(b) => self.wait(i, Call::PlaceAndSync, b)?,
            Op::WaitAbortion(b) => self.wait(i, Call::WaitAbortion, b)?,
            Op::Exit { drop } => self.exit(i, drop)?,
            Op::Kill => self.kill(i)?,
        }
        self.settle()
    }

    fn run(&mut self, script: &Script) -> Result<(), String> {
        // Every member reports once before the script starts: then each
        // has joined, and so holds no other member's pipe write end (a
        // member that has not joined yet would keep another's exit unseen).
        // The member that exited before it joined is gone already.
        if let Some(e) = script.early {
            self.model.gone(e);
            TALLY.gone.fetch_add(1, Relaxed);
            TALLY.early.fetch_add(1, Relaxed);
        }
        for i in (0..script.n).filter(|&i| Some(i) != script.early) {
            self.simple(i, Call::Report, 0, Outcome::Ok)
                .map_err(|e| format!("after join: {e}"))?;
        }
        for (k, s) in script.steps.iter().enumerate() {
            self.step(s.member, s.op)
                .map_err(|e| format!("step {k} ({s:?}): {e}\nmodel after it: {:?}", self.model))?;
        }
        // The members still running report and exit, the lowest rank not
        // blocked first; with only blocked ones left, the lowest is killed.
        loop {
            let free = (self.model.m.iter()).position(|m| m.alive && m.pending.is_none());
            let blocked = self.model.m.iter().position(|m| m.alive);
            match (free, blocked) {
                (Some(i), _) => self
                    .simple(i, Call::Report, 0, Outcome::Ok)
                    .and_then(|()| self.exit(i, true))
                    .and_then(|()| self.settle())
                    .map_err(|e| {
                        format!(
                            "at the end, member {i} reports and exits: {e}\nmodel after it: {:?}",
                            self.model
                        )
                    })?,
                (None, Some(i)) => self.kill(i).and_then(|()| self.settle()).map_err(|e| {
                    format!(
                        "at the end, blocked member {i} is killed: {e}\nmodel after it: {:?}",
                        self.model
                    )
                })?,
                (None, None) => return Ok(()),
            }
        }
    }
}

#[test]
fn group_scripts_match_the_model() {
    let sizes: [AtomicU64; 9] = Default::default();
    let (cases, took) = Run {
        what: "group model test",
        cases_var: "GROUP_MODEL_CASES",
        seed_var: "GROUP_MODEL_SEED",
        default_cases: 8_000,
        mix: 0x2545_f491_4f6c_dd1d,
        max_shrink_iters: 2000,
    }
    .run(&script(), |s| {
        sizes[s.n].fetch_add(1, Relaxed);
        let mut checker = Checker {
            model: Model::new(s.n),
            members: Members::start(s.n, s.early)?,
        };
        checker.run(s)
    });
    let t = |c: &AtomicU64| c.load(Relaxed);
    let per_n: Vec<String> = (2..=8).map(|n| format!("{n}: {}", t(&sizes[n]))).collect();
    println!(
        "group model test: {cases} scripts passed in {took:.1?} (by size, {}): {} answers \
         checked ({} Aborted, {} with aborted_by set, {} TimedOut), {} unbounded waits \
         left blocked, {} of them released by a later step ({} with Aborted), {} seen \
         asleep again after a step, {} killed while blocked; {} members exited or were \
         killed ({} before they joined); {} steps skipped (member gone or blocked)",
        per_n.join(", "),
        t(&TALLY.answers),
        t(&TALLY.aborted),
        t(&TALLY.by_set),
        t(&TALLY.timed_out),
        t(&TALLY.pending),
        t(&TALLY.released),
        t(&TALLY.released_aborted),
        t(&TALLY.still_pending),
        t(&TALLY.killed_in_wait),
        t(&TALLY.gone),
        t(&TALLY.early),
        t(&TALLY.skipped),
    );
}
