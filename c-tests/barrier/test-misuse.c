/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Misuse that test-lifecycle.c leaves out: every waiting entry point,
 * bounded and not, on each kind of unusable object; objects whose "no
 * descriptor" value is not -1; descriptors closed behind the library's
 * back; calls after a fatal error; predicates and calls on states no
 * correct program produces; and timeouts so large that a careless
 * conversion would overflow. Against systemd, all of it is skipped: it
 * asserts on misuse, and most tests need an extension.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHERE_IT_DIFFERS " (libbarrier(3): Differences from systemd)"

static const uint64_t timeouts[] = { 0, 1000, BARRIER_INFINITY };
#define NTIMEOUTS (sizeof(timeouts) / sizeof(timeouts[0]))

static bool same(const Barrier *a, const Barrier *b) {
        return memcmp(a, b, sizeof(*a)) == 0;
}

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

static bool is_open(int fd) {
        return fd >= 0 && fcntl(fd, F_GETFD) >= 0;
}

/*
 * Every wait on `b`: the boolean ones must answer false, the bounded ones
 * `bounded` for every timeout (none may block: the object cannot wait),
 * and none may change the object.
 */
static void check_waits_refused(Barrier *b, int bounded) {
        Barrier before = *b;

        CHECK(!barrier_wait_next(b));
        CHECK(!barrier_wait_abortion(b));
        CHECK(!barrier_sync_next(b));
        CHECK(!barrier_sync(b));
        for (size_t i = 0; i < NTIMEOUTS; i++) {
                CHECK_INT(barrier_wait_next_timeout(b, timeouts[i]), bounded);
                CHECK_INT(barrier_wait_abortion_timeout(b, timeouts[i]), bounded);
                CHECK_INT(barrier_sync_next_timeout(b, timeouts[i]), bounded);
                CHECK_INT(barrier_sync_timeout(b, timeouts[i]), bounded);
        }
        CHECK(same(b, &before));
}

/* The predicates, checked against the raw value. */
static void check_predicates(const Barrier *b) {
        int64_t v = b->barriers;
        bool i = v == BARRIER_I_ABORTED || v == BARRIER_WE_ABORTED;
        bool they = v == BARRIER_THEY_ABORTED || v == BARRIER_WE_ABORTED;

        if (barrier_i_aborted(b) != i || barrier_they_aborted(b) != they || barrier_we_aborted(b) != (i && they) ||
            barrier_is_aborted(b) != (i || they))
                harness_fail(__FILE__, __LINE__, "predicates wrong for barriers = %lld", (long long)v);
}

TEST(every_wait_before_set_role) {
        int base = count_fds();
        Barrier b = BARRIER_NULL;
        struct pollfd fds[2];

        CHECK_INT(barrier_create(&b), 0);
        check_waits_refused(&b, -EINVAL);
        CHECK_INT(barrier_get_pollfds(&b, fds, 2), -EINVAL);
        /* place_and_sync places (as place alone may), then its sync refuses */
        CHECK(!barrier_place_and_sync(&b));
        CHECK_INT(b.barriers, 1);
        check_waits_refused(&b, -EINVAL);
        CHECK_INT(count_fds(), base + 4);
        /* the object works once the role is set: here nobody else holds
         * the pipe's write end, which is the other side having exited */
        barrier_set_role(&b, BARRIER_PARENT);
        CHECK_INT(count_fds(), base + 3);
        CHECK_INT(barrier_get_pollfds(&b, fds, 2), 2);
        CHECK_INT(barrier_wait_abortion_timeout(&b, BARRIER_INFINITY), 1);
        CHECK_INT(b.barriers, BARRIER_THEY_ABORTED);
        barrier_destroy(&b);
        CHECK_INT(count_fds(), base);
}

