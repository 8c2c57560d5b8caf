/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int harness_failures;
const char *harness_side = "test";
volatile uint64_t *harness_shared;

/* A hung test is killed after this long; it guards against hangs only and
 * is never what a test's result depends on. */
#define WATCHDOG_SEC 60

/* A check failing in a loop would bury everything else. */
#define FAILURES_SHOWN 20

void harness_fail(const char *file, int line, const char *fmt, ...) {
        va_list ap;

        if (++harness_failures > FAILURES_SHOWN) {
                if (harness_failures == FAILURES_SHOWN + 1)
                        fprintf(stderr, "[%s, pid %d] more checks failed; not shown\n", harness_side, (int)getpid());
                return;
        }

        fprintf(stderr, "%s:%d: [%s, pid %d] check failed: ", file, line, harness_side, (int)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                /* the other side may be done with us already: not an error */
                if (n < 0 && errno == EPIPE)
                        return;
                if (n <= 0) {
                        harness_fail(__FILE__, __LINE__, "control write: %s", strerror(errno));
                        return;
                }
                p += n;
                len -= (size_t)n;
        }
}

/* Reads exactly len bytes; false on EOF. */
static bool read_all(int fd, void *buf, size_t len) {
        char *p = buf;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        harness_fail(__FILE__, __LINE__, "control read: %s", strerror(errno));
                        return false;
                }
                if (n == 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

void peer_signal(struct peer *p) {
        write_all(p->wr, "x", 1);
}

bool peer_await(struct peer *p) {
        char c;
        return read_all(p->rd, &c, 1);
}

static void await_eof(struct peer *p) {
        char c;
        while (read_all(p->rd, &c, 1))
                ;
}

void peer_stay_idle(struct peer *p) {
        peer_signal(p);
        await_eof(p);
}

void peer_stay_idle_side(Barrier *b, struct peer *p) {
        (void)b;
        peer_stay_idle(p);
}

void place_once_side(Barrier *b, struct peer *p) {
        (void)p;
        CHECK(barrier_place(b));
}

void peer_await_exit(struct peer *p, const Barrier *b) {
        int fd = b->pipe[0] >= 0 ? b->pipe[0] : b->pipe[1];
        struct pollfd pfd = { .fd = fd, .events = POLLHUP };

        await_eof(p);
        for (;;) {
                int r = poll(&pfd, 1, -1);
                if (r < 0 && errno == EINTR)
                        continue;
                CHECK(r == 1);
                CHECK(pfd.revents & (POLLHUP | POLLERR));
                return;
        }
}

void peer_send_pid(struct peer *p) {
        pid_t pid = getpid();
        write_all(p->wr, &pid, sizeof(pid));
}

pid_t peer_recv_pid(struct peer *p) {
        pid_t pid = -1;
        CHECK(read_all(p->rd, &pid, sizeof(pid)));
        return pid;
}

static void close_pair(int fds[2]) {
        close(fds[0]);
        close(fds[1]);
}

static pid_t fork_side(const char *name, Barrier *b, unsigned role, side_fn fn, int rd, int wr, int pipes[2][2]) {
        pid_t pid = fork();

        if (pid < 0) {
                harness_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
                return pid;
        }
        if (pid == 0) {
                struct peer p = { .rd = fcntl(rd, F_DUPFD_CLOEXEC, 3), .wr = fcntl(wr, F_DUPFD_CLOEXEC, 3) };

                harness_side = name;
                close_pair(pipes[0]);
                close_pair(pipes[1]);
                barrier_set_role(b, role);
                fn(b, &p);
                barrier_destroy(b);
                fflush(NULL);
                _exit(harness_failures ? 1 : 0);
        }
        return pid;
}

void reap_process(const char *name, pid_t pid, bool may_be_killed) {
        int status;

        if (pid < 0)
                return;
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        harness_fail(__FILE__, __LINE__, "waitpid: %s", strerror(errno));
                        return;
                }
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
        if (may_be_killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                return;
        if (WIFEXITED(status))
                harness_fail(__FILE__, __LINE__, "%s exited with status %d", name, WEXITSTATUS(status));
        else
                harness_fail(__FILE__, __LINE__, "%s died of signal %d", name, WTERMSIG(status));
}

void run_pair_flags(side_fn child, int child_flags, side_fn parent, int parent_flags) {
        Barrier b = BARRIER_NULL;
        /* pipes[0]: child to parent; pipes[1]: parent to child */
        int pipes[2][2];
        pid_t c, p;

        CHECK_INT(barrier_create(&b), 0);
        CHECK(pipe2(pipes[0], O_CLOEXEC) == 0);
        CHECK(pipe2(pipes[1], O_CLOEXEC) == 0);
        fflush(NULL);
        c = fork_side("child", &b, BARRIER_CHILD, child, pipes[1][0], pipes[0][1], pipes);
        p = fork_side("parent", &b, BARRIER_PARENT, parent, pipes[0][0], pipes[1][1], pipes);
        barrier_destroy(&b);
        close_pair(pipes[0]);
        close_pair(pipes[1]);
        reap_process("child", c, child_flags & SIDE_MAY_BE_KILLED);
        reap_process("parent", p, parent_flags & SIDE_MAY_BE_KILLED);
}

void run_pair(side_fn child, side_fn parent) {
        run_pair_flags(child, 0, parent, 0);
}

int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d) {
                harness_fail(__FILE__, __LINE__, "opendir /proc/self/fd: %s", strerror(errno));
                return -1;
        }
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        /* the directory's own descriptor was counted */
        return n - 1;
}

