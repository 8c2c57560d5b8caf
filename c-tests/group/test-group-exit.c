/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: members that go with barriers pending. A member that
 * placed k barriers and then returns (freeing its handle), exits without
 * freeing it, _exit()s, frees it and lives on, or is killed: the others'
 * syncs up to k still succeed (pending beats exit), the next one fails and
 * names it. wait_abortion ends at once on an exit, after which the group
 * counts as aborted; a member that dies before it joins counts as exited;
 * and the launcher pattern sees exits.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A bound that is never reached: a watchdog's, not a test's. */
#define LONG_USEC UINT64_C(60000000)

enum leaving { RETURNS, EXITS, UNDERSCORE_EXITS, FREES_AND_STAYS, IS_KILLED };

static enum leaving how;
static unsigned pending;

static void check_seen_gone(const BarrierGroup *g, int rank) {
        CHECK(barrier_group_they_aborted(g));
        CHECK(!barrier_group_i_aborted(g));
        CHECK(barrier_group_is_aborted(g));
        CHECK_INT(barrier_group_aborted_by(g), rank);
}

/* Rank 2 places `pending` barriers, then goes as `how` says; ranks 0 and 1
 * sync only once it is gone (a zombie: its descriptors are closed). */
static void leaves_with_pending(BarrierGroup *g, unsigned rank) {
        if (rank == 2) {
                for (unsigned i = 0; i < pending; i++)
                        CHECK_INT(barrier_group_place(g), 1);
                fflush(NULL);
                switch (how) {
                case RETURNS:
                        group_post(0);
                        group_post(1);
                        return;
                case EXITS:
                        group_post(0);
                        group_post(1);
                        exit(harness_failures ? 1 : 0);
                case UNDERSCORE_EXITS:
                        group_post(0);
                        group_post(1);
                        _exit(harness_failures ? 1 : 0);
                case FREES_AND_STAYS:
                        CHECK(barrier_group_free(g) == NULL);
                        group_post(0);
                        group_post(1);
                        group_rendezvous(3);
                        fflush(NULL);
                        /* the handle is gone: the harness must not free it */
                        _exit(harness_failures ? 1 : 0);
                case IS_KILLED:
                        group_post(0);
                        /* rank 0 kills it here */
                        group_await();
                        harness_fail(__FILE__, __LINE__, "still alive");
                        _exit(1);
                }
                return;
        }
        /* from rank 2; when it is to be killed, rank 1 hears from rank 0
         * instead, after the kill */
        CHECK(group_await());
        if (how == IS_KILLED && rank == 0) {
                CHECK(kill(group_pids[2], SIGKILL) == 0);
                group_post(1);
        }
        if (how != FREES_AND_STAYS)
                await_gone(group_pids[2]);
        for (unsigned i = 0; i < pending; i++)
                CHECK_INT(barrier_group_place_and_sync(g, rank == 0 ? BARRIER_INFINITY : LONG_USEC), 1);
        CHECK(!barrier_group_is_aborted(g));
        /* the next needs one more from rank 2 */
        CHECK_INT(barrier_group_place_and_sync(g, rank == 0 ? BARRIER_INFINITY : LONG_USEC), 0);
        check_seen_gone(g, 2);
        CHECK_INT(barrier_group_sync(g, 0), 0);
        CHECK_INT(barrier_group_place(g), 0);
        group_rendezvous(how == FREES_AND_STAYS ? 3 : 2);
}

static void run_leaving(enum leaving h) {
        static const unsigned counts[] = { 0, 1, 3 };

        how = h;
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
                pending = counts[i];
                group_run_flags(3, leaves_with_pending, h == IS_KILLED ? UINT64_C(1) << 2 : 0);
        }
}

TEST(pending_beats_return) {
        run_leaving(RETURNS);
}

TEST(pending_beats_exit) {
        run_leaving(EXITS);
}

TEST(pending_beats_underscore_exit) {
        run_leaving(UNDERSCORE_EXITS);
}

TEST(pending_beats_free) {
        run_leaving(FREES_AND_STAYS);
}

TEST(pending_beats_sigkill) {
        run_leaving(IS_KILLED);
}

