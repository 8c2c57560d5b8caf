/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups in an event loop, with poll() and with epoll: the one
 * descriptor of barrier_group_get_pollfds(), watched only while a bounded
 * call returns -ETIMEDOUT and answered by the same call with usec 0. It
 * fires when the last member places, on an abort, on the exit of a member
 * that placed too few; it does not keep firing once a call took in the
 * exit of a member that had placed enough; and a round costs at most a
 * couple of wake-ups.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum watch_kind { WATCH_POLL, WATCH_EPOLL };

/* The loop: poll() on the descriptor, or an epoll instance of the
 * program's own that the descriptor is added to while watched. */
struct watcher {
        enum watch_kind kind;
        int fd;
        int ep;
};

/* Wake-ups that one answer may take; more is a busy loop. */
#define WAKEUPS_MAX 2u
/* Where a spinning loop gives up, so that it fails instead of hanging. */
#define WAKEUPS_SPIN 1000u

static void watcher_init(struct watcher *w, enum watch_kind kind, const BarrierGroup *g) {
        struct pollfd fds[BARRIER_GROUP_POLLFDS_MAX];

        w->kind = kind;
        w->fd = -1;
        w->ep = -1;
        CHECK_INT(barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX), 1);
        CHECK_INT(fds[0].events, POLLIN);
        w->fd = fds[0].fd;
        if (kind == WATCH_EPOLL)
                CHECK((w->ep = epoll_create1(EPOLL_CLOEXEC)) >= 0);
}

static void watcher_done(struct watcher *w) {
        close_if_open(&w->ep);
}

static void watch_start(struct watcher *w) {
        struct epoll_event ev = { .events = EPOLLIN };

        if (w->kind == WATCH_EPOLL)
                CHECK(epoll_ctl(w->ep, EPOLL_CTL_ADD, w->fd, &ev) == 0);
}

static void watch_stop(struct watcher *w) {
        if (w->kind == WATCH_EPOLL)
                CHECK(epoll_ctl(w->ep, EPOLL_CTL_DEL, w->fd, NULL) == 0);
}

/* Waits up to timeout_ms (-1: no bound) for the watched descriptor; the
 * number of ready entries. */
static int watch_wait(struct watcher *w, int timeout_ms) {
        for (;;) {
                struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
                struct epoll_event ev;
                int r = w->kind == WATCH_POLL ? poll(&pfd, 1, timeout_ms) : epoll_wait(w->ep, &ev, 1, timeout_ms);

                if (r < 0 && errno == EINTR)
                        continue;
                CHECK(r >= 0);
                if (w->kind == WATCH_POLL && r == 1)
                        CHECK(pfd.revents & POLLIN);
                return r;
        }
}

typedef int (*bounded_fn)(BarrierGroup *g, uint64_t usec);

/*
 * The event-loop way: `first` with usec 0; while it (then `again`, with
 * usec 0) returns -ETIMEDOUT, watch and call `again` when the descriptor
 * fires. Tells the test process once it watches (it then sees this
 * process asleep in the loop). Counts the wake-ups.
 */
static int drive(struct watcher *w, BarrierGroup *g, bounded_fn first, bounded_fn again, struct peer *p,
                 unsigned *wakeups) {
        int r = first(g, 0);

        *wakeups = 0;
        CHECK_INT(r, -ETIMEDOUT);
        peer_signal(p);
        if (r != -ETIMEDOUT)
                return r;
        watch_start(w);
        do {
                CHECK_INT(watch_wait(w, -1), 1);
                r = again(g, 0);
        } while (r == -ETIMEDOUT && ++*wakeups < WAKEUPS_SPIN);
        if (r != -ETIMEDOUT)
                ++*wakeups;
        watch_stop(w);
        return r;
}

struct loop_case {
        enum watch_kind kind;
        /* for the exit cases: wait_abortion instead of sync */
        bool abortion;
};