void close_if_open(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

void await_state(pid_t pid, char state) {
        while (process_state(pid) != state)
                sched_yield();
}

void await_sleeping(pid_t pid) {
        await_state(pid, 'S');
}

void await_gone(pid_t pid) {
        char s;

        while ((s = process_state(pid)) != 'Z' && s != '?')
                sched_yield();
}

#ifdef HARNESS_REFERENCE
enum { SYSCALL_NONE = -1, SYSCALL_HIDDEN = -2 };

/* The number of the system call the process is in, from
 * /proc/PID/syscall; SYSCALL_NONE if it is in none or is gone,
 * SYSCALL_HIDDEN if the system does not show it to us (a ptrace policy
 * such as Yama's ptrace_scope 2 or 3). */
static long process_syscall(pid_t pid) {
        char path[64], buf[256];
        ssize_t n;
        int fd, err;

        snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == EACCES || errno == EPERM ? SYSCALL_HIDDEN : SYSCALL_NONE;
        n = read(fd, buf, sizeof(buf) - 1);
        err = errno;
        close(fd);
        if (n <= 0)
                return n < 0 && (err == EACCES || err == EPERM) ? SYSCALL_HIDDEN : SYSCALL_NONE;
        buf[n] = 0;
        /* "running", or "-1 SP PC" when blocked outside a system call */
        if (buf[0] < '0' || buf[0] > '9')
                return SYSCALL_NONE;
        return strtol(buf, NULL, 10);
}

static bool is_poll(long nr) {
#ifdef SYS_poll
        if (nr == SYS_poll)
                return true;
#endif
        return nr == SYS_ppoll;
}

enum { PROBE_RETURNED_FALSE = 10, PROBE_RETURNED_TRUE = 11 };

void check_blocks(const char *file, int line, Barrier *b, bool (*call)(Barrier *b), const char *name) {
        struct pollfd pfd = { .fd = b->them, .events = POLLIN };
        int status, r;
        pid_t pid;

        /* The probe must not be able to consume anything: otherwise the
         * object it leaves behind would not be the caller's any more, and
         * the test's premise (nothing to wait for) would be wrong. */
        r = poll(&pfd, 1, 0);
        if (r != 0) {
                harness_fail(file, line, "%s: the other side's eventfd is readable (poll: %d, revents %#x), so it "
                             "need not block", name, r, (unsigned)pfd.revents);
                return;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                harness_fail(file, line, "fork: %s", strerror(errno));
                return;
        }
        if (pid == 0) {
                harness_side = "probe";
                _exit(call(b) ? PROBE_RETURNED_TRUE : PROBE_RETURNED_FALSE);
        }
        /* asleep in poll (it stays so: nothing can arrive), or gone; where
         * the system call is hidden from us, asleep must do */
        for (;;) {
                char s = process_state(pid);
                long nr;

                if (s == 'Z' || s == '?')
                        break;
                nr = s == 'S' ? process_syscall(pid) : SYSCALL_NONE;
                if (is_poll(nr) || nr == SYSCALL_HIDDEN) {
                        kill(pid, SIGKILL);
                        break;
                }
                sched_yield();
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        harness_fail(file, line, "waitpid: %s", strerror(errno));
                        return;
                }
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == PROBE_RETURNED_TRUE)
                harness_fail(file, line, "%s returned true instead of blocking", name);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == PROBE_RETURNED_FALSE)
                harness_fail(file, line, "%s returned false instead of blocking", name);
        else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                harness_fail(file, line, "%s: the probe ended with status %#x instead of blocking", name, status);
}
#endif

static int run_one(const struct test *t) {
        pid_t pid;
        int status;

        memset((void *)harness_shared, 0, 4096);
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "fork: %s\n", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                setpgid(0, 0);
                signal(SIGPIPE, SIG_IGN);
                alarm(WATCHDOG_SEC);
                t->fn();
                fflush(NULL);
                _exit(harness_failures ? 1 : 0);
        }
        setpgid(pid, pid);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        /* whatever the test left running (after a failure) goes too */
        kill(-pid, SIGKILL);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFSIGNALED(status))
                fprintf(stderr, "%s: killed by signal %d%s\n", t->name, WTERMSIG(status),
                        WTERMSIG(status) == SIGALRM ? " (watchdog: it hung)" : "");
        return 1;
}

int run_tests(const struct test *tests, size_t n, int argc, char **argv) {
        int passed = 0, failed = 0, skipped = 0;

        harness_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (harness_shared == MAP_FAILED) {
                fprintf(stderr, "mmap: %s\n", strerror(errno));
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                bool selected = argc <= 1;

                for (int a = 1; a < argc; a++)
                        if (strcmp(argv[a], tests[i].name) == 0)
                                selected = true;
                if (!selected)
                        continue;
#ifdef HARNESS_REFERENCE
                if (tests[i].not_systemd) {
                        printf("skip %s: skipped against systemd: %s\n", tests[i].name, tests[i].not_systemd);
                        skipped++;
                        continue;
                }
#endif
                if (run_one(&tests[i]) == 0) {
                        printf("ok %s\n", tests[i].name);
                        passed++;
                } else {
                        printf("FAIL %s\n", tests[i].name);
                        failed++;
                }
                fflush(stdout);
        }
        if (skipped)
                printf("%d skipped against systemd\n", skipped);
        printf("%d passed, %d failed\n", passed, failed);
        /* a program may run nothing against systemd, saying why for each */
        return failed == 0 && (passed > 0 || skipped > 0) ? 0 : 1;
}
