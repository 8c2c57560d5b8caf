/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * barrier_create_pair(): two ends in one process, used from two threads.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define ROUNDS 10000

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

static int cloexec_nonblock(int fd) {
        return (fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK);
}

TEST(pair_descriptors) {
        int base = count_fds();
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK_INT(count_fds(), base + 6);
        CHECK(p.pipe[0] >= 0 && p.pipe[1] == -1);
        CHECK(c.pipe[0] == -1 && c.pipe[1] >= 0);
        CHECK(p.me >= 0 && p.them >= 0 && c.me >= 0 && c.them >= 0);
        /* no descriptor is shared: each end owns its own */
        CHECK(p.me != c.them && p.them != c.me && p.me != c.me && p.them != c.them);
        CHECK(cloexec_nonblock(p.me) && cloexec_nonblock(p.them) && cloexec_nonblock(p.pipe[0]));
        CHECK(cloexec_nonblock(c.me) && cloexec_nonblock(c.them) && cloexec_nonblock(c.pipe[1]));
        CHECK_INT(p.barriers, 0);
        CHECK_INT(c.barriers, 0);
        barrier_destroy(&c);
        CHECK_INT(count_fds(), base + 3);
        barrier_destroy(&p);
        CHECK_INT(count_fds(), base);
}

TEST(pair_bad_arguments) {
        Barrier p = BARRIER_NULL;

        CHECK_INT(barrier_create_pair(NULL, &p), -EINVAL);
        CHECK_INT(barrier_create_pair(&p, NULL), -EINVAL);
        CHECK_INT(barrier_create_pair(&p, &p), -EINVAL);
        CHECK(is_null(&p));
}

TEST(pair_fails_cleanly_under_fd_limit) {
        struct rlimit saved, rl;
        int base = count_fds();

        CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
        /* The lowest free descriptors are used first; above the highest one
         * in use, every slot is free. Leave room for 0 to 5 new ones. */
        for (int room = 0; room < 6; room++) {
                Barrier p = { 100, 101, { 102, 103 }, 5 }, c = { 100, 101, { 102, 103 }, 5 };
                int highest = -1, r;

                for (int fd = 0; fd < 1024; fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                highest = fd;
                /* fill the gaps below the highest descriptor so that the
                 * limit counts exactly `room` free slots */
                int fillers[1024], nfill = 0;
                for (int fd = 0; fd < highest; fd++)
                        if (fcntl(fd, F_GETFD) < 0)
                                fillers[nfill++] = dup2(0, fd);
                rl = saved;
                rl.rlim_cur = (rlim_t)(highest + 1 + room);
                CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
                r = barrier_create_pair(&p, &c);
                CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
                for (int i = 0; i < nfill; i++)
                        close(fillers[i]);
                CHECK_INT(r, -EMFILE);
                CHECK(is_null(&p));
                CHECK(is_null(&c));
                CHECK_INT(count_fds(), base);
        }
}

struct thread_arg {
        Barrier *b;
        int failures;
};

static void *ping(void *data) {
        struct thread_arg *a = data;

        for (int i = 0; i < ROUNDS; i++) {
                if (!barrier_place(a->b) || !barrier_sync(a->b))
                        a->failures++;
        }
        return NULL;
}

static void *pong(void *data) {
        struct thread_arg *a = data;

        for (int i = 0; i < ROUNDS; i++) {
                if (!barrier_wait_next(a->b) || !barrier_place(a->b))
                        a->failures++;
        }
        return NULL;
}

TEST(threads_ping_pong) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        struct thread_arg a = { &p, 0 }, b = { &c, 0 };
        pthread_t t1, t2;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(pthread_create(&t1, NULL, ping, &a) == 0);
        CHECK(pthread_create(&t2, NULL, pong, &b) == 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        CHECK_INT(a.failures, 0);
        CHECK_INT(b.failures, 0);
        CHECK_INT(p.barriers, 0);
        CHECK_INT(c.barriers, 0);
        barrier_destroy(&p);
        barrier_destroy(&c);
}

static void *place_and_sync_rounds(void *data) {
        struct thread_arg *a = data;

        for (int i = 0; i < ROUNDS; i++)
                if (!barrier_place_and_sync(a->b))
                        a->failures++;
        return NULL;
}

TEST(threads_place_and_sync) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        struct thread_arg a = { &p, 0 }, b = { &c, 0 };
        pthread_t t1, t2;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(pthread_create(&t1, NULL, place_and_sync_rounds, &a) == 0);
        CHECK(pthread_create(&t2, NULL, place_and_sync_rounds, &b) == 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        CHECK_INT(a.failures, 0);
        CHECK_INT(b.failures, 0);
        barrier_destroy(&p);
        barrier_destroy(&c);
}

struct destroy_arg {
        Barrier *b;
        int ready[2];
};

static void *destroy_after_signal(void *data) {
        struct destroy_arg *a = data;
        char x;

        while (read(a->ready[0], &x, 1) < 0 && errno == EINTR)
                ;
        barrier_destroy(a->b);
        return NULL;
}

static void destroy_ends_wait(bool destroy_child) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        Barrier *waiter = destroy_child ? &p : &c, *gone = destroy_child ? &c : &p;
        struct destroy_arg a = { gone, { -1, -1 } };
        pthread_t t;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(pipe(a.ready) == 0);
        CHECK(pthread_create(&t, NULL, destroy_after_signal, &a) == 0);
        CHECK(barrier_place(waiter));
        CHECK(write(a.ready[1], "x", 1) == 1);
        CHECK(!barrier_sync(waiter));
        CHECK(barrier_they_aborted(waiter));
        CHECK(!barrier_i_aborted(waiter));
        pthread_join(t, NULL);
        CHECK(is_null(gone));
        barrier_destroy(waiter);
        close(a.ready[0]);
        close(a.ready[1]);
}

