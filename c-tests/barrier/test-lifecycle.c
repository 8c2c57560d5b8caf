/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Creating and destroying: the layout callers rely on, the descriptors a
 * barrier holds, failure under a descriptor limit, the cleanup idioms, and
 * defined answers for NULL and misuse (those, against systemd, are
 * skipped: it asserts there).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef HARNESS_REFERENCE
#include <dlfcn.h>

#include "shim.h"
#endif

#define WHERE_IT_DIFFERS " (libbarrier(3): Differences from systemd)"

_Static_assert(sizeof(Barrier) == 24, "layout of struct Barrier");
_Static_assert(offsetof(Barrier, me) == 0, "layout of struct Barrier");
_Static_assert(offsetof(Barrier, them) == 4, "layout of struct Barrier");
_Static_assert(offsetof(Barrier, pipe) == 8, "layout of struct Barrier");
_Static_assert(offsetof(Barrier, barriers) == 16, "layout of struct Barrier");

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

static bool is_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

static bool same(const Barrier *a, const Barrier *b) {
        return memcmp(a, b, sizeof(*a)) == 0;
}

static void fd_target(int fd, char *buf, size_t size) {
        char path[64];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, buf, size - 1);
        buf[n < 0 ? 0 : n] = 0;
}

static void check_fd(int fd, const char *kind, int accmode) {
        char target[128];

        CHECK(fd >= 0);
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
        CHECK_INT(fcntl(fd, F_GETFL) & O_ACCMODE, accmode);
        fd_target(fd, target, sizeof(target));
        if (strncmp(target, kind, strlen(kind)) != 0)
                harness_fail(__FILE__, __LINE__, "fd %d is %s, not %s", fd, target, kind);
}

TEST(layout_and_constants) {
        Barrier b = BARRIER_NULL;

        CHECK(is_null(&b));
        CHECK(BARRIER_SINGLE == 1);
        CHECK(BARRIER_ABORTION == INT64_MAX);
        CHECK(BARRIER_BIAS == INT64_MIN);
        CHECK(BARRIER_WE_ABORTED == INT64_MIN + 1);
        CHECK(BARRIER_THEY_ABORTED == INT64_MIN + 2);
        CHECK(BARRIER_I_ABORTED == INT64_MIN + 3);
        CHECK(BARRIER_PARENT == 0);
        CHECK(BARRIER_CHILD == 1);
}

TEST(descriptor_hygiene_parent) {
        int base = count_fds();
        int fds[4];
        Barrier b = BARRIER_NULL;

        CHECK_INT(barrier_create(&b), 0);
        CHECK_INT(count_fds(), base + 4);
        CHECK_INT(b.barriers, 0);
        check_fd(b.me, "anon_inode:[eventfd]", O_RDWR);
        check_fd(b.them, "anon_inode:[eventfd]", O_RDWR);
        CHECK(b.me != b.them);
        check_fd(b.pipe[0], "pipe:", O_RDONLY);
        check_fd(b.pipe[1], "pipe:", O_WRONLY);
        fds[0] = b.me, fds[1] = b.them, fds[2] = b.pipe[0], fds[3] = b.pipe[1];

        barrier_set_role(&b, BARRIER_PARENT);
        CHECK_INT(count_fds(), base + 3);
        CHECK_INT(b.pipe[1], -1);
        CHECK(!is_open(fds[3]));
        CHECK_INT(b.me, fds[0]);
        CHECK_INT(b.them, fds[1]);
        CHECK_INT(b.pipe[0], fds[2]);

        CHECK(barrier_destroy(&b) == NULL);
        CHECK_INT(count_fds(), base);
        CHECK(is_null(&b));
        for (int i = 0; i < 4; i++)
                CHECK(!is_open(fds[i]));
}

TEST(descriptor_hygiene_child) {
        int base = count_fds();
        Barrier b = BARRIER_NULL, before;

        CHECK_INT(barrier_create(&b), 0);
        before = b;
        barrier_set_role(&b, BARRIER_CHILD);
        CHECK_INT(count_fds(), base + 3);
        CHECK_INT(b.me, before.them);
        CHECK_INT(b.them, before.me);
        CHECK_INT(b.pipe[0], -1);
        CHECK_INT(b.pipe[1], before.pipe[1]);
        CHECK(!is_open(before.pipe[0]));
        barrier_destroy(&b);
        CHECK_INT(count_fds(), base);
}

