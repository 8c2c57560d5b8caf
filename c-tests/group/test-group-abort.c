/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: aborts. Once a member's abort returned, every wait that
 * any member starts fails, even with its counts satisfied; what abort,
 * place, wait_abortion and the predicates answer at each step, as observed
 * by each member; and an abort wakes members asleep in unbounded syncs.
 * Every member stays alive (group_rendezvous) until all are done with
 * their checks, so that no exit can stand in for the abort under test.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>

/* The predicates and aborted_by of `g`. */
static void check_state(int line, const BarrierGroup *g, bool i, bool they, int by) {
        if (barrier_group_i_aborted(g) != i || barrier_group_they_aborted(g) != they ||
            barrier_group_is_aborted(g) != (i || they) || barrier_group_aborted_by(g) != by)
                harness_fail(__FILE__, line, "i_aborted %d they_aborted %d is_aborted %d aborted_by %d, not %d %d %d %d",
                             barrier_group_i_aborted(g), barrier_group_they_aborted(g),
                             barrier_group_is_aborted(g), barrier_group_aborted_by(g), i, they, i || they, by);
}
#define CHECK_STATE(g, i, they, by) check_state(__LINE__, (g), (i), (they), (by))

/* Everyone placed one barrier, so every sync of it is satisfied; then
 * rank 1 aborts, and each wait started afterwards fails. */
static void supersedes(BarrierGroup *g, unsigned rank) {
        CHECK_INT(barrier_group_place(g), 1);
        if (rank == 1) {
                CHECK(group_await());
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                CHECK_STATE(g, true, false, -1);
                group_post(0);
                group_post(2);
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
                CHECK_STATE(g, true, false, -1);
        } else {
                group_post(1);
                CHECK(group_await());
                /* the counts are there, the abort wins */
                CHECK_STATE(g, false, false, -1);
                CHECK_INT(barrier_group_sync(g, rank == 0 ? 0 : BARRIER_INFINITY), 0);
                CHECK_STATE(g, false, true, 1);
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                CHECK_INT(barrier_group_place(g), 0);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                CHECK_STATE(g, false, true, 1);
        }
        group_rendezvous(3);
}

TEST(abort_supersedes_satisfied_counts) {
        group_run(3, supersedes);
}

/* Return values of abort and place, before and after observing. */
static void abort_answers(BarrierGroup *g, unsigned rank) {
        if (rank == 0) {
                CHECK_STATE(g, false, false, -1);
                CHECK_INT(barrier_group_abort(g), 1);
                CHECK_STATE(g, true, false, -1);
                /* repeated, with nothing observed */
                CHECK_INT(barrier_group_abort(g), 1);
                CHECK_STATE(g, true, false, -1);
                /* aborted itself: place fails */
                CHECK_INT(barrier_group_place(g), 0);
                group_post(1);
        } else {
                CHECK(group_await());
                /* rank 0 aborted, but this member has not observed it */
                CHECK_STATE(g, false, false, -1);
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_STATE(g, false, false, -1);
                /* observing it: the wait fails */
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_STATE(g, false, true, 0);
                CHECK_INT(barrier_group_place(g), 0);
                /* abort after observing another's: 0, and aborted all the
                 * same */
                CHECK_INT(barrier_group_abort(g), 0);
                CHECK_STATE(g, true, true, 0);
                CHECK_INT(barrier_group_abort(g), 0);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 0);
        }
        group_rendezvous(2);
}

TEST(abort_and_place_as_observed) {
        group_run(2, abort_answers);
}

/* Abort after observing another member's exit: 0. */
static void abort_after_exit(BarrierGroup *g, unsigned rank) {
        if (rank == 1)
                return;
        CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
        CHECK_STATE(g, false, true, 1);
        CHECK_INT(barrier_group_abort(g), 0);
        CHECK_STATE(g, true, true, 1);
}

TEST(abort_after_an_exit_returns_zero) {
        group_run(2, abort_after_exit);
}

/* Ranks 3 then 1 abort before rank 0 looks: it saw both in one step and
 * names the lower. A later abort (rank 2) changes nothing. */
static void lowest_in_one_step(BarrierGroup *g, unsigned rank) {
        switch (rank) {
        case 0:
                group_post(3);
                CHECK(group_await());
                CHECK_STATE(g, false, false, -1);
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_STATE(g, false, true, 1);
                group_post(2);
                CHECK(group_await());
                CHECK_INT(barrier_group_wait_abortion(g, 0), 1);
                CHECK_STATE(g, false, true, 1);
                break;
        case 1:
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                group_post(0);
                break;
        case 2:
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                group_post(0);
                break;
        case 3:
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                group_post(1);
                break;
        }
        group_rendezvous(4);
}

