//! Hands one end of a barrier to a program started with execve(): this
//! example spawns itself, and the spawned copy takes its end from the
//! environment.
//!
//! Run with `cargo run -p barrier-core --example handoff`.

use barrier_core::{Barrier, Error};
use std::process::Command;

fn spawned() -> Result<(), Error> {
    // SAFETY: called first thing, with no other threads; nothing else in
    // this program owns the descriptors BARRIER_FDS names.
    let mut barrier = unsafe { Barrier::from_env() }?;
    println!("helper: took over the barrier end from the environment");
    barrier.place_and_sync()?;
    println!("helper: synced with the parent, exiting");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--helper") {
        return Ok(spawned()?);
    }
    let mut barrier = Barrier::new()?;
    let mut child = barrier.spawn(Command::new(std::env::current_exe()?).arg("--helper"))?;
    barrier.place_and_sync()?;
    println!("parent: the helper is up");
    barrier.place()?;
    assert_eq!(barrier.sync(), Err(Error::Aborted));
    println!("parent: the helper exited");
    assert!(child.wait()?.success());
    Ok(())
}
