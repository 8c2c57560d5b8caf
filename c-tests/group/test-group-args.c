/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups: argument errors and misuse, as the pages of the
 * functions answer them, one after the other. Every failure has a defined result, leaves the output
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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
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

/* A rank belongs to the first handle that joins under it, in whichever
 * process: of two processes joining under one rank at once, one has it and
 * the other gets -EBUSY with its handle unchanged (it can join under
 * another rank); the rank stays taken after its member exits. */
TEST(join_a_taken_rank) {
        for (int round = 0; round < 50; round++) {
                BarrierGroup *g = NULL;
                int start[2];
                pid_t racers[2];

                CHECK_INT(barrier_group_new(&g, 4), 0);
                CHECK(pipe2(start, O_CLOEXEC) == 0);
                fflush(NULL);
                for (int k = 0; k < 2; k++) {
                        racers[k] = fork();
                        CHECK(racers[k] >= 0);
                        if (racers[k] == 0) {
                                char c;
                                int r;

                                /* released together, when the test closes
                                 * its write end */
                                close(start[1]);
                                while (read(start[0], &c, 1) > 0)
                                        ;
                                r = barrier_group_join(g, 1);
                                if (r == 0)
                                        harness_shared[k] = 1;
                                else if (r == -EBUSY && barrier_group_rank(g) == -1 &&
                                         barrier_group_join(g, 2) == 0)
                                        harness_shared[k] = 2;
                                else
                                        harness_shared[k] = 3;
                                _exit(0);
                        }
                }
                close(start[0]);
                close(start[1]);
                reap_process("racer 0", racers[0], false);
                reap_process("racer 1", racers[1], false);
                CHECK_INT(harness_shared[0] + harness_shared[1], 3);
                CHECK(harness_shared[0] != 3 && harness_shared[1] != 3);
                /* both ranks are taken for good, the others are free */
                CHECK_INT(barrier_group_join(g, 1), -EBUSY);
                CHECK_INT(barrier_group_join(g, 2), -EBUSY);
                CHECK_INT(barrier_group_rank(g), -1);
                CHECK_INT(barrier_group_join(g, 0), 0);
                barrier_group_free(g);
                harness_shared[0] = harness_shared[1] = 0;
        }
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
 * into its fields: rank, flags, aborted_by, gone, memfd, whether it holds
 * its pipe's write end. The other descriptors are found at the numbers
 * the shared page records. */
struct exported {
        BarrierGroup *g;
        int fds[2 * 2 + 2];
        int nfds;
        char value[BARRIER_GROUP_ENV_MAX];
        char *field[16];
        int nfield;
};

enum { F_RANK, F_FLAGS, F_ABORTED_BY, F_GONE, F_MEMFD, F_WRITE_END, F_COUNT };

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
        CHECK_INT(e->nfield, F_COUNT);
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

/* In a child (taking the member over here would own its descriptors
 * twice): `change` runs, then import_env must answer `err`; with 0 the
 * member is checked and freed. */
static void import_in_child(const struct exported *e, void (*change)(const struct exported *e), int err) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                BarrierGroup *g = NULL;

                harness_side = "importer";
                if (change)
                        change(e);
                if (err) {
                        /* nothing closed or opened: counted, since the
                         * change may have closed one of e's */
                        check_import_fails(NULL, err);
                        _exit(harness_failures ? 1 : 0);
                }
                CHECK_INT(barrier_group_import_env(&g), 0);
                CHECK(g != NULL);
                CHECK_INT(barrier_group_rank(g), 0);
                CHECK_INT((int)barrier_group_size(g), 2);
                CHECK(getenv("BARRIER_GROUP") == NULL);
                barrier_group_free(g);
                _exit(harness_failures ? 1 : 0);
        }
        reap_process("importer", pid, false);
}

TEST(import_env_malformed) {
        static const char *whole[] = {
                "", ",", "x", "0", "0,0,-1,0,7", " 0,0,-1,0,7,1", "0,0,-1,0,7,1,", "0,0,-1,0,7,1,1", "0,0,-1,,7,1",
        };
        /* field, replacement */
        static const struct {
                int field;
                const char *with;
        } fields[] = {
                { F_RANK, "2" },                     /* rank >= n */
                { F_RANK, "64" },
                { F_RANK, "-1" },
                { F_FLAGS, "4" },                    /* unknown flags */
                { F_FLAGS, "2" },                    /* "they aborted" without a rank */
                { F_FLAGS, "x" },
                { F_ABORTED_BY, "0" },               /* aborted by itself */
                { F_ABORTED_BY, "2" },               /* aborted by no member */
                { F_ABORTED_BY, "-2" },
                { F_GONE, "1" },                     /* itself gone */
                { F_GONE, "4" },                     /* a rank >= n gone */
                { F_GONE, "-1" },
                { F_GONE, "99999999999999999999999" },
                { F_MEMFD, "-1" },
                { F_MEMFD, "2147483648" },           /* not an int */
                { F_MEMFD, "+7" },
                { F_MEMFD, "0x7" },
                { F_MEMFD, "" },
                { F_WRITE_END, "2" },
                { F_WRITE_END, "-1" },
        };
        struct exported e;

        export_member(&e);
        for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
                CHECK(setenv("BARRIER_GROUP", whole[i], 1) == 0);
                check_import_fails(&e, -EINVAL);
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                set_variable(&e, fields[i].field, fields[i].with);
                check_import_fails(&e, -EINVAL);
        }
        /* the value itself was good */
        set_variable(&e, -1, NULL);
        import_in_child(&e, NULL, 0);
        barrier_group_free(e.g);
}