TEST(init_is_create) {
        int base = count_fds();
        Barrier b = BARRIER_NULL;

        CHECK_INT(barrier_init(&b), 0);
        CHECK_INT(count_fds(), base + 4);
        check_fd(b.me, "anon_inode:[eventfd]", O_RDWR);
        check_fd(b.pipe[0], "pipe:", O_RDONLY);
        barrier_destroy(&b);
        CHECK_INT(count_fds(), base);
}

TEST(destroy_twice_null_and_barrier_null) {
        int base = count_fds();
        Barrier b = BARRIER_NULL, n = BARRIER_NULL;
        Barrier *p;

        CHECK(barrier_destroy(NULL) == NULL);
        CHECK(barrier_destroy(&n) == NULL);
        CHECK(is_null(&n));
        CHECK_INT(barrier_create(&b), 0);
        p = &b;
        p = barrier_destroy(p);
        CHECK(p == NULL);
        CHECK(is_null(&b));
        CHECK(barrier_destroy(&b) == NULL);
        CHECK(is_null(&b));
        CHECK_INT(count_fds(), base);
}

TEST(cleanup_attributes) {
        int base = count_fds();

        {
                __attribute__((cleanup(barrier_destroy))) Barrier b = BARRIER_NULL;
                CHECK_INT(barrier_create(&b), 0);
                CHECK_INT(count_fds(), base + 4);
        }
        CHECK_INT(count_fds(), base);
        {
                Barrier storage = BARRIER_NULL;
                __attribute__((cleanup(barrier_destroyp))) Barrier *b = &storage;
                CHECK_INT(barrier_create(b), 0);
                CHECK_INT(count_fds(), base + 4);
        }
        CHECK_INT(count_fds(), base);
        {
                __attribute__((cleanup(barrier_destroyp))) Barrier *b = NULL;
                (void)b;
        }
}

TEST(destroyp_null) {
        barrier_destroyp(NULL);
}

/* Sets RLIMIT_NOFILE so that exactly `free_slots` more descriptors fit. */
static bool limit_free_slots(int free_slots) {
        bool used[4096] = { false };
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        struct rlimit rl;
        int limit, free_below = 0;

        if (!d)
                return false;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);
                if (e->d_name[0] != '.' && fd < 4096 && fd != dirfd(d))
                        used[fd] = true;
        }
        closedir(d);
        for (limit = 0; limit < 4096; limit++) {
                if (free_below == free_slots)
                        break;
                if (!used[limit])
                        free_below++;
        }
        CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        rl.rlim_cur = (rlim_t)limit;
        return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* With `held`, *b holds descriptors of the caller's before create: they
 * belong to the caller and must neither be closed nor counted as leaked. */
static void create_under_fd_limit(bool held_before) {
        struct rlimit saved;
        int base = count_fds();
        int held = dup(0);

        CHECK(held >= 0);
        CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
        for (int slots = 0; slots <= 3; slots++) {
                Barrier b = { held, held, { held, held }, 42 };
                int r;

                if (!held_before)
                        b = (Barrier)BARRIER_NULL;

                CHECK(limit_free_slots(slots));
                r = barrier_create(&b);
                CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
                CHECK_INT(r, -EMFILE);
                CHECK(is_null(&b));
                CHECK_INT(count_fds(), base + 1);
                CHECK(is_open(held));
                barrier_destroy(&b);
        }
        {
                Barrier b = BARRIER_NULL;
                CHECK(limit_free_slots(4));
                CHECK_INT(barrier_create(&b), 0);
                CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
                barrier_destroy(&b);
        }
        close(held);
        CHECK_INT(count_fds(), base);
}

TEST(create_fails_cleanly_under_fd_limit) {
        create_under_fd_limit(false);
}

TEST(create_failure_keeps_what_the_object_held) {
        create_under_fd_limit(true);
}

