/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Fault-injection driver: runs scenarios over libbarrier with one syscall
 * failing at every position it is called in, under the injector of
 * inject.c (run as LD_PRELOAD=inject.so driver).
 *
 * Each case runs in a process of its own under a watchdog, and must end
 * with:
 * - no hang and no crash;
 * - a defined result: every call answers what it answers without the
 *   fault, until the first call the fault changed; that call fails (false,
 *   or the injected errno from a bounded call); every later call fails,
 *   and the barrier ends aborted on both sides (WE_ABORTED), which is what
 *   a fatal syscall error means. Faults the library must ride out (EINTR
 *   storms, EAGAIN, a failed close) change no answer at all;
 * - no descriptor leaked (counted in /proc/self/fd);
 * - the peer released: the other process's waits end (false once it
 *   needs a barrier the failed side never placed), its final wait_abortion
 *   returns true, and it exits normally.
 *
 * With no argument it runs every case and ends with "N passed, M failed";
 * `driver SCENARIO CALL MODE ERRNO NTH` runs one, to reproduce a failure
 * (with FAULT_VERBOSE=1 in the environment it prints every answer).
 */
#define _GNU_SOURCE
#include "barrier.h"
#include "fault.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Guards against hangs only. */
#define WATCHDOG_SEC 20

/* A case process's exit codes. */
enum { CASE_FIRED = 0, CASE_FAILED = 1, CASE_NOT_REACHED = 2 };

static fault_plan_fn *fault_plan;
static fault_arm_fn *fault_arm;
static fault_count_fn *fault_count;
static fault_fired_fn *fault_fired;

static const char *call_names[FAULT_NCALLS + 1] = {
        "eventfd", "pipe2", "ppoll", "read", "write", "close", "fcntl", "memfd_create", "ftruncate", "mmap",
        "munmap", "epoll_create1", "epoll_ctl", "epoll_wait", "fstat", "readlink", "nothing",
};

static int failures;
static char case_name[128];

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int line, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "driver.c:%d: [%s, pid %d] ", line, case_name, (int)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        failures++;
}

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond))                                                         \
                        fail(__LINE__, "check failed: %s", #cond);                   \
        } while (0)

/* Runs a library call with the injector armed. */
#define ARMED(expr)                                                                  \
        __extension__({                                                              \
                fault_arm(1);                                                        \
                __typeof__(expr) armed_r_ = (expr);                                  \
                fault_arm(0);                                                        \
                armed_r_;                                                            \
        })
#define ARMED_VOID(expr)                                                             \
        do {                                                                         \
                fault_arm(1);                                                        \
                expr;                                                                \
                fault_arm(0);                                                        \
        } while (0)

static int count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1;
}

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

static bool write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

