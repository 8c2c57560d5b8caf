/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Fault-injection driver for barrier groups: runs a group of three
 * members, one of them (rank 1, "F") in the process where the injector of
 * inject.c is armed, with one syscall failing at every position where a
 * group call of F makes it (run as LD_PRELOAD=inject.so group-driver).
 *
 * Two scenarios:
 * - "group": F creates the group, forks the two other members (ranks 0
 *   and 2, "peers") and makes every group call but import_env: join,
 *   get_pollfds, export_env, five rounds of place and sync (F completing
 *   a round, F blocked until the last peer places, bounded waits that
 *   time out, a wait ended through the pollfd, a bounded wait that counts
 *   down), abort, wait_abortion, and free;
 * - "import": the member of rank 1 is handed over as after execve(): F is
 *   a process that inherited its descriptors, imports the membership with
 *   import_env, syncs once, aborts and frees.
 *
 * Each case runs in a process of its own under a watchdog, and must end
 * with:
 * - no hang and no crash;
 * - a defined result: F's answers are those of a run without a fault
 *   until the first one the fault changed, which is the injected errno
 *   (new: -errno, the handle NULL; import_env: -errno or -EBADF, the
 *   handle NULL, nothing closed, the variable still set); after it F is
 *   aborted: place and sync answer 0, abort 1 (0 once it saw another
 *   member's abort), a bounded wait_abortion times out. export_env's
 *   failure is not fatal: it answers -errno, changes nothing, and the
 *   group goes on. Faults the library must ride out (EINTR storms,
 *   EAGAIN, a close or munmap that reports an error after it released
 *   its object) change no answer at all;
 * - no descriptor or mapping leaked (counted in /proc/self/fd and
 *   /proc/self/maps; mappings not under valgrind, which maps memory of its
 *   own meanwhile), and close-on-exec flags changed only by a successful
 *   export_env or import_env;
 * - the other members released: each wait of theirs ends, with 1 or,
 *   from the first one the fault changed on, with 0; their final
 *   wait_abortion answers 1 with aborted_by the faulty rank; they exit
 *   normally.
 *
 * The order of the members' steps is fixed by handshakes (tokens over
 * pipes, and a member seen asleep in /proc/PID/stat before another places
 * the barrier that wakes it), so that F makes the same syscalls in every
 * run and each position is reached every time.
 *
 * With no argument it runs every case and ends with "N passed, M failed";
 * `group-driver SCENARIO CALL MODE ERRNO NTH` runs one, to reproduce a
 * failure (with FAULT_VERBOSE=1 in the environment it prints every
 * answer).
 */
#define _GNU_SOURCE
#include "barrier.h"
#include "driver-common.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Guards against hangs only. */
#define WATCHDOG_SEC 30

#define N 3
/* The faulty member's rank: neither the lowest nor the highest. */
#define F_RANK 1
/* What a member holds after join, and hands over through the variable. */
#define HELD (2 * N + 2)
/* A bound that the watchdog ends long before: the path that counts down. */
#define LONG_USEC (UINT64_C(60) * 1000000)

/* ---- what the process holds ---------------------------------------------- */

/* Whether mappings are compared: not under valgrind, whose own mappings
 * come and go in /proc/self/maps. */
static bool maps_compared = true;

/* The bytes this process maps (proc.h), or 0 where maps are not
 * compared. */
static long long maps_now(void) {
        return maps_compared ? mapped_bytes() : 0;
}

/* ---- handshakes ------------------------------------------------------------- */

/* Returns once `pid` sleeps (or is gone). It sleeps itself while it
 * looks, so that a process that waits for this one to sleep sees it
 * asleep as well, whatever it waits for. */
static void await_asleep(pid_t pid) {
        const struct timespec pause = { 0, 50 * 1000 };

        for (;;) {
                char s = process_state(pid);
                if (s == 'S' || s == 'Z' || s == '?')
                        return;
                nanosleep(&pause, NULL);
        }
}

