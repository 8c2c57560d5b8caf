/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: a stopped member (SIGSTOP) is not a dead one. While it
 * is stopped, bounded waits of the others time out instead of failing;
 * once it continues and places, everyone syncs.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <signal.h>

struct stop_case {
        unsigned stopped;
        /* the stopped member sleeps in sync (placed) rather than idle */
        bool in_sync;
};

static void stop_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct stop_case *c = arg;

        if (rank == c->stopped) {
                if (c->in_sync) {
                        /* round 1 completes only after the others place,
                         * which they do while this process is stopped */
                        CHECK_INT(barrier_group_place(g), 1);
                        peer_signal(p);
                        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                        CHECK(peer_await(p));
                } else {
                        peer_signal(p);
                        /* stopped here; continued, it is told to place */
                        CHECK(peer_await(p));
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                }
                /* round 2 */
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK(!barrier_group_is_aborted(g));
                return;
        }
        CHECK(peer_await(p));
        if (c->in_sync) {
                /* round 1 completes: the stopped member had placed */
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                /* round 2: it cannot place while stopped */
                CHECK_INT(barrier_group_place_and_sync(g, BLOCK_USEC), -ETIMEDOUT);
        } else {
                CHECK_INT(barrier_group_place_and_sync(g, BLOCK_USEC), -ETIMEDOUT);
        }
        CHECK_INT(barrier_group_sync(g, BLOCK_USEC), -ETIMEDOUT);
        CHECK_INT(barrier_group_sync(g, 0), -ETIMEDOUT);
        CHECK_INT(barrier_group_wait_abortion(g, BLOCK_USEC), -ETIMEDOUT);
        CHECK(!barrier_group_is_aborted(g));
        CHECK_INT(barrier_group_aborted_by(g), -1);
        /* waited while it was stopped; now the test continues it */
        peer_signal(p);
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        if (!c->in_sync)
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        CHECK(!barrier_group_is_aborted(g));
}

static void run_stop_case(unsigned n, const struct stop_case *c) {
        struct group_members m;
        pid_t pid;

        group_start(&m, n, stop_member, (void *)c);
        pid = m.pid[c->stopped];
        group_hear(&m, c->stopped);
        if (c->in_sync)
                await_sleeping(pid);
        CHECK(kill(pid, SIGSTOP) == 0);
        await_state(pid, 'T');
        for (unsigned r = 0; r < n; r++)
                if (r != c->stopped)
                        group_tell(&m, r);
        for (unsigned r = 0; r < n; r++)
                if (r != c->stopped)
                        group_hear(&m, r);
        /* still stopped through all the others' waits */
        CHECK(process_state(pid) == 'T');
        CHECK(kill(pid, SIGCONT) == 0);
        group_tell(&m, c->stopped);
        group_finish(&m);
}

TEST(stopped_idle_member_is_not_dead) {
        for (unsigned n = 2; n <= 5; n++) {
                struct stop_case c = { .stopped = n - 1, .in_sync = false };
                run_stop_case(n, &c);
        }
}

TEST(stopped_while_asleep_in_sync_is_not_dead) {
        for (unsigned n = 2; n <= 5; n++) {
                struct stop_case c = { .stopped = 0, .in_sync = true };
                run_stop_case(n, &c);
        }
}

int main(int argc, char **argv) {
        static const struct test tests[] = {
                TEST_ENTRY(stopped_idle_member_is_not_dead),
                TEST_ENTRY(stopped_while_asleep_in_sync_is_not_dead),
        };
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
