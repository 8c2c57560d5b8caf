/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer target for barrier_import_env(), the one place where outside
 * data (the environment) enters the library.
 *
 * The input becomes the value of BARRIER_FDS. A real pair of barrier ends
 * stays open for the whole run, so that inputs naming its descriptors
 * reach the checks past parsing, and sometimes succeed. For every input:
 * the result is 0, -EINVAL or -EBADF; on failure the object is
 * BARRIER_NULL and the variable is still set; on success the variable is
 * gone, the eventfds are the pair's (the only eventfds in the process) and
 * the pipe end is a pipe end of the right direction; and the set of open
 * descriptors never changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrier.h"

#define WATCHED_FDS 64

static Barrier held_parent = BARRIER_NULL, held_child = BARRIER_NULL;

static void open_set(uint64_t *set) {
        *set = 0;
        for (int fd = 0; fd < WATCHED_FDS; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        *set |= UINT64_C(1) << fd;
}

static void require(int cond, const char *what, const char *value) {
        if (!cond) {
                fprintf(stderr, "import_env fuzz: %s (value \"%s\")\n", what, value);
                abort();
        }
}

static int holds(int fd) {
        const Barrier *ends[] = { &held_parent, &held_child };
        for (int i = 0; i < 2; i++)
                if (fd == ends[i]->me || fd == ends[i]->them || (fd >= 0 && (fd == ends[i]->pipe[0] || fd == ends[i]->pipe[1])))
                        return 1;
        return 0;
}

static int is_fifo(int fd, int accmode) {
        struct stat st;
        return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(fd, F_GETFL) & O_ACCMODE) == accmode;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char value[256];
        uint64_t before, after;
        Barrier b = { 7, 8, { 9, 10 }, 11 };
        int r;

        if (held_parent.me < 0 && barrier_create_pair(&held_parent, &held_child) < 0)
                abort();
        if (size >= sizeof(value))
                return 0;
        memcpy(value, data, size);
        value[size] = 0;
        if (setenv("BARRIER_FDS", value, 1) < 0)
                return 0;

        open_set(&before);
        r = barrier_import_env(&b);
        open_set(&after);

        require(before == after, "the set of open descriptors changed", value);
        if (r == 0) {
                require(getenv("BARRIER_FDS") == NULL, "variable left after success", value);
                require(holds(b.me) && holds(b.them), "imported eventfds are not the pair's", value);
                require((b.pipe[0] >= 0) != (b.pipe[1] >= 0), "not exactly one pipe end", value);
                /* any pipe end of the right direction qualifies: the
                 * fuzzer's own stdio may be pipes too */
                require(is_fifo(b.pipe[0] >= 0 ? b.pipe[0] : b.pipe[1], b.pipe[0] >= 0 ? O_RDONLY : O_WRONLY),
                        "imported pipe end is not a pipe end of that direction", value);
        } else {
                require(r == -EINVAL || r == -EBADF, "unexpected error code", value);
                require(b.me == -1 && b.them == -1 && b.pipe[0] == -1 && b.pipe[1] == -1 && b.barriers == 0,
                        "object not BARRIER_NULL after failure", value);
                require(getenv("BARRIER_FDS") != NULL, "variable removed after failure", value);
        }
        return 0;
}
