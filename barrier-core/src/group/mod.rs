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
//! - [`state`] is the pure part: what a member knows, and what a look at
//!   the others means;
//! - [`env`](mod@env) carries a member across `execve()`.
//!
//! # Mechanism
//!
//! A shared page (a sealed memfd, mapped by every member) holds one slot
//! per member, on a cache line of its own: the barriers it placed, whether
//! it aborted, and what it is waiting for. Each member also has an eventfd
//! doorbell, a pipe whose write end only it keeps, and an epoll instance
//! that watches its doorbell and the other members' pipes:
//!
//! - **place** adds one to the member's count; if that completes a level
//!   (every other member has placed as many), it rings the doorbells of
//!   the members waiting for exactly that level. Nobody else rings.
//! - **sync** reads the counts; if they are short, it publishes the count
//!   it waits for, reads them again (so that a member completing it
//!   meanwhile either sees it waiting or is seen), and sleeps in
//!   `epoll_wait`.
//! - **abort** sets the member's flag and rings every other member (aborts
//!   are rare, and a member may be waiting in any call or in an event
//!   loop).
//! - **exit** closes the member's write end (the kernel does it on a crash
//!   or SIGKILL), so its pipe hangs up in every other member's epoll
//!   instance: a waiter wakes, marks the member gone, and reads its final
//!   count from the page. The pipes are watched one-shot, so a gone
//!   member wakes each other member once. A stopped member keeps its pipe open, so
//!   SIGSTOP is not death; nothing depends on pids.
//!
//! Every shared update is a single atomic store or add, so a member killed
//! at any instruction leaves the page consistent, and its death always
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
//! - **`ppoll` on the doorbell and the `n - 1` pipes** instead of an epoll
//!   instance: the same syscalls, but each sleep registers on `n` wait
//!   queues, so a round costs O(n) per member. Measured with 8 and 64
//!   members pinned to one CPU, against a process-shared
//!   `pthread_barrier_t` in the same run: 1.67x and 5.11x with `ppoll`,
//!   1.42x and 1.84x with epoll (2 members: 1.10x and 1.17x, the only
//!   size where `ppoll` is ahead). The epoll instance also gives an event
//!   loop a single descriptor to watch, and its one-shot entries keep the
//!   loop from spinning on a hang-up.
//!
//! Each member makes, per round, one atomic add and, if it has to sleep,
//! one `epoll_wait` and one `read` of its doorbell; the member that
//! completes the round writes to the doorbells of those asleep. So the
//! syscalls per member and round do not grow with `n`. The benchmark
//! (`bench/bench.c`, the README's table) measures it beside a
//! process-shared `pthread_barrier_t` in the same run.
//!
//! Timeouts are in microseconds, but `epoll_wait` sleeps in milliseconds:
//! a bounded wait rounds its remaining time up, so it never ends early and
//! may end up to a millisecond late.
//!
//! # Costs
//!
//! Per member after join: `2n + 2` descriptors (the memfd, its epoll
//! instance, `n` doorbells, `n - 1` pipe read ends and its own write end);
//! `4n + 1` before join, in the creator. The shared memory is a head of
//! 1088 bytes (the descriptor numbers) and a 64-byte slot per member, in
//! whole pages of the kernel's size: with 4 KiB pages (x86-64) one page up
//! to 47 members and two from 48, with 16 or 64 KiB pages (some arm64 and
//! ppc64 kernels) one page for any size. A handle kept behind a pointer
//! (the C library's) takes one more page. No call but `new`, `import_env`
//! and `free` maps or unmaps memory, and none allocates.

mod env;
mod owned;
mod raw;
mod state;

#[cfg(test)]
mod model;

pub use owned::Group;
pub use raw::RawGroup;
pub use state::Knowledge;
