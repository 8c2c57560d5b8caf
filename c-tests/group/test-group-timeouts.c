/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: a late member and bounded waits. The late member is held
 * back by a handshake; a bounded wait must time out while it is, lose
 * nothing, and never end before its bound (measured on CLOCK_MONOTONIC:
 * only that lower bound is checked, never an upper one).
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <time.h>

static uint64_t now_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs a bounded call that must time out, and checks that it did not
 * return before `usec` had passed. */
#define CHECK_TIMES_OUT(call, usec)                                                             \
        do {                                                                                    \
                uint64_t start_ = now_nsec();                                                   \
                CHECK_INT(call, -ETIMEDOUT);                                                    \
                uint64_t took_ = now_nsec() - start_;                                           \
                if (took_ < (uint64_t)(usec) * 1000u)                                           \
                        harness_fail(__FILE__, __LINE__, "%s timed out after %llu ns, before %llu us", \
                                     #call, (unsigned long long)took_, (unsigned long long)(usec)); \
        } while (0)

/* harness_shared[0]: set by the late member right before it places */
static void mark_placing(void) {
        __atomic_store_n(&harness_shared[0], 1, __ATOMIC_SEQ_CST);
}

static bool marked_placing(void) {
        return __atomic_load_n(&harness_shared[0], __ATOMIC_SEQ_CST) == 1;
}

/* Three members; rank 2 is late: it places only when rank 0 says so. */
static void late_member(BarrierGroup *g, unsigned rank) {
        switch (rank) {
        case 0:
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_TIMES_OUT(barrier_group_sync(g, 20000), 20000);
                CHECK_INT(barrier_group_sync(g, 0), -ETIMEDOUT);
                CHECK_TIMES_OUT(barrier_group_sync(g, 1), 1);
                CHECK(!barrier_group_is_aborted(g));
                group_post(2);
                /* nothing lost: the same barrier, now placed by everyone */
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                CHECK(marked_placing());
                break;
        case 1:
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK(marked_placing());
                break;
        default:
                CHECK(group_await());
                mark_placing();
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        }
}

TEST(late_member_times_out_then_syncs) {
        group_run(3, late_member);
}

/* place_and_sync times out with the barrier placed: the other member sees
 * it (its own sync of one barrier needs no wait), and the retry is a
 * sync. */
static void timed_out_barrier_stays(BarrierGroup *g, unsigned rank) {
        if (rank == 0) {
                CHECK_TIMES_OUT(barrier_group_place_and_sync(g, 10000), 10000);
                CHECK_INT(barrier_group_place_and_sync(g, 0), -ETIMEDOUT);
                group_post(1);
                CHECK(group_await());
                /* rank 1 placed one: our first is done, our second not */
                CHECK_INT(barrier_group_sync(g, 0), -ETIMEDOUT);
                group_post(1);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                CHECK_INT(barrier_group_sync(g, 0), 1);
        } else {
                CHECK(group_await());
                /* rank 0 placed two, with place_and_sync that timed out */
                CHECK_INT(barrier_group_place_and_sync(g, 0), 1);
                group_post(0);
                CHECK(group_await());
                CHECK_INT(barrier_group_place_and_sync(g, 0), 1);
        }
}

TEST(timed_out_place_and_sync_keeps_its_barrier) {
        group_run(2, timed_out_barrier_stays);
}

/* Rank 0 waits without a bound; rank 1 places once it saw rank 0 asleep
 * in the wait. The wait ended only after that. */
static void infinity_waits(BarrierGroup *g, unsigned rank) {
        if (rank == 0) {
                group_post(1);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK(marked_placing());
                /* a bound too large to add to the clock waits as well */
                group_post(1);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY - 1), 1);
                CHECK_INT(harness_shared[1], 1);
        } else {
                CHECK(group_await());
                await_sleeping(group_pids[0]);
                mark_placing();
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK(group_await());
                await_sleeping(group_pids[0]);
                __atomic_store_n(&harness_shared[1], 1, __ATOMIC_SEQ_CST);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        }
}

TEST(infinity_waits_for_the_late_member) {
        group_run(2, infinity_waits);
}

/* wait_abortion is bounded too; then rank 1 aborts and the unbounded
 * wait ends. */
static void abortion_times_out(BarrierGroup *g, unsigned rank) {
        if (rank == 0) {
                CHECK_INT(barrier_group_wait_abortion(g, 0), -ETIMEDOUT);
                CHECK_TIMES_OUT(barrier_group_wait_abortion(g, 15000), 15000);
                CHECK(!barrier_group_they_aborted(g));
                group_post(1);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                CHECK(barrier_group_they_aborted(g));
                CHECK_INT(barrier_group_aborted_by(g), 1);
                /* stay until rank 1 is done: our exit would end its wait */
                CHECK(group_await());
        } else {
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                /* our own abort does not end our wait */
                CHECK_INT(barrier_group_wait_abortion(g, 0), -ETIMEDOUT);
                CHECK_TIMES_OUT(barrier_group_wait_abortion(g, 5000), 5000);
                group_post(0);
        }
}

TEST(wait_abortion_times_out) {
        group_run(2, abortion_times_out);
}

/* Bounds that are not whole milliseconds, and sub-millisecond ones: no
 * bounded wait returns before its bound. */
static void never_early(BarrierGroup *g, unsigned rank) {
        static const uint64_t bounds[] = { 1, 999, 1000, 1001, 1500, 2999, 12345 };

        if (rank == 0) {
                CHECK_INT(barrier_group_place(g), 1);
                for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
                        CHECK_TIMES_OUT(barrier_group_sync(g, bounds[i]), bounds[i]);
                        CHECK_TIMES_OUT(barrier_group_wait_abortion(g, bounds[i]), bounds[i]);
                }
                group_post(1);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        } else {
                CHECK(group_await());
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        }
}

TEST(bounded_waits_are_never_early) {
        group_run(2, never_early);
}

static const struct test tests[] = {
        TEST_ENTRY(late_member_times_out_then_syncs),
        TEST_ENTRY(timed_out_place_and_sync_keeps_its_barrier),
        TEST_ENTRY(infinity_waits_for_the_late_member),
        TEST_ENTRY(wait_abortion_times_out),
        TEST_ENTRY(bounded_waits_are_never_early),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
