/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * userns-run [--] COMMAND [ARGS...]
 *
 * Runs COMMAND as root inside a new user namespace (and a new mount
 * namespace), with root in it mapped to the caller's uid and gid. This is
 * the dance container launchers do, and the one systemd-nspawn uses its
 * barrier for: the two processes must take turns.
 *
 *   child                                 parent
 *   unshare(CLONE_NEWUSER | CLONE_NEWNS)
 *   place  ------------------------------>  wait_next
 *                                          write setgroups, gid_map, uid_map
 *   sync   <------------------------------  place
 *   execvp(COMMAND)                         waitpid, exit with its status
 *
 * Every failure on either side aborts the other with a message and a
 * non-zero exit status, and nothing waits forever: the child failing to
 * unshare, or crashing, ends the parent's wait_next; the parent failing to
 * write a map aborts, and the parent dying is, to the child, an abort too,
 * so it never runs COMMAND without its mapping. An exec that fails exits
 * 127.
 *
 * For tests, USERNS_RUN_FAIL makes one step fail: "unshare" (the child's
 * unshare), "child-crash" (the child dies before it is ready), "map" (the
 * parent's writing of uid_map), "parent-dies" (the parent dies before it
 * writes the maps).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier.h"

static bool fail_at(const char *step) {
        const char *f = getenv("USERNS_RUN_FAIL");
        return f && strcmp(f, step) == 0;
}

/* Writes `text` to /proc/PID/NAME; 0 or a negative errno. */
static int write_proc(pid_t pid, const char *name, const char *text) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(text);
        ssize_t n = write(fd, text, len);
        int r = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
        close(fd);
        return r;
}

static int write_maps(pid_t pid, uid_t uid, gid_t gid) {
        char map[64];
        int r;

        if (fail_at("map"))
                return -EPERM;
        /* setgroups must be denied before an unprivileged gid_map. */
        r = write_proc(pid, "setgroups", "deny");
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
        r = write_proc(pid, "gid_map", map);
        if (r < 0)
                return r;
        snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
        return write_proc(pid, "uid_map", map);
}

static void child(Barrier *b, char **command) {
        barrier_set_role(b, BARRIER_CHILD);
        if (fail_at("unshare") || unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
                int e = fail_at("unshare") ? EPERM : errno;
                fprintf(stderr, "userns-run: unshare: %s\n", strerror(e));
                barrier_abort(b);
                _exit(1);
        }
        if (fail_at("child-crash"))
                raise(SIGKILL);
        /* Tell the parent the namespace exists, then wait for the maps. */
        if (!barrier_place_and_sync(b)) {
                fprintf(stderr, "userns-run: the parent failed or went away before mapping "
                                "the ids; not running %s\n", command[0]);
                _exit(1);
        }
        /* Mounts made from here stay in this namespace. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "userns-run: making / private: %s\n", strerror(errno));
                _exit(1);
        }
        barrier_destroy(b);
        execvp(command[0], command);
        fprintf(stderr, "userns-run: %s: %s\n", command[0], strerror(errno));
        _exit(127);
}

int main(int argc, char **argv) {
        int first = 1;
        if (first < argc && strcmp(argv[first], "--") == 0)
                first++;
        if (first >= argc) {
                fprintf(stderr, "usage: userns-run [--] COMMAND [ARGS...]\n");
                return 2;
        }
        uid_t uid = getuid();
        gid_t gid = getgid();

        Barrier b = BARRIER_NULL;
        int r = barrier_create(&b);
        if (r < 0) {
                fprintf(stderr, "userns-run: barrier_create: %s\n", strerror(-r));
                return 1;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                perror("userns-run: fork");
                return 1;
        }
        if (pid == 0)
                child(&b, argv + first);

        barrier_set_role(&b, BARRIER_PARENT);
        /* The child's barrier: its namespace exists. Its abort, exit or
         * crash ends this wait instead. */
        bool ready = barrier_wait_next(&b);
        if (ready && fail_at("parent-dies"))
                raise(SIGKILL);
        if (!ready) {
                fprintf(stderr, "userns-run: the child failed before its namespace was ready\n");
        } else if ((r = write_maps(pid, uid, gid)) < 0) {
                fprintf(stderr, "userns-run: writing the id maps: %s\n", strerror(-r));
                barrier_abort(&b);
                ready = false;
        } else {
                barrier_place(&b);
        }
        barrier_destroy(&b);

        int status;
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        perror("userns-run: waitpid");
                        return 1;
                }
        }
        if (!ready)
                return 1;
        if (WIFSIGNALED(status)) {
                fprintf(stderr, "userns-run: %s killed by signal %d\n", argv[first],
                        WTERMSIG(status));
                return 128 + WTERMSIG(status);
        }
        return WEXITSTATUS(status);
}
