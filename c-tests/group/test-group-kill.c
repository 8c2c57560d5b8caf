/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: a member killed with SIGKILL. The members that wait for
 * more than it placed return 0 and name it; what it placed before it died
 * still counts; nobody hangs, wherever it was killed.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <sched.h>
#include <signal.h>

/* The rank that the test kills, for every member to read. */
struct kill_case {
        unsigned victim;
};

/* Blocked members: one round together, then a second one that the victim
 * never places; the test sees them asleep in it, then kills the victim. */
static void blocked_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct kill_case *c = arg;

        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        if (rank == c->victim) {
                /* joined and synced once; now idle until killed */
                peer_stay_idle(p);
                return;
        }
        CHECK_INT(barrier_group_place(g), 1);
        peer_signal(p);
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
        CHECK(barrier_group_they_aborted(g));
        CHECK(!barrier_group_i_aborted(g));
        CHECK_INT(barrier_group_aborted_by(g), c->victim);
        /* the exit is final: later waits fail at once, place too */
        CHECK_INT(barrier_group_sync(g, 0), 0);
        CHECK_INT(barrier_group_place(g), 0);
}

TEST(kill_while_others_block) {
        for (unsigned n = 3; n <= 8; n++) {
                struct kill_case c = { .victim = n / 2 };
                struct group_members m;

                group_start(&m, n, blocked_member, &c);
                /* the victim synced its round and is idle */
                group_hear(&m, c.victim);
                for (unsigned r = 0; r < n; r++) {
                        if (r == c.victim)
                                continue;
                        group_hear(&m, r);
                        await_sleeping(m.pid[r]);
                }
                /* all still blocked, none answered */
                for (unsigned r = 0; r < n; r++)
                        if (r != c.victim)
                                CHECK(process_state(m.pid[r]) == 'S');
                group_kill_member(&m, c.victim);
                group_finish(&m);
        }
}

/* The victim places its barrier and blocks in sync itself, waiting for
 * the last rank, which has placed nothing yet. */
static void victim_blocks_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct kill_case *c = arg;
        unsigned last = barrier_group_size(g) - 1;

        if (rank == c->victim) {
                CHECK_INT(barrier_group_place(g), 1);
                peer_signal(p);
                /* the last rank places only after this process is gone */
                harness_fail(__FILE__, __LINE__, "sync returned %d before the kill",
                             barrier_group_sync(g, BARRIER_INFINITY));
                return;
        }
        if (rank == last)
                CHECK(peer_await(p));
        /* round 1: the victim placed it before it died, so it counts */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        CHECK(!barrier_group_they_aborted(g));
        /* round 2: the victim is gone with 1 */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        CHECK_INT(barrier_group_aborted_by(g), c->victim);
        CHECK(!barrier_group_i_aborted(g));
}

TEST(killed_while_blocked_in_sync) {
        for (unsigned n = 3; n <= 6; n++) {
                struct kill_case c = { .victim = n % 2 ? 0 : 1 };
                struct group_members m;

                group_start(&m, n, victim_blocks_member, &c);
                group_hear(&m, c.victim);
                await_sleeping(m.pid[c.victim]);
                group_kill_member(&m, c.victim);
                /* only now the last rank places, completing round 1 */
                group_tell(&m, n - 1);
                group_finish(&m);
        }
}

/* Half of the others block in sync before the victim places its barrier
 * (it wakes them); the other half start their sync only after the victim
 * is dead and reaped. Pending beats exit for both halves. */
static void placed_enough_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct kill_case *c = arg;

        if (rank == c->victim) {
                CHECK(peer_await(p));
                CHECK_INT(barrier_group_place(g), 1);
                /* killed after this, before any sync */
                peer_stay_idle(p);
                return;
        }
        CHECK_INT(barrier_group_place(g), 1);
        peer_signal(p);
        if (rank % 2)
                CHECK(peer_await(p));
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 1);
        CHECK(!barrier_group_they_aborted(g));
        CHECK_INT(barrier_group_aborted_by(g), -1);
        /* the next round needs more than the victim placed */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        CHECK_INT(barrier_group_aborted_by(g), c->victim);
}

