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
//! failure, and a member found asleep in its wait where its answer needs
//! no waiting fails at once.

use crate::common::{
    await_asleep, exit_now, read_command, run_child, write_all, Ended, Forked, Outcome, Proc, HANG,
};
use barrier_core::Group;
use std::os::fd::{AsRawFd, RawFd};

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

/// The syscalls a member sleeps in while it waits (a member answering a
/// command sleeps in `read`).
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

/// The body of a member's process: runs commands until told to exit.
/// Makes only syscalls and group calls (no allocation).
fn member_main(mut group: Group, cmd: RawFd, res: RawFd) -> ! {
    loop {
        let (code, _, bound) = read_command(cmd);
        let call = *Call::ALL
            .get(usize::from(code))
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
            // SAFETY: the child makes only syscalls and group calls (no
            // allocation, no locks), then _exit.
            match unsafe { Proc::fork(procs.iter()) } {
                Forked::Parent(p) => procs.push(p),
                Forked::Child { cmd, res } => run_child(|| {
                    // Moved in here, so that it is never dropped twice.
                    let mut group = group;
                    if early == Some(rank) {
                        exit_now(0);
                    }
                    if group.join(rank).is_err() {
                        exit_now(7);
                    }
                    member_main(group, cmd.as_raw_fd(), res.as_raw_fd())
                }),
            }
        }
        drop(group);
        let mut members = Members { procs };
        if let Some(rank) = early {
            members.reap(rank)?;
        }
        Ok(members)
    }

    /// Tells member `rank` to make `call`, bounded by `usec` where it
    /// waits ([`NO_BOUND`](crate::common::NO_BOUND) for none).
    pub fn send(&self, rank: usize, call: Call, usec: u64) -> Result<(), String> {
        if self.procs[rank].command(call.code(), 0, usec) {
            Ok(())
        } else {
            Err(format!("member {rank} is gone: could not send {call:?}"))
        }
    }

    /// The answer to member `rank`'s last command, which needs no
    /// waiting: found asleep in `epoll_wait` instead, the member fails at
    /// once (see [`Proc::await_answer`]).
    pub fn answer(&self, rank: usize) -> Result<Answer, String> {
        self.answer_after(rank, false)
    }

    /// The answer to member `rank`'s last command, due at once; `may_wait`
    /// where the command is a wait bounded to time out, so that its sleep
    /// in `epoll_wait` is no fault.
    pub fn answer_after(&self, rank: usize, may_wait: bool) -> Result<Answer, String> {
        let p = &self.procs[rank];
        p.await_answer(epoll_waits(), may_wait)
            .map_err(|e| format!("member {rank}: {e}"))?;
        let mut a = [0u8; 24];
        if !p.read_answer(&mut a) {
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

    /// Sends a command and returns its answer, which needs no waiting.
    pub fn ask(&self, rank: usize, call: Call, usec: u64) -> Result<Answer, String> {
        self.send(rank, call, usec)?;
        self.answer(rank)
    }

    /// Whether member `rank` has written something (or is gone).
    pub fn has_answer(&self, rank: usize) -> bool {
        self.procs[rank].has_answer()
    }

    /// Waits until member `rank`, told to wait, is asleep in its wait and
    /// has not answered: true; false if it answered instead. Not a timing
    /// assumption: it only waits for the member to get there (with a
    /// watchdog, see [`await_asleep`]).
    pub fn await_asleep(&self, rank: usize) -> Result<bool, String> {
        await_asleep(self.procs[rank].pid, epoll_waits(), || {
            self.has_answer(rank)
        })
        .map_err(|e| format!("member {rank}: {e}"))
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
            return Err(format!("member {rank} did not exit within {HANG:?}"));
        }
        match p.reap() {
            Ended::Exited(0) => Ok(()),
            e => Err(format!("member {rank} told to exit ended {e:?}")),
        }
    }

    /// Kills member `rank` with SIGKILL and reaps it.
    pub fn kill(&mut self, rank: usize) -> Result<(), String> {
        let p = &mut self.procs[rank];
        p.kill();
        match p.reap() {
            Ended::Killed(libc::SIGKILL) => Ok(()),
            e => Err(format!("member {rank}, killed, ended {e:?}")),
        }
    }
}
