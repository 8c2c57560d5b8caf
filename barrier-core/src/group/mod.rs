//! Barrier groups: an N-party barrier that survives a member's death.
//!
//! `n` processes (2 to 64), usually a parent and the children it forks,
//! each join under a rank, place barriers and sync: a sync returns once
//! every other member has placed at least as many barriers. Any member can
//! abort all the others; a member that exits, crashes or drops its handle
//! counts as aborted once a wait needs more barriers than it placed.
//!
//! - [`Group`] is the owned Rust API;
//! - [`RawGroup`] is the protocol, which the C library's `BarrierGroup`
//!   wraps;
//! - [`logic`] is the pure part: what a member knows, and what a look at
//!   the others means;
//! - [`env`](mod@env) carries a member across `execve()`.
//!
//! # Mechanism
//!
//! A shared page (a sealed memfd, mapped by every member) holds one slot
//! per member, on a cache line of its own: the barriers it placed, whether
//! it aborted, and what it is waiting for. Each member also has an eventfd
//! doorbell and a pipe whose write end only it keeps:
//!
//! - **place** adds one to the member's count; if that completes a level
//!   (every other member has placed as many), it rings the doorbells of
//!   the members waiting for exactly that level. Nobody else rings.
//! - **sync** reads the counts; if they are short, it publishes the count
//!   it waits for, reads them again (so that a member completing it
//!   meanwhile either sees it waiting or is seen), and sleeps in `ppoll`
//!   on its doorbell and the pipes of the others.
//! - **abort** sets the member's flag and rings every member that waits.
//! - **exit** closes the member's write end (the kernel does it on a crash
//!   or SIGKILL), so every pipe read end hangs up: a waiter wakes, marks the
//!   member gone, and reads its final count from the page. A stopped
//!   member keeps its pipe open, so SIGSTOP is not death; nothing depends
//!   on pids.
//!
//! Every shared update is a single atomic store or add, so a member killed
//! at any instruction leaves the page consistent; a member's death always
//! wakes the others through the pipe, whatever it had or had not rung. A
//! fatal syscall error sets the member's abort flag and closes its write
//! end, which wakes everyone even when the doorbells cannot be rung.
//!
//! ## Why this mechanism
//!
//! The alternatives, and what rules them out:
//!
//! - **A process-shared futex** (what a process-shared `pthread_barrier_t`
//!   is) sleeps in `FUTEX_WAIT`, which cannot also watch for a death: a
//!   dead party is only noticed by a timeout, and an event loop cannot
//!   watch a futex at all.
//! - **pidfds** report a death through `poll`, but a member that frees its
//!   handle and lives on is not an exit to them; they name processes, so a
//!   group handed across `execve()` or joined by an unrelated process needs
//!   their pids, and `pidfd_open` by pid races with pid reuse.
//! - **All-to-all eventfds without shared memory** (each place writes to
//!   every other member's eventfd) work, but a place costs `n - 1` writes
//!   and every member wakes for every other member's place: syscalls per
//!   member and round grow with `n`.
//!
//! Here each member makes, per round, one atomic add and at most one
//! `ppoll` and one `read`; the member that completes the round writes to
//! the doorbells of those asleep. The benchmark (`bench/bench.c`, the
//! README's table) measures it beside a process-shared `pthread_barrier_t`
//! and an all-to-all eventfd barrier in the same run.
//!
//! # Costs
//!
//! Per member after join: `2n + 1` descriptors (the memfd, `n` doorbells,
//! `n - 1` pipe read ends and its own write end); `3n + 1` before. The
//! shared page is 4 KiB (8 KiB for 64 members). No call allocates.

mod api;
pub mod env;
pub mod logic;
mod raw;

pub use api::Group;
pub use raw::RawGroup;