static void token(int fd) {
        if (!write_all(fd, "g", 1))
                fail(__LINE__, "the token was not taken: %s", strerror(errno));
}

/* A peer waits for its next token; false at the end of the stream. */
static bool await_token(int fd) {
        char c;
        return read_all(fd, &c, 1);
}

/* ---- checking answers --------------------------------------------------------- */

/*
 * F's answers against the fault-free ones `want`; from the first changed
 * one on, that one must be -err and the later ones those of `after` (an
 * aborted member's). Returns the index of the first changed answer, or n.
 */
static int check_faulty(const int *got, const int *want, const int *after, int n, int err, bool transient) {
        int first = n;

        for (int i = 0; i < n; i++) {
                if (got[i] != want[i]) {
                        first = i;
                        break;
                }
        }
        if (first == n)
                return n;
        if (transient)
                fail(__LINE__, "answer %d is %d, not %d, though the library must ride this fault out", first,
                     got[first], want[first]);
        else if (got[first] != -err)
                fail(__LINE__, "answer %d is %d: neither %d nor the injected -%d", first, got[first], want[first],
                     err);
        for (int i = first + 1; i < n; i++)
                if (got[i] != after[i])
                        fail(__LINE__, "answer %d is %d, not %d, after answer %d changed", i, got[i], after[i],
                             first);
        return first;
}

/*
 * A peer's waits (`n` of them, each 1 without a fault): from the first
 * one that changed on, every one answers 0; then its final wait_abortion
 * answers 1 with aborted_by F's rank.
 */
static void check_peer(int rank, const int *got, int n, bool transient, bool fault_seen) {
        int first = n;

        for (int i = 0; i < n; i++) {
                if (got[i] != 1) {
                        first = i;
                        break;
                }
        }
        for (int i = first; i < n; i++)
                if (got[i] != 0)
                        fail(__LINE__, "peer %d: answer %d is %d, after answer %d changed", rank, i, got[i], first);
        if (first < n && transient)
                fail(__LINE__, "peer %d: answer %d changed, though the fault is one to ride out", rank, first);
        if (first < n && !fault_seen)
                fail(__LINE__, "peer %d: answer %d changed, though the faulty member's answers did not", rank,
                     first);
        if (got[n] != 1)
                fail(__LINE__, "peer %d: the final wait_abortion answered %d, not 1", rank, got[n]);
        if (got[n + 1] != F_RANK)
                fail(__LINE__, "peer %d: aborted_by is %d, not %d", rank, got[n + 1], F_RANK);
}

static void verbose(const char *who, const int *got, int n) {
        if (!getenv("FAULT_VERBOSE"))
                return;
        fprintf(stderr, "%s:", who);
        for (int i = 0; i < n; i++)
                fprintf(stderr, " %d", got[i]);
        fputc('\n', stderr);
}

static void reap(pid_t pid, const char *who) {
        int status;

        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        fail(__LINE__, "waitpid %s: %s", who, strerror(errno));
                        return;
                }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail(__LINE__, "%s ended with status 0x%x", who, status);
}

/* ---- the peers ------------------------------------------------------------------ */

/* Forks a peer with a token pipe `go` and a pipe `report` to answer
 * through: returns 0 in the peer, which keeps their ends go[0] and
 * report[1], and the peer's pid (or -1, the failure reported) here, which
 * keeps the other ends. */
static pid_t fork_peer(int go[2], int report[2]) {
        pid_t pid;

        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
                fail(__LINE__, "pipe2: %s", strerror(errno));
                return -1;
        }
        pid = fork();
        if (pid < 0) {
                fail(__LINE__, "fork: %s", strerror(errno));
                return -1;
        }
        if (pid == 0) {
                close(go[1]);
                close(report[0]);
        } else {
                close(go[0]);
                close(report[1]);
        }
        return pid;
}

/* Gives each peer its next token. */
static void peer_tokens(int go[N][2]) {
        for (int k = 0; k < N; k++)
                if (k != F_RANK)
                        token(go[k][1]);
}

