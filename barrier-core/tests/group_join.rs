//! A rank belongs to the first handle that joins under it, whichever
//! process that handle is in: a second join under it is refused, also
//! when the two race.

use barrier_core::{Error, Group, Misuse};

/// Forks a child that runs `f` and exits with what it returns; returns
/// the child's pid. In this process `f` is dropped uncalled.
fn fork(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs `f`, which only uses the group and a pipe,
    // and leaves with _exit().
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: _exit ends the child without running the parent's
        // destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// The exit status of child `pid`.
fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer and pid is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status),
        "child {pid} did not exit: {status:#x}"
    );
    libc::WEXITSTATUS(status)
}

/// What a join answered, as an exit status: 0 joined, 1 the rank was
/// taken, 2 anything else.
fn code(r: Result<(), Error>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(Error::Misuse(Misuse::RankTaken)) => 1,
        Err(_) => 2,
    }
}

/// Blocks until every write end of the pipe `fds` is closed.
fn wait_for_start(fds: [libc::c_int; 2]) {
    let mut byte = 0u8;
    // SAFETY: closes this process's write end, then reads into a live
    // byte until the read returns end-of-file.
    unsafe {
        libc::close(fds[1]);
        while libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) > 0 {}
    }
}

#[test]
fn of_two_racing_joins_one_wins() {
    // SAFETY: alarm only arms a timer (a hang guard).
    unsafe { libc::alarm(300) };
    for _ in 0..200 {
        let mut g = Group::new(3).unwrap();
        let mut fds = [0; 2];
        // SAFETY: fds is a writable array of two ints.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // Both children block on the pipe; closing the parent's write end
        // releases them together.
        let a = fork(|| {
            wait_for_start(fds);
            code(g.join(1))
        });
        let b = fork(|| {
            wait_for_start(fds);
            code(g.join(1))
        });
        // SAFETY: closes this process's two ends of its own pipe.
        unsafe {
            libc::close(fds[1]);
            libc::close(fds[0]);
        }
        let mut codes = [reap(a), reap(b)];
        codes.sort();
        assert_eq!(
            codes,
            [0, 1],
            "one join wins, the other finds the rank taken"
        );
        // Here too the rank is gone, while the others are free.
        assert_eq!(g.join(1), Err(Error::Misuse(Misuse::RankTaken)));
        g.join(2).unwrap();
    }
}

#[test]
fn a_rank_stays_taken_after_its_member_exits() {
    let mut g = Group::new(2).unwrap();
    assert_eq!(reap(fork(|| code(g.join(0)))), 0);
    assert_eq!(reap(fork(|| code(g.join(0)))), 1);
    // A refused join changes nothing: the handle can still join.
    assert_eq!(g.join(0), Err(Error::Misuse(Misuse::RankTaken)));
    assert_eq!(g.rank(), None);
    g.join(1).unwrap();
    assert_eq!(g.rank(), Some(1));
}
