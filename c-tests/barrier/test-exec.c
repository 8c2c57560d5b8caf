/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * barrier_export_env() / barrier_import_env(): one end of a barrier
 * carried across execve(). The program re-executes itself as the child.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

static bool cloexec(int fd) {
        return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

static bool nonblock(int fd) {
        return fcntl(fd, F_GETFL) & O_NONBLOCK;
}

static bool is_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

/* The exec'd side: what runs after execve(). */
static int exec_child_main(void) {
        Barrier b = BARRIER_NULL;

        harness_side = "exec'd child";
        CHECK_INT(barrier_import_env(&b), 0);
        CHECK(getenv("BARRIER_FDS") == NULL);
        CHECK(b.pipe[0] == -1 && b.pipe[1] >= 0);
        CHECK(cloexec(b.me) && cloexec(b.them) && cloexec(b.pipe[1]));
        CHECK(nonblock(b.me) && nonblock(b.them) && nonblock(b.pipe[1]));
        /* the barrier placed before execve() is still counted */
        CHECK_INT(b.barriers, 1);
        CHECK(barrier_sync(&b));
        CHECK(barrier_place_and_sync(&b));
        barrier_destroy(&b);
        return harness_failures ? 1 : 0;
}

static void exec_child_side(Barrier *b, struct peer *p) {
        static char env[BARRIER_ENV_MAX];
        char *argv[] = { "test-exec", "--exec-child", NULL };
        char *envp[] = { env, NULL };
        int n;

        (void)p;
        CHECK(barrier_place(b));
        n = barrier_export_env(b, env, sizeof(env));
        CHECK(n > 0 && (size_t)n == strlen(env));
        CHECK(!cloexec(b->me) && !cloexec(b->them) && !cloexec(b->pipe[1]));
        if (harness_failures)
                _exit(1);
        fflush(NULL);
        execve("/proc/self/exe", argv, envp);
        harness_fail(__FILE__, __LINE__, "execve: %s", strerror(errno));
        _exit(1);
}

static void exec_parent_side(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_place(b));
        CHECK(barrier_sync(b));
        CHECK(barrier_place_and_sync(b));
        /* the exec'd child exits after that; its exit aborts the next sync */
        CHECK(barrier_place(b));
        CHECK(!barrier_sync(b));
        CHECK(barrier_they_aborted(b));
}

TEST(exec_child_syncs) {
        run_pair(exec_child_side, exec_parent_side);
}

TEST(export_bad_arguments_change_nothing) {
        Barrier b = BARRIER_NULL, p = BARRIER_NULL, c = BARRIER_NULL;
        char buf[BARRIER_ENV_MAX], expected[BARRIER_ENV_MAX];
        int n;

        CHECK_INT(barrier_export_env(NULL, buf, sizeof(buf)), -EINVAL);
        CHECK_INT(barrier_export_env(&b, buf, sizeof(buf)), -EBADF);
        CHECK_INT(barrier_create(&b), 0);
        CHECK_INT(barrier_export_env(&b, buf, sizeof(buf)), -EINVAL);
        barrier_destroy(&b);

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(barrier_place(&c));
        memset(buf, 'Z', sizeof(buf));
        for (size_t size = 0; size < 12; size++)
                CHECK_INT(barrier_export_env(&c, buf, size), -ENOBUFS);
        CHECK_INT(barrier_export_env(&c, NULL, 0), -ENOBUFS);
        CHECK_INT(barrier_export_env(&c, NULL, 8), -EINVAL);
        snprintf(expected, sizeof(expected), "BARRIER_FDS=%d,%d,-1,%d,1", c.me, c.them, c.pipe[1]);
        /* one byte short of the string and its NUL */
        CHECK_INT(barrier_export_env(&c, buf, strlen(expected)), -ENOBUFS);
        for (size_t i = 0; i < sizeof(buf); i++)
                CHECK(buf[i] == 'Z');
        CHECK(cloexec(c.me) && cloexec(c.them) && cloexec(c.pipe[1]));

        /* any negative value means "no descriptor", and is written as -1 */
        c.pipe[0] = -EBADF;
        n = barrier_export_env(&c, buf, strlen(expected) + 1);
        CHECK_INT(n, (int)strlen(expected));
        CHECK(strcmp(buf, expected) == 0);
        c.pipe[0] = -1;
        CHECK(!cloexec(c.me) && !cloexec(c.them) && !cloexec(c.pipe[1]));
        /* the parent end's descriptors are not touched */
        CHECK(cloexec(p.me) && cloexec(p.them) && cloexec(p.pipe[0]));
        barrier_destroy(&p);
        barrier_destroy(&c);
}

static void expect_import_error(const char *value, int error) {
        Barrier b = { 7, 8, { 9, 10 }, 11 };
        int base = count_fds();

        if (value)
                CHECK(setenv("BARRIER_FDS", value, 1) == 0);
        else
                CHECK(unsetenv("BARRIER_FDS") == 0);
        if (barrier_import_env(&b) != -error)
                harness_fail(__FILE__, __LINE__, "import of \"%s\" did not fail with errno %d", value ? value : "(unset)",
                             error);
        CHECK(is_null(&b));
        CHECK_INT(count_fds(), base);
}

TEST(import_unset_and_malformed) {
        static const char *const malformed[] = {
                "", "garbage", "3,4,5", "3,4,5,-1", "3,4,5,-1,0,0", "3,4,5,-1,", ",4,5,-1,0", "3,4,5,-1,0x",
                "+3,4,5,-1,0", " 3,4,5,-1,0", "3,4,-1,-1,0", "3,4,5,6,0", "3,3,5,-1,0", "3,4,3,-1,0", "-1,4,5,-1,0",
                "3,4,-2,5,0", "2147483648,4,5,-1,0", "3,4,5,-1,-9223372036854775808",
                "3,4,5,-1,99999999999999999999999",
        };

        expect_import_error(NULL, ENOENT);
        for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
                expect_import_error(malformed[i], EINVAL);
        CHECK_INT(barrier_import_env(NULL), -EINVAL);
}