/* Returns once both peers sleep. */
static void await_peers_asleep(const pid_t *pid) {
        for (int k = 0; k < N; k++)
                if (k != F_RANK)
                        await_asleep(pid[k]);
}

/* Ends the peers' token streams and reaps them. */
static void release_peers(int go[N][2], int report[N][2], const pid_t *pid) {
        for (int k = 0; k < N; k++) {
                if (k == F_RANK)
                        continue;
                close(go[k][1]);
                close(report[k][0]);
        }
        /* only now, with every token pipe closed: peer 2 holds a copy of
         * peer 0's */
        for (int k = 0; k < N; k++)
                if (k != F_RANK)
                        reap(pid[k], k ? "peer 2" : "peer 0");
}

/* ---- scenario "group" ------------------------------------------------------------ */

/* The peers' waits, then their final wait_abortion and aborted_by. */
#define P_WAITS 9
#define P_REPORT (P_WAITS + 2)
#define F_ANSWERS 13

/*
 * Rounds: 1, the peers place and sync, then F place_and_sync (F
 * completes it). 2, F and peer 0 place and sync; once both sleep, peer 2
 * places (and wakes them). 3, F places and times out in sync(0); peer 0
 * places and syncs, then peer 2, which wakes F's pollfd; F syncs with 0.
 * 4, F alone: wait_abortion(0) times out. 5, as 2 with place_and_sync and
 * F's bound counting down. 6, the peers place and sync, then F places
 * (completing it) and syncs. End: the peers wait_abortion; once both sleep,
 * F aborts; they report; F sends peer 0 a token and, once it sees F
 * asleep in its wait_abortion, peer 0 aborts; at the end of the token stream the peers free and exit.
 */
static void group_peer(BarrierGroup *g, unsigned rank, int go, int report, pid_t f, pid_t p0) {
        int r[P_REPORT];
        bool last = rank == N - 1;

        alarm(WATCHDOG_SEC);
        if (barrier_group_join(g, rank) != 0)
                _exit(3);
        if (!await_token(go))
                _exit(4);
        r[0] = barrier_group_place(g);
        r[1] = barrier_group_sync(g, BARRIER_INFINITY);
        if (!await_token(go))
                _exit(4);
        if (last) {
                await_asleep(p0);
                await_asleep(f);
        }
        r[2] = barrier_group_place(g);
        r[3] = barrier_group_sync(g, BARRIER_INFINITY);
        if (!await_token(go))
                _exit(4);
        if (last)
                await_asleep(p0);
        r[4] = barrier_group_place(g);
        r[5] = barrier_group_sync(g, BARRIER_INFINITY);
        if (!await_token(go))
                _exit(4);
        if (last) {
                await_asleep(p0);
                await_asleep(f);
        }
        r[6] = barrier_group_place_and_sync(g, BARRIER_INFINITY);
        if (!await_token(go))
                _exit(4);
        r[7] = barrier_group_place(g);
        r[8] = barrier_group_sync(g, BARRIER_INFINITY);
        if (!await_token(go))
                _exit(4);
        r[P_WAITS] = barrier_group_wait_abortion(g, BARRIER_INFINITY);
        r[P_WAITS + 1] = barrier_group_aborted_by(g);
        if (!write_all(report, r, sizeof(r)))
                _exit(5);
        if (rank == 0) {
                /* F has both reports, and waits for an abortion */
                if (!await_token(go))
                        _exit(8);
                await_asleep(f);
                /* it saw F's abort: 0 */
                if (barrier_group_abort(g) != 0)
                        _exit(6);
        }
        /* the end of the stream: everyone has reported */
        if (await_token(go))
                _exit(7);
        barrier_group_free(g);
        _exit(0);
}

static const int f_want[F_ANSWERS] = { 1, 1, 1, 1, -ETIMEDOUT, 1, -ETIMEDOUT, 1, 1, 1, 1, 0, 0 };
static const char *const f_calls[F_ANSWERS] = {
        "place_and_sync(inf)", "place", "sync(inf)", "place", "sync(0)", "sync(0)", "wait_abortion(0)",
        "place_and_sync(60 s)", "place", "sync(inf)", "abort", "wait_abortion(60 s)", "abort",
};

