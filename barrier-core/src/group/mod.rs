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
//! A shared page (a sealed memfd, mapped by every member) holds a head
//! (the page's format, the group's size, every member's descriptor numbers
//! and a mask with one bit per member that aborted) and one slot per
//! member, on a cache line of its own: the barriers it placed, and the
//! count its last sync that slept waited for. Each member also has an
//! eventfd doorbell, a pipe whose write end only it keeps, and an epoll
//! instance that watches the other members' doorbells, edge-triggered,
//! and their pipes, one-shot:
//!
//! - **place** adds one to the member's count. If that completes a level
//!   (every other member has placed as many) and another member waits for
//!   exactly that level, it rings its own doorbell: one write, which every
//!   other member's epoll instance reports. Nobody else rings.
//! - **sync** looks: it loads the abort mask, then the counts in rank
//!   order, stopping at the first short member when nobody aborted and no
//!   member is known gone. If one is short, it publishes the count it
//!   waits for, looks again (so that a member completing the level
//!   meanwhile either sees it waiting or is seen), and sleeps in
//!   `epoll_wait`. A doorbell is never read: watched edge-triggered, each
//!   ring is reported once in each instance, and the count can grow for
//!   2^64 rings. `place_and_sync` uses what its place saw: the member
//!   that completed the level only checks the abort mask, any other skips
//!   its first look.
//! - **abort** sets the member's bit in the mask and rings (a member may be
//!   waiting in any call or in an event loop).
//! - **exit** closes the member's write end (the kernel does it on a crash
//!   or SIGKILL), so its pipe hangs up in every other member's epoll
//!   instance: a waiter wakes, marks the member gone, and reads its final
//!   count from the page. The pipes are watched one-shot, so a gone
//!   member wakes each other member once. A stopped member keeps its pipe
//!   open, so SIGSTOP is not death; nothing depends on pids.
//!
//! Every shared update is a single atomic store, add or or, so a member
//! killed at any instruction leaves the page consistent, and its death
//! always wakes the others through the pipe, whatever it had or had not
//! rung. A fatal syscall error sets the member's abort bit and closes its
//! write end, which wakes everyone even when the doorbell cannot be rung.
//! The handshake of a sync and a place (each stores, then loads what the
//! other stored) needs the four accesses sequentially consistent; a test
//! (`model.rs`) explores every interleaving of the protocol's accesses for
//! 2 and 3 members, with weak memory, deaths at any step, aborts, failing
//! rings, bounded waits and an event loop, and shows that it catches a
//! weakened ordering or a dropped ring.
//!
//! ## What a round costs
//!
//! When every member but the last sleeps, a round of `n` members costs
//! `n - 1` `epoll_wait` calls and one `write`: `n` syscalls, and `n`
//! context switches pinned to one CPU, as many as a process-shared
//! `pthread_barrier_t` (`n - 1` `FUTEX_WAIT`, one `FUTEX_WAKE` that wakes
//! them all). Both count 1 syscall per member and round at any size
//! (`bench/syscalls.sh group`). What remains between the two is the
//! kernel's path (an epoll wake-up queues the event in the instance and
//! hands it back to the sleeper; a futex wake-up is a wake-up alone) and
//! the library's own code: 130 to 160 instructions per member and round
//! more than the same syscalls made by hand, for 2 to 8 members (`place`,
//! two looks, the wait loop, the C layer; counted with valgrind).
//! `bench/bench-group.c` measures both beside the pthread barrier in the
//! same run, with an
//! "epoll floor": the same kernel objects driven by hand with the same
//! syscalls and nothing else. Pinned to one CPU of a 2-CPU virtual
//! machine (`bench/README.md`), group / pthread per round came to 1.04,
//! 1.08, 1.08 and 1.16 for 2, 4, 8 and 64 members, and the floor /
//! pthread to 1.00, 1.04, 1.02 and 1.10: the kernel's part is the floor's
//! distance, the library's the rest.
//!
//! Not pinned, on that machine otherwise idle, the members spread over
//! both CPUs and a round waits for wake-ups from one CPU to the other,
//! which a virtual machine makes slow: the pthread barrier took 13.7, 31
//! and 37.6 µs per round for 2, 4 and 8 members (1.6, 4.3 and 11.2
//! pinned), the group 0.87, 1.04 and 1.01 of that, the floor 0.85, 1.04
//! and 1.00. With other work on both CPUs, the scheduler wakes a sleeper
//! on its waker's CPU, so the members share one CPU and the ratios are
//! the pinned ones, with more scatter. Neither the group nor the floor
//! gets clearly below the pthread barrier where they sleep and wake as
//! often as it: with as many syscalls and context switches, and a heavier
//! wake-up, the only way below is to need fewer of them (a spin, below).
//!
//! ## The alternatives measured
//!
//! Each against a process-shared `pthread_barrier_t` in the same run,
//! pinned to one CPU, for 2, 4, 8 and 64 members, unless said otherwise:
//!
//! - **A doorbell per member, read after each wake-up, and rung once per
//!   sleeper** (this module before): `3 (n - 1)` syscalls per round (each
//!   sleeper's `epoll_wait` and `read`, one `write` per sleeper). 1.16,
//!   1.37, 1.44 and 2.03.
//! - **One ring for all, edge-triggered, no read** (the mechanism above),
//!   with a look that read every member's count and abort flag: 1.17,
//!   1.17, 1.23, 1.53. At 64 members each of the 63 sleepers read 126
//!   words per look; the abort mask and a look that stops at the first
//!   short member took 64 members to 1.16.
//! - **A futex word in the shared page for plain syncs**, the eventfd kept
//!   for the pollable path: its floor is the pthread barrier itself (a
//!   futex barrier by hand came to 0.97 to 1.02 of it). But a process
//!   asleep in `FUTEX_WAIT` cannot be woken by a pipe's hang-up, so a
//!   member's death would wake nobody; the kernel's robust futexes wake one
//!   waiter per futex a dying thread holds, through a list glibc owns, and
//!   run at `execve()` too. Someone would have to watch the pipes for the
//!   sleepers: a helper thread, which this library does not have.
//! - **Spinning before sleeping**, while the member awaited last placed on
//!   another CPU (never when the members share one, never for an event
//!   loop's calls), for a budget of up to 1024 looks halved after each
//!   spin that did not pay. With 2 members each pinned to its own CPU, a
//!   round took 0.17 µs spinning and 42 µs sleeping (the pthread barrier:
//!   45 µs), in CPU time 0.35 µs and 32 µs. Not pinned on the idle
//!   machine, 0.49 of the pthread barrier at 2 members (0.24 to 0.64 over
//!   the runs; 0.87 without), but 1.04 at 4 and 8: with more members than
//!   CPUs the member awaited is as often queued behind the spinner. With
//!   other work on the machine the members share a CPU and it does not
//!   spin; spinning whatever CPU the member awaited last ran on made that
//!   case worse (1.33 at 2 members: the spinner holds the CPU the other
//!   needs). It takes about 430 bytes of code, and the library stays
//!   within its 24 KiB only without it or without `place_and_sync`'s
//!   shortcut, which keeps 8 members pinned within 1.10 of the pthread
//!   barrier; the spin is not in.
//! - **`ppoll` on the doorbell and the `n - 1` pipes** instead of an
//!   epoll instance: the same syscalls, but each sleep registers on `n`
//!   wait queues, so a round costs O(n) per member: with the doorbells
//!   read after each wake-up, 1.67 and 5.11 at 8 and 64 members, against
//!   1.42 and 1.84 with epoll (2 members: 1.10 and 1.17, the only size
//!   where `ppoll` was ahead). The epoll instance also gives an event loop
//!   a single descriptor to watch, and its one-shot entries keep the loop
//!   from spinning on a hang-up.
//!
//! And what rules out the others, unmeasured:
//!
//! - **pidfds** report a death through `poll`, but a member that frees its
//!   handle and lives on is not an exit to them; they name processes, so a
//!   group handed across `execve()` or joined by an unrelated process needs
//!   their pids, and `pidfd_open` by pid races with pid reuse.
//! - **All-to-all eventfds without shared memory** (each place writes to
//!   every other member's eventfd) work, but a place costs `n - 1` writes
//!   and every member wakes for every other member's place: syscalls per
//!   member and round grow with `n`.
//! - **io_uring** could wait for several events in one call, but it is not
//!   always there (kernels and containers turn it off), and a round needs
//!   no more than one syscall per member already.
//!
//! A ring wakes every member that sleeps, also one waiting for another
//! level or for an abortion; it finds its wait pending and sleeps again.
//! That costs such a member one `epoll_wait` per level completed by the
//! others, never a busy loop: the report is taken by that call.
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
//! 1088 bytes (the descriptor numbers and the abort mask) and a 64-byte
//! slot per member, in whole pages of the kernel's size: with 4 KiB pages
//! (x86-64) one page up to 47 members and two from 48, with 16 or 64 KiB
//! pages (some arm64 and ppc64 kernels) one page for any size. A handle
//! kept behind a pointer (the C library's) takes one more page. No call
//! but `new`, `import_env` and `free` maps or unmaps memory, and none
//! allocates.

mod env;
mod owned;
mod raw;
mod state;

#[cfg(test)]
mod model;

pub use owned::Group;
pub use raw::RawGroup;
pub use state::Knowledge;
