/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int group_rank = -1;
volatile pid_t *group_pids;

/* inbox[r][0] is read by rank r, inbox[r][1] written by anyone; meeting[r]
 * likewise, for group_rendezvous() only, so that its bytes never mix with
 * a test's handshakes */
static int inbox[GROUP_INBOXES][2];
static int meeting[GROUP_INBOXES][2];
static unsigned inboxes;

static void open_inboxes(unsigned n) {
        inboxes = n < GROUP_INBOXES ? n : GROUP_INBOXES;
        for (unsigned r = 0; r < inboxes; r++)
                if (pipe2(inbox[r], O_CLOEXEC) < 0 || pipe2(meeting[r], O_CLOEXEC) < 0) {
                        harness_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
                        exit(1);
                }
}

static void close_inboxes(void) {
        for (unsigned r = 0; r < inboxes; r++) {
                close(inbox[r][0]);
                close(inbox[r][1]);
                close(meeting[r][0]);
                close(meeting[r][1]);
        }
        inboxes = 0;
}

static void share_pids(void) {
        if (group_pids)
                return;
        group_pids = mmap(NULL, BARRIER_GROUP_MAX * sizeof(pid_t), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (group_pids == MAP_FAILED) {
                harness_fail(__FILE__, __LINE__, "mmap: %s", strerror(errno));
                exit(1);
        }
}

static void post_to(int (*box)[2], unsigned rank) {
        if (rank >= inboxes) {
                harness_fail(__FILE__, __LINE__, "rank %u has no inbox", rank);
                return;
        }
        while (write(box[rank][1], "x", 1) != 1)
                if (errno != EINTR) {
                        harness_fail(__FILE__, __LINE__, "inbox write: %s", strerror(errno));
                        return;
                }
}

static bool await_in(int (*box)[2]) {
        char c;

        if (group_rank < 0 || (unsigned)group_rank >= inboxes) {
                harness_fail(__FILE__, __LINE__, "rank %d has no inbox", group_rank);
                return false;
        }
        for (;;) {
                ssize_t r = read(box[group_rank][0], &c, 1);
                if (r == 1)
                        return true;
                if (r < 0 && errno == EINTR)
                        continue;
                harness_fail(__FILE__, __LINE__, "inbox read: %zd", r);
                return false;
        }
}

void group_post(unsigned rank) {
        post_to(inbox, rank);
}

bool group_await(void) {
        return await_in(inbox);
}

void group_rendezvous(unsigned n) {
        if (group_rank == 0) {
                for (unsigned r = 1; r < n; r++)
                        CHECK(await_in(meeting));
                for (unsigned r = 1; r < n; r++)
                        post_to(meeting, r);
        } else {
                post_to(meeting, 0);
                CHECK(await_in(meeting));
        }
}

void group_await_gone(pid_t pid) {
        char s;

        while ((s = process_state(pid)) != 'Z' && s != '?')
                sched_yield();
}

void group_reap(const char *name, pid_t pid, bool may_be_killed) {
        int status;

        if (pid < 0)
                return;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        harness_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
                        return;
                }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
        if (may_be_killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                return;
        if (WIFEXITED(status))
                harness_fail(__FILE__, __LINE__, "%s exited with status %d", name, WEXITSTATUS(status));
        else
                harness_fail(__FILE__, __LINE__, "%s died of signal %d", name, WTERMSIG(status));
}

/* The life of one member: join, run, free, exit. Never returns. */
static void member(BarrierGroup *g, unsigned rank, group_fn fn) {
        static char side[32];

        snprintf(side, sizeof(side), "rank %u", rank);
        harness_side = side;
        group_rank = (int)rank;
        group_pids[rank] = getpid();
        CHECK_INT(barrier_group_join(g, rank), 0);
        fn(g, rank);
        barrier_group_free(g);
        fflush(NULL);
        _exit(harness_failures ? 1 : 0);
}

static pid_t fork_member(BarrierGroup *g, unsigned rank, group_fn fn) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                harness_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        else if (pid == 0)
                member(g, rank, fn);
        return pid;
}

static void reap_members(const pid_t *pids, unsigned first, unsigned n, uint64_t may_be_killed) {
        for (unsigned r = first; r < n; r++) {
                char name[32];

                snprintf(name, sizeof(name), "rank %u", r);
                group_reap(name, pids[r], (may_be_killed >> r) & 1);
        }
}

void group_run_flags(unsigned n, group_fn fn, uint64_t may_be_killed) {
        BarrierGroup *g = NULL;
        pid_t pids[BARRIER_GROUP_MAX];
        pid_t self = getpid();

        share_pids();
        CHECK_INT(barrier_group_new(&g, n), 0);
        if (!g)
                return;
        open_inboxes(n);
        for (unsigned r = 1; r < n; r++)
                pids[r] = fork_member(g, r, fn);
        /* rank 0 is this process, but its end must not skip the reaping */
        group_rank = 0;
        group_pids[0] = self;
        CHECK_INT(barrier_group_join(g, 0), 0);
        fn(g, 0);
        barrier_group_free(g);
        group_rank = -1;
        close_inboxes();
        reap_members(pids, 1, n, may_be_killed);
}

void group_run(unsigned n, group_fn fn) {
        group_run_flags(n, fn, 0);
}

void group_launch(unsigned n, group_fn fn, uint64_t may_be_killed) {
        BarrierGroup *g = NULL;
        pid_t pids[BARRIER_GROUP_MAX];

        share_pids();
        CHECK_INT(barrier_group_new(&g, n), 0);
        if (!g)
                return;
        open_inboxes(n);
        for (unsigned r = 0; r < n; r++)
                pids[r] = fork_member(g, r, fn);
        barrier_group_free(g);
        close_inboxes();
        reap_members(pids, 0, n, may_be_killed);
}
