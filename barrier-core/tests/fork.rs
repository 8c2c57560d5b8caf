//! The Rust API across a real fork: each test forks a child that runs a
//! closure and reports through its exit status.

use barrier_core::{Barrier, Error, Role};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Ends this test process if it hangs; it never decides a result.
fn watchdog() {
    static ARMED: std::sync::Once = std::sync::Once::new();
    // SAFETY: alarm takes an integer and only arms a timer.
    ARMED.call_once(|| unsafe {
        libc::alarm(300);
    });
}

/// Runs tests that fork or count descriptors one at a time: a child forked
/// by one test thread would otherwise inherit another test's barrier and
/// delay the exit that test waits to see, and descriptor counts would see
/// other tests' barriers.
fn serial() -> MutexGuard<'static, ()> {
    watchdog();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forks; the child takes the CHILD role, runs `child` and exits 0 if it
/// returned true. The parent takes the PARENT role and runs `parent`.
fn with_child(child: impl FnOnce(&mut Barrier) -> bool, parent: impl FnOnce(&mut Barrier)) {
    let _guard = serial();
    let mut barrier = Barrier::new().expect("create");
    // SAFETY: the child runs only the closure and then _exit; the test
    // harness's other threads are not touched in the child.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            barrier.set_role(Role::Child);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child(&mut barrier)));
            drop(barrier);
            // SAFETY: _exit is async-signal-safe and ends the child at once.
            unsafe { libc::_exit(if matches!(ok, Ok(true)) { 0 } else { 1 }) };
        }
        ForkResult::Parent { child: pid } => {
            barrier.set_role(Role::Parent);
            parent(&mut barrier);
            drop(barrier);
            assert_eq!(
                waitpid(pid, None).expect("waitpid"),
                WaitStatus::Exited(pid, 0),
                "the child failed"
            );
        }
    }
}

#[test]
fn place_and_sync_in_lock_step() {
    with_child(
        |b| (0..10).all(|_| b.place_and_sync().is_ok()),
        |b| {
            for _ in 0..10 {
                b.place_and_sync().unwrap();
            }
            assert_eq!(b.state().counter(), Some(0));
        },
    );
}

#[test]
fn child_exit_is_an_abort_once_barriers_are_consumed() {
    with_child(
        |b| b.place().is_ok() && b.place().is_ok(),
        |b| {
            b.place().unwrap();
            b.place().unwrap();
            // Both of theirs are consumed before their exit is noticed.
            b.sync().unwrap();
            assert_eq!(b.state().counter(), Some(0));
            b.place().unwrap();
            assert_eq!(b.sync(), Err(Error::Aborted));
            assert!(b.state().they_aborted() && !b.state().i_aborted());
        },
    );
}

#[test]
fn bounded_wait_times_out_and_recovers() {
    with_child(
        |b| {
            // wait for the parent's go, then place
            b.wait_next().is_ok() && b.place().is_ok() && b.sync().is_ok()
        },
        |b| {
            let bound = Duration::from_millis(20);
            let start = Instant::now();
            assert_eq!(b.wait_next_timeout(bound), Err(Error::TimedOut));
            assert!(start.elapsed() >= bound);
            assert_eq!(b.wait_next_timeout(Duration::ZERO), Err(Error::TimedOut));
            b.place().unwrap();
            b.wait_next_timeout(Duration::from_secs(60)).unwrap();
            b.sync().unwrap();
        },
    );
}

#[test]
fn abort_reaches_the_other_side() {
    with_child(
        |b| b.wait_abortion().is_ok() && b.state().they_aborted(),
        |b| {
            b.abort().unwrap();
            assert!(b.state().i_aborted());
            assert_eq!(b.place(), Err(Error::Aborted));
        },
    );
}

#[test]
fn errors_convert_to_io_errors() {
    let io: std::io::Error = Error::TimedOut.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    let io: std::io::Error = Error::Os(libc::EBADF).into();
    assert_eq!(io.raw_os_error(), Some(libc::EBADF));
    let io: std::io::Error = Error::Aborted.into();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionAborted);
}

#[test]
fn drop_closes_every_descriptor() {
    let _guard = serial();
    let before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let b = Barrier::new().unwrap();
    let raw = b.as_raw();
    let fds = [raw.me, raw.them, raw.pipe[0], raw.pipe[1]];
    drop(b);
    for fd in fds {
        // SAFETY: F_GETFD only queries; a closed fd gives EBADF.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1);
    }
    assert_eq!(std::fs::read_dir("/proc/self/fd").unwrap().count(), before);
}