TEST(one_pollfd_entry) {
        struct pollfd fds[BARRIER_GROUP_POLLFDS_MAX + 2];
        BarrierGroup *g = NULL;
        int fd;

        CHECK(BARRIER_GROUP_POLLFDS_MAX >= 1);
        CHECK_INT(barrier_group_new(&g, 3), 0);
        memset(fds, 0x55, sizeof(fds));
        CHECK_INT(barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX), -EINVAL);
        CHECK_INT(barrier_group_join(g, 1), 0);
        CHECK_INT(barrier_group_get_pollfds(g, fds, 0), -ENOBUFS);
        CHECK_INT(barrier_group_get_pollfds(g, NULL, 1), -EINVAL);
        CHECK_INT(barrier_group_get_pollfds(NULL, fds, 1), -EINVAL);
        CHECK_INT(fds[0].fd, 0x55555555);
        CHECK_INT(barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX + 2), 1);
        fd = fds[0].fd;
        CHECK(fd > 2);
        CHECK_INT(fds[0].events, POLLIN);
        CHECK_INT(fds[0].revents, 0);
        /* the entry after it is untouched */
        CHECK_INT(fds[1].fd, 0x55555555);
        /* an epoll instance, nothing pending */
        {
                char path[64], target[64] = "";
                ssize_t len;

                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                len = readlink(path, target, sizeof(target) - 1);
                CHECK(len > 0);
                CHECK(strstr(target, "eventpoll") != NULL);
        }
        /* The same after calls that did something: the members that
         * never joined count as exited (their write ends closed when this
         * process joined), so the sync fails. */
        CHECK_INT(barrier_group_place(g), 1);
        CHECK_INT(barrier_group_sync(g, 0), 0);
        CHECK_INT(barrier_group_aborted_by(g), 0);
        CHECK_INT(barrier_group_get_pollfds(g, fds, 1), 1);
        CHECK_INT(fds[0].fd, fd);
        barrier_group_free(g);
}

#define ROUNDS 6

/* Rank 0 runs the loop; the others place one by one, each when told. */
static void rounds_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct loop_case *c = arg;

        if (rank == 0) {
                struct watcher w;

                watcher_init(&w, c->kind, g);
                for (unsigned round = 0; round < ROUNDS; round++) {
                        unsigned wakeups;

                        CHECK_INT(drive(&w, g, barrier_group_place_and_sync, barrier_group_sync, p, &wakeups), 1);
                        CHECK(wakeups >= 1 && wakeups <= WAKEUPS_MAX);
                }
                watcher_done(&w);
                return;
        }
        for (unsigned round = 0; round < ROUNDS; round++) {
                CHECK(peer_await(p));
                CHECK_INT(barrier_group_place(g), 1);
                peer_signal(p);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        }
}

static void run_rounds(enum watch_kind kind) {
        struct loop_case c = { .kind = kind };
        const unsigned n = 4;
        struct group_members m;

        group_start(&m, n, rounds_member, &c);
        for (unsigned round = 0; round < ROUNDS; round++) {
                group_hear(&m, 0);
                await_sleeping(m.pid[0]);
                for (unsigned r = 1; r < n; r++) {
                        group_tell(&m, r);
                        group_hear(&m, r);
                }
        }
        group_finish(&m);
}

TEST(fires_when_the_last_member_places_poll) {
        run_rounds(WATCH_POLL);
}

TEST(fires_when_the_last_member_places_epoll) {
        run_rounds(WATCH_EPOLL);
}

/* Rank 0 runs the loop; rank 2 aborts when told. */
static void abort_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct loop_case *c = arg;

        if (rank == 0) {
                struct watcher w;
                unsigned wakeups;

                watcher_init(&w, c->kind, g);
                CHECK_INT(drive(&w, g, barrier_group_place_and_sync, barrier_group_sync, p, &wakeups), 0);
                CHECK(wakeups >= 1 && wakeups <= WAKEUPS_MAX);
                CHECK_INT(barrier_group_aborted_by(g), 2);
                CHECK(barrier_group_they_aborted(g));
                CHECK(!barrier_group_i_aborted(g));
                watcher_done(&w);
        } else if (rank == 2) {
                CHECK(peer_await(p));
                CHECK_INT(barrier_group_abort(g), 1);
                peer_signal(p);
        }
}

