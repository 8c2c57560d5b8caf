//! AsyncBarrier on tokio's current-thread and multi-thread runtimes: two
//! tasks over a pair, a forked child using the blocking calls, a spawned
//! helper program (this test binary, run again), the other side exiting
//! and aborting, and waits cut short by timeouts, which must lose nothing.
//!
//! The other side is kept idle by a handshake (a channel, or the barrier
//! itself), never by a sleep; a timeout only proves that a wait is still
//! waiting while the other side is known to be idle.

use barrier_core::{AsyncBarrier, Barrier, Error, Misuse, Role};
use std::future::Future;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::timeout;

/// How long a wait runs to show that it is still waiting. Any value proves
/// the same; it is short to keep the tests fast.
const STILL_WAITING: Duration = Duration::from_millis(20);

/// Watchdog only, against hangs.
const HANG: Duration = Duration::from_secs(60);

/// One test at a time: a child forked by one test would hold another
/// test's descriptors and delay the exit that test waits to see.
fn serial() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `test` on a current-thread and on a multi-thread runtime.
fn on_both_runtimes<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let _one = serial();
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    current.block_on(async { timeout(HANG, test()).await.expect("hung") });
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    multi.block_on(async { timeout(HANG, test()).await.expect("hung") });
}

fn async_pair() -> (AsyncBarrier, AsyncBarrier) {
    let (parent, child) = Barrier::pair().unwrap();
    (
        AsyncBarrier::new(parent).unwrap(),
        AsyncBarrier::new(child).unwrap(),
    )
}

fn state(b: &AsyncBarrier) -> i64 {
    b.get_ref().state().raw()
}

#[test]
fn rounds_between_two_tasks() {
    on_both_runtimes(|| async {
        let (mut parent, mut child) = async_pair();
        let task = tokio::spawn(async move {
            for _ in 0..200 {
                child.wait_next().await?;
                child.place()?;
            }
            child.sync().await?;
            Ok::<_, Error>(child)
        });
        for _ in 0..200 {
            parent.place_and_sync().await.unwrap();
        }
        let child = task.await.unwrap().unwrap();
        assert_eq!(state(&parent), 0);
        assert_eq!(state(&child), 0);
    });
}

#[test]
fn other_side_gone_or_aborted() {
    on_both_runtimes(|| async {
        // Dropping the other end is its exit: a pending barrier first,
        // then the exit.
        let (mut parent, mut child) = async_pair();
        child.place().unwrap();
        drop(child);
        parent.place_and_sync().await.unwrap();
        assert_eq!(parent.place_and_sync().await, Err(Error::Aborted));

        // The exit while the wait sleeps.
        let (mut parent, child) = async_pair();
        let (go, gone) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            gone.await.unwrap();
            drop(child);
        });
        parent.place().unwrap();
        let sync = parent.sync();
        tokio::pin!(sync);
        assert!(timeout(STILL_WAITING, &mut sync).await.is_err());
        go.send(()).unwrap();
        assert_eq!(sync.await, Err(Error::Aborted));
        task.await.unwrap();

        // An abort: the waits end, wait_abortion succeeds.
        let (mut parent, mut child) = async_pair();
        let task = tokio::spawn(async move {
            child.wait_next().await.unwrap();
            child.abort().unwrap();
            child
        });
        parent.place().unwrap();
        assert_eq!(parent.sync_next().await, Err(Error::Aborted));
        assert_eq!(parent.wait_abortion().await, Ok(()));
        // Our own abort never ends wait_abortion; the other side's exit
        // does, and it answers that we aborted.
        let mut child = task.await.unwrap();
        assert!(timeout(STILL_WAITING, child.wait_abortion()).await.is_err());
        drop(parent);
        assert_eq!(child.wait_abortion().await, Err(Error::Aborted));
    });
}