TEST(destroying_child_end_ends_parent_wait) {
        destroy_ends_wait(true);
}

TEST(destroying_parent_end_ends_child_wait) {
        destroy_ends_wait(false);
}

TEST(pending_barriers_beat_destroy) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(barrier_place(&c));
        CHECK(barrier_place(&c));
        barrier_destroy(&c);
        CHECK(barrier_wait_next(&p));
        CHECK_INT(p.barriers, -2);
        CHECK(barrier_place(&p));
        CHECK(barrier_place(&p));
        CHECK(barrier_sync(&p));
        CHECK(barrier_place(&p));
        CHECK(!barrier_sync(&p));
        barrier_destroy(&p);
}

TEST(pair_idle_peer_blocks) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(barrier_place(&p));
        CHECK_BLOCKS(&p, sync);
        CHECK_INT(barrier_wait_next_timeout(&c, 0), 1);
        CHECK_BLOCKS(&p, sync);
        CHECK(barrier_place(&c));
        CHECK_INT(barrier_sync_timeout(&p, 0), 1);
        barrier_destroy(&p);
        barrier_destroy(&c);
}

/*
 * A barrier placed just before the other end goes away must never be lost
 * to the hang-up. The two happen on another thread while this one polls
 * without blocking, over and over, to give the window between them every
 * chance to fall inside one of our poll() calls.
 */
#define EXIT_RACE_ROUNDS 30000

struct exit_race {
        int go[2];
        int done[2];
        Barrier end;
};

static void *place_then_vanish(void *data) {
        struct exit_race *r = data;
        char x;

        for (;;) {
                ssize_t n = read(r->go[0], &x, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || x == 'q')
                        return NULL;
                if (!barrier_place(&r->end))
                        x = 'f';
                barrier_destroy(&r->end);
                if (write(r->done[1], &x, 1) != 1)
                        return NULL;
        }
}

TEST(placed_barrier_survives_racing_exit) {
        struct exit_race r;
        pthread_t t;
        int lost = 0, place_failed = 0;

        CHECK(pipe(r.go) == 0 && pipe(r.done) == 0);
        CHECK(pthread_create(&t, NULL, place_then_vanish, &r) == 0);
        for (int i = 0; i < EXIT_RACE_ROUNDS; i++) {
                Barrier mine = BARRIER_NULL;
                int res;
                char x;

                CHECK_INT(barrier_create_pair(&mine, &r.end), 0);
                CHECK(write(r.go[1], "g", 1) == 1);
                while ((res = barrier_wait_next_timeout(&mine, 0)) == -ETIMEDOUT)
                        ;
                if (res != 1)
                        lost++;
                CHECK(read(r.done[0], &x, 1) == 1);
                if (x == 'f')
                        place_failed++;
                /* with their barrier consumed, the exit shows once we are
                 * ahead of them */
                CHECK(barrier_place(&mine));
                CHECK(barrier_place(&mine));
                CHECK(!barrier_sync(&mine));
                barrier_destroy(&mine);
        }
        CHECK(write(r.go[1], "q", 1) == 1);
        pthread_join(t, NULL);
        CHECK_INT(lost, 0);
        CHECK_INT(place_failed, 0);
        close(r.go[0]);
        close(r.go[1]);
        close(r.done[0]);
        close(r.done[1]);
}

/* Against systemd every test is skipped: each makes its barrier with
 * barrier_create_pair. */
static const struct test tests[] = {
        TEST_ENTRY_NOT_SYSTEMD(placed_barrier_survives_racing_exit,
                               "barrier_create_pair and bounded waits are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(pair_descriptors, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(pair_bad_arguments, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(pair_fails_cleanly_under_fd_limit, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(threads_ping_pong, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(threads_place_and_sync, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(destroying_child_end_ends_parent_wait, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(destroying_parent_end_ends_child_wait, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(pending_barriers_beat_destroy, "barrier_create_pair is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(pair_idle_peer_blocks, "barrier_create_pair and bounded waits are extensions"),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
