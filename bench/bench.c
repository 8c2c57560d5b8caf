/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * How fast libbarrier is, against floors measured in the same run.
 *
 * Four cases:
 *   round trip   both sides place_and_sync, N rounds
 *   ping-pong    one side place_and_sync, the other wait_next then place
 *   create       create + destroy, in one process
 *   fork cycle   create, fork, set_role, place_and_sync on both sides,
 *                child exit, reap, destroy
 *
 * Each case is measured for libbarrier, for systemd's own barrier, and
 * for three floors. libbarrier is measured twice: as the benchmark is
 * linked with it (statically or with libbarrier.so), and as
 * "libbarrier.so", loaded at run time exactly as systemd's is:
 *   libbarrier.so      libbarrier.so, opened with dlopen() (--so=PATH, or
 *                      by default the libbarrier.so the benchmark is
 *                      linked with) and called through function pointers
 *   systemd (shipped)  the barrier compiled into the distribution's
 *                      libsystemd-shared-<version>.so, opened and called
 *                      the same way (c-tests/reference); systemd's
 *                      place_and_sync is inline in its header, so both
 *                      call place, then sync, as systemd's callers do.
 *                      Without that library the method is left out with
 *                      a message, unless the environment variable CI is
 *                      set: there it is an error.
 * The ratio libbarrier.so / systemd compares the two shared libraries
 * under the same conditions. The floors:
 *   eventfd+poll     two eventfds and a pipe used exactly as the barrier
 *                    uses them (write; ppoll on {our pipe end, their
 *                    eventfd}; read): the floor of this design, the same
 *                    syscalls, no library
 *   eventfd block    two blocking eventfds, write + read: no exit detection
 *   pthread pshared  a PTHREAD_PROCESS_SHARED pthread_barrier_t in shared
 *                    memory: no exit detection, no abort (for ping-pong it
 *                    can only do the symmetric wait)
 * and a control: "eventfd+poll again", the first floor measured a second
 * time as if it were another method. Its ratio to eventfd+poll would be 1
 * on a perfect machine; how far it strays is the benchmark's own noise.
 *
 * Every run measures every method, interleaved in short blocks that take
 * turns, so that drift on a busy machine falls on all of them alike. The
 * times are medians over the runs; a ratio is the median over the runs of
 * ours divided by the floor's time in the same run. --pin keeps both
 * processes on one CPU: cross-CPU wake-ups on small virtual machines vary
 * more than the differences measured here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "barrier.h"
#include "bench-common.h"
#include "reference.h"

const char bench_name[] = "bench";

/* One object of whichever method is measured. */
struct obj {
        Barrier b;              /* libbarrier */
        struct {                /* eventfd+poll and eventfd block */
                int me, them, pipe[2];
                int64_t count;
        } raw;
        pthread_barrier_t *pb;  /* pthread pshared, in shared memory */
};

struct method {
        const char *name;
        void (*create)(struct obj *o);
        void (*destroy)(struct obj *o);
        void (*set_role)(struct obj *o, unsigned role);
        /* place and sync */
        void (*sync)(struct obj *o);
        /* the answering side of a ping-pong: wait for theirs, then place */
        void (*pong)(struct obj *o);
};

/* ---- libbarrier ---------------------------------------------------------- */

static void ours_create(struct obj *o) {
        int r = barrier_create(&o->b);
        if (r < 0) {
                errno = -r;
                die("barrier_create");
        }
}

static void ours_destroy(struct obj *o) {
        barrier_destroy(&o->b);
}

static void ours_set_role(struct obj *o, unsigned role) {
        barrier_set_role(&o->b, role);
}

static void ours_sync(struct obj *o) {
        if (!barrier_place_and_sync(&o->b))
                die_msg("barrier_place_and_sync failed");
}

static void ours_pong(struct obj *o) {
        if (!barrier_wait_next(&o->b))
                die_msg("barrier_wait_next failed");
        if (!barrier_place(&o->b))
                die_msg("barrier_place failed");
}

/* ---- libbarrier.so and systemd, through the pointers dlopen() found ----- */

static struct barrier_impl so_impl, sd_impl;

/* systemd's barrier_create() leaves the counter as it finds it: its
 * callers start from BARRIER_NULL, and so does this. */
