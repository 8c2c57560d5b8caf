/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: argument errors and misuse, one row of GROUPS.md's table
 * after the other. Every failure has a defined result, leaves the output
 * pointer NULL where there is one, and closes no descriptor and leaks
 * none (counted in /proc/self/fd).
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

static const uint64_t timeouts[] = { 0, 1000, BARRIER_INFINITY };
#define NTIMEOUTS (sizeof(timeouts) / sizeof(timeouts[0]))

/* A value no call may leave in an output pointer. */
static BarrierGroup *const GARBAGE = (BarrierGroup *)&timeouts;

/* The descriptors open in this process, as a set. */
#define FD_LIMIT 4096
struct fd_set_snapshot {
        bool open[FD_LIMIT];
};

static void snapshot_fds(struct fd_set_snapshot *s) {
        for (int fd = 0; fd < FD_LIMIT; fd++)
                s->open[fd] = fcntl(fd, F_GETFD) >= 0;
}

/* The descriptors open now that were not in `before`, into `fds`; their
 * number. */
static int new_fds(const struct fd_set_snapshot *before, int *fds, int max) {
        int n = 0;

        for (int fd = 0; fd < FD_LIMIT; fd++)
                if (!before->open[fd] && fcntl(fd, F_GETFD) >= 0 && n < max)
                        fds[n++] = fd;
        return n;
}

static bool all_cloexec(const int *fds, int n) {
        for (int i = 0; i < n; i++)
                if (!(fcntl(fds[i], F_GETFD) & FD_CLOEXEC))
                        return false;
        return true;
}

static bool all_open(const int *fds, int n) {
        for (int i = 0; i < n; i++)
                if (fcntl(fds[i], F_GETFD) < 0)
                        return false;
        return true;
}

/* Every call that needs a joined handle refuses `g` with -EINVAL and
 * changes nothing that can be seen. */
static void check_refused(BarrierGroup *g) {
        struct pollfd pfd = { .fd = 12345, .events = 0x5a5a, .revents = 0x2525 };
        char buf[64];

        CHECK_INT(barrier_group_place(g), -EINVAL);
        for (size_t i = 0; i < NTIMEOUTS; i++) {
                CHECK_INT(barrier_group_sync(g, timeouts[i]), -EINVAL);
                CHECK_INT(barrier_group_place_and_sync(g, timeouts[i]), -EINVAL);
                CHECK_INT(barrier_group_wait_abortion(g, timeouts[i]), -EINVAL);
        }
        CHECK_INT(barrier_group_abort(g), -EINVAL);
        CHECK_INT(barrier_group_get_pollfds(g, &pfd, 1), -EINVAL);
        CHECK(pfd.fd == 12345 && pfd.events == 0x5a5a && pfd.revents == 0x2525);
        memset(buf, 'Q', sizeof(buf));
        CHECK_INT(barrier_group_export_env(g, buf, sizeof(buf)), -EINVAL);
        CHECK(buf[0] == 'Q' && buf[sizeof(buf) - 1] == 'Q');
        CHECK(!barrier_group_i_aborted(g));
        CHECK(!barrier_group_they_aborted(g));
        CHECK(!barrier_group_is_aborted(g));
        CHECK_INT(barrier_group_aborted_by(g), -1);
        CHECK_INT(barrier_group_rank(g), -1);
}

TEST(new_refuses_bad_arguments) {
        static const unsigned bad[] = { 0, 1, BARRIER_GROUP_MAX + 1, UINT_MAX };
        int base = count_fds();

        CHECK_INT(barrier_group_new(NULL, 2), -EINVAL);
        CHECK_INT(barrier_group_new(NULL, 0), -EINVAL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                BarrierGroup *g = GARBAGE;

                CHECK_INT(barrier_group_new(&g, bad[i]), -EINVAL);
                CHECK(g == NULL);
        }
        CHECK_INT(count_fds(), base);
}

TEST(new_at_the_bounds) {
        int base = count_fds();
        unsigned sizes[] = { 2, BARRIER_GROUP_MAX };

        for (size_t i = 0; i < 2; i++) {
                BarrierGroup *g = GARBAGE;

                CHECK_INT(barrier_group_new(&g, sizes[i]), 0);
                CHECK(g != NULL && g != GARBAGE);
                CHECK_INT(barrier_group_size(g), sizes[i]);
                CHECK_INT(count_fds(), base + 4 * (int)sizes[i] + 1);
                CHECK(barrier_group_free(g) == NULL);
                CHECK_INT(count_fds(), base);
        }
}