static void run_abort(enum watch_kind kind) {
        struct loop_case c = { .kind = kind };
        struct group_members m;

        group_start(&m, 3, abort_member, &c);
        group_hear(&m, 0);
        await_sleeping(m.pid[0]);
        group_tell(&m, 2);
        group_hear(&m, 2);
        group_finish(&m);
}

TEST(fires_on_an_abort_poll) {
        run_abort(WATCH_POLL);
}

TEST(fires_on_an_abort_epoll) {
        run_abort(WATCH_EPOLL);
}

/* Rank 0 runs the loop (sync, or wait_abortion); rank 1 exits when told,
 * having placed nothing. */
static void exit_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct loop_case *c = arg;

        if (rank == 0) {
                struct watcher w;
                unsigned wakeups;

                watcher_init(&w, c->kind, g);
                if (c->abortion)
                        CHECK_INT(drive(&w, g, barrier_group_wait_abortion, barrier_group_wait_abortion, p, &wakeups),
                                  1);
                else
                        CHECK_INT(drive(&w, g, barrier_group_place_and_sync, barrier_group_sync, p, &wakeups), 0);
                CHECK(wakeups >= 1 && wakeups <= WAKEUPS_MAX);
                CHECK_INT(barrier_group_aborted_by(g), 1);
                CHECK(!barrier_group_i_aborted(g));
                CHECK_INT(barrier_group_sync(g, 0), 0);
                watcher_done(&w);
        } else if (rank == 1) {
                CHECK(peer_await(p));
                group_member_exit(g);
        }
}

static void run_exit(enum watch_kind kind, bool abortion) {
        struct loop_case c = { .kind = kind, .abortion = abortion };
        struct group_members m;

        group_start(&m, 3, exit_member, &c);
        group_hear(&m, 0);
        await_sleeping(m.pid[0]);
        group_tell(&m, 1);
        group_finish(&m);
}

TEST(fires_when_a_member_exits_having_placed_too_few_poll) {
        run_exit(WATCH_POLL, false);
}

TEST(fires_when_a_member_exits_having_placed_too_few_epoll) {
        run_exit(WATCH_EPOLL, false);
}

TEST(fires_for_wait_abortion_when_a_member_exits_poll) {
        run_exit(WATCH_POLL, true);
}

TEST(fires_for_wait_abortion_when_a_member_exits_epoll) {
        run_exit(WATCH_EPOLL, true);
}

/*
 * Rank 1 places and exits: it placed enough for round 1, so rank 0's
 * sync still waits (for rank 2). Its exit makes the descriptor fire once;
 * after a call took the exit in, the descriptor is quiet again (no busy
 * loop on the gone member's hang-up) until rank 2 places.
 */
static void exit_with_enough_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct loop_case *c = arg;

        if (rank == 0) {
                struct watcher w;
                unsigned wakeups = 0;
                int r;

                watcher_init(&w, c->kind, g);
                CHECK_INT(barrier_group_place_and_sync(g, 0), -ETIMEDOUT);
                watch_start(&w);
                CHECK_INT(watch_wait(&w, 0), 0);
                peer_signal(p);
                /* rank 1 placed, exited and was reaped */
                CHECK(peer_await(p));
                CHECK_INT(watch_wait(&w, 0), 1);
                CHECK_INT(barrier_group_sync(g, 0), -ETIMEDOUT);
                CHECK(!barrier_group_they_aborted(g));
                CHECK_INT(watch_wait(&w, 0), 0);
                CHECK_INT(watch_wait(&w, 0), 0);
                peer_signal(p);
                /* now rank 2 is told to place */
                do {
                        CHECK_INT(watch_wait(&w, -1), 1);
                        r = barrier_group_sync(g, 0);
                } while (r == -ETIMEDOUT && ++wakeups < WAKEUPS_SPIN);
                CHECK_INT(r, 1);
                CHECK(wakeups < WAKEUPS_MAX);
                watch_stop(&w);
                /* round 2 needs more than rank 1 placed */
                CHECK_INT(barrier_group_place_and_sync(g, 0), 0);
                CHECK_INT(barrier_group_aborted_by(g), 1);
                watcher_done(&w);
        } else if (rank == 1) {
                CHECK(peer_await(p));
                CHECK_INT(barrier_group_place(g), 1);
                group_member_exit(g);
        } else {
                CHECK(peer_await(p));
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                CHECK_INT(barrier_group_aborted_by(g), 1);
        }
}

