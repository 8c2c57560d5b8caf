/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The harness of every C test program, and of the two-party API's.
 *
 * Every test runs in a process of its own and process group of its own,
 * under a watchdog, so a hang or crash fails that test only and leaves
 * nothing behind. Two-party scenarios (run_pair) run each role in its own
 * process; the sides order themselves with handshakes over a control
 * channel, never with sleeps. The runner ends with a line "N passed, M
 * failed". The programs of barrier groups add group-harness.h.
 */
#ifndef LIBBARRIER_TEST_HARNESS_H
#define LIBBARRIER_TEST_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "barrier.h"
#include "proc.h"

struct test {
        const char *name;
        void (*fn)(void);
        /* Why the test cannot pass against systemd's barrier (one line), or
         * NULL. */
        const char *not_systemd;
};

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name) { #name, test_##name, NULL }
/* A test of what systemd does differently or does not have: built with
 * HARNESS_REFERENCE (against systemd, through c-tests/reference/shim.c) it
 * is not run, and the runner prints `why`. */
#define TEST_ENTRY_NOT_SYSTEMD(name, why) { #name, test_##name, why }

/* Runs the tests named on the command line, or all of them. */
int run_tests(const struct test *tests, size_t n, int argc, char **argv);

/* Failed checks in this process so far. */
extern int harness_failures;
/* Names the process in failure messages ("test", "child", "parent"). */
extern const char *harness_side;

void harness_fail(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define CHECK(cond)                                                          \
        do {                                                                 \
                if (!(cond))                                                 \
                        harness_fail(__FILE__, __LINE__, "%s", #cond);       \
        } while (0)

#define CHECK_INT(a, b)                                                      \
        do {                                                                 \
                long long a_ = (long long)(a), b_ = (long long)(b);          \
                if (a_ != b_)                                                \
                        harness_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
                                     #a, #b, a_, b_);                        \
        } while (0)

/* How long a "this call blocks" check waits while the peer is known to be
 * alive and idle. Any value proves the same thing; it is short to keep the
 * suite fast. */
#define BLOCK_USEC UINT64_C(20000)

/*
 * Checks that barrier_CALL(b) blocks, while the other side is known, by a
 * handshake, to be alive and idle. Against libbarrier: its bounded form
 * times out. Built with HARNESS_REFERENCE (systemd has no bounded form):
 * a forked probe runs the unbounded call on its copy of the object, must
 * fall asleep in poll or ppoll and is then killed; it must not return.
 * That proves something only if nothing has arrived that the call could
 * consume: the other side's eventfd must not be readable before the fork.
 * The tests check after either form that the object is as it was.
 */
#ifdef HARNESS_REFERENCE
#define CHECK_BLOCKS(b, call) check_blocks(__FILE__, __LINE__, (b), barrier_##call, "barrier_" #call)
void check_blocks(const char *file, int line, Barrier *b, bool (*call)(Barrier *b), const char *name);
#else
#define CHECK_BLOCKS(b, call) CHECK_INT(barrier_##call##_timeout((b), BLOCK_USEC), -ETIMEDOUT)
#endif

/* The control channel of one side of a scenario to the other side. */
struct peer {
        int rd;
        int wr;
};

/* Sends one byte to the other side. */
void peer_signal(struct peer *p);
/* Waits for one byte from the other side; false if it went away instead. */
bool peer_await(struct peer *p);
/* Tells the other side that this side is idle, then stays alive and idle
 * until the other side has exited. */
void peer_stay_idle(struct peer *p);
/* Whole sides of a scenario: stay idle (as peer_stay_idle); place one
 * barrier and exit. */
void peer_stay_idle_side(Barrier *b, struct peer *p);
void place_once_side(Barrier *b, struct peer *p);
/* Waits until the other side has exited and its end of the barrier's pipe
 * is closed, so that its exit is visible to the barrier. */
void peer_await_exit(struct peer *p, const Barrier *b);
/* Sends and receives a pid over the control channel. */
void peer_send_pid(struct peer *p);
pid_t peer_recv_pid(struct peer *p);

typedef void (*side_fn)(Barrier *b, struct peer *p);

/* What a side's process may end with, besides exit status 0. */
enum { SIDE_MAY_BE_KILLED = 1 };

/*
 * Creates a barrier, forks a CHILD and a PARENT process, each of which
 * sets its role, runs its function and exits; then destroys the creator's
 * copy (so exits are detectable) and reaps both. Fails the test if either
 * side failed a check or died.
 */
void run_pair(side_fn child, side_fn parent);
void run_pair_flags(side_fn child, int child_flags, side_fn parent, int parent_flags);

/* Counts the open descriptors of this process. */
int count_fds(void);
/* Closes *fd unless it is -1, and sets it to -1. */
void close_if_open(int *fd);
/* process_state(), and the mappings of this process: proc.h. */
/* Waits until the process is in the state `state`. */
void await_state(pid_t pid, char state);
/* Waits until the process is asleep (state S), e.g. blocked in poll. */
void await_sleeping(pid_t pid);
/* Waits for the process to end, without reaping it: until /proc shows it
 * as a zombie or gone. */
void await_gone(pid_t pid);
/* Reaps `pid` (nothing if it is negative: the fork failed); fails the
 * test unless it exited with status 0, or died of SIGKILL if
 * `may_be_killed`. `name` names it in the failure. */
void reap_process(const char *name, pid_t pid, bool may_be_killed);
/* A page shared by the test process and everything it forks, zeroed
 * before each test. */
extern volatile uint64_t *harness_shared;

#endif
