/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The sixteen scenarios of the barrier's contract, one test each.
 *
 * Each runs a CHILD and a PARENT process over one barrier. Where a call
 * must block, the test proves it (CHECK_BLOCKS) while the other side is
 * known, by a handshake, to be alive and idle: the bounded form of the
 * call must time out, or, against systemd, a probe running the call must
 * fall asleep in it; the object must be unchanged by the attempt.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <unistd.h>

/* 1: a pending barrier beats the other side's exit. */
static void sync_child(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        peer_await_exit(p, b);
        CHECK(barrier_sync(b));
}
static void sync_parent(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_place(b));
        CHECK(barrier_sync(b));
}
TEST(sync) {
        run_pair(sync_child, sync_parent);
}

/* 2 */
static void wait_next_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_wait_next(b));
        CHECK(barrier_place(b));
        CHECK(barrier_sync(b));
}
static void wait_next_parent(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        peer_signal(p);
        CHECK(barrier_sync(b));
}
TEST(wait_next) {
        run_pair(wait_next_child, wait_next_parent);
}

static void place_twice_then_idle(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        peer_stay_idle(p);
}
static void place_twice_then_exit(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        peer_signal(p);
}

/* 3: one wait_next consumes both barriers; the second blocks. */
static void wait_next_twice_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_wait_next(b));
        CHECK_INT(b->barriers, -2);
        CHECK_BLOCKS(b, wait_next);
        CHECK_INT(b->barriers, -2);
}
TEST(wait_next_twice) {
        run_pair(wait_next_twice_child, place_twice_then_idle);
}

/* 4: our own barriers do not satisfy wait_next. */
static void wait_next_twice_local_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_wait_next(b));
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        CHECK_INT(b->barriers, 0);
        CHECK_BLOCKS(b, wait_next);
        CHECK_INT(b->barriers, 0);
}
TEST(wait_next_twice_local) {
        run_pair(wait_next_twice_local_child, place_twice_then_idle);
}

/* 5: sync_next returns at once when nothing of ours is unmatched. */
static void wait_next_twice_sync_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_wait_next(b));
        CHECK(barrier_sync_next(b));
}
TEST(wait_next_twice_sync) {
        run_pair(wait_next_twice_sync_child, place_twice_then_exit);
}

/* 6 */
static void wait_next_twice_local_sync_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_wait_next(b));
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        CHECK(barrier_sync_next(b));
}
TEST(wait_next_twice_local_sync) {
        run_pair(wait_next_twice_local_sync_child, place_twice_then_exit);
}

/* 7 */
static void sync_next_child(Barrier *b, struct peer *p) {
        CHECK(barrier_sync_next(b));
        CHECK(barrier_sync(b));
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        peer_signal(p);
        CHECK(barrier_sync_next(b));
        CHECK(barrier_sync_next(b));
        CHECK(barrier_sync(b));
}
static void sync_next_parent(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        CHECK(barrier_sync(b));
}
TEST(sync_next) {
        run_pair(sync_next_child, sync_next_parent);
}

/* 8 */
static void sync_next_local_child(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        CHECK(peer_await(p));
        CHECK_BLOCKS(b, sync_next);
        CHECK_INT(b->barriers, 1);
}
TEST(sync_next_local) {
        run_pair(sync_next_local_child, peer_stay_idle_side);
}

/* 9 */
static void sync_next_local_abort_child(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_place(b));
        CHECK(!barrier_sync_next(b));
        CHECK(barrier_they_aborted(b));
        CHECK(!barrier_i_aborted(b));
}
static void abort_side(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_abort(b));
}
TEST(sync_next_local_abort) {
        run_pair(sync_next_local_abort_child, abort_side);
}

/* 10 */
static void wait_abortion_child(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_wait_abortion(b));
        CHECK(barrier_they_aborted(b));
}
TEST(wait_abortion) {
        run_pair(wait_abortion_child, abort_side);
}

/* 11 */
static void wait_abortion_unmatched_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK_BLOCKS(b, wait_abortion);
        CHECK_INT(b->barriers, 0);
}
TEST(wait_abortion_unmatched) {
        run_pair(wait_abortion_unmatched_child, peer_stay_idle_side);
}

/* 12 */
static void wait_abortion_local_child(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_abort(b));
        CHECK(!barrier_wait_abortion(b));
        CHECK(barrier_we_aborted(b));
}
TEST(wait_abortion_local) {
        run_pair(wait_abortion_local_child, abort_side);
}

/* 13: our own abort does not end wait_abortion. */
static void wait_abortion_local_unmatched_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_abort(b));
        CHECK_BLOCKS(b, wait_abortion);
        CHECK_INT(b->barriers, BARRIER_I_ABORTED);
}
TEST(wait_abortion_local_unmatched) {
        run_pair(wait_abortion_local_unmatched_child, peer_stay_idle_side);
}

/* 14: the child's exit is an abortion. */
static void exit_child(Barrier *b, struct peer *p) {
        (void)b;
        (void)p;
}
static void exit_parent(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_place(b));
        CHECK(!barrier_sync(b));
        CHECK(barrier_they_aborted(b));
        CHECK(!barrier_i_aborted(b));
}
TEST(exit) {
        run_pair(exit_child, exit_parent);
}

/* 15: without the exit, the same sync blocks. */
static void no_exit_parent(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_place(b));
        CHECK_BLOCKS(b, sync);
        CHECK_INT(b->barriers, 1);
}
TEST(no_exit) {
        run_pair(peer_stay_idle_side, no_exit_parent);
}

/* 16: the exit counts only once we are ahead of what they placed. */
static void pending_exit_child(Barrier *b, struct peer *p) {
        peer_await_exit(p, b);
        CHECK(barrier_wait_next(b));
        CHECK(barrier_sync_next(b));
        CHECK(barrier_place(b));
        CHECK(barrier_sync_next(b));
        CHECK(barrier_place(b));
        CHECK(!barrier_sync_next(b));
        CHECK(barrier_they_aborted(b));
}
TEST(pending_exit) {
        run_pair(pending_exit_child, place_once_side);
}

static const struct test tests[] = {
        TEST_ENTRY(sync),
        TEST_ENTRY(wait_next),
        TEST_ENTRY(wait_next_twice),
        TEST_ENTRY(wait_next_twice_local),
        TEST_ENTRY(wait_next_twice_sync),
        TEST_ENTRY(wait_next_twice_local_sync),
        TEST_ENTRY(sync_next),
        TEST_ENTRY(sync_next_local),
        TEST_ENTRY(sync_next_local_abort),
        TEST_ENTRY(wait_abortion),
        TEST_ENTRY(wait_abortion_unmatched),
        TEST_ENTRY(wait_abortion_local),
        TEST_ENTRY(wait_abortion_local_unmatched),
        TEST_ENTRY(exit),
        TEST_ENTRY(no_exit),
        TEST_ENTRY(pending_exit),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
