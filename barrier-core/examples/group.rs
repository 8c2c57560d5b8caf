//! A supervisor and 7 workers start in lock step: nobody serves until all
//! eight are ready. With `--crash K`, worker K dies (SIGKILL, mid-start-up)
//! before it is ready, and every other member is released at once, told
//! which rank failed, instead of hanging.
//!
//! Run with `cargo run -p barrier-core --example group`, or with
//! `-- --crash 3`.

use barrier_core::{Error, Group};

const WORKERS: usize = 7;

fn worker(mut group: Group, rank: usize, crash: Option<usize>) -> i32 {
    if group.join(rank).is_err() {
        return 2;
    }
    if crash == Some(rank) {
        // SAFETY: raising a signal at ourselves is always sound.
        unsafe { libc::raise(libc::SIGKILL) };
    }
    match group.place_and_sync() {
        Ok(()) => {
            println!("worker {rank}: everyone is ready, serving");
            0
        }
        Err(Error::Aborted) => {
            let by = group.aborted_by().map_or(-1, |r| r as i64);
            println!("worker {rank}: start-up aborted (rank {by} failed), not serving");
            1
        }
        Err(e) => {
            println!("worker {rank}: {e}");
            2
        }
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let crash = match args.get(1).map(String::as_str) {
        Some("--crash") => match args.get(2).and_then(|k| k.parse::<usize>().ok()) {
            Some(k) if (1..=WORKERS).contains(&k) => Some(k),
            _ => {
                eprintln!("usage: group [--crash K], K from 1 to {WORKERS}");
                std::process::exit(2);
            }
        },
        Some(_) => {
            eprintln!("usage: group [--crash K], K from 1 to {WORKERS}");
            std::process::exit(2);
        }
        None => None,
    };
    let mut group = Group::new(WORKERS + 1)?;
    let mut pids = Vec::new();
    for rank in 1..=WORKERS {
        // SAFETY: this program is single-threaded, so the child may do anything.
        match unsafe { libc::fork() } {
            -1 => return Err(Error::Os(libc::EAGAIN)),
            0 => std::process::exit(worker(group, rank, crash)),
            pid => pids.push(pid),
        }
    }
    // The supervisor is rank 0; it joins after the last fork.
    group.join(0)?;
    let outcome = group.place_and_sync();
    match outcome {
        Ok(()) => println!("supervisor: all {} members are ready", WORKERS + 1),
        Err(Error::Aborted) => println!(
            "supervisor: start-up failed, rank {} is gone",
            group.aborted_by().map_or(-1, |r| r as i64)
        ),
        Err(e) => return Err(e),
    }
    let mut failed = 0;
    for pid in pids {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer and pid is our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            failed += 1;
        }
    }
    println!("supervisor: {failed} of {WORKERS} workers did not serve");
    let expected = if crash.is_some() { WORKERS } else { 0 };
    std::process::exit(
        if failed == expected && outcome.is_ok() == crash.is_none() {
            0
        } else {
            1
        },
    );
}
