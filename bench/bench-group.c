/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * How fast a barrier group is, against a process-shared pthread_barrier_t
 * of the same size measured in the same run.
 *
 * For each group size n (default 2, 4, 8, 16, 64) a run forks n - 1
 * processes; the n processes (the creator is rank 0) do rounds of
 *   group            barrier_group_place_and_sync(g, BARRIER_INFINITY)
 *   pthread pshared  pthread_barrier_wait() on a PTHREAD_PROCESS_SHARED
 *                    barrier of n in shared memory: the floor without
 *                    death detection, abort or bounded waits
 *   pthread again    a second such barrier, measured as if it were another
 *                    method: a control, whose ratio to the first would be 1
 *                    on a perfect machine; how far it strays is the
 *                    benchmark's own noise
 *   epoll floor      the kernel objects a group uses, driven by hand with
 *                    the same syscalls and nothing else: counts in shared
 *                    memory, each process's epoll instance watching the
 *                    others' eventfds edge-triggered (and their pipes,
 *                    which never hang up here), one write by the last to
 *                    arrive if any waits; no abort, no exit to notice, no
 *                    bounded wait. What the library adds is the distance
 *                    from it
 * Each process first does the warm-up rounds of every method, then one
 * round of each as a handshake: when rank 0 leaves it, every process is in
 * its loop. Then the methods take turns in blocks (as in bench.c), the
 * first method changing from block to block and from run to run, so that
 * drift on a busy machine falls on all of them alike. Rank 0 times every
 * block; a round ends for it only once all n processes placed it, so its
 * time over R rounds is the group's time per round. The times are medians
 * over the runs; a ratio is the median over the runs of group's time
 * divided by pthread's in the same run. --pin keeps every process on one
 * CPU.
 *
 * Beside the time, every process measures its own CPU time (user and
 * system, CLOCK_PROCESS_CPUTIME_ID) around each of its blocks and adds it
 * to its method's in shared memory; a method's CPU time per round is the
 * sum over the n processes divided by the rounds. A method that waits by
 * spinning shows there what its speed costs. Pinned, CPU time and time
 * nearly agree; not pinned, the CPU time leaves out the time a process
 * waits to be woken on the other CPU. The CPU figures scatter far less
 * than the times on a busy machine, since another tenant's work delays a
 * round but does not count in it.
 *
 * Before measuring, it counts what a group holds: descriptors, in
 * /proc/self/fd, in the creator before join and after join (as a member),
 * and after free; memory, in /proc/self/maps, mapped by barrier_group_new
 * (the shared page, a memfd mapping, and the handle's private page).
 *
 * Rounds scale with n so that every size does about the same work: n
 * members do 2R/n rounds per run and method where 2 members do R.
 * `bash bench/syscalls.sh group` runs it under strace and perf to count
 * the syscalls per member and round.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "barrier.h"
#include "bench-common.h"

#define MAX_SIZES 16

const char bench_name[] = "bench-group";

/* ---- the methods --------------------------------------------------------- */

enum { M_GROUP, M_PTHREAD, M_AGAIN, M_FLOOR, N_METHODS };
_Static_assert(N_METHODS <= MAX_METHODS, "a schedule holds every method");

static const char *const method_keys[N_METHODS] = { "group", "pthread", "again", "floor" };

/* The two pthread barriers, in memory shared by every process. */
static pthread_barrier_t *shared_pb;

/* CPU time (user and system) of each process in each method's blocks, in
 * ns: one row of N_METHODS per rank, in memory shared by every process,
 * each process adding to its own row. */
static double *shared_cpu;

/* The epoll floor's counts, one cache line per process, in memory shared
 * by every process. */
struct floor_slot {
        _Atomic uint64_t placed;
        /* the count its last wait that slept waited for */
        _Atomic uint64_t waiting;
        char pad[48];
};
static struct floor_slot *floor_slots;

/* The epoll floor's descriptors, made by rank 0 before the fork: every
 * process's eventfd, pipe and epoll instance. */
static int floor_bell[BARRIER_GROUP_MAX], floor_pipe[BARRIER_GROUP_MAX][2], floor_ep[BARRIER_GROUP_MAX];

/* What a process of a run holds: its rank, the size, its group handle and
 * the barriers. */
struct objs {
        unsigned rank, n;
        BarrierGroup *g;
        pthread_barrier_t *pb[N_METHODS];
};

/* Makes the epoll floor's objects for n processes. */
static void floor_new(unsigned n) {
        memset(floor_slots, 0, BARRIER_GROUP_MAX * sizeof(*floor_slots));
        for (unsigned k = 0; k < n; k++) {
                floor_bell[k] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (floor_bell[k] < 0 || pipe2(floor_pipe[k], O_CLOEXEC | O_NONBLOCK) < 0)
                        die("eventfd or pipe2");
        }
        for (unsigned k = 0; k < n; k++) {
                floor_ep[k] = epoll_create1(EPOLL_CLOEXEC);
                if (floor_ep[k] < 0)
                        die("epoll_create1");
                for (unsigned j = 0; j < n; j++) {
                        struct epoll_event bell = { .events = EPOLLIN | EPOLLET, .data.u64 = UINT64_MAX };
                        struct epoll_event hup = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = j };

                        if (j != k && (epoll_ctl(floor_ep[k], EPOLL_CTL_ADD, floor_bell[j], &bell) < 0 ||
                                       epoll_ctl(floor_ep[k], EPOLL_CTL_ADD, floor_pipe[j][0], &hup) < 0))
                                die("epoll_ctl");
                }
        }
}