static bool read_all(int fd, void *buf, size_t len) {
        char *p = buf;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

/*
 * Checks one side's answers against the fault-free ones. `bounded[i]`
 * says whether answer i comes from a bounded call (1 / 0 / -errno) rather
 * than a boolean one. Returns the index of the first changed answer, or n.
 */
static int check_answers(const char *side, const int *got, const int *want, const bool *bounded, int n, int err) {
        int first = n;

        for (int i = 0; i < n; i++) {
                if (got[i] != want[i]) {
                        first = i;
                        break;
                }
        }
        for (int i = first; i < n; i++) {
                bool failed = bounded[i] ? got[i] <= 0 : got[i] == 0;
                if (!failed)
                        fail(__LINE__, "%s: answer %d is %d, after answer %d changed: a failed barrier answered success",
                             side, i, got[i], first);
                if (bounded[i] && got[i] < 0 && got[i] != -err)
                        fail(__LINE__, "%s: answer %d is %d, not -%d (the injected errno) or 0", side, i, got[i], err);
        }
        return first;
}

/* --- Scenario "fork": a parent and a child sync through seven rounds.
 * The faulty side F has the injector armed; the peer P never arms it.
 * At the start of each round F sends P a token over a pipe, and P places
 * one barrier and syncs; F meets it with a different call each round. The
 * token keeps P from placing its next barrier before F has consumed the
 * last, so every call of F sees exactly one new barrier. Then F aborts and
 * waits for P to leave. */

#define F_ANSWERS 15
#define ROUNDS 7
#define P_ANSWERS (2 * ROUNDS + 1)

static const int f_want[F_ANSWERS] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
static const bool f_bounded[F_ANSWERS] = {
        [4] = true, [7] = true, [12] = true, [14] = true,
};
static const int p_want[P_ANSWERS] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static const bool p_bounded[P_ANSWERS] = { false };

static void peer_side(Barrier *b, unsigned role, int go, int report) {
        int r[P_ANSWERS + 1];
        char token;

        alarm(WATCHDOG_SEC);
        barrier_set_role(b, role);
        for (int i = 0; i < ROUNDS; i++) {
                if (!read_all(go, &token, 1))
                        _exit(1);
                r[2 * i] = barrier_place(b);
                r[2 * i + 1] = barrier_sync(b);
        }
        /* F aborts only once this is read: an abort written while the last
         * sync has yet to read F's last barrier would arrive summed with
         * it, and hide it */
        if (!write_all(report, r, 2 * ROUNDS * sizeof(int)))
                _exit(1);
        r[2 * ROUNDS] = barrier_wait_abortion(b);
        r[P_ANSWERS] = b->barriers == BARRIER_THEY_ABORTED;
        barrier_destroy(b);
        _exit(write_all(report, &r[2 * ROUNDS], 2 * sizeof(int)) ? 0 : 1);
}

/* Lets the peer place its next barrier. */
#define GO() CHECK(write_all(go[1], "g", 1))

static void scenario_fork(unsigned role, int err, bool transient) {
        Barrier b = BARRIER_NULL;
        int base = count_fds(), report[2], go[2], got[F_ANSWERS], peer[P_ANSWERS + 1], status, first, r;
        bool reported;
        pid_t pid;

        r = ARMED(barrier_create(&b));
        if (r < 0) {
                CHECK(!transient);
                CHECK(r == -err);
                CHECK(is_null(&b));
                CHECK(count_fds() == base);
                return;
        }
        CHECK(r == 0);
        if (pipe2(report, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
                fail(__LINE__, "pipe2: %s", strerror(errno));
                return;
        }
        pid = fork();
        if (pid < 0) {
                fail(__LINE__, "fork: %s", strerror(errno));
                return;
        }
        if (pid == 0) {
                close(report[0]);
                close(go[1]);
                peer_side(&b, role == BARRIER_PARENT ? BARRIER_CHILD : BARRIER_PARENT, go[0], report[1]);
        }
        close(report[1]);
        close(go[0]);

        ARMED_VOID(barrier_set_role(&b, role));
        GO();
        got[0] = ARMED(barrier_place(&b));
        got[1] = ARMED(barrier_sync(&b));
        GO();
        got[2] = ARMED(barrier_place_and_sync(&b));
        GO();
        got[3] = ARMED(barrier_place(&b));
        got[4] = ARMED(barrier_sync_timeout(&b, BARRIER_INFINITY));
        GO();
        got[5] = ARMED(barrier_wait_next(&b));
        got[6] = ARMED(barrier_place(&b));
        GO();
        /* a bound the watchdog ends long before: the path that counts down */
        got[7] = ARMED(barrier_wait_next_timeout(&b, UINT64_C(60000000)));
        got[8] = ARMED(barrier_place(&b));
        GO();
        got[9] = ARMED(barrier_place(&b));
        got[10] = ARMED(barrier_sync_next(&b));
        GO();
        got[11] = ARMED(barrier_place(&b));
        got[12] = ARMED(barrier_sync_next_timeout(&b, BARRIER_INFINITY));
        close(go[1]);
        reported = read_all(report[0], peer, 2 * ROUNDS * sizeof(int));
        got[13] = ARMED(barrier_abort(&b));
        got[14] = ARMED(barrier_wait_abortion_timeout(&b, BARRIER_INFINITY));
        reported = reported && read_all(report[0], &peer[2 * ROUNDS], 2 * sizeof(int));

        if (getenv("FAULT_VERBOSE")) {
                fprintf(stderr, "faulty side answers:");
                for (int i = 0; i < F_ANSWERS; i++)
                        fprintf(stderr, " %d", got[i]);
                fprintf(stderr, ", state %lld\n", (long long)b.barriers);
        }
        first = check_answers("faulty side", got, f_want, f_bounded, F_ANSWERS, err);
        if (first < F_ANSWERS) {
                if (transient)
                        fail(__LINE__, "answer %d changed, though the library must ride this fault out", first);
                if (!barrier_we_aborted(&b))
                        fail(__LINE__, "answer %d changed, but the state is %lld, not WE_ABORTED", first,
                             (long long)b.barriers);
        }

        if (!reported) {
                fail(__LINE__, "the peer did not report");
        } else {
                if (getenv("FAULT_VERBOSE")) {
                        fprintf(stderr, "peer answers:");
                        for (int i = 0; i < P_ANSWERS; i++)
                                fprintf(stderr, " %d", peer[i]);
                        fprintf(stderr, ", state THEY_ABORTED: %d\n", peer[P_ANSWERS]);
                }
                first = check_answers("peer", peer, p_want, p_bounded, P_ANSWERS - 1, 0);
                if (transient && first < P_ANSWERS - 1)
                        fail(__LINE__, "the peer's answer %d changed, though the fault is one to ride out", first);
                if (peer[P_ANSWERS - 1] != 1)
                        fail(__LINE__, "the peer's final wait_abortion answered %d, not true", peer[P_ANSWERS - 1]);
                if (!peer[P_ANSWERS])
                        fail(__LINE__, "the peer's final state is not THEY_ABORTED");
        }
        close(report[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail(__LINE__, "the peer ended with status 0x%x", status);

        CHECK(ARMED(barrier_destroy(&b)) == NULL);
        CHECK(is_null(&b));
        if (count_fds() != base)
                fail(__LINE__, "%d descriptors open after destroy, %d before create", count_fds(), base);
}

/* --- Scenario "pair": two ends in one process, one handed on for execve. */

static bool cloexec(int fd) {
        int f = fcntl(fd, F_GETFD);
        return f >= 0 && (f & FD_CLOEXEC);
}

static void scenario_pair(int err, bool transient) {
        Barrier p = BARRIER_NULL, c = BARRIER_NULL;
        char env[BARRIER_ENV_MAX];
        int base = count_fds(), r;

        r = ARMED(barrier_create_pair(&p, &c));
        if (r < 0) {
                CHECK(!transient);
                CHECK(r == -err);
                CHECK(is_null(&p) && is_null(&c));
                if (count_fds() != base)
                        fail(__LINE__, "create_pair failed with %d and left %d descriptors open, %d before", r,
                             count_fds(), base);
                return;
        }
        CHECK(r == 0);
        r = ARMED(barrier_export_env(&c, env, sizeof(env)));
        if (r < 0) {
                CHECK(!transient);
                CHECK(r == -err);
                /* nothing changed: still close-on-exec */
                CHECK(cloexec(c.me) && cloexec(c.them) && cloexec(c.pipe[1]));
        } else {
                CHECK(r > 0 && (size_t)r < sizeof(env) && strncmp(env, "BARRIER_FDS=", 12) == 0);
                CHECK(!cloexec(c.me) && !cloexec(c.them) && !cloexec(c.pipe[1]));
        }
        /* the pair still works (the injector is not armed here) */
        CHECK(barrier_place(&p));
        CHECK(barrier_wait_next_timeout(&c, 0) == 1);
        CHECK(ARMED(barrier_destroy(&c)) == NULL);
        CHECK(ARMED(barrier_destroy(&p)) == NULL);
        if (count_fds() != base)
                fail(__LINE__, "%d descriptors open after destroy, %d before create", count_fds(), base);
}

/* --- Cases. */

enum scenario { FORK_AS_PARENT, FORK_AS_CHILD, PAIR, NSCENARIOS };
static const char *scenario_names[NSCENARIOS] = { "fork-as-parent", "fork-as-child", "pair" };

struct fault {
        int call;
        int mode;
        int err;
        /* the library must ride it out: no answer changes */
        bool transient;
};

static const struct fault faults[] = {
        { FAULT_EVENTFD, FAULT_ERRNO, EMFILE, false },
        { FAULT_EVENTFD, FAULT_ERRNO, ENFILE, false },
        { FAULT_EVENTFD, FAULT_ERRNO, ENOMEM, false },
        { FAULT_EVENTFD, FAULT_ERRNO, ENODEV, false },
        { FAULT_PIPE2, FAULT_ERRNO, EMFILE, false },
        { FAULT_PIPE2, FAULT_ERRNO, ENFILE, false },
        { FAULT_PPOLL, FAULT_ERRNO, ENOMEM, false },
        { FAULT_PPOLL, FAULT_ERRNO, EFAULT, false },
        { FAULT_PPOLL, FAULT_NVAL, EBADF, false },
        { FAULT_PPOLL, FAULT_EINTR_STORM, EINTR, true },
        { FAULT_PPOLL, FAULT_ERRNO, EAGAIN, true },
        { FAULT_READ, FAULT_ERRNO, EIO, false },
        { FAULT_READ, FAULT_ERRNO, EBADF, false },
        { FAULT_READ, FAULT_SHORT, EIO, false },
        { FAULT_READ, FAULT_EINTR_STORM, EINTR, true },
        { FAULT_READ, FAULT_ERRNO, EAGAIN, true },
        { FAULT_WRITE, FAULT_ERRNO, EIO, false },
        { FAULT_WRITE, FAULT_ERRNO, EBADF, false },
        { FAULT_WRITE, FAULT_ERRNO, ENOSPC, false },
        { FAULT_WRITE, FAULT_SHORT, EIO, false },
        { FAULT_WRITE, FAULT_EINTR_STORM, EINTR, true },
        { FAULT_WRITE, FAULT_ERRNO, EAGAIN, true },
        { FAULT_CLOSE, FAULT_AFTER, EIO, true },
        { FAULT_CLOSE, FAULT_AFTER, EINTR, true },
        { FAULT_FCNTL, FAULT_ERRNO, EBADF, false },
        { FAULT_FCNTL, FAULT_ERRNO, EMFILE, false },
        { FAULT_FCNTL, FAULT_ERRNO, EINVAL, false },
};
#define NFAULTS (sizeof(faults) / sizeof(faults[0]))

static const char *mode_name(int mode) {
        switch (mode) {
        case FAULT_ERRNO:
                return "errno";
        case FAULT_EINTR_STORM:
                return "eintr-storm";
        case FAULT_SHORT:
                return "short";
        case FAULT_NVAL:
                return "pollnval";
        case FAULT_AFTER:
                return "after";
        }
        return "?";
}

/* Runs one case in this process; returns its exit code. A transient
 * fault is checked by expecting errno 0: no answer may change. */
static int run_case(int scenario, const struct fault *f, long nth) {
        int err = f->transient ? 0 : f->err;

        snprintf(case_name, sizeof(case_name), "%s %s %s %s #%ld", scenario_names[scenario], call_names[f->call],
                 mode_name(f->mode), strerror(f->err), nth);
        alarm(WATCHDOG_SEC);
        fault_plan(f->call, nth, f->mode, f->err);
        switch (scenario) {
        case FORK_AS_PARENT:
                scenario_fork(BARRIER_PARENT, err, f->transient);
                break;
        case FORK_AS_CHILD:
                scenario_fork(BARRIER_CHILD, err, f->transient);
                break;
        case PAIR:
                scenario_pair(err, f->transient);
                break;
        }
        if (failures)
                return CASE_FAILED;
        return fault_fired() > 0 ? CASE_FIRED : CASE_NOT_REACHED;
}

/* Runs a case in a child process; returns its exit code, or CASE_FAILED
 * if it crashed or hung. */
static int fork_case(int scenario, const struct fault *f, long nth) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return CASE_FAILED;
        }
        if (pid == 0)
                _exit(run_case(scenario, f, nth));
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        fprintf(stderr, "%s %s %s %s #%ld: killed by signal %d%s\n", scenario_names[scenario], call_names[f->call],
                mode_name(f->mode), strerror(f->err), nth, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (watchdog: it hung)" : "");
        return CASE_FAILED;
}

static void *need(const char *name) {
        void *p = dlsym(RTLD_DEFAULT, name);
        if (!p) {
                fprintf(stderr, "%s not found: run with LD_PRELOAD=.../inject.so\n", name);
                exit(2);
        }
        return p;
}

int main(int argc, char **argv) {
        int passed = 0, failed = 0;
        long injected = 0;

        /* through a void *, as POSIX documents for dlsym() */
        *(void **)&fault_plan = need("fault_plan");
        *(void **)&fault_arm = need("fault_arm");
        *(void **)&fault_count = need("fault_count");
        *(void **)&fault_fired = need("fault_fired");
        signal(SIGPIPE, SIG_IGN);

        if (argc == 6) {
                struct fault f = { atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), false };
                int scenario = atoi(argv[1]);
                for (size_t i = 0; i < NFAULTS; i++)
                        if (faults[i].call == f.call && faults[i].mode == f.mode && faults[i].err == f.err)
                                f.transient = faults[i].transient;
                return run_case(scenario, &f, atol(argv[5])) == CASE_FAILED;
        }

        /* Without a fault, every scenario gives the expected answers. */
        for (int s = 0; s < NSCENARIOS; s++) {
                struct fault none = { FAULT_NCALLS, FAULT_ERRNO, 0, true };
                if (fork_case(s, &none, 1) == CASE_NOT_REACHED) {
                        passed++;
                } else {
                        printf("FAIL %s without a fault\n", scenario_names[s]);
                        failed++;
                }
        }
        for (int s = 0; s < NSCENARIOS; s++) {
                for (size_t i = 0; i < NFAULTS; i++) {
                        const struct fault *f = &faults[i];
                        long nth;

                        for (nth = 1; nth < 1000; nth++) {
                                int r = fork_case(s, f, nth);
                                if (r == CASE_NOT_REACHED)
                                        break;
                                if (r == CASE_FIRED) {
                                        passed++;
                                        injected++;
                                } else {
                                        printf("FAIL %s %s %s %s #%ld (reproduce: driver %d %d %d %d %ld)\n",
                                               scenario_names[s], call_names[f->call], mode_name(f->mode),
                                               strerror(f->err), nth, s, f->call, f->mode, f->err, nth);
                                        failed++;
                                }
                        }
                        printf("%s: %s %s %s: %ld positions\n", scenario_names[s], call_names[f->call],
                               mode_name(f->mode), strerror(f->err), nth - 1);
                }
        }
        printf("%ld faults injected\n", injected);
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
}