/* With too few descriptors allowed, new fails at each of its steps in
 * turn: -EMFILE, *g NULL, nothing left open. */
TEST(new_out_of_descriptors_leaks_nothing) {
        struct rlimit old, lim;
        int base = count_fds(), highest = -1;
        unsigned n = 3;
        bool succeeded = false;

        CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
        for (int fd = 0; fd < FD_LIMIT; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        highest = fd;
        /* descriptors are allocated lowest first, so the limit must lie
         * above every one open now */
        for (rlim_t extra = 0; extra <= 4 * n + 1 && !succeeded; extra++) {
                BarrierGroup *g = GARBAGE;
                int r;

                lim.rlim_cur = (rlim_t)highest + 1 + extra;
                lim.rlim_max = old.rlim_max;
                CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
                r = barrier_group_new(&g, n);
                CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
                if (r == 0) {
                        succeeded = true;
                        barrier_group_free(g);
                } else {
                        CHECK_INT(r, -EMFILE);
                        CHECK(g == NULL);
                }
                CHECK_INT(count_fds(), base);
        }
        CHECK(succeeded);
}

TEST(join_order_of_checks) {
        BarrierGroup *g = NULL;

        CHECK_INT(barrier_group_join(NULL, 0), -EINVAL);
        CHECK_INT(barrier_group_join(NULL, UINT_MAX), -EINVAL);
        CHECK_INT(barrier_group_new(&g, 3), 0);
        CHECK_INT(barrier_group_join(g, 3), -EINVAL);
        CHECK_INT(barrier_group_join(g, UINT_MAX), -EINVAL);
        /* the refusals did not join */
        CHECK_INT(barrier_group_rank(g), -1);
        CHECK_INT(barrier_group_join(g, 2), 0);
        CHECK_INT(barrier_group_rank(g), 2);
        CHECK_INT(barrier_group_join(g, 2), -EALREADY);
        CHECK_INT(barrier_group_join(g, 0), -EALREADY);
        /* -EALREADY is checked before the rank */
        CHECK_INT(barrier_group_join(g, 3), -EALREADY);
        CHECK_INT(barrier_group_join(g, UINT_MAX), -EALREADY);
        CHECK_INT(barrier_group_rank(g), 2);
        barrier_group_free(g);
}

TEST(free_and_freep) {
        int base = count_fds();
        BarrierGroup *g = NULL;

        CHECK(barrier_group_free(NULL) == NULL);
        barrier_group_freep(NULL);
        barrier_group_freep(&g);
        CHECK(g == NULL);
        CHECK_INT(count_fds(), base);

        /* never joined */
        CHECK_INT(barrier_group_new(&g, 4), 0);
        CHECK(barrier_group_free(g) == NULL);
        CHECK_INT(count_fds(), base);

        /* freep frees, and sets the variable to NULL */
        CHECK_INT(barrier_group_new(&g, 4), 0);
        CHECK_INT(barrier_group_join(g, 1), 0);
        CHECK_INT(count_fds(), base + 2 * 4 + 2);
        barrier_group_freep(&g);
        CHECK(g == NULL);
        CHECK_INT(count_fds(), base);
        barrier_group_freep(&g);
}

TEST(size_and_rank) {
        BarrierGroup *g = NULL;

        CHECK_INT(barrier_group_size(NULL), 0);
        CHECK_INT(barrier_group_rank(NULL), -1);
        CHECK_INT(barrier_group_new(&g, 5), 0);
        CHECK_INT(barrier_group_size(g), 5);
        CHECK_INT(barrier_group_rank(g), -1);
        CHECK_INT(barrier_group_join(g, 3), 0);
        CHECK_INT(barrier_group_size(g), 5);
        CHECK_INT(barrier_group_rank(g), 3);
        barrier_group_free(g);
}

TEST(every_call_on_null) {
        int base = count_fds();

        check_refused(NULL);
        CHECK_INT(barrier_group_export_env(NULL, NULL, 0), -EINVAL);
        CHECK_INT(barrier_group_get_pollfds(NULL, NULL, 0), -EINVAL);
        CHECK_INT(count_fds(), base);
}

TEST(every_call_before_join) {
        BarrierGroup *g = NULL;
        int base = count_fds();

        CHECK_INT(barrier_group_new(&g, 3), 0);
        check_refused(g);
        CHECK_INT(barrier_group_get_pollfds(g, NULL, 0), -EINVAL);
        CHECK_INT(count_fds(), base + 4 * 3 + 1);
        /* nothing of it stuck: the handle still joins and works */
        CHECK_INT(barrier_group_join(g, 0), 0);
        CHECK_INT(barrier_group_place(g), 1);
        CHECK(!barrier_group_is_aborted(g));
        barrier_group_free(g);
        CHECK_INT(count_fds(), base);
}

TEST(get_pollfds_buffers) {
        BarrierGroup *g = NULL;
        struct pollfd fds[2];

        CHECK_INT(barrier_group_new(&g, 2), 0);
        CHECK_INT(barrier_group_join(g, 0), 0);
        CHECK_INT(barrier_group_get_pollfds(g, NULL, 0), -EINVAL);
        CHECK_INT(barrier_group_get_pollfds(g, NULL, 1), -EINVAL);
        memset(fds, 0xab, sizeof(fds));
        CHECK_INT(barrier_group_get_pollfds(g, fds, 0), -ENOBUFS);
        for (size_t i = 0; i < sizeof(fds); i++)
                CHECK(((unsigned char *)fds)[i] == 0xab);
        CHECK_INT(barrier_group_get_pollfds(g, fds, 2), 1);
        CHECK(fds[0].fd >= 0 && fcntl(fds[0].fd, F_GETFD) >= 0);
        CHECK_INT(fds[0].events, POLLIN);
        /* only one entry was written */
        CHECK(((unsigned char *)&fds[1])[0] == 0xab);
        CHECK_INT(barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX), 1);
        barrier_group_free(g);
}

