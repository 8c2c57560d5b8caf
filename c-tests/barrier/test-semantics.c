/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The finer points of the contract: pending barriers against exits and
 * aborts, a peer killed mid-wait, waits under a storm of signals, and the
 * bounded waits (an extension: not run against systemd).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Barriers placed before an exit are all counted before the exit is. */
static void place_three_then_exit(Barrier *b, struct peer *p) {
        (void)p;
        for (int i = 0; i < 3; i++)
                CHECK(barrier_place(b));
}
static void pending_count_child(Barrier *b, struct peer *p) {
        peer_await_exit(p, b);
        CHECK(barrier_wait_next(b));
        CHECK_INT(b->barriers, -3);
        for (int i = 0; i < 3; i++)
                CHECK(barrier_place(b));
        CHECK_INT(b->barriers, 0);
        CHECK(barrier_sync(b));
        CHECK(!barrier_is_aborted(b));
        CHECK(barrier_place(b));
        CHECK(!barrier_sync(b));
        CHECK_INT(b->barriers, BARRIER_THEY_ABORTED);
}
TEST(pending_barriers_counted_before_exit) {
        run_pair(pending_count_child, place_three_then_exit);
}

/* A real abort supersedes barriers placed before it. */
static void place_twice_abort_idle(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        CHECK(barrier_abort(b));
        peer_stay_idle(p);
}
static void abort_supersedes_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(!barrier_wait_next(b));
        CHECK_INT(b->barriers, BARRIER_THEY_ABORTED);
        CHECK(!barrier_i_aborted(b));
        CHECK(!barrier_place(b));
        CHECK(!barrier_sync(b));
        CHECK(!barrier_abort(b));
        CHECK(barrier_we_aborted(b));
}
TEST(abort_supersedes_pending_barriers) {
        run_pair(abort_supersedes_child, place_twice_abort_idle);
}

/* The same, seen on the wire: one read returns 2 + INT64_MAX. */
static void abort_sum_child(Barrier *b, struct peer *p) {
        uint64_t v = 0;

        CHECK(peer_await(p));
        CHECK_INT(read(b->them, &v, sizeof(v)), (long long)sizeof(v));
        CHECK(v == (uint64_t)BARRIER_ABORTION + 2u);
}
TEST(abort_arrives_as_one_sum) {
        run_pair(abort_sum_child, place_twice_abort_idle);
}

/* The peer is killed with SIGKILL while we wait in sync. */
static void killed_child(Barrier *b, struct peer *p) {
        pid_t waiter = peer_recv_pid(p);
        (void)b;
        await_sleeping(waiter);
        kill(getpid(), SIGKILL);
}
static void killed_parent(Barrier *b, struct peer *p) {
        CHECK(barrier_place(b));
        peer_send_pid(p);
        CHECK(!barrier_sync(b));
        CHECK(barrier_they_aborted(b));
        CHECK(!barrier_i_aborted(b));
}
TEST(peer_killed_while_waiting) {
        run_pair_flags(killed_child, SIDE_MAY_BE_KILLED, killed_parent, 0);
}

/* Signals every millisecond during a wait: no spurious result. */
#define SIGNALS_WANTED 100
static void count_signal(int sig) {
        (void)sig;
        harness_shared[0]++;
}
static void start_signal_storm(void) {
        struct sigaction sa;
        struct itimerval it = { { 0, 1000 }, { 0, 1000 } };

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = count_signal;
        /* no SA_RESTART: every signal interrupts the wait */
        CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
        CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}
static void stop_signal_storm(void) {
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
}
static void await_signals(uint64_t n) {
        struct timespec ms = { 0, 1000000 };
        while (harness_shared[0] < n)
                nanosleep(&ms, NULL);
}
static void storm_child(Barrier *b, struct peer *p) {
        await_signals(SIGNALS_WANTED);
        CHECK(barrier_place(b));
        /* the second barrier only once the parent consumed the first, so
         * that its second wait has something to wait for */
        CHECK(peer_await(p));
        await_signals(2 * SIGNALS_WANTED);
        CHECK(barrier_place(b));
        CHECK(barrier_sync(b));
}
static void storm_parent(Barrier *b, struct peer *p) {
        start_signal_storm();
        CHECK(barrier_wait_next(b));
        CHECK(harness_shared[0] >= SIGNALS_WANTED);
        CHECK_INT(b->barriers, -1);
        peer_signal(p);
        CHECK(barrier_place(b));
#ifdef HARNESS_REFERENCE
        /* systemd has no bounded wait: the unbounded one, under the same storm */
        CHECK(barrier_wait_next(b));
#else
        CHECK_INT(barrier_wait_next_timeout(b, 60u * 1000000u), 1);
#endif
        CHECK(harness_shared[0] >= 2 * SIGNALS_WANTED);
        CHECK(barrier_place(b));
        stop_signal_storm();
        CHECK(barrier_sync(b));
}
TEST(signals_during_wait) {
        run_pair(storm_child, storm_parent);
}