TEST(null_pointer_everywhere) {
        CHECK_INT(barrier_create(NULL), -EINVAL);
        CHECK_INT(barrier_init(NULL), -EINVAL);
        CHECK(barrier_destroy(NULL) == NULL);
        barrier_destroyp(NULL);
        barrier_set_role(NULL, BARRIER_PARENT);
        CHECK(!barrier_place(NULL));
        CHECK(!barrier_abort(NULL));
        CHECK(!barrier_wait_next(NULL));
        CHECK(!barrier_wait_abortion(NULL));
        CHECK(!barrier_sync_next(NULL));
        CHECK(!barrier_sync(NULL));
        CHECK(!barrier_place_and_sync(NULL));
        CHECK(!barrier_i_aborted(NULL));
        CHECK(!barrier_they_aborted(NULL));
        CHECK(!barrier_we_aborted(NULL));
        CHECK(!barrier_is_aborted(NULL));
        CHECK_INT(barrier_wait_next_timeout(NULL, 0), -EINVAL);
        CHECK_INT(barrier_wait_abortion_timeout(NULL, 0), -EINVAL);
        CHECK_INT(barrier_sync_next_timeout(NULL, 0), -EINVAL);
        CHECK_INT(barrier_sync_timeout(NULL, 0), -EINVAL);
}

/* An object that was never created, or was destroyed, holds no
 * descriptors: every call that returns int answers -EBADF, the waits
 * return false and leave it alone; place and abort fail (a write to no
 * descriptor is a fatal error). */
static void check_holds_nothing(Barrier *b) {
        int base = count_fds();
        struct pollfd fds[2];
        char env[BARRIER_ENV_MAX];

        barrier_set_role(b, BARRIER_PARENT);
        barrier_set_role(b, BARRIER_CHILD);
        CHECK(is_null(b));
        CHECK(!barrier_wait_next(b));
        CHECK(!barrier_wait_abortion(b));
        CHECK(!barrier_sync_next(b));
        CHECK(!barrier_sync(b));
        CHECK_INT(barrier_wait_next_timeout(b, BARRIER_INFINITY), -EBADF);
        CHECK_INT(barrier_wait_abortion_timeout(b, BARRIER_INFINITY), -EBADF);
        CHECK_INT(barrier_sync_next_timeout(b, BARRIER_INFINITY), -EBADF);
        CHECK_INT(barrier_sync_timeout(b, BARRIER_INFINITY), -EBADF);
        CHECK_INT(barrier_get_pollfds(b, fds, 2), -EBADF);
        CHECK_INT(barrier_get_pollfds(b, fds, 1), -EBADF);
        CHECK_INT(barrier_export_env(b, env, sizeof(env)), -EBADF);
        CHECK(is_null(b));
        CHECK(!barrier_place(b));
        CHECK(barrier_we_aborted(b));
        CHECK(!barrier_abort(b));
        CHECK(!barrier_place_and_sync(b));
        CHECK(barrier_destroy(b) == NULL);
        CHECK(is_null(b));
        CHECK_INT(count_fds(), base);
}

TEST(never_created) {
        Barrier b = BARRIER_NULL;
        check_holds_nothing(&b);
}

TEST(destroyed) {
        Barrier b = BARRIER_NULL;
        CHECK_INT(barrier_create(&b), 0);
        barrier_set_role(&b, BARRIER_PARENT);
        barrier_destroy(&b);
        check_holds_nothing(&b);
}

TEST(second_set_role_and_unknown_role) {
        Barrier b = BARRIER_NULL, before;

        CHECK_INT(barrier_create(&b), 0);
        before = b;
        barrier_set_role(&b, 2);
        barrier_set_role(&b, UINT_MAX);
        CHECK(same(&b, &before));
        barrier_set_role(&b, BARRIER_CHILD);
        before = b;
        barrier_set_role(&b, BARRIER_CHILD);
        barrier_set_role(&b, BARRIER_PARENT);
        CHECK(same(&b, &before));
        barrier_destroy(&b);
}

