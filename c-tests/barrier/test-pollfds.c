/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * barrier_get_pollfds(): driving barriers from an event loop, never
 * blocking in the library.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define ROUNDS 1000
/* A hang guard for poll() only: every poll in these tests has something
 * ready, so reaching this bound is a failure, never a slow machine. */
#define POLL_GUARD_MS 60000

TEST(pollfds_bad_arguments) {
        Barrier b = BARRIER_NULL;
        struct pollfd fds[4];

        CHECK_INT(barrier_get_pollfds(NULL, fds, 4), -EINVAL);
        CHECK_INT(barrier_get_pollfds(&b, fds, 4), -EBADF);
        CHECK_INT(barrier_create(&b), 0);
        CHECK_INT(barrier_get_pollfds(&b, NULL, 4), -EINVAL);
        CHECK_INT(barrier_get_pollfds(&b, fds, 4), -EINVAL);
        barrier_set_role(&b, BARRIER_PARENT);
        CHECK_INT(barrier_get_pollfds(&b, fds, 1), -ENOBUFS);
        CHECK_INT(barrier_get_pollfds(&b, fds, 0), -ENOBUFS);
        CHECK_INT(barrier_get_pollfds(&b, fds, 2), 2);
        barrier_destroy(&b);
        CHECK_INT(barrier_get_pollfds(&b, fds, 4), -EBADF);
}

TEST(pollfds_entries) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        struct pollfd fds[3];

        memset(fds, 0x55, sizeof(fds));
        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK_INT(barrier_get_pollfds(&p, fds, 3), 2);
        /* our pipe end first, then their eventfd */
        CHECK_INT(fds[0].fd, p.pipe[0]);
        CHECK_INT(fds[1].fd, p.them);
        CHECK(fds[1].events & POLLIN);
        /* the third entry is left alone */
        CHECK_INT(fds[2].fd, 0x55555555);
        CHECK_INT(barrier_get_pollfds(&c, fds, 2), 2);
        CHECK_INT(fds[0].fd, c.pipe[1]);
        CHECK_INT(fds[1].fd, c.them);
        /* nothing ready while the other end is idle */
        CHECK_INT(poll(fds, 2, 0), 0);
        CHECK(barrier_place(&p));
        CHECK_INT(poll(fds, 2, 0), 1);
        CHECK(fds[1].revents & POLLIN);
        barrier_destroy(&p);
        CHECK_INT(poll(fds, 2, 0), 2);
        CHECK(fds[0].revents & (POLLHUP | POLLERR));
        barrier_destroy(&c);
}

/*
 * Both ends of a pair, one poll() loop, no blocking call. Side A runs
 * place + sync rounds; side B runs wait_next + place rounds. Every call
 * into the library has a timeout of 0, and poll() is the only place the
 * loop waits.
 */
struct side {
        Barrier *b;
        int round;
        bool placed; /* A: placed this round, now syncing */
};

static bool step_a(struct side *a) {
        for (;;) {
                int r;

                if (a->round == ROUNDS)
                        return true;
                if (!a->placed) {
                        CHECK(barrier_place(a->b));
                        a->placed = true;
                }
                r = barrier_sync_timeout(a->b, 0);
                if (r == -ETIMEDOUT)
                        return false;
                CHECK_INT(r, 1);
                a->placed = false;
                a->round++;
        }
}

static bool step_b(struct side *b) {
        for (;;) {
                int r;

                if (b->round == ROUNDS)
                        return true;
                r = barrier_wait_next_timeout(b->b, 0);
                if (r == -ETIMEDOUT)
                        return false;
                CHECK_INT(r, 1);
                CHECK(barrier_place(b->b));
                b->round++;
        }
}

TEST(one_poll_loop_drives_both_sides) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        struct side a = { &p, 0, false }, b = { &c, 0, false };
        struct pollfd fds[4];
        bool a_done = false, b_done = false;
        int polls = 0;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        while (!(a_done && b_done) && harness_failures == 0) {
                int r, n = 0;

                a_done = step_a(&a);
                b_done = step_b(&b);
                if (a_done && b_done)
                        break;
                if (!a_done)
                        n += barrier_get_pollfds(&p, fds + n, 2);
                if (!b_done)
                        n += barrier_get_pollfds(&c, fds + n, 2);
                r = poll(fds, (nfds_t)n, POLL_GUARD_MS);
                CHECK(r > 0);
                polls++;
        }
        CHECK_INT(a.round, ROUNDS);
        CHECK_INT(b.round, ROUNDS);
        CHECK(polls > 0);
        CHECK_INT(p.barriers, 0);
        CHECK_INT(c.barriers, 0);

        /* the other end going away wakes the loop, and 0 reports it */
        barrier_destroy(&c);
        CHECK(barrier_place(&p));
        CHECK_INT(barrier_get_pollfds(&p, fds, 2), 2);
        CHECK_INT(poll(fds, 2, POLL_GUARD_MS), 1);
        CHECK(fds[0].revents & POLLHUP);
        CHECK_INT(barrier_sync_timeout(&p, 0), 0);
        CHECK(barrier_they_aborted(&p));
        barrier_destroy(&p);
}

/* The same across processes: the parent's loop watches a forked child. */
static void loop_child(Barrier *b, struct peer *p) {
        (void)p;
        for (int i = 0; i < 100; i++)
                CHECK(barrier_place_and_sync(b));
}
static void loop_parent(Barrier *b, struct peer *p) {
        struct pollfd fds[2];
        int synced = 0;

        (void)p;
        CHECK_INT(barrier_get_pollfds(b, fds, 2), 2);
        while (synced < 100 && harness_failures == 0) {
                int r;

                CHECK(barrier_place(b));
                while ((r = barrier_sync_timeout(b, 0)) == -ETIMEDOUT)
                        CHECK(poll(fds, 2, POLL_GUARD_MS) > 0);
                CHECK_INT(r, 1);
                synced++;
        }
        /* the child's exit ends the next wait */
        CHECK(barrier_place(b));
        while (barrier_sync_timeout(b, 0) == -ETIMEDOUT)
                CHECK(poll(fds, 2, POLL_GUARD_MS) > 0);
        CHECK(barrier_they_aborted(b));
}
TEST(poll_loop_across_fork) {
        run_pair(loop_child, loop_parent);
}

/* Against systemd every test is skipped: barrier_get_pollfds is what
 * each one tests. */
static const struct test tests[] = {
        TEST_ENTRY_NOT_SYSTEMD(pollfds_bad_arguments, "barrier_get_pollfds is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(pollfds_entries, "barrier_get_pollfds and barrier_create_pair are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(one_poll_loop_drives_both_sides,
                               "barrier_get_pollfds, barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(poll_loop_across_fork, "barrier_get_pollfds and bounded waits are extensions"),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