/* The member's descriptor whose /proc/self/fd name starts with `prefix`
 * and whose access mode is `mode` (-1: any). */
static int member_fd(const struct exported *e, const char *prefix, int mode) {
        for (int i = 0; i < e->nfds; i++) {
                char path[64], name[64];
                ssize_t len;

                snprintf(path, sizeof(path), "/proc/self/fd/%d", e->fds[i]);
                len = readlink(path, name, sizeof(name) - 1);
                if (len < 0)
                        continue;
                name[len] = 0;
                if (strncmp(name, prefix, strlen(prefix)) == 0 &&
                    (mode < 0 || (fcntl(e->fds[i], F_GETFL) & O_ACCMODE) == mode))
                        return e->fds[i];
        }
        CHECK(!"no such descriptor");
        return -1;
}

/* Changes, each made in the importing child only. */
static void close_doorbell(const struct exported *e) {
        close(member_fd(e, "anon_inode:[eventfd]", -1));
}
static void close_read_end(const struct exported *e) {
        close(member_fd(e, "pipe:", O_RDONLY));
}
static void close_epoll(const struct exported *e) {
        close(member_fd(e, "anon_inode:[eventpoll]", -1));
}
/* dup2 of a fresh descriptor onto `fd`: the same number, another object. */
static void replace(int fd, int with) {
        CHECK(with >= 0 && dup2(with, fd) == fd);
        close(with);
}
static void eventfd_for_read_end(const struct exported *e) {
        replace(member_fd(e, "pipe:", O_RDONLY), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}
static void pipe_for_doorbell(const struct exported *e) {
        int p[2];

        CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        replace(member_fd(e, "anon_inode:[eventfd]", -1), p[0]);
        close(p[1]);
}
static void read_end_for_write_end(const struct exported *e) {
        int p[2];

        CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        replace(member_fd(e, "pipe:", O_WRONLY), p[0]);
        close(p[1]);
}
static void blocking_doorbell(const struct exported *e) {
        replace(member_fd(e, "anon_inode:[eventfd]", -1), eventfd(0, EFD_CLOEXEC));
}
static void another_epoll(const struct exported *e) {
        replace(member_fd(e, "anon_inode:[eventpoll]", -1), epoll_create1(EPOLL_CLOEXEC));
}

TEST(import_env_bad_descriptors) {
        static void (*const changes[])(const struct exported *e) = {
                close_doorbell,    close_read_end,         close_epoll,       eventfd_for_read_end,
                pipe_for_doorbell, read_end_for_write_end, blocking_doorbell, another_epoll,
        };
        struct exported e;
        char num[16];
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int unsealed = memfd_create("unsealed", MFD_CLOEXEC);
        int foreign = memfd_create("foreign", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        int closed;

        CHECK(devnull >= 0 && efd >= 0 && unsealed >= 0 && foreign >= 0);
        export_member(&e);
        /* the memfd field: a number that is free now, /dev/null, an
         * eventfd, a memfd of the right size that is not sealed, and a
         * sealed one of the right size without a group in it */
        closed = dup(0);
        CHECK(closed >= 0);
        close(closed);
        CHECK(ftruncate(unsealed, 4096) == 0 && ftruncate(foreign, 4096) == 0);
        {
                /* the unsealed one holds a copy of the group's page, so
                 * only its missing seals tell it apart */
                char page[4096];
                int memfd = member_fd(&e, "/memfd:", -1);

                CHECK(pread(memfd, page, sizeof(page), 0) == (ssize_t)sizeof(page));
                CHECK(pwrite(unsealed, page, sizeof(page), 0) == (ssize_t)sizeof(page));
        }
        CHECK(fcntl(foreign, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
        const int memfds[] = { closed, devnull, efd, unsealed, foreign };
        for (size_t i = 0; i < sizeof(memfds) / sizeof(memfds[0]); i++) {
                snprintf(num, sizeof(num), "%d", memfds[i]);
                set_variable(&e, F_MEMFD, num);
                check_import_fails(&e, -EBADF);
        }
        /* the descriptors the shared page names: closed, or of the wrong
         * kind, in the importing process */
        set_variable(&e, -1, NULL);
        for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
                import_in_child(&e, changes[i], -EBADF);
        /* without its write end, the member's own pipe is not looked at */
        set_variable(&e, F_WRITE_END, "0");
        import_in_child(&e, read_end_for_write_end, 0);
        close(devnull);
        close(efd);
        close(unsealed);
        close(foreign);
        barrier_group_free(e.g);
}

static const struct test tests[] = {
        TEST_ENTRY(new_refuses_bad_arguments),
        TEST_ENTRY(new_at_the_bounds),
        TEST_ENTRY(new_out_of_descriptors_leaks_nothing),
        TEST_ENTRY(join_order_of_checks),
        TEST_ENTRY(join_a_taken_rank),
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
