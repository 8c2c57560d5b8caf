//! Drives both ends of a barrier pair from one poll() loop, never blocking
//! inside the barrier: each step is a bounded call with a zero timeout, and
//! poll() is the only place the loop waits.
//!
//! Run with `cargo run -p barrier-core --example event_loop`.

use barrier_core::{Barrier, Error};
use std::time::Duration;

const ROUNDS: u32 = 5;

fn main() -> Result<(), Error> {
    let (mut a, mut b) = Barrier::pair()?;
    let (mut a_round, mut b_round, mut a_placed) = (0, 0, false);
    while a_round < ROUNDS || b_round < ROUNDS {
        // Side A: place, then sync. Side B: wait for A's barrier, then place.
        while a_round < ROUNDS {
            if !a_placed {
                a.place()?;
                a_placed = true;
            }
            match a.sync_timeout(Duration::ZERO) {
                Ok(()) => {
                    println!("a: round {a_round} synced");
                    a_placed = false;
                    a_round += 1;
                }
                Err(Error::TimedOut) => break,
                Err(e) => return Err(e),
            }
        }
        while b_round < ROUNDS {
            match b.wait_next_timeout(Duration::ZERO) {
                Ok(()) => {
                    println!("b: saw round {b_round}");
                    b.place()?;
                    b_round += 1;
                }
                Err(Error::TimedOut) => break,
                Err(e) => return Err(e),
            }
        }
        if a_round == ROUNDS && b_round == ROUNDS {
            break;
        }
        let mut fds: Vec<libc::pollfd> = Vec::new();
        if a_round < ROUNDS {
            fds.extend(a.pollfds()?);
        }
        if b_round < ROUNDS {
            fds.extend(b.pollfds()?);
        }
        // SAFETY: fds is a live vector of pollfd and its length is passed.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        assert!(ready > 0, "poll failed");
    }
    Ok(())
}