static void scenario_group(int err, bool transient) {
        BarrierGroup *g = NULL;
        struct pollfd fds[BARRIER_GROUP_POLLFDS_MAX];
        char env[BARRIER_GROUP_ENV_MAX];
        int base = count_fds(), go[N][2], report[N][2], a[F_ANSWERS], after[F_ANSWERS], peer[N][P_REPORT];
        int r, inherited, first;
        bool reported[N];
        long long maps = maps_now();
        pid_t pid[N] = { 0 };

        r = ARMED(barrier_group_new(&g, N));
        if (r != 0) {
                CHECK(!transient);
                CHECK(r == -err);
                CHECK(g == NULL);
                if (count_fds() != base || maps_now() != maps)
                        fail(__LINE__, "new failed with %d and left %d descriptors and %lld bytes mapped, %d and %lld before",
                             r, count_fds(), maps_now(), base, maps);
                return;
        }
        CHECK(g != NULL);
        CHECK(!maps_compared || maps_now() > maps);
        for (int k = 0; k < N; k++) {
                if (k == F_RANK)
                        continue;
                pid[k] = fork_peer(go[k], report[k]);
                if (pid[k] < 0)
                        return;
                if (pid[k] == 0)
                        group_peer(g, (unsigned)k, go[k][0], report[k][1], getppid(), pid[0]);
        }

        CHECK(ARMED(barrier_group_join(g, F_RANK)) == 0);
        r = ARMED(barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX));
        CHECK(r == 1 && fds[0].fd >= 0 && fds[0].events == POLLIN);
        inherited = count_inherited();
        r = ARMED(barrier_group_export_env(g, env, sizeof(env)));
        if (r < 0) {
                CHECK(!transient);
                CHECK(r == -err);
                if (count_inherited() != inherited)
                        fail(__LINE__, "export_env failed with %d, yet %d descriptors survive execve(), %d before", r,
                             count_inherited(), inherited);
        } else {
                CHECK(r > 0 && (size_t)r < sizeof(env) && strncmp(env, "BARRIER_GROUP=", 14) == 0);
                CHECK(count_inherited() == inherited + HELD);
        }

        /* 1 */
        peer_tokens(go);
        await_peers_asleep(pid);
        a[0] = ARMED(barrier_group_place_and_sync(g, BARRIER_INFINITY));
        /* 2 */
        peer_tokens(go);
        a[1] = ARMED(barrier_group_place(g));
        a[2] = ARMED(barrier_group_sync(g, BARRIER_INFINITY));
        /* 3 */
        a[3] = ARMED(barrier_group_place(g));
        a[4] = ARMED(barrier_group_sync(g, 0));
        peer_tokens(go);
        if (a[4] == -ETIMEDOUT) {
                /* level-triggered: it stays readable until the sync below */
                CHECK(poll(fds, 1, -1) == 1 && (fds[0].revents & POLLIN));
        }
        a[5] = ARMED(barrier_group_sync(g, 0));
        /* 4 */
        a[6] = ARMED(barrier_group_wait_abortion(g, 0));
        /* 5 */
        peer_tokens(go);
        a[7] = ARMED(barrier_group_place_and_sync(g, LONG_USEC));
        /* 6 */
        peer_tokens(go);
        await_peers_asleep(pid);
        a[8] = ARMED(barrier_group_place(g));
        a[9] = ARMED(barrier_group_sync(g, BARRIER_INFINITY));
        /* the end */
        peer_tokens(go);
        await_peers_asleep(pid);
        a[10] = ARMED(barrier_group_abort(g));
        for (int k = 0; k < N; k++) {
                reported[k] = k != F_RANK && read_all(report[k][0], peer[k], sizeof(peer[k]));
                if (k != F_RANK && !reported[k])
                        fail(__LINE__, "peer %d did not report", k);
        }
        /* peer 0 aborts once it sees F asleep in this wait_abortion */
        token(go[0][1]);
        a[11] = ARMED(barrier_group_wait_abortion(g, LONG_USEC));
        a[12] = ARMED(barrier_group_abort(g));

        verbose("faulty member", a, F_ANSWERS);
        for (int i = 0; i < F_ANSWERS; i++)
                after[i] = 0;
        after[6] = -ETIMEDOUT;
        after[10] = 1;
        /* the second abort answers 0 once F saw peer 0's abort */
        after[12] = a[11] == 0 ? 0 : 1;
        first = check_faulty(a, f_want, after, F_ANSWERS, err, transient);
        if (first < F_ANSWERS) {
                if (getenv("FAULT_VERBOSE"))
                        fprintf(stderr, "first changed: %s\n", f_calls[first]);
                CHECK(barrier_group_i_aborted(g));
        }

        for (int k = 0; k < N; k++) {
                if (!reported[k])
                        continue;
                verbose(k ? "peer 2" : "peer 0", peer[k], P_REPORT);
                check_peer(k, peer[k], P_WAITS, transient, first < F_ANSWERS);
        }
        release_peers(go, report, pid);
        CHECK(ARMED(barrier_group_free(g)) == NULL);
        if (count_fds() != base || maps_now() != maps)
                fail(__LINE__, "after free: %d descriptors and %lld bytes mapped, %d and %lld before new",
                     count_fds(), maps_now(), base, maps);
}

