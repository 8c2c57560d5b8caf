//! A parent and a forked child step through three rounds in lock-step, then
//! the child exits and the parent sees the exit as the child's abort.
//!
//! Run with `cargo run -p barrier-core --example fork_sync`.

use barrier_core::{Barrier, Error, Role};

fn child(mut barrier: Barrier) -> i32 {
    barrier.set_role(Role::Child);
    for round in 1..=3 {
        println!("child:  reached round {round}");
        if barrier.place_and_sync().is_err() {
            return 1;
        }
    }
    // Dropping the barrier (or exiting) is what the parent sees.
    0
}

fn main() -> Result<(), Error> {
    let mut barrier = Barrier::new()?;
    // SAFETY: this program is single-threaded, so the child may do anything.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::Os(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ));
    }
    if pid == 0 {
        let code = child(barrier);
        std::process::exit(code);
    }
    barrier.set_role(Role::Parent);
    for round in 1..=3 {
        barrier.place_and_sync()?;
        println!("parent: both passed round {round}");
    }
    barrier.place()?;
    match barrier.sync() {
        Err(Error::Aborted) => println!("parent: the child exited, which counts as its abort"),
        other => panic!("expected the child's exit to abort the barrier, got {other:?}"),
    }
    let mut status = 0;
    // SAFETY: status is a valid out-pointer and pid our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed"
    );
    Ok(())
}