TEST(waits_before_set_role) {
        int base = count_fds();
        Barrier b = BARRIER_NULL, before;

        CHECK_INT(barrier_create(&b), 0);
        before = b;
        CHECK(!barrier_wait_next(&b));
        CHECK(!barrier_wait_abortion(&b));
        CHECK(!barrier_sync_next(&b));
        CHECK_INT(barrier_sync_timeout(&b, BARRIER_INFINITY), -EINVAL);
        CHECK(same(&b, &before));
        /* placing is allowed, as it always was; a sync then still refuses */
        CHECK(barrier_place(&b));
        CHECK_INT(b.barriers, 1);
        CHECK(!barrier_sync(&b));
        CHECK_INT(b.barriers, 1);
        barrier_destroy(&b);
        CHECK_INT(count_fds(), base);
}

#ifdef HARNESS_REFERENCE
/* The calls above went to systemd's library: every function the shim
 * forwards to lies in libsystemd-shared, this program exports none of
 * barrier.h's names (so none of them can take the place of systemd's
 * own inside its library), and libbarrier is not loaded at all. */
TEST(calls_go_to_systemd) {
        const struct barrier_impl *sd = shim_impl();
        void *fns[9];

        memcpy(&fns[0], &sd->create, sizeof(void *));
        memcpy(&fns[1], &sd->destroy, sizeof(void *));
        memcpy(&fns[2], &sd->set_role, sizeof(void *));
        memcpy(&fns[3], &sd->place, sizeof(void *));
        memcpy(&fns[4], &sd->abort, sizeof(void *));
        memcpy(&fns[5], &sd->wait_next, sizeof(void *));
        memcpy(&fns[6], &sd->wait_abortion, sizeof(void *));
        memcpy(&fns[7], &sd->sync_next, sizeof(void *));
        memcpy(&fns[8], &sd->sync, sizeof(void *));
        for (size_t i = 0; i < 9; i++) {
                Dl_info info;
                const char *base;

                if (!dladdr(fns[i], &info) || !info.dli_fname) {
                        harness_fail(__FILE__, __LINE__, "%s: dladdr() knows no file", barrier_impl_names[i]);
                        continue;
                }
                base = strrchr(info.dli_fname, '/');
                base = base ? base + 1 : info.dli_fname;
                if (strncmp(base, "libsystemd-shared-", strlen("libsystemd-shared-")) != 0)
                        harness_fail(__FILE__, __LINE__, "%s lies in %s", barrier_impl_names[i], info.dli_fname);
                if (!info.dli_sname || strcmp(info.dli_sname, barrier_impl_names[i]) != 0)
                        harness_fail(__FILE__, __LINE__, "%s is %s there", barrier_impl_names[i],
                                     info.dli_sname ? info.dli_sname : "unnamed");
                CHECK(dlsym(RTLD_DEFAULT, barrier_impl_names[i]) == NULL);
        }
        CHECK(dlopen("libbarrier.so.1", RTLD_LAZY | RTLD_NOLOAD) == NULL);
        CHECK(dlopen("libbarrier.so", RTLD_LAZY | RTLD_NOLOAD) == NULL);
}
#endif

static const struct test tests[] = {
        TEST_ENTRY(layout_and_constants),
        TEST_ENTRY(descriptor_hygiene_parent),
        TEST_ENTRY(descriptor_hygiene_child),
        TEST_ENTRY(init_is_create),
        TEST_ENTRY(destroy_twice_null_and_barrier_null),
        TEST_ENTRY(cleanup_attributes),
        TEST_ENTRY_NOT_SYSTEMD(destroyp_null, "barrier_destroyp(NULL) dereferences NULL there" WHERE_IT_DIFFERS),
        TEST_ENTRY(create_fails_cleanly_under_fd_limit),
        TEST_ENTRY_NOT_SYSTEMD(create_failure_keeps_what_the_object_held,
                               "a failing barrier_create closes what *b held before" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(null_pointer_everywhere, "NULL pointers are an assertion there" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(never_created, "an object never created is an assertion there" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(destroyed, "a destroyed object is an assertion there" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(second_set_role_and_unknown_role,
                               "a second or unknown role is an assertion there" WHERE_IT_DIFFERS),
        TEST_ENTRY_NOT_SYSTEMD(waits_before_set_role,
                               "a wait before barrier_set_role blocks there" WHERE_IT_DIFFERS),
#ifdef HARNESS_REFERENCE
        TEST_ENTRY(calls_go_to_systemd),
#endif
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
