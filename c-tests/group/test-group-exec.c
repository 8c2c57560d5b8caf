/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups across execve(): barrier_group_export_env() and
 * barrier_group_import_env(). A member re-executes this program, which
 * takes the membership over and keeps syncing with the others; what the
 * member knew crosses too, and its exit is still seen. The import checks
 * the memfd the variable names and, on failure, closes nothing (what the
 * descriptors of the shared page may be is tested in test-group-args).
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EXEC_ARG "--exec-member"
#define VAR "BARRIER_GROUP"
/* The variable's fields: rank, flags, aborted by, gone mask, memfd, and
 * whether the member holds its pipe's write end. Its other descriptors
 * are at the numbers the shared page records. */
#define FIELDS 6
#define F_MEMFD 4
#define FIELDS_MAX 16

static bool cloexec(int fd) {
        return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

/* Splits `NAME=a,b,...` (or just the value) into numbers; how many. */
static int parse_fields(const char *s, long long *out, int max) {
        const char *eq = strchr(s, '=');
        int n = 0;

        s = eq ? eq + 1 : s;
        while (*s && n < max) {
                char *end;

                out[n++] = strtoll(s, &end, 10);
                if (*end != ',')
                        break;
                s = end + 1;
        }
        return n;
}

/* Formats fields back into `VAR=a,b,...`. */
static void format_fields(char *buf, size_t size, const long long *f, int n) {
        size_t at = (size_t)snprintf(buf, size, "%s=", VAR);

        for (int i = 0; i < n && at < size; i++)
                at += (size_t)snprintf(buf + at, size - at, i ? ",%lld" : "%lld", f[i]);
}

/* Descriptors open when snapshot_fds() was last called (numbers below
 * 1024; a checker such as valgrind may hold some of its own). */
static uint64_t snapshot[1024 / 64];

static bool in_snapshot(int fd) {
        return fd < 1024 && (snapshot[fd / 64] >> (fd % 64) & 1);
}

static void snapshot_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;

        memset(snapshot, 0, sizeof(snapshot));
        CHECK(d != NULL);
        while (d && (e = readdir(d))) {
                int fd = atoi(e->d_name);

                /* not the directory's own descriptor, closed next */
                if (e->d_name[0] != '.' && fd < 1024 && fd != dirfd(d))
                        snapshot[fd / 64] |= UINT64_C(1) << (fd % 64);
        }
        if (d)
                closedir(d);
}

/* The descriptors above 2 open now that are not in the snapshot, into
 * `fds` (at most `max`); how many. */
static int new_fds(int *fds, int max) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        CHECK(d != NULL);
        while (d && (e = readdir(d))) {
                int fd = atoi(e->d_name);

                /* below 1024: a checker such as valgrind keeps its own
                 * descriptors above */
                if (e->d_name[0] != '.' && fd > 2 && fd < 1024 && fd != dirfd(d) && !in_snapshot(fd) && n < max)
                        fds[n++] = fd;
        }
        if (d)
                closedir(d);
        return n;
}

/* Whether every open descriptor above 2 that is not in the snapshot is
 * close-on-exec. */
static bool all_cloexec(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        bool ok = true;

        if (!d)
                return false;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);

                if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && !in_snapshot(fd) && !cloexec(fd)) {
                        fprintf(stderr, "descriptor %d is not close-on-exec\n", fd);
                        ok = false;
                }
        }
        closedir(d);
        return ok;
}

/* Makes what this program inherited (beyond the standard descriptors)
 * close-on-exec, so that only what a test hands over crosses execve(),
 * and "every descriptor is close-on-exec" is the library's doing. */
static void inherited_cloexec(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);

                if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d))
                        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        closedir(d);
}

/* What the exec'd member was, for the checks after execve(). */
struct exec_case {
        /* rank 1 aborts first; the exec'd member saw it before execve() */
        bool saw_abort;
};

/* After execve(): argv is EXEC_ARG, control read end, write end, and
 * whether the member saw an abort. */