TEST(aborted_by_names_the_lowest_seen_at_once) {
        group_run(4, lowest_in_one_step);
}

/* Rank 2 aborts and rank 0 sees it; then rank 1 aborts: rank 0 still
 * names rank 2, the first it saw. */
static void first_seen_stays(BarrierGroup *g, unsigned rank) {
        switch (rank) {
        case 0:
                group_post(2);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                CHECK_STATE(g, false, true, 2);
                group_post(1);
                CHECK(group_await());
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                CHECK_STATE(g, false, true, 2);
                break;
        default:
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                if (rank == 1)
                        group_post(0);
        }
        group_rendezvous(3);
}

TEST(aborted_by_keeps_the_first) {
        group_run(3, first_seen_stays);
}

/* wait_abortion: 1 when another aborts (rank 0 asleep in it first); our
 * own abort does not end it; 0 once another aborts after we did. */
static void abortion_waits(BarrierGroup *g, unsigned rank) {
        if (rank == 0) {
                group_post(1);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                CHECK_STATE(g, false, true, 1);
                /* seen already: at once again */
                CHECK_INT(barrier_group_wait_abortion(g, 0), 1);
        } else if (rank == 1) {
                CHECK(group_await());
                await_sleeping(group_pids[0]);
                CHECK_INT(barrier_group_abort(g), 1);
        } else {
                /* rank 2 aborts first; rank 1's abort comes later */
                CHECK_INT(barrier_group_abort(g), 1);
                CHECK_INT(barrier_group_wait_abortion(g, 0), -ETIMEDOUT);
                CHECK_INT(barrier_group_wait_abortion(g, 1000), -ETIMEDOUT);
                CHECK_STATE(g, true, false, -1);
                group_post(0);
                CHECK(group_await());
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 0);
                CHECK_STATE(g, true, true, 1);
        }
        group_rendezvous(barrier_group_size(g));
}

static void abortion_waits_ordered(BarrierGroup *g, unsigned rank) {
        /* rank 2 is done with its own abort before rank 0 lets rank 1 go;
         * rank 0 then tells rank 2 to look */
        if (rank == 0) {
                CHECK(group_await());
                group_post(1);
                CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
                /* rank 2 aborted first, but rank 0 may have seen both in
                 * one step: the lowest it saw, or rank 2 */
                CHECK(barrier_group_aborted_by(g) == 1 || barrier_group_aborted_by(g) == 2);
                CHECK_STATE(g, false, true, barrier_group_aborted_by(g));
                group_post(2);
                group_rendezvous(3);
                return;
        }
        if (rank == 1) {
                CHECK(group_await());
                CHECK_INT(barrier_group_abort(g), 1);
                group_rendezvous(3);
                return;
        }
        abortion_waits(g, rank);
}

TEST(wait_abortion_and_own_abort) {
        group_run(2, abortion_waits);
        group_run(3, abortion_waits_ordered);
}

/* Ranks 1 and 2 sleep in unbounded syncs (rank 3 has not placed); rank
 * 0's abort wakes them, while rank 0 and 3 stay alive. */
static void abort_wakes(BarrierGroup *g, unsigned rank) {
        switch (rank) {
        case 0:
                CHECK(group_await());
                CHECK(group_await());
                await_sleeping(group_pids[1]);
                await_sleeping(group_pids[2]);
                CHECK_INT(barrier_group_abort(g), 1);
                CHECK_STATE(g, true, false, -1);
                break;
        case 1:
        case 2:
                group_post(0);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                CHECK_STATE(g, false, true, 0);
                break;
        case 3:
                break;
        }
        group_rendezvous(4);
        if (rank == 3) {
                /* rank 3 never looked; it places, and its sync fails */
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
                CHECK_STATE(g, false, true, 0);
        }
}

TEST(abort_wakes_sleeping_syncs) {
        group_run(4, abort_wakes);
}

static const struct test tests[] = {
        TEST_ENTRY(abort_supersedes_satisfied_counts),
        TEST_ENTRY(abort_and_place_as_observed),
        TEST_ENTRY(abort_after_an_exit_returns_zero),
        TEST_ENTRY(aborted_by_names_the_lowest_seen_at_once),
        TEST_ENTRY(aborted_by_keeps_the_first),
        TEST_ENTRY(wait_abortion_and_own_abort),
        TEST_ENTRY(abort_wakes_sleeping_syncs),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
