//! A barrier end handed to a spawned program: this test binary re-runs
//! itself as the child, selecting the `spawned_child` test.

use barrier_core::{Barrier, Error, Misuse, RawBarrier};
use std::process::{Command, Stdio};

const ROLE: &str = "BARRIER_TEST_SPAWNED";

/// The spawned side. Run normally it has nothing to do and passes.
#[test]
fn spawned_child() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    // SAFETY: alarm takes an integer and only arms a timer (a hang guard).
    unsafe { libc::alarm(300) };
    // SAFETY: this process runs this one test on one thread, and nothing
    // else in it owns the descriptors the variable names.
    let mut b = unsafe { Barrier::from_env() }.expect("import");
    assert!(
        std::env::var_os(RawBarrier::ENV_VAR).is_none(),
        "variable left behind"
    );
    for fd in b.pollfds().unwrap().map(|p| p.fd) {
        // SAFETY: F_GETFD only queries.
        assert_ne!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } & libc::FD_CLOEXEC,
            0
        );
    }
    b.place_and_sync().unwrap();
}

#[test]
fn spawn_hands_an_end_to_the_child() {
    if std::env::var_os(ROLE).is_some() {
        return;
    }
    // A hang guard only: SIGALRM ends the test binary (and with it the
    // child's wait) if this ever stops making progress.
    // SAFETY: alarm takes an integer and only arms a timer.
    unsafe { libc::alarm(300) };
    let mut b = Barrier::new().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "spawned_child", "--test-threads=1", "--quiet"])
        .env(ROLE, "1");
    // Its own test summary would read like this run's; failures still show
    // on stderr.
    cmd.stdout(Stdio::null());
    let mut child = b.spawn(&mut cmd).unwrap();
    b.place_and_sync().unwrap();
    // The child exits after that sync; its exit aborts our next one.
    b.place().unwrap();
    assert_eq!(b.sync(), Err(Error::Aborted));
    assert!(child.wait().unwrap().success(), "the spawned side failed");
}

#[test]
fn spawn_needs_a_fresh_barrier() {
    let (mut parent, _child) = Barrier::pair().unwrap();
    let err = parent.spawn(&mut Command::new("true")).unwrap_err();
    assert_eq!(err, Error::Misuse(Misuse::NotFresh));
}

#[test]
fn from_env_without_the_variable() {
    if std::env::var_os(RawBarrier::ENV_VAR).is_none() {
        // SAFETY: with the variable unset, nothing is adopted and the
        // environment is only read.
        assert_eq!(
            unsafe { Barrier::from_env() }.unwrap_err(),
            Error::Misuse(Misuse::Unset)
        );
    }
}
