/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int group_rank = -1;
volatile pid_t *group_pids;

/* ---- in a member -------------------------------------------------------- */

/* Names this process after its rank in failure messages and joins. */
static void join_as(BarrierGroup *g, unsigned rank) {
        static char side[32];

        snprintf(side, sizeof(side), "member %u", rank);
        harness_side = side;
        CHECK_INT(barrier_group_join(g, rank), 0);
}

void group_member_exit(BarrierGroup *g) {
        barrier_group_free(g);
        fflush(NULL);
        _exit(harness_failures ? 1 : 0);
}

static void reap_member(pid_t pid, unsigned rank, bool may_be_killed) {
        char name[32];

        snprintf(name, sizeof(name), "member %u", rank);
        reap_process(name, pid, may_be_killed);
}

/* ---- members among themselves ---------------------------------------- */

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

/* The life of one member: join, run, free, exit. Never returns. */
static _Noreturn void member(BarrierGroup *g, unsigned rank, group_fn fn) {
        group_rank = (int)rank;
        group_pids[rank] = getpid();
        join_as(g, rank);
        fn(g, rank);
        group_member_exit(g);
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
        for (unsigned r = first; r < n; r++)
                reap_member(pids[r], r, (may_be_killed >> r) & 1);
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

/* ---- members driven by the test process ------------------------------- */

void group_tell(struct group_members *m, unsigned rank) {
        peer_signal(&m->ctl[rank]);
}

void group_hear(struct group_members *m, unsigned rank) {
        CHECK(peer_await(&m->ctl[rank]));
}

void group_start(struct group_members *m, unsigned n, group_member_fn fn, void *arg) {
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

                        for (unsigned q = 0; q < n; q++) {
                                if (q != r) {
                                        close(to[q][0]);
                                        close(from[q][1]);
                                }
                                close(to[q][1]);
                                close(from[q][0]);
                        }
                        join_as(g, r);
                        /* joined: it holds no other member's write end */
                        peer_signal(&p);
                        fn(g, r, &p, arg);
                        peer_stay_idle(&p);
                        group_member_exit(g);
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
                        group_hear(m, r);
}

void group_reap_member(struct group_members *m, unsigned rank) {
        if (m->reaped[rank] || m->pid[rank] < 0)
                return;
        m->reaped[rank] = true;
        reap_member(m->pid[rank], rank, m->killed[rank]);
}

void group_kill_member(struct group_members *m, unsigned rank) {
        m->killed[rank] = true;
        CHECK(kill(m->pid[rank], SIGKILL) == 0);
        group_reap_member(m, rank);
}

void group_finish(struct group_members *m) {
        for (unsigned r = 0; r < m->n; r++)
                if (!m->reaped[r])
                        (void)peer_await(&m->ctl[r]);
        for (unsigned r = 0; r < m->n; r++) {
                close_if_open(&m->ctl[r].rd);
                close_if_open(&m->ctl[r].wr);
        }
        for (unsigned r = 0; r < m->n; r++)
                group_reap_member(m, r);
}
