/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barrier groups and descriptors: how many a handle holds before and
 * after join, all close-on-exec, all given back by free, none leaked when
 * new fails for want of descriptors at any point; nothing left mapped; and
 * a process forked after join holds a member's exit up only while it
 * keeps its copies.
 */
#define _GNU_SOURCE
#include "group-harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool cloexec(int fd) {
        return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

/* The open descriptors, as a bit set (numbers below FD_BITS). */
#define FD_BITS 4096
struct fd_set_bits {
        uint64_t w[FD_BITS / 64];
        int highest;
};

/* Reads /proc/self/fd with getdents64 into a buffer on the stack: no
 * allocation, so that comparing /proc/self/maps before and after shows
 * the library's mappings only (an allocator, ASan's included, may map
 * memory for opendir()). */
struct dirent64_head {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
};

static void open_fds(struct fd_set_bits *s) {
        char buf[4096] __attribute__((aligned(8)));
        int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        long len;

        memset(s, 0, sizeof(*s));
        s->highest = -1;
        CHECK(dir >= 0);
        while (dir >= 0 && (len = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
                for (long at = 0; at < len;) {
                        const struct dirent64_head *e = (const void *)(buf + at);
                        int fd = atoi(e->name);

                        at += e->reclen;
                        if (e->name[0] == '.' || fd == dir)
                                continue;
                        /* above: not the library's (a checker's own) */
                        if (fd >= FD_BITS)
                                continue;
                        s->w[fd / 64] |= UINT64_C(1) << (fd % 64);
                        if (fd > s->highest)
                                s->highest = fd;
                }
        }
        if (dir >= 0)
                close(dir);
}

/* The number of open descriptors (count_fds() of the harness, without
 * allocating). */
static int fd_count(void) {
        struct fd_set_bits s;
        int n = 0;

        open_fds(&s);
        for (size_t i = 0; i < FD_BITS / 64; i++)
                n += __builtin_popcountll(s.w[i]);
        return n;
}

static bool has_fd(const struct fd_set_bits *s, int fd) {
        return s->w[fd / 64] >> (fd % 64) & 1;
}

/* Checks that every descriptor open now and not in `before` is
 * close-on-exec; returns how many there are. */
static int check_new_fds_cloexec(const struct fd_set_bits *before) {
        struct fd_set_bits now;
        int added = 0;

        open_fds(&now);
        for (int fd = 0; fd <= now.highest; fd++) {
                if (!has_fd(&now, fd) || has_fd(before, fd))
                        continue;
                added++;
                if (!cloexec(fd))
                        harness_fail(__FILE__, __LINE__, "descriptor %d is not close-on-exec", fd);
        }
        return added;
}

/* The bytes this process maps (proc.h), checked readable; 0 under
 * valgrind, where nothing is compared. */
static long long maps_now(void) {
        long long bytes = under_valgrind() ? 0 : mapped_bytes();

        CHECK(bytes >= 0);
        return bytes;
}

static const unsigned sizes[] = { 2, 8, BARRIER_GROUP_MAX };

TEST(counts_before_and_after_join_and_free) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                unsigned n = sizes[s];
                struct fd_set_bits before;
                BarrierGroup *g = NULL;
                int fds;
                long long maps;

                fds = fd_count();
                open_fds(&before);
                maps = maps_now();
                CHECK_INT(barrier_group_new(&g, n), 0);
                CHECK_INT(fd_count(), fds + 4 * (int)n + 1);
                CHECK_INT(check_new_fds_cloexec(&before), 4 * (int)n + 1);
                /* the shared page and the handle are mapped */
                CHECK(under_valgrind() || maps_now() > maps);
                CHECK_INT(barrier_group_join(g, n - 1), 0);
                CHECK_INT(fd_count(), fds + 2 * (int)n + 2);
                CHECK_INT(check_new_fds_cloexec(&before), 2 * (int)n + 2);
                /* calls other than new and free change nothing of it */
                CHECK_INT(barrier_group_place(g), 1);
                CHECK_INT(barrier_group_sync(g, 0), 0);
                CHECK_INT(fd_count(), fds + 2 * (int)n + 2);
                barrier_group_free(g);
                CHECK_INT(fd_count(), fds);
                CHECK_INT(check_new_fds_cloexec(&before), 0);
                CHECK(maps_now() == maps);

                /* a handle that never joined gives back all 4n + 1 */
                CHECK_INT(barrier_group_new(&g, n), 0);
                CHECK_INT(fd_count(), fds + 4 * (int)n + 1);
                barrier_group_freep(&g);
                CHECK(g == NULL);
                CHECK_INT(fd_count(), fds);
                CHECK(maps_now() == maps);
        }
}

