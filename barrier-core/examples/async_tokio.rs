//! Two tasks on a tokio runtime take turns through a barrier pair, and a
//! wait cut short by a timeout loses nothing.
//!
//! `cargo run -p barrier-core --features tokio --example async_tokio`

use barrier_core::{AsyncBarrier, Barrier, Error};
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (parent, child) = Barrier::pair()?;
    let mut parent = AsyncBarrier::new(parent)?;
    let mut child = AsyncBarrier::new(child)?;

    let worker = tokio::spawn(async move {
        for round in 1..=3 {
            child.wait_next().await?;
            println!("worker: got the parent's barrier {round}, placing mine");
            child.place()?;
        }
        // The parent is not going to place a fourth: this wait times out,
        // and nothing it consumed is lost.
        let timed_out = tokio::time::timeout(Duration::from_millis(50), child.wait_next()).await;
        println!(
            "worker: a fourth wait_next timed out: {}",
            timed_out.is_err()
        );
        Ok::<_, Error>(child)
    });

    for round in 1..=3 {
        parent.place_and_sync().await?;
        println!("parent: round {round} synced");
    }
    let child = worker.await??;
    drop(child);
    // The worker's end is gone: to the parent, that is the other side's exit.
    let r = parent.place_and_sync().await;
    println!("parent: after the worker's end was dropped: {r:?}");
    assert_eq!(r, Err(Error::Aborted));
    Ok(())
}