/* ---- scenario "import" -------------------------------------------------------------- */

/* The peers place and sync once, tell F so, wait for an abortion and
 * report; at the end of the token stream they free and exit. */
static void import_peer(BarrierGroup *g, unsigned rank, int go, int report, int progress) {
        int r[3];

        alarm(WATCHDOG_SEC);
        if (barrier_group_join(g, rank) != 0)
                _exit(3);
        r[0] = barrier_group_place_and_sync(g, BARRIER_INFINITY);
        /* F may have left already (its import_env failed) */
        (void)write_all(progress, "p", 1);
        r[1] = barrier_group_wait_abortion(g, BARRIER_INFINITY);
        r[2] = barrier_group_aborted_by(g);
        if (!write_all(report, r, sizeof(r)))
                _exit(5);
        if (await_token(go))
                _exit(7);
        barrier_group_free(g);
        _exit(0);
}

/* The member that imports (a child of the case process, which handed its
 * membership over); reports the case's outcome as its exit code, and
 * its answers and whether it imported through `answer`. */
static int importer(const pid_t *pid, int progress, int answer) {
        BarrierGroup *h = NULL;
        int base, inherited, r, a[3];
        long long maps;
        char c[2];

        alarm(WATCHDOG_SEC);
        base = count_fds();
        inherited = count_inherited();
        maps = maps_now();
        r = ARMED(barrier_group_import_env(&h));
        verbose("import_env", &r, 1);
        a[0] = a[1] = 0;
        a[2] = r == 0;
        if (r != 0) {
                CHECK(!getenv("FAULT_TRANSIENT"));
                CHECK(r == -(int)strtol(getenv("FAULT_ERR"), NULL, 10) || r == -EBADF);
                CHECK(h == NULL);
                CHECK(getenv("BARRIER_GROUP") != NULL);
                if (count_fds() != base || count_inherited() != inherited || maps_now() != maps)
                        fail(__LINE__, "import_env failed with %d and left %d descriptors (%d kept across execve) and %lld bytes mapped, %d (%d) and %lld before",
                             r, count_fds(), count_inherited(), maps_now(), base, inherited, maps);
        } else {
                CHECK(h != NULL && barrier_group_rank(h) == F_RANK && barrier_group_size(h) == N);
                CHECK(getenv("BARRIER_GROUP") == NULL);
                CHECK(count_inherited() == inherited - HELD);
                await_peers_asleep(pid);
                a[0] = ARMED(barrier_group_place_and_sync(h, BARRIER_INFINITY));
                if (!read_all(progress, c, 2))
                        fail(__LINE__, "the peers did not sync");
                await_peers_asleep(pid);
                a[1] = ARMED(barrier_group_abort(h));
                verbose("faulty member", a, 2);
                if (a[0] != 1 && (getenv("FAULT_TRANSIENT") || a[0] != -(int)strtol(getenv("FAULT_ERR"), NULL, 10)))
                        fail(__LINE__, "place_and_sync answered %d", a[0]);
                CHECK(a[1] == 1);
                CHECK(ARMED(barrier_group_free(h)) == NULL);
                if (count_fds() != base - HELD || maps_now() != maps)
                        fail(__LINE__, "after free: %d descriptors and %lld bytes mapped, %d and %lld before import_env",
                             count_fds(), maps_now(), base - HELD, maps);
        }
        if (!write_all(answer, a, sizeof(a)))
                fail(__LINE__, "the answers were not taken");
        return case_outcome();
}