/* Bounded waits. */
static void timeout_zero_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK_INT(barrier_wait_next_timeout(b, 0), -ETIMEDOUT);
        CHECK_INT(barrier_sync_next_timeout(b, 0), 1);
        CHECK_INT(barrier_sync_timeout(b, 0), 1);
        CHECK_INT(barrier_wait_abortion_timeout(b, 0), -ETIMEDOUT);
        CHECK(barrier_place(b));
        CHECK_INT(barrier_sync_timeout(b, 0), -ETIMEDOUT);
        CHECK_INT(barrier_sync_next_timeout(b, 0), -ETIMEDOUT);
        CHECK_INT(b->barriers, 1);
        /* the peer places; 0 then consumes what already arrived */
        peer_signal(p);
        CHECK(peer_await(p));
        CHECK_INT(barrier_sync_timeout(b, 0), 1);
        CHECK_INT(b->barriers, 0);
}
static void timeout_zero_parent(Barrier *b, struct peer *p) {
        peer_signal(p);
        CHECK(peer_await(p));
        CHECK(barrier_place(b));
        peer_stay_idle(p);
}
TEST(timeout_zero_never_blocks) {
        run_pair(timeout_zero_child, timeout_zero_parent);
}

static void timeout_bound_child(Barrier *b, struct peer *p) {
        const uint64_t bound = 30000;
        uint64_t start;

        CHECK(peer_await(p));
        CHECK_INT(barrier_sync_next_timeout(b, bound), 1);
        CHECK(barrier_place(b));
        start = now_usec();
        CHECK_INT(barrier_sync_timeout(b, bound), -ETIMEDOUT);
        CHECK(now_usec() - start >= bound);
        start = now_usec();
        CHECK_INT(barrier_wait_next_timeout(b, bound), -ETIMEDOUT);
        CHECK(now_usec() - start >= bound);
        start = now_usec();
        CHECK_INT(barrier_wait_abortion_timeout(b, bound), -ETIMEDOUT);
        CHECK(now_usec() - start >= bound);
        CHECK_INT(b->barriers, 1);
        /* still consistent: the peer places and the same wait succeeds */
        peer_signal(p);
        CHECK_INT(barrier_sync_timeout(b, BARRIER_INFINITY), 1);
        CHECK_INT(b->barriers, 0);
}
static void timeout_bound_parent(Barrier *b, struct peer *p) {
        peer_signal(p);
        CHECK(peer_await(p));
        CHECK(barrier_place(b));
        peer_stay_idle(p);
}
TEST(timeout_bound_then_recovers) {
        run_pair(timeout_bound_child, timeout_bound_parent);
}

static void bounded_abort_child(Barrier *b, struct peer *p) {
        CHECK(peer_await(p));
        CHECK(barrier_place(b));
        CHECK_INT(barrier_sync_timeout(b, BARRIER_INFINITY), 0);
        CHECK_INT(barrier_wait_next_timeout(b, 0), 0);
        CHECK_INT(barrier_sync_next_timeout(b, 0), 0);
        CHECK_INT(barrier_wait_abortion_timeout(b, 0), 1);
        CHECK(barrier_abort(b) == false);
        CHECK_INT(barrier_wait_abortion_timeout(b, 0), 0);
}
static void abort_after_signal(Barrier *b, struct peer *p) {
        CHECK(barrier_abort(b));
        peer_signal(p);
        peer_stay_idle(p);
}
TEST(bounded_waits_see_abort) {
        run_pair(bounded_abort_child, abort_after_signal);
}

static void bounded_exit_child(Barrier *b, struct peer *p) {
        peer_await_exit(p, b);
        CHECK_INT(barrier_wait_next_timeout(b, 0), 1);
        CHECK(barrier_place(b));
        CHECK(barrier_place(b));
        CHECK_INT(barrier_sync_next_timeout(b, 1000000), 0);
        CHECK_INT(barrier_sync_timeout(b, 0), 0);
        CHECK_INT(barrier_wait_abortion_timeout(b, 0), 1);
}
TEST(bounded_waits_see_exit) {
        run_pair(bounded_exit_child, place_once_side);
}

static const struct test tests[] = {
        TEST_ENTRY(pending_barriers_counted_before_exit),
        TEST_ENTRY(abort_supersedes_pending_barriers),
        TEST_ENTRY(abort_arrives_as_one_sum),
        TEST_ENTRY(peer_killed_while_waiting),
        TEST_ENTRY(signals_during_wait),
        TEST_ENTRY_NOT_SYSTEMD(timeout_zero_never_blocks, "bounded waits are an extension"),
        TEST_ENTRY_NOT_SYSTEMD(timeout_bound_then_recovers, "bounded waits are an extension"),
        TEST_ENTRY_NOT_SYSTEMD(bounded_waits_see_abort, "bounded waits are an extension"),
        TEST_ENTRY_NOT_SYSTEMD(bounded_waits_see_exit, "bounded waits are an extension"),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