TEST(killed_right_after_placing_enough) {
        for (unsigned n = 3; n <= 8; n++) {
                struct kill_case c = { .victim = n - 2 };
                struct group_members m;

                group_start(&m, n, placed_enough_member, &c);
                for (unsigned r = 0; r < n; r++) {
                        if (r == c.victim)
                                continue;
                        group_hear(&m, r);
                        if (r % 2 == 0)
                                await_sleeping(m.pid[r]);
                }
                group_tell(&m, c.victim);
                /* it placed and reported idle */
                group_hear(&m, c.victim);
                group_kill_member(&m, c.victim);
                for (unsigned r = 1; r < n; r += 2)
                        if (r != c.victim)
                                group_tell(&m, r);
                group_finish(&m);
        }
}

/* Shared page layout for the loop test. */
enum {
        SLOT_ATTEMPTED = 0,     /* the victim's place about to be made (1-based) */
        SLOT_PLACED = 1,        /* places of the victim that returned 1 */
        SLOT_SYNCED = 2,        /* + rank: rounds a survivor synced */
        SLOT_ENDED = 2 + BARRIER_GROUP_MAX, /* + rank: 1 if its last answer was 0 */
};

#define LOOP_ROUNDS 40

/* A small fixed-seed generator (xorshift64), so that "random" points are
 * the same in every run. */
static uint64_t next_random(uint64_t *state) {
        uint64_t x = *state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        return x;
}

static void loop_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct kill_case *c = arg;

        for (uint64_t round = 1; round <= LOOP_ROUNDS; round++) {
                int r;

                if (rank == c->victim) {
                        harness_shared[SLOT_ATTEMPTED] = round;
                        __atomic_thread_fence(__ATOMIC_SEQ_CST);
                }
                r = barrier_group_place_and_sync(g, BARRIER_INFINITY);
                if (rank == c->victim) {
                        CHECK_INT(r, 1);
                        harness_shared[SLOT_PLACED] = round;
                        continue;
                }
                if (r == 1) {
                        harness_shared[SLOT_SYNCED + rank] = round;
                        continue;
                }
                CHECK_INT(r, 0);
                harness_shared[SLOT_ENDED + rank] = 1;
                CHECK_INT(barrier_group_aborted_by(g), c->victim);
                CHECK(!barrier_group_i_aborted(g));
                break;
        }
        if (rank == c->victim)
                /* all rounds done before the kill came: wait for it */
                peer_stay_idle(p);
}

TEST(killed_at_random_points_of_a_loop) {
        uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);

        for (unsigned trial = 0; trial < 16; trial++) {
                unsigned n = 3 + (unsigned)(next_random(&seed) % 4);
                struct kill_case c = { .victim = (unsigned)(next_random(&seed) % n) };
                uint64_t target = 1 + next_random(&seed) % LOOP_ROUNDS;
                unsigned spin = (unsigned)(next_random(&seed) % 20000);
                uint64_t attempted, placed;
                struct group_members m;

                for (unsigned i = 0; i < 2 + 2 * BARRIER_GROUP_MAX; i++)
                        harness_shared[i] = 0;
                group_start(&m, n, loop_member, &c);
                while (harness_shared[SLOT_ATTEMPTED] < target)
                        sched_yield();
                for (volatile unsigned i = 0; i < spin; i++)
                        ;
                group_kill_member(&m, c.victim);
                attempted = harness_shared[SLOT_ATTEMPTED];
                placed = harness_shared[SLOT_PLACED];
                group_finish(&m);
                /* Every survivor synced exactly the rounds the victim
                 * placed, then got 0 (unless the victim placed them all);
                 * the victim placed at least what it saw return, at most
                 * what it attempted. */
                for (unsigned r = 0; r < n; r++) {
                        uint64_t synced = harness_shared[SLOT_SYNCED + r];

                        if (r == c.victim)
                                continue;
                        CHECK(synced >= placed && synced <= attempted);
                        CHECK_INT(synced, harness_shared[SLOT_SYNCED + (c.victim + 1) % n]);
                        CHECK_INT(harness_shared[SLOT_ENDED + r], synced < LOOP_ROUNDS);
                }
                if (harness_failures)
                        fprintf(stderr, "trial %u: n %u, victim %u, target %llu, spin %u, placed %llu..%llu\n",
                                trial, n, c.victim, (unsigned long long)target, spin,
                                (unsigned long long)placed, (unsigned long long)attempted);
        }
}

int main(int argc, char **argv) {
        static const struct test tests[] = {
                TEST_ENTRY(kill_while_others_block),
                TEST_ENTRY(killed_while_blocked_in_sync),
                TEST_ENTRY(killed_right_after_placing_enough),
                TEST_ENTRY(killed_at_random_points_of_a_loop),
        };
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