static int scenario_import(int err, bool transient) {
        BarrierGroup *g = NULL;
        char env[BARRIER_GROUP_ENV_MAX], errtext[16];
        int go[N][2], report[N][2], progress[2], answer[2], peer[N][3], a[3], r, status, outcome;
        bool imported;
        pid_t pid[N] = { 0 }, f;

        if (barrier_group_new(&g, N) != 0 || pipe2(progress, O_CLOEXEC) < 0 || pipe2(answer, O_CLOEXEC) < 0) {
                fail(__LINE__, "setting up: %s", strerror(errno));
                return CASE_FAILED;
        }
        for (int k = 0; k < N; k++) {
                if (k == F_RANK)
                        continue;
                pid[k] = fork_peer(go[k], report[k]);
                if (pid[k] < 0)
                        return CASE_FAILED;
                if (pid[k] == 0) {
                        close(progress[0]);
                        import_peer(g, (unsigned)k, go[k][0], report[k][1], progress[1]);
                }
        }
        close(progress[1]);
        r = barrier_group_join(g, F_RANK);
        if (r == 0)
                r = barrier_group_export_env(g, env, sizeof(env));
        if (r <= 0 || putenv(env) != 0) {
                fail(__LINE__, "join or export_env: %d", r);
                return CASE_FAILED;
        }
        snprintf(errtext, sizeof(errtext), "%d", err);
        setenv("FAULT_ERR", errtext, 1);
        if (transient)
                setenv("FAULT_TRANSIENT", "1", 1);
        fflush(NULL);
        f = fork();
        if (f < 0) {
                fail(__LINE__, "fork: %s", strerror(errno));
                return CASE_FAILED;
        }
        if (f == 0) {
                close(answer[0]);
                _exit(importer(pid, progress[0], answer[1]));
        }
        close(answer[1]);
        close(progress[0]);
        /* the member lives on in the child alone */
        g = barrier_group_free(g);
        unsetenv("BARRIER_GROUP");

        while (waitpid(f, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status)) {
                outcome = WEXITSTATUS(status);
        } else {
                fail(__LINE__, "the importing member ended with status 0x%x", status);
                outcome = CASE_FAILED;
        }
        if (!read_all(answer[0], a, sizeof(a))) {
                fail(__LINE__, "the importing member did not report");
                a[0] = a[2] = 0;
        }
        imported = a[2];
        close(answer[0]);
        for (int k = 0; k < N; k++) {
                if (k == F_RANK)
                        continue;
                if (!read_all(report[k][0], peer[k], sizeof(peer[k]))) {
                        fail(__LINE__, "peer %d did not report", k);
                        continue;
                }
                verbose(k ? "peer 2" : "peer 0", peer[k], 3);
                /* A peer synced if F did, and not if F never placed
                 * (import_env failed). If F placed but then failed to
                 * ring a doorbell, a peer woken before F marked itself
                 * aborted rightly counts F's barrier. */
                if (a[0] == 1 ? peer[k][0] != 1 : imported ? false : peer[k][0] != 0)
                        fail(__LINE__, "peer %d: place_and_sync answered %d, F %d (%s)", k, peer[k][0], a[0],
                             imported ? "imported" : "not imported");
                check_peer(k, peer[k], 1, transient, !imported || a[0] != 1);
        }
        release_peers(go, report, pid);
        return failures ? CASE_FAILED : outcome;
}