TEST(abort_before_set_role) {
        int base = count_fds();
        Barrier b = BARRIER_NULL, before;

        CHECK_INT(barrier_create(&b), 0);
        CHECK(barrier_abort(&b));
        CHECK_INT(b.barriers, BARRIER_I_ABORTED);
        CHECK(!barrier_place(&b));
        before = b;
        /* refused either as aborted (0) or as used before set_role
         * (-EINVAL); never a success, never a wait */
        CHECK(!barrier_wait_next(&b));
        CHECK(!barrier_wait_abortion(&b));
        CHECK(!barrier_sync_next(&b));
        CHECK(!barrier_sync(&b));
        CHECK(!barrier_place_and_sync(&b));
        for (size_t i = 0; i < NTIMEOUTS; i++) {
                int r[4] = {
                        barrier_wait_next_timeout(&b, timeouts[i]),
                        barrier_wait_abortion_timeout(&b, timeouts[i]),
                        barrier_sync_next_timeout(&b, timeouts[i]),
                        barrier_sync_timeout(&b, timeouts[i]),
                };
                for (int k = 0; k < 4; k++)
                        if (r[k] != 0 && r[k] != -EINVAL)
                                harness_fail(__FILE__, __LINE__, "bounded wait %d (timeout %llu) answered %d", k,
                                             (unsigned long long)timeouts[i], r[k]);
        }
        CHECK(same(&b, &before));
        barrier_set_role(&b, BARRIER_CHILD);
        CHECK_INT(count_fds(), base + 3);
        CHECK_INT(b.barriers, BARRIER_I_ABORTED);
        barrier_destroy(&b);
        CHECK_INT(count_fds(), base);
}

/* Recent systemd spells "no descriptor" -EBADF; any negative value must
 * be taken as "none" and never passed to close(). */
TEST(negative_descriptors_other_than_minus_one) {
        static const int nones[] = { -EBADF, -2, INT_MIN };
        int base = count_fds();

        for (size_t i = 0; i < sizeof(nones) / sizeof(nones[0]); i++) {
                int n = nones[i];
                Barrier b = { n, n, { n, n }, 0 }, before = b;
                struct pollfd fds[2];
                char env[BARRIER_ENV_MAX];

                barrier_set_role(&b, BARRIER_PARENT);
                barrier_set_role(&b, BARRIER_CHILD);
                CHECK(same(&b, &before));
                check_waits_refused(&b, -EBADF);
                CHECK_INT(barrier_get_pollfds(&b, fds, 2), -EBADF);
                CHECK_INT(barrier_export_env(&b, env, sizeof(env)), -EBADF);
                check_predicates(&b);
                CHECK(!barrier_is_aborted(&b));
                /* a write to no descriptor is a fatal error */
                CHECK(!barrier_place(&b));
                CHECK(barrier_we_aborted(&b));
                CHECK(!barrier_abort(&b));
                CHECK(barrier_destroy(&b) == NULL);
                CHECK(is_null(&b));
                CHECK_INT(count_fds(), base);
        }
        /* a mix of open and "none": destroy closes exactly the open ones */
        {
                Barrier b = BARRIER_NULL;
                int them;

                CHECK_INT(barrier_create(&b), 0);
                them = b.them;
                b.them = -EBADF;
                barrier_set_role(&b, BARRIER_PARENT);
                CHECK_INT(count_fds(), base + 3);
                /* nothing to wait on: a fatal error, not a crash or a hang */
                CHECK_INT(barrier_wait_next_timeout(&b, BARRIER_INFINITY), -EBADF);
                CHECK(barrier_we_aborted(&b));
                CHECK_INT(b.pipe[0], -1);
                CHECK(is_open(them));
                barrier_destroy(&b);
                CHECK(is_null(&b));
                CHECK(is_open(them));
                close(them);
                CHECK_INT(count_fds(), base);
        }
}

/* After a fatal error nothing waits, nothing succeeds, and the object
 * still destroys cleanly. */
static void check_after_fatal_error(Barrier *b) {
        struct pollfd fds[2];
        char env[BARRIER_ENV_MAX];
        Barrier before;

        CHECK(barrier_we_aborted(b));
        check_predicates(b);
        CHECK(b->pipe[0] < 0 && b->pipe[1] < 0);
        before = *b;
        barrier_set_role(b, BARRIER_PARENT);
        barrier_set_role(b, BARRIER_CHILD);
        CHECK(same(b, &before));
        CHECK(!barrier_place(b));
        CHECK(!barrier_abort(b));
        CHECK(!barrier_place_and_sync(b));
        check_waits_refused(b, 0);
        CHECK_INT(barrier_get_pollfds(b, fds, 2), -EBADF);
        CHECK_INT(barrier_export_env(b, env, sizeof(env)), -EBADF);
        CHECK(same(b, &before));
}