TEST(import_stale_and_wrong_kind) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        char value[BARRIER_ENV_MAX];
        int pipefd[2], ev[3], devnull;

        /* stale: the numbers of an end that no longer exists */
        CHECK_INT(barrier_create_pair(&p, &c), 0);
        snprintf(value, sizeof(value), "%d,%d,-1,%d,0", c.me, c.them, c.pipe[1]);
        barrier_destroy(&p);
        barrier_destroy(&c);
        expect_import_error(value, EBADF);

        /* non-blocking, as the library's own descriptors are, so that only
         * the kind is wrong in each case below */
        CHECK(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == 0);
        for (int i = 0; i < 3; i++)
                CHECK((ev[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >= 0);
        CHECK((devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NONBLOCK)) >= 0);

        /* pipe ends where eventfds belong */
        snprintf(value, sizeof(value), "%d,%d,%d,-1,0", pipefd[0], pipefd[1], ev[0]);
        expect_import_error(value, EBADF);
        /* an eventfd where a pipe end belongs */
        snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], ev[1], ev[2]);
        expect_import_error(value, EBADF);
        /* the read end where the write end belongs, and the reverse */
        snprintf(value, sizeof(value), "%d,%d,-1,%d,0", ev[0], ev[1], pipefd[0]);
        expect_import_error(value, EBADF);
        snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], ev[1], pipefd[1]);
        expect_import_error(value, EBADF);
        /* a file */
        snprintf(value, sizeof(value), "%d,%d,%d,-1,0", devnull, ev[1], pipefd[0]);
        expect_import_error(value, EBADF);
        /* one closed descriptor among good ones */
        snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], 1000, pipefd[0]);
        expect_import_error(value, EBADF);

        /* one eventfd, duplicated, in both directions */
        {
                int dup_ev = fcntl(ev[0], F_DUPFD_CLOEXEC, 3);
                snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], dup_ev, pipefd[0]);
                expect_import_error(value, EBADF);
                close(dup_ev);
        }
        /* a pipe of the right kind that the library did not make: blocking,
         * like a shell's stdio, and left unchanged */
        {
                int other[2];
                CHECK(pipe2(other, O_CLOEXEC) == 0);
                snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], ev[1], other[0]);
                expect_import_error(value, EBADF);
                CHECK(!nonblock(other[0]));
                close(other[0]);
                close(other[1]);
        }
        /* the good combination works, so the cases above failed for their
         * one fault only */
        {
                Barrier b = BARRIER_NULL;
                snprintf(value, sizeof(value), "%d,%d,%d,-1,0", ev[0], ev[1], pipefd[0]);
                CHECK(setenv("BARRIER_FDS", value, 1) == 0);
                CHECK_INT(barrier_import_env(&b), 0);
                CHECK_INT(b.me, ev[0]);
        }
        /* nothing offered was closed */
        CHECK(is_open(pipefd[0]) && is_open(pipefd[1]) && is_open(devnull));
        for (int i = 0; i < 3; i++) {
                CHECK(is_open(ev[i]));
                close(ev[i]);
        }
        close(pipefd[0]);
        close(pipefd[1]);
        close(devnull);
        unsetenv("BARRIER_FDS");
}

TEST(import_in_process_restores_counter) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL, c2 = BARRIER_NULL;
        static char env[BARRIER_ENV_MAX];

        CHECK_INT(barrier_create_pair(&p, &c), 0);
        CHECK(barrier_place(&c));
        CHECK(barrier_export_env(&c, env, sizeof(env)) > 0);
        CHECK(putenv(env) == 0);
        CHECK_INT(barrier_import_env(&c2), 0);
        CHECK(getenv("BARRIER_FDS") == NULL);
        CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
        CHECK(cloexec(c2.me) && cloexec(c2.them) && cloexec(c2.pipe[1]));
        /* c2 now owns what c held */
        c = (Barrier)BARRIER_NULL;
        CHECK(barrier_wait_next(&p));
        CHECK(barrier_place(&c2));
        CHECK(barrier_wait_next(&p));
        CHECK_INT(p.barriers, -2);
        barrier_destroy(&c2);
        /* once p is ahead, the end's destruction shows as an abort */
        for (int i = 0; i < 3; i++)
                CHECK(barrier_place(&p));
        CHECK(!barrier_sync(&p));
        barrier_destroy(&p);
}

/* Against systemd every test is skipped: the hand-off across execve()
 * is what each one tests. */
static const struct test tests[] = {
        TEST_ENTRY_NOT_SYSTEMD(exec_child_syncs, "barrier_export_env and barrier_import_env are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(export_bad_arguments_change_nothing,
                               "barrier_export_env and barrier_create_pair are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(import_unset_and_malformed, "barrier_import_env is an extension"),
        TEST_ENTRY_NOT_SYSTEMD(import_stale_and_wrong_kind,
                               "barrier_import_env and barrier_create_pair are extensions"),
        TEST_ENTRY_NOT_SYSTEMD(import_in_process_restores_counter,
                               "barrier_export_env, barrier_import_env and barrier_create_pair are extensions"),
};

int main(int argc, char **argv) {
        if (argc == 2 && strcmp(argv[1], "--exec-child") == 0)
                return exec_child_main();
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