/* ---- cases ----------------------------------------------------------------------------- */

enum scenario { GROUP, IMPORT, NSCENARIOS };
static const char *const scenario_names[NSCENARIOS] = { "group", "import" };

static const struct fault faults[] = {
        { FAULT_MEMFD_CREATE, FAULT_ERRNO, EMFILE, false },
        { FAULT_MEMFD_CREATE, FAULT_ERRNO, ENOMEM, false },
        { FAULT_FTRUNCATE, FAULT_ERRNO, EINVAL, false },
        { FAULT_FTRUNCATE, FAULT_ERRNO, ENOMEM, false },
        { FAULT_FCNTL, FAULT_ERRNO, EBADF, false },
        { FAULT_FCNTL, FAULT_ERRNO, EINVAL, false },
        { FAULT_FCNTL, FAULT_ERRNO, EBUSY, false },
        { FAULT_MMAP, FAULT_ERRNO, ENOMEM, false },
        { FAULT_MMAP, FAULT_ERRNO, ENODEV, false },
        { FAULT_MUNMAP, FAULT_AFTER, EINVAL, true },
        { FAULT_EVENTFD, FAULT_ERRNO, EMFILE, false },
        { FAULT_EVENTFD, FAULT_ERRNO, ENFILE, false },
        { FAULT_EVENTFD, FAULT_ERRNO, ENOMEM, false },
        { FAULT_PIPE2, FAULT_ERRNO, EMFILE, false },
        { FAULT_PIPE2, FAULT_ERRNO, ENFILE, false },
        { FAULT_EPOLL_CREATE1, FAULT_ERRNO, EMFILE, false },
        { FAULT_EPOLL_CREATE1, FAULT_ERRNO, ENOMEM, false },
        { FAULT_EPOLL_CTL, FAULT_ERRNO, ENOMEM, false },
        { FAULT_EPOLL_CTL, FAULT_ERRNO, ENOSPC, false },
        { FAULT_EPOLL_CTL, FAULT_ERRNO, EBADF, false },
        { FAULT_EPOLL_WAIT, FAULT_ERRNO, EBADF, false },
        { FAULT_EPOLL_WAIT, FAULT_ERRNO, EINVAL, false },
        { FAULT_EPOLL_WAIT, FAULT_ERRNO, EFAULT, false },
        { FAULT_EPOLL_WAIT, FAULT_EINTR_STORM, EINTR, true },
        { FAULT_EPOLL_WAIT, FAULT_ERRNO, EAGAIN, true },
        FAULTS_READ_WRITE_CLOSE,
        { FAULT_FSTAT, FAULT_ERRNO, EIO, false },
        { FAULT_FSTAT, FAULT_ERRNO, EBADF, false },
        { FAULT_READLINK, FAULT_ERRNO, EIO, false },
        { FAULT_READLINK, FAULT_ERRNO, ENOENT, false },
};

static int run_scenario(int scenario, int err, bool transient) {
        if (scenario == IMPORT)
                return scenario_import(err, transient);
        scenario_group(err, transient);
        return case_outcome();
}

static const struct driver group = {
        .name = "group-driver",
        .watchdog_sec = WATCHDOG_SEC,
        .scenario_names = scenario_names,
        .nscenarios = NSCENARIOS,
        .faults = faults,
        .nfaults = sizeof(faults) / sizeof(faults[0]),
        .run = run_scenario,
};

int main(int argc, char **argv) {
        if (under_valgrind()) {
                maps_compared = false;
                fprintf(stderr, "note: under valgrind: mappings are not compared\n");
        }
        return run_driver(&group, argc, argv);
}
