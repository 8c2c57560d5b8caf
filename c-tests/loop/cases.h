/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The cases that every test-loop-*.c program runs through its own event
 * loop (sd-event, GLib, libuv, raw epoll), on both sides of a barrier,
 * with a periodic timer active in the same loop as the "other source".
 *
 * The contract under test (barrier_get_pollfds(3)): watch the two
 * descriptors only while a bounded call has just returned -ETIMEDOUT;
 * when a call returns 1, 0 or another negative errno, remove the watches
 * before anything else. Every barrier callback is counted: a wait that
 * was watched ends within MAX_CALLBACKS_PER_WAIT callbacks, and once the
 * last wait is over, a few more timer ticks of the loop must see no
 * barrier callback at all.
 *
 * The two sides order themselves with handshakes; the timer never orders
 * them. In the "late" case this side's timer callback sends the handshake
 * that lets the other side place, after LATE_TICKS ticks of waiting, which
 * proves that the loop kept serving its timer during the wait.
 *
 * A program defines LOOP_NAME and the functions declared below, and calls
 * barrier_ready() from its barrier callbacks and timer_fired() from its
 * timer's.
 */
#ifndef LIBBARRIER_LOOP_CASES_H
#define LIBBARRIER_LOOP_CASES_H

#include "harness.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

struct loop;
/* A new loop of this process, with a periodic timer of TICK_USEC. */
static struct loop *loop_new(void);
static void loop_free(struct loop *l);
/* Watches fds[0] (our pipe end) and fds[1] (their eventfd), as
 * barrier_get_pollfds() filled them. */
static void loop_watch(struct loop *l, const struct pollfd fds[2]);
static void loop_unwatch(struct loop *l);
/* Runs one iteration, waiting for something to happen. */
static void loop_run_once(struct loop *l);

static void barrier_ready(void);
static void timer_fired(void);

#define ROUNDS 200
#define SHORT_ROUNDS 20
#define TICK_USEC 2000
/* Ticks of waiting before the late side's handshake. */
#define LATE_TICKS 5
/* Ticks of the loop after the last wait (about 20 ms): no barrier callback
 * may come in them. */
#define TICKS_AFTER 10
/* One per descriptor, if both are ready in the same iteration. */
#define MAX_CALLBACKS_PER_WAIT 2

static struct {
        const char *label;
        Barrier *b;
        struct peer *peer;
        struct loop *loop;
        bool watching;
        bool placed;
        bool done;
        int rounds_left;
        int result;
        unsigned waits;          /* waits that were watched */
        unsigned wait_callbacks; /* in the current wait */
        unsigned max_wait_callbacks;
        unsigned callbacks;      /* in all waits */
        unsigned after;          /* after the last wait */
        unsigned ticks;
        unsigned late_at; /* tick that sends the handshake, or 0 */
        unsigned late_ticks;
} d;

static void watch(void) {
        struct pollfd fds[2];

        CHECK_INT(barrier_get_pollfds(d.b, fds, 2), 2);
        loop_watch(d.loop, fds);
        d.watching = true;
        d.waits++;
        d.wait_callbacks = 0;
}

/* Places if this round has not, and syncs with a timeout of 0: watches on
 * -ETIMEDOUT, stops watching on anything else. */
static void step(void) {
        while (!d.done) {
                int r;

                if (!d.placed) {
                        CHECK(barrier_place(d.b));
                        d.placed = true;
                }
                r = barrier_sync_timeout(d.b, 0);
                if (r == -ETIMEDOUT) {
                        if (!d.watching)
                                watch();
                        return;
                }
                if (d.watching) {
                        loop_unwatch(d.loop);
                        d.watching = false;
                        CHECK(d.wait_callbacks >= 1);
                        CHECK(d.wait_callbacks <= MAX_CALLBACKS_PER_WAIT);
                        if (d.wait_callbacks > d.max_wait_callbacks)
                                d.max_wait_callbacks = d.wait_callbacks;
                }
                d.placed = false;
                d.result = r;
                if (r != 1 || --d.rounds_left == 0)
                        d.done = true;
        }
}

static void barrier_ready(void) {
        if (d.done) {
                d.after++;
                return;
        }
        d.callbacks++;
        d.wait_callbacks++;
        step();
}

static void timer_fired(void) {
        d.ticks++;
        if (d.late_at && d.ticks == d.late_at) {
                /* waited LATE_TICKS ticks without a barrier callback */
                CHECK_INT(d.wait_callbacks, 0);
                CHECK(d.watching);
                d.late_ticks = LATE_TICKS;
                peer_signal(d.peer);
        }
}

static void side_begin(const char *label, Barrier *b, struct peer *p) {
        memset(&d, 0, sizeof(d));
        d.label = label;
        d.b = b;
        d.peer = p;
        d.loop = loop_new();
}

static void run_until_done(void) {
        while (!d.done && harness_failures == 0)
                loop_run_once(d.loop);
}