static void floor_free(unsigned n) {
        for (unsigned k = 0; k < n; k++) {
                close(floor_bell[k]);
                close(floor_pipe[k][0]);
                close(floor_pipe[k][1]);
                close(floor_ep[k]);
        }
}

/* Whether every process but me placed at least c. */
static bool floor_all(unsigned me, unsigned n, uint64_t c) {
        for (unsigned k = 0; k < n; k++)
                if (k != me && atomic_load(&floor_slots[k].placed) < c)
                        return false;
        return true;
}

/* One round of the epoll floor: place; the last to arrive rings once if
 * any waits; any other publishes what it waits for, looks again, and
 * sleeps until it is there. */
static void floor_round(const struct objs *o) {
        unsigned me = o->rank, n = o->n;
        uint64_t c = atomic_fetch_add(&floor_slots[me].placed, 1) + 1;

        if (floor_all(me, n, c)) {
                for (unsigned k = 0; k < n; k++) {
                        uint64_t one = 1;

                        if (k == me || atomic_load(&floor_slots[k].waiting) != c)
                                continue;
                        if (write(floor_bell[me], &one, sizeof(one)) != sizeof(one))
                                die("write");
                        break;
                }
                return;
        }
        atomic_store(&floor_slots[me].waiting, c);
        while (!floor_all(me, n, c)) {
                struct epoll_event ev[4];

                if (epoll_wait(floor_ep[me], ev, 4, -1) < 0 && errno != EINTR)
                        die("epoll_wait");
        }
}