static int exec_member_main(int argc, char **argv) {
        long long f[FIELDS_MAX];
        const char *value = getenv(VAR);
        BarrierGroup *g = (BarrierGroup *)&f;
        struct peer p;
        bool saw_abort;
        int nf = 0;

        harness_side = "exec'd member";
        if (argc != 5) {
                harness_fail(__FILE__, __LINE__, "%d arguments", argc);
                return 1;
        }
        p.rd = atoi(argv[2]);
        p.wr = atoi(argv[3]);
        saw_abort = argv[4][0] == '1';
        CHECK(value != NULL);
        if (value)
                nf = parse_fields(value, f, FIELDS_MAX);
        CHECK_INT(nf, FIELDS);
        CHECK_INT(f[0], 0);
        /* Inherited: the member's descriptors (the memfd among them), the
         * control channel and the standard ones; none close-on-exec yet. */
        memset(snapshot, 0, sizeof(snapshot));
        for (int fd = 0; fd <= 2; fd++)
                snapshot[0] |= UINT64_C(1) << fd;
        snapshot[p.rd / 64] |= UINT64_C(1) << (p.rd % 64);
        snapshot[p.wr / 64] |= UINT64_C(1) << (p.wr % 64);
        {
                int held[2 * BARRIER_GROUP_MAX + 2], nheld = new_fds(held, 2 * BARRIER_GROUP_MAX + 2);
                bool memfd_held = false;

                for (int i = 0; i < nheld; i++) {
                        CHECK(!cloexec(held[i]));
                        memfd_held |= held[i] == f[F_MEMFD];
                }
                CHECK(memfd_held);

                CHECK_INT(barrier_group_import_env(&g), 0);
                CHECK(getenv(VAR) == NULL);
                CHECK(g != NULL);
                CHECK_INT(barrier_group_rank(g), 0);
                CHECK(barrier_group_size(g) >= 2);
                /* exactly what a member holds, all close-on-exec again */
                CHECK_INT(nheld, 2 * (int)barrier_group_size(g) + 2);
                CHECK(all_cloexec());
        }
        if (saw_abort) {
                CHECK(barrier_group_they_aborted(g));
                CHECK(!barrier_group_i_aborted(g));
                CHECK_INT(barrier_group_aborted_by(g), 1);
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_INT(barrier_group_place(g), 0);
        } else {
                CHECK(!barrier_group_is_aborted(g));
                /* round 2, with the members that did not exec */
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        }
        /* done; the exit (freeing the handle) is what the others see next */
        group_member_exit(g);
        return 1;
}

static void exec_case_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        const struct exec_case *c = arg;

        if (rank == 0) {
                static char env[BARRIER_GROUP_ENV_MAX];
                char rd[16], wr[16];
                char *args[] = { "test-group-exec", EXEC_ARG, rd, wr, c->saw_abort ? "1" : "0", NULL };
                char *envp[] = { env, NULL };
                int len;

                if (c->saw_abort) {
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                        CHECK_INT(barrier_group_aborted_by(g), 1);
                } else {
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
                }
                CHECK(all_cloexec());
                len = barrier_group_export_env(g, env, sizeof(env));
                CHECK(len > 0 && (size_t)len == strlen(env));
                snprintf(rd, sizeof(rd), "%d", p->rd);
                snprintf(wr, sizeof(wr), "%d", p->wr);
                CHECK(fcntl(p->rd, F_SETFD, 0) == 0);
                CHECK(fcntl(p->wr, F_SETFD, 0) == 0);
                if (harness_failures)
                        _exit(1);
                fflush(NULL);
                execve("/proc/self/exe", args, envp);
                harness_fail(__FILE__, __LINE__, "execve: %s", strerror(errno));
                _exit(1);
        }
        if (c->saw_abort) {
                if (rank == 1)
                        CHECK_INT(barrier_group_abort(g), 1);
                else
                        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
                return;
        }
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        /* rounds 2 and 3: the exec'd member places them */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        /* round 4: it exited instead */
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 0);
        CHECK_INT(barrier_group_aborted_by(g), 0);
        CHECK(!barrier_group_i_aborted(g));
}

TEST(exec_member_keeps_syncing_and_its_exit_is_seen) {
        for (unsigned n = 2; n <= 4; n++) {
                struct exec_case c = { .saw_abort = false };
                struct group_members m;

                group_start(&m, n, exec_case_member, &c);
                group_finish(&m);
        }
}

TEST(exec_member_keeps_what_it_saw) {
        struct exec_case c = { .saw_abort = true };
        struct group_members m;

        group_start(&m, 3, exec_case_member, &c);
        group_finish(&m);
}

/* Every size short of the NUL's room fails and changes nothing (neither
 * the buffer nor close-on-exec); one more byte succeeds with strlen. */
TEST(export_length_and_short_buffers) {
        static const unsigned sizes[] = { 2, 5, BARRIER_GROUP_MAX };

        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                static char buf[BARRIER_GROUP_ENV_MAX + 1];
                BarrierGroup *g = NULL;
                long long f[FIELDS_MAX];
                size_t size;
                int r = -ENOBUFS, nf;

                snapshot_fds();
                CHECK_INT(barrier_group_new(&g, sizes[s]), 0);
                CHECK_INT(barrier_group_export_env(g, buf, sizeof(buf)), -EINVAL);
                CHECK_INT(barrier_group_join(g, sizes[s] - 1), 0);
                CHECK_INT(barrier_group_export_env(NULL, buf, sizeof(buf)), -EINVAL);
                CHECK_INT(barrier_group_export_env(g, NULL, 1), -EINVAL);
                CHECK_INT(barrier_group_export_env(g, NULL, 0), -ENOBUFS);
                for (size = 0; size <= sizeof(buf); size++) {
                        memset(buf, '#', sizeof(buf));
                        r = barrier_group_export_env(g, buf, size);
                        if (r != -ENOBUFS)
                                break;
                        for (size_t i = 0; i < sizeof(buf); i++)
                                if (buf[i] != '#') {
                                        harness_fail(__FILE__, __LINE__, "size %zu: byte %zu written", size, i);
                                        break;
                                }
                        CHECK(all_cloexec());
                        if (harness_failures)
                                break;
                }
                CHECK(r > 0);
                CHECK_INT(size, (size_t)r + 1);
                CHECK_INT(strlen(buf), r);
                CHECK(size <= BARRIER_GROUP_ENV_MAX);
                CHECK(strncmp(buf, VAR "=", sizeof(VAR)) == 0);
                nf = parse_fields(buf, f, FIELDS_MAX);
                CHECK_INT(nf, FIELDS);
                CHECK_INT(f[0], sizes[s] - 1);
                /* every descriptor of the member survives execve() now */
                {
                        int held[4 * BARRIER_GROUP_MAX + 2], nheld = new_fds(held, 4 * BARRIER_GROUP_MAX + 2);

                        CHECK_INT(nheld, 2 * sizes[s] + 2);
                        for (int i = 0; i < nheld; i++)
                                CHECK(!cloexec(held[i]));
                }
                barrier_group_free(g);
        }
}