static void impl_create(const struct barrier_impl *im, struct obj *o) {
        Barrier null = BARRIER_NULL;
        int r;

        o->b = null;
        r = im->create(&o->b);
        if (r < 0) {
                errno = -r;
                die("barrier_create");
        }
}

/* As systemd's inline barrier_place_and_sync(): the answer is sync's. */
static void impl_sync(const struct barrier_impl *im, struct obj *o) {
        (void)im->place(&o->b);
        if (!im->sync(&o->b))
                die_msg("barrier_sync failed");
}

static void impl_pong(const struct barrier_impl *im, struct obj *o) {
        if (!im->wait_next(&o->b))
                die_msg("barrier_wait_next failed");
        if (!im->place(&o->b))
                die_msg("barrier_place failed");
}

#define IMPL_METHOD(prefix, impl)                                                                            \
        static void prefix##_create(struct obj *o) {                                                         \
                impl_create(&impl, o);                                                                       \
        }                                                                                                    \
        static void prefix##_destroy(struct obj *o) {                                                        \
                impl.destroy(&o->b);                                                                         \
        }                                                                                                    \
        static void prefix##_set_role(struct obj *o, unsigned role) {                                        \
                impl.set_role(&o->b, (int)role);                                                             \
        }                                                                                                    \
        static void prefix##_sync(struct obj *o) {                                                           \
                impl_sync(&impl, o);                                                                         \
        }                                                                                                    \
        static void prefix##_pong(struct obj *o) {                                                           \
                impl_pong(&impl, o);                                                                         \
        }

IMPL_METHOD(so, so_impl)
IMPL_METHOD(sd, sd_impl)

/* ---- eventfd+poll: the barrier's syscalls, without the library ---------- */