static void run_exit_with_enough(enum watch_kind kind) {
        struct loop_case c = { .kind = kind };
        struct group_members m;

        group_start(&m, 3, exit_with_enough_member, &c);
        group_hear(&m, 0);
        group_tell(&m, 1);
        group_reap_member(&m, 1);
        group_tell(&m, 0);
        group_hear(&m, 0);
        group_tell(&m, 2);
        group_finish(&m);
}

TEST(no_spin_after_an_exit_with_enough_placed_poll) {
        run_exit_with_enough(WATCH_POLL);
}

TEST(no_spin_after_an_exit_with_enough_placed_epoll) {
        run_exit_with_enough(WATCH_EPOLL);
}

/*
 * A member watches while two bounded calls of different kinds are both
 * unfinished: a sync that timed out, then a wait_abortion that timed out
 * (or the reverse order with a blocking sync in between). Neither may
 * cost the other its wake-up.
 */
static void two_waits_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const bool abort_last = *(const bool *)arg;

        if (rank == 0) {
                struct watcher w;

                watcher_init(&w, WATCH_POLL, g);
                if (!abort_last) {
                        CHECK_INT(barrier_group_place_and_sync(g, 0), -ETIMEDOUT);
                        CHECK_INT(barrier_group_wait_abortion(g, 0), -ETIMEDOUT);
                } else {
                        CHECK_INT(barrier_group_wait_abortion(g, 0), -ETIMEDOUT);
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                }
                peer_signal(p);
                watch_start(&w);
                CHECK_INT(watch_wait(&w, -1), 1);
                watch_stop(&w);
                if (!abort_last) {
                        CHECK_INT(barrier_group_sync(g, 0), 1);
                } else {
                        CHECK_INT(barrier_group_wait_abortion(g, 0), 1);
                        CHECK_INT(barrier_group_aborted_by(g), 1);
                }
                watcher_done(&w);
        } else {
                if (abort_last)
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK(peer_await(p));
                CHECK_INT(abort_last ? barrier_group_abort(g) : barrier_group_place(g), 1);
                peer_signal(p);
        }
}

static void run_two_waits(bool abort_last) {
        struct group_members m;

        group_start(&m, 2, two_waits_member, &abort_last);
        group_hear(&m, 0);
        group_tell(&m, 1);
        group_hear(&m, 1);
        group_finish(&m);
}

TEST(a_timed_out_sync_is_woken_after_a_wait_abortion_check) {
        run_two_waits(false);
}

TEST(a_timed_out_wait_abortion_is_woken_after_a_sync) {
        run_two_waits(true);
}

int main(int argc, char **argv) {
        static const struct test tests[] = {
                TEST_ENTRY(one_pollfd_entry),
                TEST_ENTRY(fires_when_the_last_member_places_poll),
                TEST_ENTRY(fires_when_the_last_member_places_epoll),
                TEST_ENTRY(fires_on_an_abort_poll),
                TEST_ENTRY(fires_on_an_abort_epoll),
                TEST_ENTRY(fires_when_a_member_exits_having_placed_too_few_poll),
                TEST_ENTRY(fires_when_a_member_exits_having_placed_too_few_epoll),
                TEST_ENTRY(fires_for_wait_abortion_when_a_member_exits_poll),
                TEST_ENTRY(fires_for_wait_abortion_when_a_member_exits_epoll),
                TEST_ENTRY(no_spin_after_an_exit_with_enough_placed_poll),
                TEST_ENTRY(no_spin_after_an_exit_with_enough_placed_epoll),
                TEST_ENTRY(a_timed_out_sync_is_woken_after_a_wait_abortion_check),
                TEST_ENTRY(a_timed_out_wait_abortion_is_woken_after_a_sync),
        };
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
