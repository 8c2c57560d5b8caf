/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the group programs test-group-{kill,stop,loop,exec,fds} share: the
 * test process creates a group of n, forks one process per rank and frees
 * its own handle right after the last fork (it never joins, so every
 * member's exit is seen). Each member joins (the test process waits until
 * all of them did), runs the test's function for its rank, then reports
 * "done" and stays alive until the test process lets it go, so that no
 * member's exit is seen before every check ran.
 * The test process drives the members over a control channel each
 * (struct peer of harness.h), with handshakes only.
 *
 * Header only (static inline), so that each program still builds from its
 * own file and harness.c.
 */
#ifndef LIBBARRIER_GROUP_HELPERS_B_H
#define LIBBARRIER_GROUP_HELPERS_B_H

#include "harness.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Members, as the test process sees them. */
struct members {
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
typedef void (*member_fn)(BarrierGroup *g, unsigned rank, struct peer *p, void *arg);

/* Ends a member's process now: frees its handle (an exit, for the
 * others) and exits with the result of its checks. */
static inline void member_exit(BarrierGroup *g) {
        barrier_group_free(g);
        fflush(NULL);
        _exit(harness_failures ? 1 : 0);
}

/* Waits until the process is in the state `state` ('S' asleep, 'T'
 * stopped). Watchdog: the harness's. */
static inline void await_state(pid_t pid, char state) {
        while (process_state(pid) != state)
                sched_yield();
}

static inline void close_if_open(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* Sends member `rank` one byte; waits for one byte from it. */
static inline void members_tell(struct members *m, unsigned rank) {
        peer_signal(&m->ctl[rank]);
}

static inline void members_hear(struct members *m, unsigned rank) {
        CHECK(peer_await(&m->ctl[rank]));
}

/* Creates a group of n, forks its n members, each of which joins and runs
 * fn, and frees the test process's handle. */
static inline void members_start(struct members *m, unsigned n, member_fn fn, void *arg) {
        static char side[32];
        BarrierGroup *g = NULL;
        /* to[r]: test process to member r; from[r]: member r to the test */
        int to[BARRIER_GROUP_MAX][2], from[BARRIER_GROUP_MAX][2];

        memset(m, 0, sizeof(*m));
        for (unsigned r = 0; r < BARRIER_GROUP_MAX; r++) {
                m->pid[r] = -1;
                m->ctl[r].rd = m->ctl[r].wr = -1;
        }
        CHECK_INT(barrier_group_new(&g, n), 0);
        if (!g || n > BARRIER_GROUP_MAX)
                return;
        m->n = n;
        for (unsigned r = 0; r < n; r++) {
                CHECK(pipe2(to[r], O_CLOEXEC) == 0);
                CHECK(pipe2(from[r], O_CLOEXEC) == 0);
        }
        fflush(NULL);
        for (unsigned r = 0; r < n; r++) {
                pid_t pid = fork();

                if (pid < 0) {
                        harness_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
                        m->reaped[r] = true;
                        continue;
                }
                if (pid == 0) {
                        struct peer p = { .rd = to[r][0], .wr = from[r][1] };

                        snprintf(side, sizeof(side), "member %u", r);
                        harness_side = side;
                        for (unsigned q = 0; q < n; q++) {
                                if (q != r) {
                                        close(to[q][0]);
                                        close(from[q][1]);
                                }
                                close(to[q][1]);
                                close(from[q][0]);
                        }
                        CHECK_INT(barrier_group_join(g, r), 0);
                        /* joined: it holds no other member's write end */
                        peer_signal(&p);
                        fn(g, r, &p, arg);
                        peer_stay_idle(&p);
                        member_exit(g);
                }
                m->pid[r] = pid;
        }
        barrier_group_free(g);
        for (unsigned r = 0; r < n; r++) {
                close(to[r][0]);
                close(from[r][1]);
                m->ctl[r].rd = from[r][0];
                m->ctl[r].wr = to[r][1];
        }
        /* Until every member joined, the ones that did not still hold
         * copies of every write end, and no exit could be seen. */
        for (unsigned r = 0; r < n; r++)
                if (!m->reaped[r])
                        members_hear(m, r);
}

/* Waits for member `rank` to end: exit status 0, or SIGKILL if the test
 * killed it. */
static inline void members_reap(struct members *m, unsigned rank) {
        int status;

        if (m->reaped[rank] || m->pid[rank] < 0)
                return;
        m->reaped[rank] = true;
        while (waitpid(m->pid[rank], &status, 0) < 0) {
                if (errno != EINTR) {
                        harness_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
                        return;
                }
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
        if (m->killed[rank] && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                return;
        if (WIFEXITED(status))
                harness_fail(__FILE__, __LINE__, "member %u exited with status %d", rank, WEXITSTATUS(status));
        else
                harness_fail(__FILE__, __LINE__, "member %u died of signal %d", rank, WTERMSIG(status));
}

/* SIGKILLs member `rank` and waits until it is gone. */
static inline void members_kill(struct members *m, unsigned rank) {
        m->killed[rank] = true;
        CHECK(kill(m->pid[rank], SIGKILL) == 0);
        members_reap(m, rank);
}

/* Waits for every member still there to report done (or to have exited),
 * then lets them all go and reaps them. */
static inline void members_finish(struct members *m) {
        for (unsigned r = 0; r < m->n; r++)
                if (!m->reaped[r])
                        (void)peer_await(&m->ctl[r]);
        for (unsigned r = 0; r < m->n; r++) {
                close_if_open(&m->ctl[r].rd);
                close_if_open(&m->ctl[r].wr);
        }
        for (unsigned r = 0; r < m->n; r++)
                members_reap(m, r);
}

/* A small fixed-seed generator (xorshift64), so that "random" points are
 * the same in every run. */
static inline uint64_t next_random(uint64_t *state) {
        uint64_t x = *state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        return x;
}

#endif