static void poll_create(struct obj *o) {
        o->raw.me = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        o->raw.them = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (o->raw.me < 0 || o->raw.them < 0)
                die("eventfd");
        if (pipe2(o->raw.pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                die("pipe2");
        o->raw.count = 0;
}

static void raw_close(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void raw_destroy(struct obj *o) {
        raw_close(&o->raw.me);
        raw_close(&o->raw.them);
        raw_close(&o->raw.pipe[0]);
        raw_close(&o->raw.pipe[1]);
}

static void raw_set_role(struct obj *o, unsigned role) {
        if (role == BARRIER_PARENT) {
                raw_close(&o->raw.pipe[1]);
        } else {
                int t = o->raw.me;
                raw_close(&o->raw.pipe[0]);
                o->raw.me = o->raw.them;
                o->raw.them = t;
        }
}

static void poll_place(struct obj *o) {
        uint64_t one = 1;

        while (write(o->raw.me, &one, sizeof(one)) != sizeof(one))
                if (errno != EINTR)
                        die("write eventfd");
        o->raw.count++;
}

/* Consumes their barriers until the counter is at or below limit, as the
 * barrier's READ step does: one ppoll on {our pipe end, their eventfd}
 * (in that order, as the library polls), then read the eventfd if it is
 * readable; a hung-up pipe with nothing to read means they are gone. */
static void poll_read(struct obj *o, int64_t limit) {
        while (o->raw.count > limit) {
                struct pollfd fds[2] = {
                        { .fd = o->raw.pipe[0] >= 0 ? o->raw.pipe[0] : o->raw.pipe[1], .events = POLLHUP },
                        { .fd = o->raw.them, .events = POLLIN },
                };
                uint64_t v;

                if (ppoll(fds, 2, NULL, NULL) < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        die("ppoll");
                }
                if (fds[1].revents) {
                        if (read(o->raw.them, &v, sizeof(v)) != sizeof(v)) {
                                if (errno == EAGAIN || errno == EINTR)
                                        continue;
                                die("read eventfd");
                        }
                        o->raw.count -= (int64_t)v;
                } else if (fds[0].revents & (POLLHUP | POLLERR)) {
                        die_msg("eventfd+poll: the other side went away");
                }
        }
}

static void poll_sync(struct obj *o) {
        poll_place(o);
        poll_read(o, 0);
}

static void poll_pong(struct obj *o) {
        poll_read(o, o->raw.count - 1);
        poll_place(o);
}

/* ---- eventfd block: blocking eventfds, no exit detection ---------------- */

static void block_create(struct obj *o) {
        o->raw.me = eventfd(0, EFD_CLOEXEC);
        o->raw.them = eventfd(0, EFD_CLOEXEC);
        if (o->raw.me < 0 || o->raw.them < 0)
                die("eventfd");
        o->raw.pipe[0] = o->raw.pipe[1] = -1;
        o->raw.count = 0;
}

static void block_set_role(struct obj *o, unsigned role) {
        if (role == BARRIER_CHILD) {
                int t = o->raw.me;
                o->raw.me = o->raw.them;
                o->raw.them = t;
        }
}

static void block_write(struct obj *o) {
        uint64_t one = 1;

        while (write(o->raw.me, &one, sizeof(one)) != sizeof(one))
                if (errno != EINTR)
                        die("write eventfd");
        o->raw.count++;
}

/* One read may return several of their barriers at once (the eventfd sums
 * them), so this counts like the barrier does. */
static void block_read(struct obj *o, int64_t limit) {
        while (o->raw.count > limit) {
                uint64_t v;

                if (read(o->raw.them, &v, sizeof(v)) != sizeof(v)) {
                        if (errno == EINTR)
                                continue;
                        die("read eventfd");
                }
                o->raw.count -= (int64_t)v;
        }
}

static void block_sync(struct obj *o) {
        block_write(o);
        block_read(o, 0);
}

static void block_pong(struct obj *o) {
        block_read(o, o->raw.count - 1);
        block_write(o);
}

/* ---- pthread pshared ----------------------------------------------------- */

static pthread_barrier_t *shared_pb;

static void pshared_create(struct obj *o) {
        o->pb = shared_pb;
        pshared_init(o->pb, 2);
}

static void pshared_destroy(struct obj *o) {
        pthread_barrier_destroy(o->pb);
}

static void pshared_set_role(struct obj *o, unsigned role) {
        (void)o;
        (void)role;
}

static void pshared_sync(struct obj *o) {
        int r = pthread_barrier_wait(o->pb);
        if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
                die_msg("pthread_barrier_wait failed");
}

/* ---- the measurements ---------------------------------------------------- */

enum { M_OURS, M_SO, M_SYSTEMD, M_POLL, M_BLOCK, M_PTHREAD, M_AGAIN, N_METHODS };

static const struct method methods[N_METHODS] = {
        [M_OURS] = { "libbarrier", ours_create, ours_destroy, ours_set_role, ours_sync, ours_pong },
        [M_SO] = { "libbarrier.so", so_create, so_destroy, so_set_role, so_sync, so_pong },
        [M_SYSTEMD] = { "systemd (shipped)", sd_create, sd_destroy, sd_set_role, sd_sync, sd_pong },
        [M_POLL] = { "eventfd+poll", poll_create, raw_destroy, raw_set_role, poll_sync, poll_pong },
        [M_BLOCK] = { "eventfd block", block_create, raw_destroy, block_set_role, block_sync, block_pong },
        [M_PTHREAD] = { "pthread pshared", pshared_create, pshared_destroy, pshared_set_role, pshared_sync,
                        pshared_sync },
        [M_AGAIN] = { "eventfd+poll again", poll_create, raw_destroy, raw_set_role, poll_sync, poll_pong },
};
static const char *const method_keys[N_METHODS] = { "ours", "so", "systemd", "poll", "block", "pthread", "again" };

enum { C_ROUND_TRIP, C_PING_PONG, C_CREATE, C_FORK, N_CASES };

static const char *const case_names[N_CASES] = { "round trip", "ping-pong", "create+destroy", "fork cycle" };
static const char *const case_keys[N_CASES] = { "rt", "pingpong", "create", "fork" };

struct config {
        struct bench_options opt; /* --runs, --pin, --check, --rounds, --warmup, --blocks */
        long creates, forks;
        const char *so;         /* --so: the libbarrier.so to load, or NULL */
        bool case_on[N_CASES];
        bool method_on[N_METHODS];
};
_Static_assert(N_METHODS <= MAX_METHODS, "a schedule holds every method");

/* One side of a round trip or a ping-pong: its objects, and whether it is
 * the answering side (the child of a ping-pong), which waits before it
 * places. */
struct side {
        struct obj *o;
        bool answer;
};

static void side_block(void *data, int id, long len) {
        const struct side *side = data;
        void (*step)(struct obj *) = side->answer ? methods[id].pong : methods[id].sync;

        for (long r = 0; r < len; r++)
                step(&side->o[id]);
}

/* One side of a round trip or a ping-pong over every method of the
 * schedule: takes the role, warms up, then plays the turns; with total,
 * each turn's time is added to its method's. */
static void play_side(const struct schedule *s, struct obj *o, unsigned role, bool answer, long n, long warmup,
                      double *total) {
        struct side side = { .o = o, .answer = answer };

        for (int i = 0; i < s->n; i++)
                methods[s->methods[i]].set_role(&o[s->methods[i]], role);
        for (int i = 0; i < s->n; i++)
                side_block(&side, s->methods[i], warmup);
        play_turns(s, n, side_block, &side, total);
}

/* ns per round of a round trip or a ping-pong, the parent's view. Both
 * processes follow the same schedule, so they switch methods together. */
static void measure_rounds(const struct schedule *s, bool ping_pong, long n, long warmup, double *ns) {
        struct obj o[N_METHODS];
        double total[N_METHODS] = { 0 };
        pid_t pid;

        for (int i = 0; i < s->n; i++)
                methods[s->methods[i]].create(&o[s->methods[i]]);
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                play_side(s, o, BARRIER_CHILD, ping_pong, n, warmup, NULL);
                _exit(0);
        }
        play_side(s, o, BARRIER_PARENT, false, n, warmup, total);
        reap(pid, "a child process failed");
        for (int i = 0; i < s->n; i++) {
                int id = s->methods[i];
                methods[id].destroy(&o[id]);
                ns[id] = total[id] / (double)n;
        }
}

static void create_cycle(const struct method *m) {
        struct obj o;

        m->create(&o);
        m->destroy(&o);
}

static void fork_cycle(const struct method *m) {
        struct obj o;
        pid_t pid;

        m->create(&o);
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                m->set_role(&o, BARRIER_CHILD);
                m->sync(&o);
                _exit(0);
        }
        m->set_role(&o, BARRIER_PARENT);
        m->sync(&o);
        reap(pid, "a child process failed");
        m->destroy(&o);
}

/* What a block of measure_cycles() repeats. */
struct cycles {
        void (*cycle)(const struct method *m);
};

static void cycles_block(void *data, int id, long len) {
        const struct cycles *c = data;

        for (long r = 0; r < len; r++)
                c->cycle(&methods[id]);
}

/* ns per cycle of create+destroy or of a fork cycle, in the same
 * interleaved schedule. */
static void measure_cycles(const struct schedule *s, void (*cycle)(const struct method *), long n, double *ns) {
        struct cycles c = { .cycle = cycle };
        double total[N_METHODS] = { 0 };

        play_turns(s, n, cycles_block, &c, total);
        for (int i = 0; i < s->n; i++)
                ns[s->methods[i]] = total[s->methods[i]] / (double)n;
}

static void measure(const struct config *cfg, const struct schedule *s, int c, double *ns) {
        switch (c) {
        case C_ROUND_TRIP:
                measure_rounds(s, false, cfg->opt.rounds, cfg->opt.warmup, ns);
                break;
        case C_PING_PONG:
                measure_rounds(s, true, cfg->opt.rounds, cfg->opt.warmup, ns);
                break;
        case C_CREATE:
                measure_cycles(s, create_cycle, cfg->creates, ns);
                break;
        default:
                measure_cycles(s, fork_cycle, cfg->forks, ns);
                break;
        }
}

/* The libbarrier.so the benchmark is linked with: false if it is linked
 * statically (barrier_create lies in the program itself). */
static bool linked_so(char *path, size_t size) {
        int (*fn)(Barrier *) = barrier_create;
        char self[BARRIER_IMPL_PATH_MAX], lib[BARRIER_IMPL_PATH_MAX];
        void *addr;
        Dl_info info;

        memcpy(&addr, &fn, sizeof(addr));
        if (!dladdr(addr, &info) || !info.dli_fname || !realpath(info.dli_fname, lib) ||
            !realpath("/proc/self/exe", self) || strcmp(lib, self) == 0)
                return false;
        return (size_t)snprintf(path, size, "%s", lib) < size;
}

/* Loads what methods "so" and "systemd" call; turns a method off, with a
 * message, where its library is missing and that is allowed. */
static void load_libraries(struct config *cfg) {
        char err[512], path[BARRIER_IMPL_PATH_MAX];

        if (cfg->method_on[M_SO]) {
                const char *so = cfg->so;

                if (!so && linked_so(path, sizeof(path)))
                        so = path;
                if (!so) {
                        printf("libbarrier.so: left out: the benchmark is linked statically and --so=PATH "
                               "names no libbarrier.so\n");
                        cfg->method_on[M_SO] = false;
                } else if (barrier_impl_load(&so_impl, so, err, sizeof(err)) < 0) {
                        fprintf(stderr, "bench: libbarrier.so: %s\n", err);
                        exit(2);
                }
        }
        if (cfg->method_on[M_SYSTEMD] && reference_load(&sd_impl, err, sizeof(err)) < 0) {
                if (reference_required()) {
                        fprintf(stderr, "bench: systemd (shipped): %s (an error where CI is set)\n", err);
                        exit(2);
                }
                printf("systemd (shipped): skipped: %s\n", err);
                cfg->method_on[M_SYSTEMD] = false;
        }
        if (cfg->method_on[M_SO])
                printf("libbarrier.so: %s\n", so_impl.path);
        if (cfg->method_on[M_SYSTEMD])
                printf("systemd (shipped): %s\n", sd_impl.path);
}

/* The median of the runs' ratios a / b per case, then, per case, the
 * lowest and highest of those ratios and the control's ratio (the floor
 * against itself, measured the same way), when both methods ran. */
static void print_ratios(const struct config *cfg, double (*results)[N_METHODS][MAX_RUNS], int a, int b,
                         const char *title) {
        const char *sep = "";

        if (!cfg->method_on[a] || !cfg->method_on[b])
                return;
        printf("\n%s:", title);
        for (int c = 0; c < N_CASES; c++) {
                if (!cfg->case_on[c])
                        continue;
                printf("%s %s %.3f", sep, case_keys[c],
                       paired_ratio(results[c][a], results[c][b], cfg->opt.runs, NULL));
                sep = ",";
        }
        printf("\nthe runs' ratios, lowest and highest");
        if (cfg->method_on[M_AGAIN] && cfg->method_on[M_POLL])
                printf("; the control: eventfd+poll against itself, the same way (1 but for noise)");
        putchar('\n');
        for (int c = 0; c < N_CASES; c++) {
                double range[2];

                if (!cfg->case_on[c])
                        continue;
                paired_ratio(results[c][a], results[c][b], cfg->opt.runs, range);
                printf("  %-15s [%.3f, %.3f]", case_names[c], range[0], range[1]);
                if (cfg->method_on[M_AGAIN] && cfg->method_on[M_POLL]) {
                        double control = paired_ratio(results[c][M_AGAIN], results[c][M_POLL], cfg->opt.runs, range);
                        printf("   %.3f [%.3f, %.3f]", control, range[0], range[1]);
                }
                putchar('\n');
        }
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: bench [options]\n"
                "  --pin[=CPU]        run both processes on one CPU (default: the current one)\n"
                "  --runs=N           runs per measurement; medians are over them (default 9)\n"
                "  --rounds=N         rounds per round-trip and ping-pong run (default 20000)\n"
                "  --creates=N        create+destroy per run (default 20000)\n"
                "  --forks=N          fork cycles per run (default 300)\n"
                "  --warmup=N         untimed rounds of each method before each round-trip run (default 1000)\n"
                "  --blocks=N         blocks per method and run; the methods' blocks take turns (default 20)\n"
                "  --case=LIST        rt,pingpong,create,fork (default: all)\n"
                "  --method=LIST      ours,so,systemd,poll,block,pthread,again (default: all)\n"
                "  --so=PATH          the libbarrier.so that method \"so\" loads (default: the one the\n"
                "                     benchmark is linked with, if it is)\n"
                "  --check            run every case and method a few times and print no table; for\n"
                "                     tests: it measures nothing, it fails if a method fails\n"
                "systemd's library is looked for as c-tests/reference/reference.c says ($SYSTEMD_SHARED_LIB,\n"
                "else the newest libsystemd-shared-*.so); if there is none, method systemd is left out,\n"
                "or, when the environment variable CI is set, the benchmark fails.\n");
}