/* This process's CPU time, user and system, in ns. */
static double cpu_ns(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                die("clock_gettime");
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void round_of(struct objs *o, int m) {
        if (m == M_GROUP) {
                if (barrier_group_place_and_sync(o->g, BARRIER_INFINITY) != 1)
                        die_msg("barrier_group_place_and_sync failed");
        } else if (m == M_FLOOR) {
                floor_round(o);
        } else {
                int r = pthread_barrier_wait(o->pb[m]);
                if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
                        die_msg("pthread_barrier_wait failed");
        }
}

/* ---- the schedule -------------------------------------------------------- */

/* len rounds of method m: a block of the schedule (bench-common.h), or the
 * warm-up. The CPU time it took is added to the process's row. */
static void rounds_block(void *data, int m, long len) {
        struct objs *o = data;
        double t0 = cpu_ns();

        for (long r = 0; r < len; r++)
                round_of(o, m);
        shared_cpu[o->rank * N_METHODS + m] += cpu_ns() - t0;
}

/* One process's part of a run: warm-up, the handshake, then the turns.
 * With total (rank 0), each turn's time is added to its method's. The CPU
 * time of the turns alone is left in the process's row. */
static void play(const struct schedule *s, struct objs *o, long rounds, long warmup, double *total) {
        for (int i = 0; i < s->n; i++)
                rounds_block(o, s->methods[i], warmup);
        for (int i = 0; i < s->n; i++)
                round_of(o, s->methods[i]);
        for (int m = 0; m < N_METHODS; m++)
                shared_cpu[o->rank * N_METHODS + m] = 0;
        play_turns(s, rounds, rounds_block, o, total);
}

/* One run for n members: ns per round of every method of the schedule,
 * as rank 0 saw it, and the CPU time per round of all n processes
 * together. */
static void measure(const struct schedule *s, unsigned n, long rounds, long warmup, double *ns, double *cpu) {
        double total[N_METHODS] = { 0 };
        struct objs o = { .n = n, .g = NULL };
        pid_t pids[BARRIER_GROUP_MAX];
        int r;

        for (int m = M_PTHREAD; m <= M_AGAIN; m++) {
                o.pb[m] = &shared_pb[m - M_PTHREAD];
                pshared_init(o.pb[m], n);
        }
        floor_new(n);
        r = barrier_group_new(&o.g, n);
        if (r < 0) {
                errno = -r;
                die("barrier_group_new");
        }
        fflush(NULL);
        for (unsigned k = 1; k < n; k++) {
                o.rank = k;
                pids[k] = fork();
                if (pids[k] < 0)
                        die("fork");
                if (pids[k] == 0) {
                        /* A member never outlives the benchmark, even if it
                         * waits on a pthread barrier that a failure left
                         * short. */
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                                _exit(2);
                        if (barrier_group_join(o.g, k) != 0)
                                die_msg("barrier_group_join failed");
                        play(s, &o, rounds, warmup, NULL);
                        _exit(0);
                }
        }
        o.rank = 0;
        if (barrier_group_join(o.g, 0) != 0)
                die_msg("barrier_group_join failed");
        /* The warm-up and the handshake are not counted. */
        play(s, &o, rounds, warmup, total);
        for (unsigned k = 1; k < n; k++)
                reap(pids[k], "a member process failed");
        o.g = barrier_group_free(o.g);
        floor_free(n);
        for (int m = M_PTHREAD; m <= M_AGAIN; m++)
                pthread_barrier_destroy(o.pb[m]);
        for (int i = 0; i < s->n; i++) {
                int m = s->methods[i];
                double sum = 0;

                for (unsigned k = 0; k < n; k++)
                        sum += shared_cpu[k * N_METHODS + m];
                ns[m] = total[m] / (double)rounds;
                cpu[m] = sum / (double)rounds;
        }
}

/* ---- what a group holds -------------------------------------------------- */

/* Open descriptors, as /proc/self/fd lists them, not counting the one
 * that reads it. No allocation, so that it changes no mapping. */
static long count_fds(void) {
        static char buf[8192];
        long count = -1; /* the directory's own descriptor */
        int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ssize_t len;

        if (dir < 0)
                die("open /proc/self/fd");
        while ((len = getdents64(dir, buf, sizeof(buf))) > 0)
                for (ssize_t at = 0; at < len;) {
                        const struct dirent64 *d = (const struct dirent64 *)(buf + at);
                        if (d->d_name[0] != '.')
                                count++;
                        at += d->d_reclen;
                }
        if (len < 0)
                die("getdents64");
        close(dir);
        return count;
}

/* Bytes mapped, as /proc/self/maps lists them: in total, and in mappings
 * whose name contains `name`. Reads with read(2) into static memory, so
 * that it changes no mapping. */
static void mapped_bytes(const char *name, unsigned long *total, unsigned long *named) {
        static char buf[1 << 17];
        size_t used = 0;
        ssize_t len;
        char *line;
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                die("open /proc/self/maps");
        while ((len = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
                used += (size_t)len;
        if (len < 0)
                die("read /proc/self/maps");
        if (used == sizeof(buf) - 1)
                die_msg("/proc/self/maps is too long");
        close(fd);
        buf[used] = '\0';
        *total = *named = 0;
        for (line = buf; *line; ) {
                char *end = strchr(line, '\n'), *p;
                unsigned long lo, hi;

                if (end)
                        *end = '\0';
                lo = strtoul(line, &p, 16);
                if (*p != '-')
                        die_msg("/proc/self/maps: unexpected line");
                hi = strtoul(p + 1, NULL, 16);
                *total += hi - lo;
                if (strstr(line, name))
                        *named += hi - lo;
                line = end ? end + 1 : line + strlen(line);
        }
}

/* Prints, for every size, the descriptors of a creator before join, of a
 * member after join, what free leaves, and the memory new maps. */
static void footprint(const unsigned *sizes, int n_sizes) {
        printf("\n%-8s %22s %20s %15s %14s %15s %17s\n", "members", "fds creator, unjoined",
               "fds member, joined", "fds after free", "mapped shared", "mapped private", "mapped after free");
        for (int i = 0; i < n_sizes; i++) {
                unsigned long total0, total1, total2, shared0, shared1, shared2;
                long fd0, fd_new, fd_join, fd_free;
                BarrierGroup *g = NULL;
                int r;

                fd0 = count_fds();
                mapped_bytes("libbarrier-group", &total0, &shared0);
                r = barrier_group_new(&g, sizes[i]);
                if (r < 0) {
                        errno = -r;
                        die("barrier_group_new");
                }
                mapped_bytes("libbarrier-group", &total1, &shared1);
                fd_new = count_fds();
                if (barrier_group_join(g, 0) != 0)
                        die_msg("barrier_group_join failed");
                fd_join = count_fds();
                g = barrier_group_free(g);
                fd_free = count_fds();
                mapped_bytes("libbarrier-group", &total2, &shared2);
                printf("%-8u %15ld (4n+%ld) %13ld (2n+%ld) %15ld %14lu %15lu %17ld\n", sizes[i], fd_new - fd0,
                       fd_new - fd0 - 4 * (long)sizes[i], fd_join - fd0, fd_join - fd0 - 2 * (long)sizes[i],
                       fd_free - fd0, shared1 - shared0, (total1 - total0) - (shared1 - shared0),
                       (long)total2 - (long)total0);
        }
        printf("(descriptors: the creator after barrier_group_new, then after it joined as rank 0, then after\n"
               "barrier_group_free, beyond what it held before; memory: what barrier_group_new mapped, the\n"
               "memfd page every member maps and the handle's own page in each process, and what is left\n"
               "mapped after barrier_group_free)\n");
}

/* ---- options ------------------------------------------------------------- */

struct config {
        struct bench_options opt; /* --runs, --pin, --check, --rounds, --warmup, --blocks */
        bool method_on[N_METHODS];
        unsigned sizes[MAX_SIZES];
        int n_sizes;
};

/* Rounds per run and method for n members: 2R/n, at least 1 (0 stays 0). */
static long scaled(long r, unsigned n) {
        long v = r * 2 / (long)n;
        return r > 0 && v < 1 ? 1 : v;
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: bench-group [options]\n"
                "  --pin[=CPU]     run every process on one CPU (default: the current one)\n"
                "  --runs=N        runs per size; medians are over them (default 9)\n"
                "  --rounds=N      rounds per run and method for 2 members; n members do 2N/n (default 20000)\n"
                "  --warmup=N      untimed rounds per method before each run, for 2 members; scaled the\n"
                "                  same way (default 2000)\n"
                "  --blocks=N      blocks per method and run; the methods' blocks take turns (default 10)\n"
                "  --sizes=LIST    group sizes, 2 to %d (default 2,4,8,16,64)\n"
                "  --method=LIST   group,pthread,again,floor (default: all)\n"
                "  --check         every size and method a few rounds, no table: for tests; it fails if a\n"
                "                  method fails\n",
                BARRIER_GROUP_MAX);
}

static bool parse_sizes(const char *list, struct config *cfg) {
        char buf[256], *save = NULL, *tok;

        if (strlen(list) >= sizeof(buf))
                return false;
        strcpy(buf, list);
        cfg->n_sizes = 0;
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                long n;
                if (!parse_long(tok, 2, &n) || n > BARRIER_GROUP_MAX || cfg->n_sizes == MAX_SIZES)
                        return false;
                cfg->sizes[cfg->n_sizes++] = (unsigned)n;
        }
        return cfg->n_sizes > 0;
}

/* The options of this benchmark alone, for parse_args(). */
static bool parse_option(void *data, const char *a, size_t klen, const char *v) {
        struct config *cfg = data;

        if (key_is(a, klen, "--sizes"))
                return parse_sizes(v, cfg);
        if (key_is(a, klen, "--method")) {
                if (!parse_list(v, method_keys, N_METHODS, cfg->method_on))
                        return false;
                for (int m = 0; m < N_METHODS; m++)
                        if (cfg->method_on[m])
                                return true;
                return false;
        }
        return false;
}

/* One line per size: the medians of v (ns per round, or CPU ns per
 * round), then the paired ratios (the median of the runs' ratios, and
 * the lowest and highest). */
static void print_table(const struct config *cfg, const char *unit, double v[][N_METHODS][MAX_RUNS]) {
        char head[N_METHODS][32];

        for (int m = 0; m < N_METHODS; m++)
                snprintf(head[m], sizeof(head[m]), "%s %s", method_keys[m], unit);
        printf("\n%-8s %7s %13s %13s %13s %13s %25s %25s %25s\n", "members", "rounds", head[M_GROUP],
               head[M_PTHREAD], head[M_AGAIN], head[M_FLOOR], "group/pthread [low, high]",
               "floor/pthread [low, high]", "control [low, high]");
        for (int i = 0; i < cfg->n_sizes; i++) {
                unsigned n = cfg->sizes[i];

                printf("%-8u %7ld", n, scaled(cfg->opt.rounds, n));
                for (int m = 0; m < N_METHODS; m++) {
                        if (cfg->method_on[m])
                                printf(" %13.0f", median(v[i][m], cfg->opt.runs));
                        else
                                printf(" %13s", "-");
                }
                for (int j = 0; j < 3; j++) {
                        static const int ratio_of[3] = { M_GROUP, M_FLOOR, M_AGAIN };
                        int m = ratio_of[j];
                        double range[2], ratio;

                        if (!cfg->method_on[m] || !cfg->method_on[M_PTHREAD]) {
                                printf(" %25s", "-");
                                continue;
                        }
                        ratio = paired_ratio(v[i][m], v[i][M_PTHREAD], cfg->opt.runs, range);
                        printf("     %6.3f [%5.3f, %5.3f]", ratio, range[0], range[1]);
                }
                putchar('\n');
        }
}

int main(int argc, char **argv) {
        static double results[MAX_SIZES][N_METHODS][MAX_RUNS], cpu[MAX_SIZES][N_METHODS][MAX_RUNS];
        struct config cfg = {
                .opt = { .rounds = 20000, .warmup = 2000, .blocks = 10, .runs = 9, .pin = -1 },
                .sizes = { 2, 4, 8, 16, 64 }, .n_sizes = 5,
        };
        double load[3] = { 0, 0, 0 };
        int order[N_METHODS], n_on = 0;

        for (int m = 0; m < N_METHODS; m++)
                cfg.method_on[m] = true;
        parse_args(argc, argv, &cfg.opt, parse_option, &cfg, usage);
        pin_to(cfg.opt.pin);
        shared_pb = map_shared(2 * sizeof(*shared_pb));
        shared_cpu = map_shared(BARRIER_GROUP_MAX * N_METHODS * sizeof(*shared_cpu));
        floor_slots = map_shared(BARRIER_GROUP_MAX * sizeof(*floor_slots));
        for (int m = 0; m < N_METHODS; m++)
                if (cfg.method_on[m])
                        order[n_on++] = m;

        getloadavg(load, 3);
        printf("libbarrier group benchmark: %ld CPUs online, %s, load %.2f, %d runs; %ld rounds per run and "
               "method at 2 members, 2*%ld/n at n, in %ld interleaved blocks\n",
               sysconf(_SC_NPROCESSORS_ONLN), cfg.opt.pin >= 0 ? "every process pinned" : "not pinned", load[0],
               cfg.opt.runs, cfg.opt.rounds, cfg.opt.rounds, cfg.opt.blocks);
        if (cfg.opt.pin >= 0)
                printf("pinned to CPU %d\n", cfg.opt.pin);
        footprint(cfg.sizes, cfg.n_sizes);
        fflush(stdout);

        for (int r = 0; r < cfg.opt.runs; r++)
                for (int i = 0; i < cfg.n_sizes; i++) {
                        struct schedule sched = { .n = n_on, .blocks = cfg.opt.blocks, .shift = r };
                        unsigned n = cfg.sizes[i];
                        long rounds = scaled(cfg.opt.rounds, n);
                        double ns[N_METHODS], cpu_run[N_METHODS];

                        memcpy(sched.methods, order, sizeof(order));
                        if (sched.blocks > rounds)
                                sched.blocks = rounds;
                        measure(&sched, n, rounds, scaled(cfg.opt.warmup, n), ns, cpu_run);
                        for (int k = 0; k < n_on; k++) {
                                results[i][order[k]][r] = ns[order[k]];
                                cpu[i][order[k]][r] = cpu_run[order[k]];
                        }
                }

        if (cfg.opt.check) {
                printf("bench-group --check: every size ran with %d methods\n", n_on);
                return 0;
        }

        print_table(&cfg, "ns", results);
        printf("(ns per round, rank 0's time over its rounds; the control is pthread again / pthread pshared,\n"
               "1 but for noise; targets: group/pthread <= 1.10 for n <= 8 and <= 1.25 for n = 64 pinned, <= 1.00\n"
               "for n <= 8 not pinned)\n");
        print_table(&cfg, "cpu ns", cpu);
        printf("(CPU time per round, user and system, of all n processes together, in their timed blocks;\n"
               "target: group/pthread <= 1.5)\n");
        getloadavg(load, 3);
        printf("load at the end: %.2f\n", load[0]);
        return 0;
}
