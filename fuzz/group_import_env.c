/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer target for barrier_group_import_env(), which takes a group
 * member over from the environment: outside data naming descriptors, a
 * shared page and what the member had observed.
 *
 * The input becomes the value of BARRIER_GROUP (up to its first NUL). So
 * that inputs naming real descriptors reach the checks past parsing, and
 * some succeed, the process holds for the whole run (see prepare()):
 *
 * - a group of 3 that no member joined: every member's descriptors are
 *   open, so any rank of it can be imported;
 * - a group of 2 whose member 0 joined here and exported itself (its
 *   descriptors are not close-on-exec): rank 0 can be imported, rank 1
 *   lacks the descriptors member 0 closed when it joined;
 * - a group of 2 with one eventfd made blocking, which no import accepts;
 * - memfds that are no group's page: one without seals, one of zeros,
 *   one shorter than a page's head, one longer than any group's page,
 *   and three copies of the first group's page made wrong on purpose (an
 *   epoll instance of another member, a descriptor named twice, a group
 *   size out of range).
 *
 * For every input: the result is 0, -EINVAL or -EBADF; on failure the
 * handle is NULL, the variable is still set, no descriptor was opened or
 * closed or had its close-on-exec flag changed, and nothing is left
 * mapped. On success the variable is gone, the handle has the variable's
 * rank, below its group's size, and watches a descriptor that was open
 * before, and the import opened nothing and only set close-on-exec flags;
 * freeing the handle then closes the 2n + 2 descriptors of its member
 * (2n + 1 without its pipe's write end), all close-on-exec, opens
 * nothing, and unmaps all the import mapped, the handle's memory
 * included. A success takes descriptors over that the prepared groups
 * hold too, so after one everything is made afresh.
 *
 * The descriptor numbers are the same on every run (descriptors
 * inherited above 2 are moved out of the way first): the seeds in
 * fuzz/corpus/group_import_env name them, and the first input prints
 * where everything is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrier.h"

#define WATCHED_FDS 128

/* The head of a group's shared page: a format magic, the group's size,
 * then the numbers of the members' descriptors in four runs of
 * BARRIER_GROUP_MAX (epoll instances, eventfds, pipe read ends, pipe write
 * ends). Only used to make wrong copies of a page; if the format changes,
 * the copies are wrong in other ways, and the checks above still hold. */
#define HEAD_N 8
#define HEAD_FDS 16
#define RUN_EPOLL 0
#define RUN_BELL BARRIER_GROUP_MAX

struct fd_set_snapshot {
        uint64_t open[WATCHED_FDS / 64];
        uint64_t cloexec[WATCHED_FDS / 64];
};

static int prepared;
static BarrierGroup *unjoined, *exported, *damaged;
enum { UNSEALED, ZEROS, SHORT, LONG, OTHER_EPOLL, TWICE, BAD_SIZE, DECOYS };
static int decoy[DECOYS];
static const char *const decoy_names[DECOYS] = {
        "unsealed", "zeros", "short", "long", "other-epoll", "twice", "bad-size",
};

static void require(int cond, const char *what, const char *value) {
        if (!cond) {
                fprintf(stderr, "group_import_env fuzz: %s (value \"%s\")\n", what, value);
                abort();
        }
}

static void snapshot(struct fd_set_snapshot *s) {
        memset(s, 0, sizeof(*s));
        for (int fd = 0; fd < WATCHED_FDS; fd++) {
                int flags = fcntl(fd, F_GETFD);
                if (flags < 0)
                        continue;
                s->open[fd / 64] |= UINT64_C(1) << (fd % 64);
                if (flags & FD_CLOEXEC)
                        s->cloexec[fd / 64] |= UINT64_C(1) << (fd % 64);
        }
}

static int same_fds(const struct fd_set_snapshot *a, const struct fd_set_snapshot *b) {
        return memcmp(a, b, sizeof(*a)) == 0;
}

/* Whether every bit of a is in b. */
static int subset(const uint64_t *a, const uint64_t *b) {
        for (int k = 0; k < WATCHED_FDS / 64; k++)
                if (a[k] & ~b[k])
                        return 0;
        return 1;
}

static int is_open(const struct fd_set_snapshot *s, int fd) {
        return fd >= 0 && fd < WATCHED_FDS && (s->open[fd / 64] >> (fd % 64) & 1);
}

/* The size of this process's mappings, in pages. Between two calls in
 * one input nothing but the library maps or unmaps anything: the harness
 * does not allocate there, and neither does the library. */
static long mapped_pages(void) {
        char buf[256];
        ssize_t n;
        int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                abort();
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                abort();
        buf[n] = 0;
        return strtol(buf, NULL, 10);
}

/* The descriptor whose /proc/self/fd link starts with `prefix`, among
 * those open in `after` and not in `before`, the highest first. */
static int new_fd(const struct fd_set_snapshot *before, const struct fd_set_snapshot *after,
                  const char *prefix) {
        for (int fd = WATCHED_FDS - 1; fd >= 0; fd--) {
                char path[64], target[256];
                ssize_t n;
                if (!is_open(after, fd) || is_open(before, fd))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                n = readlink(path, target, sizeof(target) - 1);
                if (n < 0)
                        continue;
                target[n] = 0;
                if (strncmp(target, prefix, strlen(prefix)) == 0)
                        return fd;
        }
        abort();
}

/* A memfd of `size` bytes holding `data` (zeros if NULL), sealed against
 * growing and shrinking if `sealed`, as a group's page is. */
static int memfd_of(const void *data, size_t size, int sealed) {
        int fd = memfd_create("decoy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t) size) < 0)
                abort();
        if (data && pwrite(fd, data, size, 0) != (ssize_t) size)
                abort();
        if (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
                abort();
        return fd;
}

static int get_int(const unsigned char *page, size_t at) {
        int v;
        memcpy(&v, page + at, sizeof(v));
        return v;
}

/* A sealed memfd holding a copy of `page` (`size` bytes) whose int at
 * `at` is `v`. */
static int forged_copy(unsigned char *page, size_t size, size_t at, int v) {
        int saved = get_int(page, at), fd;

        memcpy(page + at, &v, sizeof(v));
        fd = memfd_of(page, size, 1);
        memcpy(page + at, &saved, sizeof(saved));
        return fd;
}

/* Moves the descriptors this process inherited above 2 (a launcher's, a
 * CI runner's) above the watched range, keeping them open, so that the
 * prepared ones get the same numbers on every machine: those the seeds
 * name. libFuzzer holds no descriptor of its own here (unless told to
 * with -close_fd_mask). */
static void clear_low_fds(void) {
        for (int fd = 3; fd < WATCHED_FDS; fd++) {
                int flags = fcntl(fd, F_GETFD), moved;
                if (flags < 0)
                        continue;
                moved = fcntl(fd, F_DUPFD, WATCHED_FDS);
                if (moved < 0 || fcntl(moved, F_SETFD, flags) < 0 || close(fd) < 0)
                        abort();
        }
}

static void prepare(void) {
        struct fd_set_snapshot before, after;
        static int first = 1;
        char env[BARRIER_GROUP_ENV_MAX];
        unsigned char *page;
        struct stat st;
        int page_fd, eventfd_nr, exported_fd, damaged_fd;
        const size_t fds_at = HEAD_FDS;
        size_t size;

        if (first)
                clear_low_fds();
        snapshot(&before);
        if (barrier_group_new(&unjoined, 3) < 0)
                abort();
        snapshot(&after);
        page_fd = new_fd(&before, &after, "/memfd:libbarrier-group");

        before = after;
        if (barrier_group_new(&exported, 2) < 0 || barrier_group_join(exported, 0) < 0 ||
            barrier_group_export_env(exported, env, sizeof(env)) < 0)
                abort();
        snapshot(&after);
        exported_fd = new_fd(&before, &after, "/memfd:libbarrier-group");

        before = after;
        if (barrier_group_new(&damaged, 2) < 0)
                abort();
        snapshot(&after);
        damaged_fd = new_fd(&before, &after, "/memfd:libbarrier-group");
        eventfd_nr = new_fd(&before, &after, "anon_inode:[eventfd]");
        if (fcntl(eventfd_nr, F_SETFL, fcntl(eventfd_nr, F_GETFL) & ~O_NONBLOCK) < 0)
                abort();

        /* The first group's page, and wrong copies of it. */
        if (fstat(page_fd, &st) < 0)
                abort();
        size = (size_t) st.st_size;
        page = malloc(size);
        if (!page || pread(page_fd, page, size, 0) != st.st_size)
                abort();
        decoy[UNSEALED] = memfd_of(NULL, size, 0);
        decoy[ZEROS] = memfd_of(NULL, size, 1);
        decoy[SHORT] = memfd_of(NULL, 8, 1);
        decoy[LONG] = memfd_of(NULL, 16 * size, 1);
        /* Member 0's epoll instance is member 1's; member 1's eventfd is
         * member 0's too; the group has 1 member (the low half of the
         * size, on a little-endian machine). */
        decoy[OTHER_EPOLL] = forged_copy(page, size, fds_at + 4 * (RUN_EPOLL + 0),
                                         get_int(page, fds_at + 4 * (RUN_EPOLL + 1)));
        decoy[TWICE] = forged_copy(page, size, fds_at + 4 * (RUN_BELL + 1),
                                   get_int(page, fds_at + 4 * (RUN_BELL + 0)));
        decoy[BAD_SIZE] = forged_copy(page, size, HEAD_N, 1);
        free(page);
        prepared = 1;

        if (first) {
                first = 0;
                fprintf(stderr,
                        "group_import_env fuzz: memfds: group of 3 unjoined %d, group of 2 "
                        "exported by member 0 %d (%s), group of 2 with blocking eventfd %d %d;",
                        page_fd, exported_fd, env, damaged_fd, eventfd_nr);
                for (int k = 0; k < DECOYS; k++)
                        fprintf(stderr, " %s %d", decoy_names[k], decoy[k]);
                fprintf(stderr, "\n");
        }
}

/* Frees the prepared groups and closes the decoys. After a success some
 * of the groups' descriptors were closed by freeing the imported handle:
 * closing them again fails harmlessly, nothing having been opened since. */
static void unprepare(void) {
        unjoined = barrier_group_free(unjoined);
        exported = barrier_group_free(exported);
        damaged = barrier_group_free(damaged);
        for (int k = 0; k < DECOYS; k++)
                close(decoy[k]);
        prepared = 0;
}

static int popcount(const uint64_t *bits) {
        int n = 0;
        for (int k = 0; k < WATCHED_FDS / 64; k++)
                n += __builtin_popcountll(bits[k]);
        return n;
}

static void check_success(BarrierGroup *g, const char *value, const struct fd_set_snapshot *before,
                          long mapped_before) {
        struct fd_set_snapshot mid, after;
        uint64_t closed[WATCHED_FDS / 64];
        struct pollfd pfd = { -1, 0, 0 };
        unsigned int n = barrier_group_size(g);
        int rank = barrier_group_rank(g), write_end;
        long page = sysconf(_SC_PAGESIZE);
        const char *last = strrchr(value, ',');

        snapshot(&mid);
        require(g != NULL, "success without a handle", value);
        require(getenv("BARRIER_GROUP") == NULL, "variable left after success", value);
        require(n >= 2 && n <= BARRIER_GROUP_MAX, "imported group of a size out of range", value);
        require(rank >= 0 && (unsigned int) rank < n, "imported rank out of range", value);
        /* The fields are decimal, perhaps with leading zeros. */
        require(rank == strtol(value, NULL, 10), "imported rank is not the variable's", value);
        require(barrier_group_get_pollfds(g, &pfd, 1) == 1 && is_open(before, pfd.fd),
                "the handle watches no descriptor that was open", value);
        require(memcmp(mid.open, before->open, sizeof(mid.open)) == 0,
                "import opened or closed a descriptor", value);
        require(subset(before->cloexec, mid.cloexec), "import cleared a close-on-exec flag", value);
        require(mapped_pages() > mapped_before, "import mapped nothing", value);

        require(barrier_group_free(g) == NULL, "barrier_group_free did not return NULL", value);
        snapshot(&after);
        require(subset(after.open, mid.open), "freeing opened a descriptor", value);
        for (int k = 0; k < WATCHED_FDS / 64; k++)
                closed[k] = mid.open[k] & ~after.open[k];
        require(subset(closed, mid.cloexec), "import left a descriptor without close-on-exec", value);
        write_end = last && strtol(last + 1, NULL, 10) == 1;
        require(popcount(closed) == 2 * (int) n + 1 + write_end,
                "freeing did not close exactly the member's descriptors", value);
        require(mapped_pages() == mapped_before, "freeing left memory mapped", value);
        /* The handle lived in a mapping of its own, at least a page. */
        require(msync(g, (size_t) page, MS_ASYNC) < 0 && errno == ENOMEM,
                "freeing left the handle's memory mapped", value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* The variable, put into the environment as it is (putenv), so
         * that no input leaves a copy behind as setenv() would. */
        static char variable[sizeof("BARRIER_GROUP=") + 256] = "BARRIER_GROUP=";
        char *value = variable + strlen("BARRIER_GROUP=");
        struct fd_set_snapshot before, after;
        BarrierGroup *g = (BarrierGroup *) variable; /* not NULL: must become NULL */
        long mapped_before;
        int r;

        if (!prepared)
                prepare();
        if (size >= 256)
                return 0;
        memcpy(value, data, size);
        value[size] = 0;
        if (putenv(variable) != 0)
                abort();

        mapped_before = mapped_pages();
        snapshot(&before);
        r = barrier_group_import_env(&g);

        if (r == 0) {
                check_success(g, value, &before, mapped_before);
                unprepare();
                return 0;
        }
        snapshot(&after);
        require(r == -EINVAL || r == -EBADF, "unexpected error code", value);
        require(g == NULL, "handle not NULL after failure", value);
        require(getenv("BARRIER_GROUP") == value, "variable removed after failure", value);
        require(same_fds(&before, &after), "descriptors or their flags changed", value);
        require(mapped_pages() == mapped_before, "memory stayed mapped", value);
        return 0;
}