TEST(export_env_buffers) {
        struct fd_set_snapshot before;
        BarrierGroup *g = NULL;
        char buf[BARRIER_GROUP_ENV_MAX];
        int fds[4 * BARRIER_GROUP_MAX + 1], nfds, len;

        snapshot_fds(&before);
        CHECK_INT(barrier_group_new(&g, 3), 0);
        CHECK_INT(barrier_group_join(g, 1), 0);
        nfds = new_fds(&before, fds, (int)(sizeof(fds) / sizeof(fds[0])));
        CHECK_INT(nfds, 2 * 3 + 2);
        CHECK(all_cloexec(fds, nfds));

        CHECK_INT(barrier_group_export_env(g, NULL, 1), -EINVAL);
        CHECK_INT(barrier_group_export_env(g, NULL, sizeof(buf)), -EINVAL);
        CHECK_INT(barrier_group_export_env(g, NULL, 0), -ENOBUFS);
        memset(buf, 'Q', sizeof(buf));
        CHECK_INT(barrier_group_export_env(g, buf, 0), -ENOBUFS);
        CHECK_INT(barrier_group_export_env(g, buf, 1), -ENOBUFS);
        CHECK(buf[0] == 'Q');
        CHECK(all_cloexec(fds, nfds));

        len = barrier_group_export_env(g, buf, sizeof(buf));
        CHECK(len > (int)strlen("BARRIER_GROUP="));
        CHECK(strncmp(buf, "BARRIER_GROUP=", strlen("BARRIER_GROUP=")) == 0);
        CHECK_INT(strlen(buf), len);
        /* now the descriptors survive execve(): the check above can fail */
        for (int i = 0; i < nfds; i++)
                CHECK(!(fcntl(fds[i], F_GETFD) & FD_CLOEXEC));
        /* too small by one (no room for the NUL): nothing written */
        memset(buf, 'Q', sizeof(buf));
        CHECK_INT(barrier_group_export_env(g, buf, (size_t)len), -ENOBUFS);
        for (int i = 0; i < len + 1; i++)
                CHECK(buf[i] == 'Q');
        CHECK_INT(barrier_group_export_env(g, buf, (size_t)len + 1), len);
        CHECK_INT(buf[len], 0);
        barrier_group_free(g);
}