/*
 * A descriptor of the object closed behind the library's back: the next
 * call that uses it fails with -EBADF (or false), the object is aborted
 * on both sides, and the other end is released: its wait ends with 0
 * instead of blocking.
 */
enum victim { THEM, ME, PIPE };

static void closed_behind_its_back(enum victim victim) {
        int base = count_fds();
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        int fd = -1;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(barrier_place(&c));
        CHECK_INT(barrier_wait_next_timeout(&p, 0), 1);
        switch (victim) {
        case THEM:
                fd = p.them;
                close(fd);
                CHECK_INT(barrier_wait_next_timeout(&p, BARRIER_INFINITY), -EBADF);
                break;
        case ME:
                fd = p.me;
                close(fd);
                CHECK(!barrier_place(&p));
                break;
        case PIPE:
                fd = p.pipe[0];
                close(fd);
                CHECK_INT(barrier_wait_next_timeout(&p, BARRIER_INFINITY), -EBADF);
                break;
        }
        check_after_fatal_error(&p);
        /* the other end sees the closed pipe as an exit, at once */
        CHECK_INT(barrier_wait_next_timeout(&c, BARRIER_INFINITY), 0);
        CHECK(barrier_they_aborted(&c) && !barrier_i_aborted(&c));
        CHECK_INT(barrier_wait_abortion_timeout(&c, BARRIER_INFINITY), 1);
        barrier_destroy(&c);
        /* destroy closes what is left; the closed one is not reopened */
        barrier_destroy(&p);
        CHECK(is_null(&p));
        CHECK(!is_open(fd));
        CHECK_INT(count_fds(), base);
}

TEST(their_eventfd_closed_behind_its_back) {
        closed_behind_its_back(THEM);
}

TEST(our_eventfd_closed_behind_its_back) {
        closed_behind_its_back(ME);
}

TEST(pipe_end_closed_behind_its_back) {
        closed_behind_its_back(PIPE);
}

/* States no correct program produces: the predicates still say exactly
 * what the raw value is. */
TEST(predicates_on_every_kind_of_value) {
        Barrier b = BARRIER_NULL;
        uint64_t x = 0x9e3779b97f4a7c15u;

        for (int64_t d = 0; d < 16; d++) {
                b.barriers = INT64_MIN + d;
                check_predicates(&b);
                b.barriers = INT64_MAX - d;
                check_predicates(&b);
                b.barriers = d - 8;
                check_predicates(&b);
        }
        for (int i = 0; i < 100000; i++) {
                /* xorshift64 */
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(&b.barriers, &x, sizeof(x));
                check_predicates(&b);
        }
        CHECK(barrier_is_aborted(&(Barrier){ -1, -1, { -1, -1 }, BARRIER_WE_ABORTED }));
        CHECK(!barrier_is_aborted(&(Barrier){ -1, -1, { -1, -1 }, BARRIER_BIAS }));
}

/*
 * Every call on a working pair whose state was overwritten with values
 * no correct program produces: each answers within its documented range,
 * never blocks with a timeout of 0, keeps the descriptors, and the pair
 * still aborts and destroys cleanly.
 */
