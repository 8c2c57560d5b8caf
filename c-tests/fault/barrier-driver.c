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
 * `barrier-driver SCENARIO CALL MODE ERRNO NTH` runs one, to reproduce a
 * failure (with FAULT_VERBOSE=1 in the environment it prints every
 * answer).
 */
#define _GNU_SOURCE
#include "barrier.h"
#include "driver-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Guards against hangs only. */
#define WATCHDOG_SEC 20

/* Runs a library call with the injector armed; for calls without an
 * answer. */
#define ARMED_VOID(expr)                                                             \
        do {                                                                         \
                injector->arm(1);                                                    \
                expr;                                                                \
                injector->arm(0);                                                    \
        } while (0)

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
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
static const char *const scenario_names[NSCENARIOS] = { "fork-as-parent", "fork-as-child", "pair" };

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
        FAULTS_READ_WRITE_CLOSE,
        { FAULT_FCNTL, FAULT_ERRNO, EBADF, false },
        { FAULT_FCNTL, FAULT_ERRNO, EMFILE, false },
        { FAULT_FCNTL, FAULT_ERRNO, EINVAL, false },
};

static int run_scenario(int scenario, int err, bool transient) {
        switch (scenario) {
        case FORK_AS_PARENT:
                scenario_fork(BARRIER_PARENT, err, transient);
                break;
        case FORK_AS_CHILD:
                scenario_fork(BARRIER_CHILD, err, transient);
                break;
        case PAIR:
                scenario_pair(err, transient);
                break;
        }
        return case_outcome();
}

static const struct driver two_party = {
        .name = "barrier-driver",
        .watchdog_sec = WATCHDOG_SEC,
        .scenario_names = scenario_names,
        .nscenarios = NSCENARIOS,
        .faults = faults,
        .nfaults = sizeof(faults) / sizeof(faults[0]),
        .run = run_scenario,
};

int main(int argc, char **argv) {
        return run_driver(&two_party, argc, argv);
}
