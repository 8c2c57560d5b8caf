/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The harness of the programs of barrier groups (group/), on top of
 * harness.h. Every member of a group runs in a process of its own: it
 * joins under its rank, runs the test's function, frees its handle and
 * exits with the result of its checks. The test fails if a member failed
 * a check or died, unless it was allowed to die of SIGKILL. Handshakes
 * order the processes, never sleeps.
 *
 * Two ways to run a group:
 *
 * - Members among themselves: group_run() makes the test process rank 0
 *   and forks the others; group_launch() forks all of them and frees the
 *   test process's handle without joining. The members hand each other
 *   tokens (group_post, group_await) and meet (group_rendezvous); the
 *   test process reaps them all before it returns.
 *
 * - Members driven by the test process: group_start() forks all of them,
 *   frees the test process's handle without joining, and returns once
 *   every member joined. The test process then talks to each member over
 *   a control channel of its own (group_tell, group_hear), may kill one
 *   (group_kill_member) or wait for one to exit (group_reap_member), and
 *   ends with group_finish(). A member reports when its function is done
 *   and stays alive until group_finish() lets it go, so that no member's
 *   exit is seen before every check ran.
 */
#ifndef LIBBARRIER_TEST_GROUP_HARNESS_H
#define LIBBARRIER_TEST_GROUP_HARNESS_H

#include "harness.h"

/* ---- members among themselves ---------------------------------------- */

/* What one member runs, after it joined under `rank`. In rank 0 of
 * group_run() it must return (it is the test process). */
typedef void (*group_fn)(BarrierGroup *g, unsigned rank);

/* Members that can receive tokens (group_post/group_await): the lowest
 * ranks only, so that a group of 64 needs no more descriptors. */
#define GROUP_INBOXES 8

/* The rank of the member this process runs; -1 outside a member. */
extern int group_rank;
/* The pid of each rank's process, written by that process before it
 * joins; shared by every process of a test. Set by group_run() and
 * group_launch() only. */
extern volatile pid_t *group_pids;

/*
 * Creates a group of `n`, forks members 1 to n-1, then joins as rank 0 and
 * runs `fn` there too. Then reaps the members; one whose bit is set in
 * `may_be_killed` (1 << rank) may have died of SIGKILL.
 */
void group_run(unsigned n, group_fn fn);
void group_run_flags(unsigned n, group_fn fn, uint64_t may_be_killed);

/* The launcher pattern: creates a group of `n`, forks all n members
 * (ranks 0 to n-1), frees its handle without joining, and reaps them as
 * group_run does. */
void group_launch(unsigned n, group_fn fn, uint64_t may_be_killed);

/* Sends one token to the inbox of `rank` (below GROUP_INBOXES). */
void group_post(unsigned rank);
/* Waits for one token in this member's inbox; false if it cannot. */
bool group_await(void);

/* A rendezvous of ranks 0 to n-1 (n at most GROUP_INBOXES), through pipes
 * of its own (its bytes never mix with group_post's): returns in each
 * once all of them called it. Keeps members alive until every one is done
 * with its checks, so that no exit takes the place of what a check
 * expects. */
void group_rendezvous(unsigned n);

/* ---- members driven by the test process ------------------------------- */

/* The members of a group, as the test process sees them. */
struct group_members {
        unsigned n;
        pid_t pid[BARRIER_GROUP_MAX];
        /* The test process's end of each member's control channel. */
        struct peer ctl[BARRIER_GROUP_MAX];
        /* Killed by the test (SIGKILL is then the expected end). */
        bool killed[BARRIER_GROUP_MAX];
        /* Already waited for. */
        bool reaped[BARRIER_GROUP_MAX];
};

/* What a member runs after it joined under `rank`; `p` is its control
 * channel to the test process. */
typedef void (*group_member_fn)(BarrierGroup *g, unsigned rank, struct peer *p, void *arg);

/* Creates a group of n, forks its n members, each of which joins and runs
 * fn(g, rank, p, arg), frees the test process's handle and waits until
 * every member joined. */
void group_start(struct group_members *m, unsigned n, group_member_fn fn, void *arg);

/* Sends member `rank` one byte; waits for one byte from it. */
void group_tell(struct group_members *m, unsigned rank);
void group_hear(struct group_members *m, unsigned rank);

/* Waits for member `rank` to end: exit status 0, or SIGKILL if the test
 * killed it. */
void group_reap_member(struct group_members *m, unsigned rank);

/* SIGKILLs member `rank` and waits until it is gone. */
void group_kill_member(struct group_members *m, unsigned rank);

/* Waits for every member still there to report done (or to have exited),
 * then lets them all go and reaps them. */
void group_finish(struct group_members *m);

/* ---- in a member -------------------------------------------------------- */

/* Ends this member's process now: frees its handle (an exit, for the
 * others) and exits with the result of its checks. */
_Noreturn void group_member_exit(BarrierGroup *g);

#endif