/* The options of this benchmark alone, for parse_args(). */
static bool parse_option(void *data, const char *a, size_t klen, const char *v) {
        struct config *cfg = data;

        if (key_is(a, klen, "--creates"))
                return parse_long(v, 1, &cfg->creates);
        if (key_is(a, klen, "--forks"))
                return parse_long(v, 1, &cfg->forks);
        if (key_is(a, klen, "--case"))
                return parse_list(v, case_keys, N_CASES, cfg->case_on);
        if (key_is(a, klen, "--method"))
                return parse_list(v, method_keys, N_METHODS, cfg->method_on);
        if (key_is(a, klen, "--so")) {
                if (!*v)
                        return false;
                cfg->so = v;
                return true;
        }
        return false;
}

int main(int argc, char **argv) {
        static double results[N_CASES][N_METHODS][MAX_RUNS];
        struct config cfg = {
                .opt = { .rounds = 20000, .warmup = 1000, .blocks = 20, .runs = 9, .pin = -1 },
                .creates = 20000, .forks = 300,
        };
        double load[3] = { 0, 0, 0 };
        int order[N_METHODS], n_on = 0;

        for (int c = 0; c < N_CASES; c++)
                cfg.case_on[c] = true;
        for (int m = 0; m < N_METHODS; m++)
                cfg.method_on[m] = true;
        parse_args(argc, argv, &cfg.opt, parse_option, &cfg, usage);
        if (cfg.opt.check) {
                cfg.creates = 20;
                cfg.forks = 2;
        }
        load_libraries(&cfg);
        pin_to(cfg.opt.pin);
        shared_pb = map_shared(sizeof(*shared_pb));
        for (int m = 0; m < N_METHODS; m++)
                if (cfg.method_on[m])
                        order[n_on++] = m;

        getloadavg(load, 3);
        printf("libbarrier benchmark: %ld CPUs online, %s, load %.2f, %d runs; "
               "%ld rounds, %ld creates, %ld forks per run and method, in %ld interleaved blocks\n",
               sysconf(_SC_NPROCESSORS_ONLN), cfg.opt.pin >= 0 ? "both processes pinned" : "not pinned", load[0],
               cfg.opt.runs, cfg.opt.rounds, cfg.creates, cfg.forks, cfg.opt.blocks);
        if (cfg.opt.pin >= 0)
                printf("pinned to CPU %d\n", cfg.opt.pin);
        fflush(stdout);

        for (int r = 0; r < cfg.opt.runs; r++)
                for (int c = 0; c < N_CASES; c++) {
                        struct schedule sched = { .n = n_on, .blocks = cfg.opt.blocks, .shift = r };
                        double ns[N_METHODS];

                        if (!cfg.case_on[c])
                                continue;
                        memcpy(sched.methods, order, sizeof(order));
                        measure(&cfg, &sched, c, ns);
                        for (int k = 0; k < n_on; k++)
                                results[c][order[k]][r] = ns[order[k]];
                }

        if (cfg.opt.check) {
                printf("bench --check: every case ran with %d methods\n", n_on);
                return 0;
        }

        /* Every ratio is paired: within a run the methods take turns in
         * blocks, so a run's ratio compares measurements made side by side;
         * the figure is the median of the runs' ratios. */
        printf("\n%-15s %-19s %14s %14s %12s\n", "case", "method", "median ns/op", "min ns/op", "ours/this");
        for (int c = 0; c < N_CASES; c++) {
                if (!cfg.case_on[c])
                        continue;
                for (int k = 0; k < N_METHODS; k++) {
                        if (!cfg.method_on[k])
                                continue;
                        printf("%-15s %-19s %14.0f %14.0f", k == order[0] ? case_names[c] : "", methods[k].name,
                               median(results[c][k], cfg.opt.runs), minimum(results[c][k], cfg.opt.runs));
                        if (k != M_OURS && cfg.method_on[M_OURS])
                                printf(" %12.3f", paired_ratio(results[c][M_OURS], results[c][k], cfg.opt.runs, NULL));
                        putchar('\n');
                }
        }
        print_ratios(&cfg, results, M_OURS, M_POLL, "ours / eventfd+poll floor (target <= 1.03 pinned)");
        print_ratios(&cfg, results, M_SO, M_SYSTEMD,
                     "libbarrier.so / systemd (shipped), both loaded with dlopen() and called alike "
                     "(target <= 1.00 pinned)");
        getloadavg(load, 3);
        printf("load at the end: %.2f\n", load[0]);
        return 0;
}