TEST(calls_on_garbage_states) {
        static const int64_t garbage[] = {
                INT64_MIN, INT64_MIN + 4, INT64_MIN + 5, INT64_MAX, INT64_MAX - 1, -1000000, 1000000,
        };
        int base = count_fds();

        for (size_t g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
                Barrier p = BARRIER_NULL, c = BARRIER_NULL, fds_before;
                struct pollfd fds[2];
                int r[4];

                CHECK_INT(barrier_create_pair(&p, &c), 0);
                p.barriers = garbage[g];
                fds_before = p;
                CHECK(barrier_place(&c));
                r[0] = barrier_wait_next_timeout(&p, 0);
                r[1] = barrier_sync_next_timeout(&p, 0);
                r[2] = barrier_sync_timeout(&p, 0);
                r[3] = barrier_wait_abortion_timeout(&p, 0);
                for (int k = 0; k < 4; k++)
                        if (r[k] != 1 && r[k] != 0 && r[k] != -ETIMEDOUT)
                                harness_fail(__FILE__, __LINE__, "barriers = %lld: bounded wait %d answered %d",
                                             (long long)garbage[g], k, r[k]);
                check_predicates(&p);
                (void)barrier_place(&p);
                check_predicates(&p);
                CHECK(p.me == fds_before.me && p.them == fds_before.them && p.pipe[0] == fds_before.pipe[0] &&
                      p.pipe[1] == fds_before.pipe[1]);
                CHECK_INT(barrier_get_pollfds(&p, fds, 2), 2);
                /* the counter saturates: counting never lands in the
                 * reserved aborted values from a counter above them */
                if (garbage[g] >= INT64_MAX - 1)
                        CHECK(!barrier_is_aborted(&p));
                /* an abort that says it was sent reaches the other end */
                if (barrier_abort(&p))
                        CHECK_INT(barrier_wait_abortion_timeout(&c, 0), 1);
                CHECK(barrier_i_aborted(&p));
                barrier_destroy(&p);
                barrier_destroy(&c);
        }
        CHECK_INT(count_fds(), base);
}

/*
 * Timeouts just short of BARRIER_INFINITY, and where microseconds turned
 * into nanoseconds would overflow, wait like BARRIER_INFINITY: the waiter
 * must fall asleep in its wait and then see the barrier placed. A
 * deadline that wrapped around lies in the past, and 2^61 microseconds
 * are 0 nanoseconds modulo 2^64: either would end the wait without
 * sleeping, which is what this catches (not a wait cut short later: that
 * would need a timed assertion).
 */
static uint64_t huge_timeout;

static void huge_timeout_waiter(Barrier *b, struct peer *p) {
        peer_send_pid(p);
        CHECK_INT(barrier_wait_next_timeout(b, huge_timeout), 1);
        CHECK_INT(b->barriers, -1);
}

static void huge_timeout_placer(Barrier *b, struct peer *p) {
        pid_t waiter = peer_recv_pid(p);
        char s;

        /* asleep in its wait, or gone (it did not wait at all) */
        while ((s = process_state(waiter)) != 'S' && s != 'Z' && s != '?')
                sched_yield();
        CHECK(s == 'S');
        CHECK(barrier_place(b));
}

TEST(huge_timeouts_wait) {
        static const uint64_t huge[] = {
                BARRIER_INFINITY - 1,
                UINT64_MAX / 1000 + 1,
                UINT64_MAX / 1000000 + 1,
                (uint64_t)INT64_MAX,
                (uint64_t)INT64_MAX + 1,
                UINT64_C(1) << 61,
                UINT64_C(3) << 61,
        };

        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
                huge_timeout = huge[i];
                run_pair(huge_timeout_waiter, huge_timeout_placer);
        }
}

static const struct test tests[] = {
        TEST_ENTRY_NOT_SYSTEMD(every_wait_before_set_role,
                               "a wait before barrier_set_role blocks there; barrier_get_pollfds is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(abort_before_set_role, "bounded waits are an extension"),
        TEST_ENTRY_NOT_SYSTEMD(negative_descriptors_other_than_minus_one,
                               "an object without descriptors is an assertion there" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(their_eventfd_closed_behind_its_back,
                               "barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(our_eventfd_closed_behind_its_back,
                               "barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(pipe_end_closed_behind_its_back, "barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(predicates_on_every_kind_of_value,
                               "the predicates are inline in systemd's header: only the shim's copy would be tested"),
        TEST_ENTRY_NOT_SYSTEMD(calls_on_garbage_states, "barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(huge_timeouts_wait, "bounded waits are an extension"),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