/* Imports `value` (formatted from fields) and expects `err`, *g NULL,
 * and every descriptor still open. */
static void import_fails(const long long *f, int nf, int err, int fds_before) {
        static char buf[BARRIER_GROUP_ENV_MAX];
        BarrierGroup *g = (BarrierGroup *)buf;

        format_fields(buf, sizeof(buf), f, nf);
        CHECK(putenv(buf) == 0);
        CHECK_INT(barrier_group_import_env(&g), err);
        CHECK(g == NULL);
        CHECK_INT(count_fds(), fds_before);
        CHECK(unsetenv(VAR) == 0);
}

TEST(import_errors_close_nothing) {
        static char env[BARRIER_GROUP_ENV_MAX];
        long long f[FIELDS_MAX], bad[FIELDS_MAX];
        BarrierGroup *g = NULL, *h = (BarrierGroup *)env;
        int base = count_fds(), held, nf, closed, devnull, ev, ep, pp[2];

        CHECK(unsetenv(VAR) == 0);
        CHECK_INT(barrier_group_import_env(&h), -ENOENT);
        CHECK(h == NULL);

        CHECK_INT(barrier_group_new(&g, 3), 0);
        CHECK_INT(barrier_group_join(g, 1), 0);
        CHECK(barrier_group_export_env(g, env, sizeof(env)) > 0);
        nf = parse_fields(env, f, FIELDS_MAX);
        CHECK_INT(nf, FIELDS);
        /* a number sure to be closed, and descriptors of other kinds */
        closed = dup(0);
        CHECK(closed >= 0);
        close(closed);
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(devnull >= 0);
        CHECK((ev = eventfd(0, EFD_CLOEXEC)) >= 0);
        CHECK((ep = epoll_create1(EPOLL_CLOEXEC)) >= 0);
        CHECK(pipe2(pp, O_CLOEXEC) == 0);
        held = count_fds();

        CHECK(setenv(VAR, "", 1) == 0);
        CHECK_INT(barrier_group_import_env(NULL), -EINVAL);
        CHECK_INT(barrier_group_import_env(&h), -EINVAL);
        CHECK(h == NULL);
        CHECK(setenv(VAR, "1,0,-1,0", 1) == 0);
        CHECK_INT(barrier_group_import_env(&h), -EINVAL);
        CHECK(h == NULL);
        CHECK(unsetenv(VAR) == 0);

        /* the memfd: closed, or of another kind */
        {
                const int wrong[] = { closed, devnull, ev, ep, pp[0], pp[1] };

                for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
                        memcpy(bad, f, sizeof(f));
                        bad[F_MEMFD] = wrong[i];
                        import_fails(bad, nf, -EBADF, held);
                }
        }
        /* a rank the group does not have, with the real memfd */
        memcpy(bad, f, sizeof(f));
        bad[0] = 3;
        import_fails(bad, nf, -EINVAL, held);
        /* nothing closed: the handle still works, every descriptor open */
        CHECK_INT(count_fds(), held);
        CHECK_INT(barrier_group_rank(g), 1);
        CHECK_INT(barrier_group_place(g), 1);
        close(devnull);
        close(ev);
        close(ep);
        close(pp[0]);
        close(pp[1]);
        barrier_group_free(g);
        CHECK_INT(count_fds(), base);
}

int main(int argc, char **argv) {
        static const struct test tests[] = {
                TEST_ENTRY(exec_member_keeps_syncing_and_its_exit_is_seen),
                TEST_ENTRY(exec_member_keeps_what_it_saw),
                TEST_ENTRY(export_length_and_short_buffers),
                TEST_ENTRY(import_errors_close_nothing),
        };

        if (argc > 1 && strcmp(argv[1], EXEC_ARG) == 0)
                return exec_member_main(argc, argv);
        inherited_cloexec();
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