/* Rank 1 places several barriers, waits until rank 0 sleeps in
 * wait_abortion, and goes. The wait ends; afterwards rank 0 counts the
 * group as aborted, even for a barrier rank 1 placed. */
static void abortion_ends_on_exit(BarrierGroup *g, unsigned rank) {
        if (rank == 1) {
                for (int i = 0; i < 5; i++)
                        CHECK_INT(barrier_group_place(g), 1);
                CHECK(group_await());
                await_sleeping(group_pids[0]);
                return;
        }
        group_post(1);
        CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
        check_seen_gone(g, 1);
        CHECK_INT(barrier_group_wait_abortion(g, 0), 1);
        /* one barrier, which rank 1 placed: the group is aborted all the
         * same */
        CHECK_INT(barrier_group_place(g), 0);
        CHECK_INT(barrier_group_sync(g, 0), 0);
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
        check_seen_gone(g, 1);
        CHECK_INT(barrier_group_abort(g), 0);
        CHECK(barrier_group_i_aborted(g));
}

TEST(wait_abortion_ends_on_exit) {
        group_run(2, abortion_ends_on_exit);
}

/* Bounded, too: the exit ends it before its bound. */
static void bounded_abortion_ends_on_exit(BarrierGroup *g, unsigned rank) {
        if (rank == 1)
                return;
        CHECK_INT(barrier_group_wait_abortion(g, LONG_USEC), 1);
        check_seen_gone(g, 1);
}

TEST(bounded_wait_abortion_ends_on_exit) {
        group_run(2, bounded_abortion_ends_on_exit);
}

/* One process per member, made by hand: rank 2's process dies without
 * joining; ranks 0 and 1 see it as exited once both joined. */
TEST(death_before_join_counts_as_exit) {
        BarrierGroup *g = NULL;
        pid_t member, dead;

        CHECK_INT(barrier_group_new(&g, 3), 0);
        fflush(NULL);
        dead = fork();
        if (dead == 0)
                _exit(0);
        member = fork();
        if (member == 0) {
                harness_side = "rank 1";
                CHECK_INT(barrier_group_join(g, 1), 0);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                check_seen_gone(g, 2);
                barrier_group_free(g);
                fflush(NULL);
                _exit(harness_failures ? 1 : 0);
        }
        /* gone before anyone joined */
        reap_process("rank 2", dead, false);
        CHECK_INT(barrier_group_join(g, 0), 0);
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        check_seen_gone(g, 2);
        CHECK_INT(barrier_group_wait_abortion(g, 0), 1);
        /* rank 0 stays a member until rank 1 is done */
        reap_process("rank 1", member, false);
        barrier_group_free(g);
}

/* The launcher forks all three and frees its handle; rank 2 places one
 * barrier and returns. */
static void launched(BarrierGroup *g, unsigned rank) {
        CHECK_INT(barrier_group_place(g), 1);
        if (rank == 2)
                return;
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        check_seen_gone(g, 2);
        group_rendezvous(2);
}

TEST(launcher_sees_exits) {
        group_launch(3, launched, 0);
}

/* Launched, with the pending rule on both sides of the exit, for a larger
 * group: every rank r > 0 places r barriers and returns; rank 0 syncs
 * until the first one it needs more from. */
static void staircase(BarrierGroup *g, unsigned rank) {
        if (rank > 0) {
                for (unsigned i = 0; i < rank; i++)
                        CHECK_INT(barrier_group_place(g), 1);
                return;
        }
        /* rank 1 placed one barrier, and everyone else more */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        check_seen_gone(g, 1);
}

TEST(launcher_staircase_of_exits) {
        group_launch(8, staircase, 0);
}

static const struct test tests[] = {
        TEST_ENTRY(pending_beats_return),
        TEST_ENTRY(pending_beats_exit),
        TEST_ENTRY(pending_beats_underscore_exit),
        TEST_ENTRY(pending_beats_free),
        TEST_ENTRY(pending_beats_sigkill),
        TEST_ENTRY(wait_abortion_ends_on_exit),
        TEST_ENTRY(bounded_wait_abortion_ends_on_exit),
        TEST_ENTRY(death_before_join_counts_as_exit),
        TEST_ENTRY(launcher_sees_exits),
        TEST_ENTRY(launcher_staircase_of_exits),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