/* Descriptor numbers below `limit` that are free. */
static int free_below(const struct fd_set_bits *open_now, rlim_t limit) {
        int n = 0;

        for (rlim_t fd = 0; fd < limit; fd++)
                n += fd >= FD_BITS || !has_fd(open_now, (int)fd);
        return n;
}

/*
 * RLIMIT_NOFILE bounds descriptor numbers, not counts: a limit leaves the
 * free numbers below it. From the limit that leaves one free number up,
 * new fails with -EMFILE and leaks nothing while fewer than 4n + 1 are
 * free, and succeeds once 4n + 1 are.
 */
TEST(new_out_of_descriptors_at_every_point) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                unsigned n = sizes[s];
                int need = 4 * (int)n + 1;
                struct fd_set_bits open_now;
                struct rlimit saved, low;
                int fds = fd_count(), failures = 0, r = -1;
                long long maps = maps_now();
                rlim_t limit = 1;

                open_fds(&open_now);
                CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
                while (free_below(&open_now, limit) < 1)
                        limit++;
                for (;; limit++) {
                        BarrierGroup *g = (BarrierGroup *)&saved;
                        int available = free_below(&open_now, limit);

                        low = saved;
                        low.rlim_cur = limit;
                        CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
                        r = barrier_group_new(&g, n);
                        CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
                        if (r == 0) {
                                CHECK(g != NULL);
                                CHECK_INT(available, need);
                                CHECK_INT(fd_count(), fds + need);
                                barrier_group_free(g);
                                break;
                        }
                        failures++;
                        CHECK_INT(r, -EMFILE);
                        CHECK(available < need);
                        CHECK(g == NULL);
                        CHECK_INT(fd_count(), fds);
                        CHECK(maps_now() == maps);
                        if (harness_failures)
                                break;
                }
                CHECK_INT(r, 0);
                /* every shortfall from 1 free number to 4n was tried */
                CHECK(failures >= need - 1);
                CHECK_INT(fd_count(), fds);
                CHECK(maps_now() == maps);
        }
}

/*
 * The caveat of libbarrier(3), "Groups": a process forked from a member
 * after it joined (and that does not join) holds copies of the member's
 * descriptors, its pipe's write end among them; while it keeps them, the
 * member's exit cannot be seen. Once it closes them (here by exiting),
 * the exit is seen at once. Close-on-exec makes this rare: a process that
 * execs something else drops the copies.
 */
static void forking_member(BarrierGroup *g, unsigned rank, struct peer *p, void *arg) {
        (void)arg;
        if (rank == 1) {
                int release[2];
                pid_t pid;
                int status;
                char c;

                CHECK(pipe2(release, O_CLOEXEC) == 0);
                fflush(NULL);
                pid = fork();
                if (pid == 0) {
                        /* not a member: it only keeps the copies */
                        close(release[1]);
                        while (read(release[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        _exit(0);
                }
                CHECK(pid > 0);
                close(release[0]);
                /* an exit, for the group; the process stays to reap */
                barrier_group_free(g);
                peer_signal(p);
                CHECK(peer_await(p));
                close(release[1]);
                CHECK(waitpid(pid, &status, 0) == pid);
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                fflush(NULL);
                _exit(harness_failures ? 1 : 0);
        }
        CHECK(peer_await(p));
        /* rank 1 freed its handle, but its copy in the forked process
         * keeps its pipe open: not seen yet */
        CHECK_INT(barrier_group_place_and_sync(g, BLOCK_USEC), -ETIMEDOUT);
        CHECK_INT(barrier_group_wait_abortion(g, BLOCK_USEC), -ETIMEDOUT);
        CHECK(!barrier_group_they_aborted(g));
        peer_signal(p);
        /* the forked process is told to exit: now it is seen */
        CHECK_INT(barrier_group_sync(g, BARRIER_INFINITY), 0);
        CHECK_INT(barrier_group_aborted_by(g), 1);
}

TEST(process_forked_after_join_holds_an_exit_up_only_while_it_lives) {
        struct group_members m;

        group_start(&m, 2, forking_member, NULL);
        group_hear(&m, 1);
        group_tell(&m, 0);
        group_hear(&m, 0);
        group_tell(&m, 1);
        group_finish(&m);
}

int main(int argc, char **argv) {
        static const struct test tests[] = {
                TEST_ENTRY(counts_before_and_after_join_and_free),
                TEST_ENTRY(new_out_of_descriptors_at_every_point),
                TEST_ENTRY(process_forked_after_join_holds_an_exit_up_only_while_it_lives),
        };
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
