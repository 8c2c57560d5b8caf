/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the C programs of barrier groups (test-group-*.c) share, on top of
 * harness.h: running one function in every member of a group, each in a
 * process of its own, and handshakes between members that do not go
 * through the barrier.
 */
#ifndef LIBBARRIER_TEST_GROUP_HARNESS_H
#define LIBBARRIER_TEST_GROUP_HARNESS_H

#include "harness.h"

/* What one member runs, after it joined under `rank`. In rank 0 of
 * group_run() it must return (it is the test process). */
typedef void (*group_fn)(BarrierGroup *g, unsigned rank);

/* Members that can receive handshakes (group_post/group_await): the
 * lowest ranks only, so that a group of 64 needs no more descriptors. */
#define GROUP_INBOXES 8

/* The rank of the member this process runs; -1 outside a member. */
extern int group_rank;
/* The pid of each rank's process, written by that process before it
 * joins; shared by every process of a test. */
extern volatile pid_t *group_pids;

/*
 * Creates a group of `n`, forks members 1 to n-1, then joins as rank 0 and
 * runs `fn` there too. Every member joins, runs `fn`, frees its handle and
 * exits (status 0 unless a check failed). The creator reaps all of them
 * and fails the test if one failed or died, except for a member whose bit
 * is set in `may_be_killed` (1 << rank), which may die of SIGKILL.
 */
void group_run(unsigned n, group_fn fn);
void group_run_flags(unsigned n, group_fn fn, uint64_t may_be_killed);

/*
 * The launcher pattern: creates a group of `n`, forks all n members
 * (ranks 0 to n-1), frees its handle without joining, and reaps them as
 * group_run does.
 */
void group_launch(unsigned n, group_fn fn, uint64_t may_be_killed);

/* Sends one byte to the inbox of `rank` (below GROUP_INBOXES). */
void group_post(unsigned rank);
/* Waits for one byte in this member's inbox; false if it cannot. */
bool group_await(void);

/* A rendezvous of ranks 0 to n-1 (n at most GROUP_INBOXES), through pipes
 * of its own (its bytes never mix with group_post's): returns in each once all of them called it. Keeps members
 * alive until every one is done with its checks, so that no exit takes
 * the place of what a check expects. */
void group_rendezvous(unsigned n);

/* Waits for the process (e.g. the pid of a rank) to end, without reaping
 * it: until /proc shows it as a zombie or gone. */
void group_await_gone(pid_t pid);

/* Reaps `pid`; fails the test unless it exited with status 0 (or died of
 * SIGKILL, if `may_be_killed`). */
void group_reap(const char *name, pid_t pid, bool may_be_killed);

#endif