/* The descriptors of an exported member, and its variable's value split
 * into its fields: n, rank, flags, aborted_by, gone, memfd, epoll, own
 * pipe write end, the n doorbells, the other members' pipe read ends. */
struct exported {
        BarrierGroup *g;
        int fds[2 * 2 + 2];
        int nfds;
        char value[BARRIER_GROUP_ENV_MAX];
        char *field[16];
        int nfield;
};

enum { F_MEMFD = 5, F_EPOLL = 6, F_OWN_WRITE = 7, F_DOORBELL = 8, F_PIPE_READ = 10 };

/* A joined member of a group of 2, exported; its value parsed. */
static void export_member(struct exported *e) {
        struct fd_set_snapshot before;
        char buf[BARRIER_GROUP_ENV_MAX], *p;

        memset(e, 0, sizeof(*e));
        snapshot_fds(&before);
        CHECK_INT(barrier_group_new(&e->g, 2), 0);
        CHECK_INT(barrier_group_join(e->g, 0), 0);
        e->nfds = new_fds(&before, e->fds, 6);
        CHECK_INT(e->nfds, 6);
        CHECK(barrier_group_export_env(e->g, buf, sizeof(buf)) > 0);
        strcpy(e->value, buf + strlen("BARRIER_GROUP="));
        for (p = e->value; e->nfield < 16;) {
                e->field[e->nfield++] = p;
                p = strchr(p, ',');
                if (!p)
                        break;
                *p++ = 0;
        }
        CHECK_INT(e->nfield, 11);
}

/* Sets the variable to the exported value with field `i` replaced by
 * `with` (or unchanged if `with` is NULL). */
static void set_variable(const struct exported *e, int i, const char *with) {
        char v[BARRIER_GROUP_ENV_MAX + 64] = "";

        for (int k = 0; k < e->nfield; k++) {
                if (k)
                        strcat(v, ",");
                strcat(v, k == i && with ? with : e->field[k]);
        }
        CHECK(setenv("BARRIER_GROUP", v, 1) == 0);
}

/* import_env must fail with `err`, *g NULL, nothing closed or opened. */
static void check_import_fails(const struct exported *e, int err) {
        BarrierGroup *g = GARBAGE;
        int base = count_fds();

        CHECK_INT(barrier_group_import_env(&g), err);
        CHECK(g == NULL);
        CHECK_INT(count_fds(), base);
        if (e)
                CHECK(all_open(e->fds, e->nfds));
}

TEST(import_env_null_and_unset) {
        struct exported e;

        unsetenv("BARRIER_GROUP");
        check_import_fails(NULL, -ENOENT);
        CHECK_INT(barrier_group_import_env(NULL), -EINVAL);
        export_member(&e);
        set_variable(&e, -1, NULL);
        CHECK_INT(barrier_group_import_env(NULL), -EINVAL);
        CHECK(getenv("BARRIER_GROUP") != NULL);
        CHECK(all_open(e.fds, e.nfds));
        barrier_group_free(e.g);
}