/* `rounds` rounds of place + sync, driven by the loop; the last result. */
static int loop_rounds(int rounds) {
        d.rounds_left = rounds;
        d.done = false;
        step();
        run_until_done();
        return d.result;
}

/* Places, and expects the sync to time out: the other side is held back
 * until `release` runs. The result of the wait that follows. */
static int late_wait(void (*release)(void)) {
        d.rounds_left = 1;
        d.done = false;
        CHECK(barrier_place(d.b));
        d.placed = true;
        CHECK_INT(barrier_sync_timeout(d.b, 0), -ETIMEDOUT);
        watch();
        if (release)
                release();
        run_until_done();
        return d.result;
}

static void release_peer(void) {
        peer_signal(d.peer);
}

/* Runs the loop for TICKS_AFTER more ticks: no barrier callback may come;
 * prints what the loop did. */
static void side_end(void) {
        unsigned until = d.ticks + TICKS_AFTER;

        while (d.ticks < until && harness_failures == 0)
                loop_run_once(d.loop);
        CHECK_INT(d.after, 0);
        CHECK(!d.watching);
        printf("%s %s %s: %u waits watched, %u callbacks in them (at most %u in one), "
               "%u after the last wait in %d ticks, %u ticks in all%s\n",
               LOOP_NAME, d.label, harness_side, d.waits, d.callbacks, d.max_wait_callbacks,
               d.after, TICKS_AFTER, d.ticks, d.late_ticks ? ", the late wait served the timer" : "");
        fflush(stdout);
        loop_free(d.loop);
}

/* The other side's end, when it leaves without the after-check. */
static void side_leave(void) {
        loop_free(d.loop);
}

/* Many rounds of place + sync, both sides in their loops. */
static void rounds_side(Barrier *b, struct peer *p) {
        side_begin("rounds", b, p);
        CHECK_INT(loop_rounds(ROUNDS), 1);
        CHECK(d.waits <= ROUNDS);
        CHECK(d.callbacks <= MAX_CALLBACKS_PER_WAIT * d.waits);
        side_end();
}
TEST(rounds) {
        run_pair(rounds_side, rounds_side);
}

/* The other side syncs some rounds in its loop, then exits when told. */
static void exiting_side(Barrier *b, struct peer *p) {
        side_begin("exit", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        CHECK(peer_await(p));
        side_leave();
}
/* This side is waiting (watched) when the other side exits: 0. */
static void sees_exit_side(Barrier *b, struct peer *p) {
        side_begin("exit", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        CHECK_INT(late_wait(release_peer), 0);
        CHECK(barrier_they_aborted(b));
        CHECK(!barrier_we_aborted(b));
        side_end();
}
/* The parent watches the read end of the pipe (hang-up), the child its
 * write end (error). */
TEST(parent_sees_child_exit) {
        run_pair(exiting_side, sees_exit_side);
}
TEST(child_sees_parent_exit) {
        run_pair(sees_exit_side, exiting_side);
}

/* The other side aborts when told, and stays alive until this side has
 * exited. */
static void aborting_side(Barrier *b, struct peer *p) {
        side_begin("abort", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        CHECK(peer_await(p));
        CHECK(barrier_abort(b));
        while (peer_await(p))
                ;
        side_leave();
}
static void sees_abort_side(Barrier *b, struct peer *p) {
        side_begin("abort", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        CHECK_INT(late_wait(release_peer), 0);
        CHECK(barrier_they_aborted(b));
        CHECK(!barrier_we_aborted(b));
        side_end();
}
TEST(parent_sees_child_abort) {
        run_pair(aborting_side, sees_abort_side);
}
TEST(child_sees_parent_abort) {
        run_pair(sees_abort_side, aborting_side);
}

/* The other side is late: it places only when this side's loop has
 * waited LATE_TICKS timer ticks. */
static void late_side(Barrier *b, struct peer *p) {
        side_begin("late", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        CHECK(peer_await(p));
        CHECK_INT(loop_rounds(1), 1);
        side_end();
}
static void waits_for_late_side(Barrier *b, struct peer *p) {
        side_begin("late", b, p);
        CHECK_INT(loop_rounds(SHORT_ROUNDS), 1);
        d.late_at = d.ticks + LATE_TICKS;
        CHECK_INT(late_wait(NULL), 1);
        CHECK(d.ticks >= d.late_at);
        CHECK_INT(d.late_ticks, LATE_TICKS);
        d.late_at = 0;
        side_end();
}
TEST(late_other_side) {
        run_pair(late_side, waits_for_late_side);
}

static const struct test tests[] = {
        TEST_ENTRY(rounds),
        TEST_ENTRY(parent_sees_child_exit),
        TEST_ENTRY(child_sees_parent_exit),
        TEST_ENTRY(parent_sees_child_abort),
        TEST_ENTRY(child_sees_parent_abort),
        TEST_ENTRY(late_other_side),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}

#endif
