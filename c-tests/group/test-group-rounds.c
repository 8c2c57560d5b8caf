/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: many rounds among n = 2, 3, 8 and 64 members, with
 * place_and_sync, with place then sync, and with several barriers placed
 * before a sync. Before it places a barrier, each member writes the number
 * of barriers it will have placed into a shared page; after a sync it
 * checks that every other member's number reached its own: no member gets
 * through a barrier that some member has not placed.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <sys/resource.h>

/* harness_shared[rank]: the barriers that rank has placed, or is placing */
static void announce(unsigned rank, uint64_t placed) {
        __atomic_store_n(&harness_shared[rank], placed, __ATOMIC_SEQ_CST);
}

/* After a sync of the `placed`-th barrier: every member got there. */
static void check_everyone_placed(BarrierGroup *g, uint64_t placed) {
        unsigned n = barrier_group_size(g);

        for (unsigned j = 0; j < n; j++) {
                uint64_t theirs = __atomic_load_n(&harness_shared[j], __ATOMIC_SEQ_CST);
                if (theirs < placed) {
                        harness_fail(__FILE__, __LINE__, "synced barrier %llu, but rank %u placed only %llu",
                                     (unsigned long long)placed, j, (unsigned long long)theirs);
                        return;
                }
        }
}

/* Rounds for a group of n: fewer for larger groups (each round wakes
 * every member). */
static unsigned rounds_for(unsigned n) {
        return n >= 64 ? 30 : 1200 / n;
}

static void rounds_place_and_sync(BarrierGroup *g, unsigned rank) {
        unsigned rounds = rounds_for(barrier_group_size(g));

        for (uint64_t r = 1; r <= rounds; r++) {
                announce(rank, r);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                check_everyone_placed(g, r);
        }
        CHECK(!barrier_group_is_aborted(g));
}

static void rounds_place_then_sync(BarrierGroup *g, unsigned rank) {
        unsigned rounds = rounds_for(barrier_group_size(g));

        for (uint64_t r = 1; r <= rounds; r++) {
                announce(rank, r);
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                check_everyone_placed(g, r);
                /* a second sync of the same barrier is satisfied already */
                CHECK_INT(barrier_group_sync(g, 0), 1);
        }
}

/* Each round, each member places 1 to 3 barriers (a number that differs
 * between members), then syncs: it waits for the others to reach its own
 * count, which they may already have passed. At the end everyone tops up
 * to the same count and syncs once more. */
static void rounds_several_per_sync(BarrierGroup *g, unsigned rank) {
        unsigned rounds = rounds_for(barrier_group_size(g));
        uint64_t placed = 0;

        for (unsigned r = 1; r <= rounds; r++) {
                unsigned k = 1 + (r + rank) % 3;

                for (unsigned i = 0; i < k; i++) {
                        announce(rank, ++placed);
                        CHECK_INT(barrier_group_place(g), 1);
                }
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                check_everyone_placed(g, placed);
        }
        while (placed < 3 * (uint64_t)rounds) {
                announce(rank, ++placed);
                CHECK_INT(barrier_group_place(g), 1);
        }
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        check_everyone_placed(g, placed);
}

static void run_sizes(group_fn fn) {
        static const unsigned sizes[] = { 2, 3, 8, 64 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                for (unsigned j = 0; j < BARRIER_GROUP_MAX; j++)
                        harness_shared[j] = 0;
                group_run(sizes[i], fn);
        }
}

TEST(place_and_sync_rounds) {
        run_sizes(rounds_place_and_sync);
}

TEST(place_then_sync_rounds) {
        run_sizes(rounds_place_then_sync);
}

TEST(several_places_per_sync) {
        run_sizes(rounds_several_per_sync);
}

/* Rank 0 syncs while the others, held back, have placed nothing. */
static void nothing_placed(BarrierGroup *g, unsigned rank) {
        unsigned n = barrier_group_size(g);

        if (rank == 0) {
                /* nothing placed: nothing to wait for, whatever the bound */
                CHECK_INT(barrier_group_sync(g, 0), 1);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                CHECK(!barrier_group_is_aborted(g));
                for (unsigned j = 1; j < n; j++)
                        group_post(j);
        } else {
                CHECK(group_await());
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        }
}

TEST(sync_with_nothing_placed) {
        group_run(3, nothing_placed);
}

/* The others place two barriers and say so; then rank 0's syncs of
 * either are satisfied already, and usec = 0 answers 1. */
static void already_satisfied(BarrierGroup *g, unsigned rank) {
        unsigned n = barrier_group_size(g);

        if (rank == 0) {
                for (unsigned j = 1; j < n; j++)
                        CHECK(group_await());
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_sync(g, 0), 1);
                CHECK_INT(barrier_group_place_and_sync(g, 0), 1);
                CHECK_INT(barrier_group_sync(g, 0), 1);
                /* a third barrier is not satisfied: the others are waiting
                 * for rank 0, not placing */
                CHECK_INT(barrier_group_place_and_sync(g, 0), -ETIMEDOUT);
                /* let them go: they are waiting for our second barrier */
                for (unsigned j = 1; j < n; j++)
                        group_post(j);
        } else {
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_place(g), 1);
                group_post(0);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
                CHECK(group_await());
                /* and the third one */
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        }
}

TEST(sync_zero_when_satisfied) {
        group_run(3, already_satisfied);
}

/* 64 members fit the usual default limit of descriptors, 1024 (4n + 1
 * = 257 in the creator before join), set here if it is higher. */
TEST(largest_group_fits_default_limit) {
        struct rlimit lim;

        CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0);
        if (lim.rlim_cur > 1024) {
                lim.rlim_cur = 1024;
                CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
        }
        group_run(BARRIER_GROUP_MAX, rounds_place_and_sync);
}

static const struct test tests[] = {
        TEST_ENTRY(place_and_sync_rounds),
        TEST_ENTRY(place_then_sync_rounds),
        TEST_ENTRY(several_places_per_sync),
        TEST_ENTRY(sync_with_nothing_placed),
        TEST_ENTRY(sync_zero_when_satisfied),
        TEST_ENTRY(largest_group_fits_default_limit),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