#[test]
fn timeouts_lose_nothing() {
    on_both_runtimes(|| async {
        let (mut parent, mut child) = async_pair();
        // The child is ahead by three; the parent placed one, which the
        // child's sync consumes before it waits on.
        for _ in 0..3 {
            child.place().unwrap();
        }
        parent.place().unwrap();
        assert!(timeout(STILL_WAITING, child.sync()).await.is_err());
        assert_eq!(state(&child), 2, "the consumed barrier is kept");
        // Dropped again, in select!, beside a branch that wins.
        tokio::select! {
            biased;
            _ = std::future::ready(()) => {}
            _ = child.sync() => panic!("sync ended with nothing placed"),
        }
        assert_eq!(state(&child), 2);
        parent.place().unwrap();
        parent.place().unwrap();
        child.sync().await.unwrap();
        assert_eq!(state(&child), 0);
        // The parent's sync sees the child's three.
        parent.sync().await.unwrap();
        assert_eq!(state(&parent), 0);
        // place_and_sync places when called: dropped, its barrier stays.
        drop(timeout(STILL_WAITING, parent.place_and_sync()).await);
        assert_eq!(state(&parent), 1);
        child.place().unwrap();
        parent.sync().await.unwrap();
        assert_eq!(state(&parent), 0);
    });
}

#[test]
fn forked_child_with_the_blocking_calls() {
    let _one = serial();
    let mut barrier = Barrier::new().unwrap();
    // SAFETY: the child makes only barrier calls and _exit: no allocation,
    // no locks, whatever the test harness's threads held.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        barrier.set_role(Role::Child);
        let ok = (0..50).all(|_| barrier.wait_next().is_ok() && barrier.place().is_ok())
            && barrier.place().is_ok();
        // SAFETY: _exit ends the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    barrier.set_role(Role::Parent);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut parent = AsyncBarrier::new(barrier).unwrap();
        for _ in 0..50 {
            timeout(HANG, parent.place_and_sync())
                .await
                .unwrap()
                .unwrap();
        }
        // Its last barrier comes before its exit (the last sync may have
        // read it already, in one sum with the one before).
        if parent.get_ref().state().raw() == 0 {
            timeout(HANG, parent.wait_next()).await.unwrap().unwrap();
        }
        assert_eq!(parent.get_ref().state().raw(), -1);
        assert_eq!(
            timeout(HANG, parent.wait_next()).await.unwrap(),
            Err(Error::Aborted)
        );
    });
    let mut status = 0;
    // SAFETY: status is a live int; pid is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

/// The helper program of `spawned_helper`: this test binary, run again
/// with only this test and `ASYNC_TOKIO_HELPER` set. Otherwise it does
/// nothing.
#[test]
fn helper_program() {
    if std::env::var_os("ASYNC_TOKIO_HELPER").is_none() {
        return;
    }
    // SAFETY: the descriptors BARRIER_FDS names are this process's and
    // nothing else in it owns them; no other thread touches the
    // environment.
    let barrier = unsafe { Barrier::from_env() }.unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut b = AsyncBarrier::new(barrier).unwrap();
        for _ in 0..20 {
            b.place_and_sync().await.unwrap();
        }
        // Aborting at once could supersede our last barrier before the
        // parent read it: wait until it placed one more (which the last
        // sync may have read already, in one sum with the one before).
        if b.get_ref().state().raw() == 0 {
            b.wait_next().await.unwrap();
        }
        assert_eq!(b.get_ref().state().raw(), -1);
        b.abort().unwrap();
    });
}

#[test]
fn spawned_helper() {
    on_both_runtimes(|| async {
        let mut barrier = Barrier::new().unwrap();
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "helper_program", "--test-threads=1"])
            .env("ASYNC_TOKIO_HELPER", "1")
            .stdout(std::process::Stdio::null());
        let mut helper = barrier.spawn(&mut command).unwrap();
        let mut b = AsyncBarrier::new(barrier).unwrap();
        for _ in 0..20 {
            b.place_and_sync().await.unwrap();
        }
        b.place().unwrap();
        assert_eq!(b.wait_abortion().await, Ok(()));
        assert!(helper.wait().unwrap().success());
    });
}

#[test]
fn needs_a_role_and_a_runtime() {
    let _one = serial();
    let barrier = Barrier::new().unwrap();
    let e = AsyncBarrier::new(barrier).err().unwrap();
    assert_eq!(e, Error::Misuse(Misuse::NoRole));
    let (parent, _child) = Barrier::pair().unwrap();
    let e = AsyncBarrier::new(parent).err().unwrap();
    assert_eq!(e, Error::Misuse(Misuse::NoRuntime), "outside a runtime");
}