TEST(import_env_malformed) {
        static const char *whole[] = {
                "", ",", "x", "2", "2,0,0,-1,0", " 2,0,0,-1,0,3,4,5,6,7,8", "2,0,0,-1,0,3,4,5,6,7,8,",
                "2,0,0,-1,0,3,4,5,6,7,8,9", "2,0,0,-1,0,3,4,5,6,7", "1,0,0,-1,0,3,4,5,6,7",
                "65,0,0,-1,0,3,4,5,6,7,8",
        };
        /* field, replacement */
        static const struct {
                int field;
                const char *with;
        } fields[] = {
                { 0, "3" },                  /* n does not match the count */
                { 0, "-1" },
                { 1, "2" },                  /* rank >= n */
                { 1, "-1" },
                { 2, "4" },                  /* unknown flags */
                { 2, "x" },
                { 3, "0" },                  /* aborted by itself */
                { 3, "2" },                  /* aborted by no member */
                { 4, "1" },                  /* itself gone */
                { 4, "4" },                  /* a rank >= n gone */
                { 4, "-1" },
                { 4, "99999999999999999999999" },
                { F_MEMFD, "-1" },           /* only the own write end may be -1 */
                { F_DOORBELL, "-2" },
                { F_DOORBELL, "99999999999" }, /* not an int */
                { F_DOORBELL, "+7" },
                { F_DOORBELL, "0x7" },
                { F_DOORBELL, "" },
        };
        struct exported e;
        char dup_field[16];

        export_member(&e);
        for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
                CHECK(setenv("BARRIER_GROUP", whole[i], 1) == 0);
                check_import_fails(&e, -EINVAL);
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                set_variable(&e, fields[i].field, fields[i].with);
                check_import_fails(&e, -EINVAL);
        }
        /* one descriptor named twice */
        snprintf(dup_field, sizeof(dup_field), "%s", e.field[F_DOORBELL]);
        set_variable(&e, F_DOORBELL + 1, dup_field);
        check_import_fails(&e, -EINVAL);
        /* the value itself was good */
        set_variable(&e, -1, NULL);
        {
                BarrierGroup *g = NULL;

                /* taking it over in this process would own the
                 * descriptors twice: only a fork may */
                fflush(NULL);
                pid_t pid = fork();
                if (pid == 0) {
                        /* e.g stays: it is not freed here, which would
                         * close what the variable names */
                        harness_side = "importer";
                        CHECK_INT(barrier_group_import_env(&g), 0);
                        CHECK(g != NULL);
                        CHECK_INT(barrier_group_rank(g), 0);
                        CHECK(getenv("BARRIER_GROUP") == NULL);
                        barrier_group_free(g);
                        _exit(harness_failures ? 1 : 0);
                }
                group_reap("importer", pid, false);
        }
        barrier_group_free(e.g);
}

TEST(import_env_bad_descriptors) {
        struct exported e;
        char num[16];
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int closed;
        static const int where[] = { F_MEMFD, F_EPOLL, F_OWN_WRITE, F_DOORBELL, F_DOORBELL + 1, F_PIPE_READ };

        CHECK(devnull >= 0 && efd >= 0);
        export_member(&e);
        /* a number that is free now (and after the group's) */
        closed = dup(0);
        CHECK(closed >= 0);
        close(closed);
        for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
                snprintf(num, sizeof(num), "%d", closed);
                set_variable(&e, where[i], num);
                check_import_fails(&e, -EBADF);
                snprintf(num, sizeof(num), "%d", devnull);
                set_variable(&e, where[i], num);
                check_import_fails(&e, -EBADF);
        }
        /* an eventfd where a pipe end, the memfd or the epoll instance
         * belongs; a pipe read end where a doorbell belongs */
        snprintf(num, sizeof(num), "%d", efd);
        set_variable(&e, F_MEMFD, num);
        check_import_fails(&e, -EBADF);
        set_variable(&e, F_EPOLL, num);
        check_import_fails(&e, -EBADF);
        set_variable(&e, F_PIPE_READ, num);
        check_import_fails(&e, -EBADF);
        set_variable(&e, F_OWN_WRITE, num);
        check_import_fails(&e, -EBADF);
        /* a pipe read end where a doorbell belongs and the other way
         * round */
        {
                char *doorbell = e.field[F_DOORBELL];

                e.field[F_DOORBELL] = e.field[F_PIPE_READ];
                e.field[F_PIPE_READ] = doorbell;
                set_variable(&e, -1, NULL);
                check_import_fails(&e, -EBADF);
                e.field[F_PIPE_READ] = e.field[F_DOORBELL];
                e.field[F_DOORBELL] = doorbell;
        }
        close(devnull);
        close(efd);
        barrier_group_free(e.g);
}

static const struct test tests[] = {
        TEST_ENTRY(new_refuses_bad_arguments),
        TEST_ENTRY(new_at_the_bounds),
        TEST_ENTRY(new_out_of_descriptors_leaks_nothing),
        TEST_ENTRY(join_order_of_checks),
        TEST_ENTRY(free_and_freep),
        TEST_ENTRY(size_and_rank),
        TEST_ENTRY(every_call_on_null),
        TEST_ENTRY(every_call_before_join),
        TEST_ENTRY(get_pollfds_buffers),
        TEST_ENTRY(export_env_buffers),
        TEST_ENTRY(import_env_null_and_unset),
        TEST_ENTRY(import_env_malformed),
        TEST_ENTRY(import_env_bad_descriptors),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
