/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* What both benchmarks are made of: see bench-common.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"

void die(const char *what) {
        fprintf(stderr, "%s: %s: %s\n", bench_name, what, strerror(errno));
        _exit(2);
}

void die_msg(const char *what) {
        fprintf(stderr, "%s: %s\n", bench_name, what);
        _exit(2);
}

double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void reap(pid_t pid, const char *failed) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die_msg(failed);
}

/* ---- options ------------------------------------------------------------- */

bool parse_long(const char *s, long min, long *out) {
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min)
                return false;
        *out = v;
        return true;
}

bool parse_list(const char *list, const char *const *keys, int n, bool *on) {
        char buf[256], *save = NULL, *tok;

        if (strlen(list) >= sizeof(buf))
                return false;
        strcpy(buf, list);
        for (int i = 0; i < n; i++)
                on[i] = false;
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int i;
                for (i = 0; i < n && strcmp(tok, keys[i]) != 0; i++)
                        ;
                if (i == n)
                        return false;
                on[i] = true;
        }
        return true;
}

bool key_is(const char *arg, size_t klen, const char *k) {
        return klen == strlen(k) && strncmp(arg, k, klen) == 0;
}

/* One argument; false if it is wrong. */
static bool parse_arg(const char *a, struct bench_options *opt,
                      bool (*other)(void *data, const char *arg, size_t klen, const char *value), void *data,
                      void (*usage)(FILE *f)) {
        const char *v = strchr(a, '=');
        long n;
        size_t klen = v ? (size_t)(v - a) : strlen(a);

#define KEY(k) key_is(a, klen, k)
        if (v)
                v++;
        if (KEY("--pin")) {
                if (!v)
                        opt->pin = sched_getcpu();
                else if (parse_long(v, 0, &n) && n < CPU_SETSIZE)
                        opt->pin = (int)n;
                else
                        return false;
        } else if (KEY("--check") && !v) {
                opt->check = true;
        } else if (KEY("--help") || KEY("-h")) {
                usage(stdout);
                exit(0);
        } else if (!v) {
                return false;
        } else if (KEY("--runs")) {
                if (!parse_long(v, 1, &n) || n > MAX_RUNS)
                        return false;
                opt->runs = (int)n;
        } else if (KEY("--rounds")) {
                return parse_long(v, 1, &opt->rounds);
        } else if (KEY("--warmup")) {
                return parse_long(v, 0, &opt->warmup);
        } else if (KEY("--blocks")) {
                return parse_long(v, 1, &opt->blocks);
        } else {
                return other(data, a, klen, v);
        }
#undef KEY
        return true;
}

void parse_args(int argc, char **argv, struct bench_options *opt,
                bool (*other)(void *data, const char *arg, size_t klen, const char *value), void *data,
                void (*usage)(FILE *f)) {
        for (int i = 1; i < argc; i++)
                if (!parse_arg(argv[i], opt, other, data, usage)) {
                        usage(stderr);
                        exit(2);
                }
        if (opt->check) {
                opt->runs = 1;
                opt->rounds = 20;
                opt->warmup = 2;
                opt->blocks = 2;
                alarm(120); /* a hang is a failure, not a wait */
        }
}

void pin_to(int cpu) {
        cpu_set_t set;

        if (cpu < 0)
                return;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
                die("sched_setaffinity");
}

/* ---- pthread pshared ----------------------------------------------------- */

void *map_shared(size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                die("mmap");
        return p;
}

void pshared_init(pthread_barrier_t *pb, unsigned n) {
        pthread_barrierattr_t attr;

        if (pthread_barrierattr_init(&attr) != 0 ||
            pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
            pthread_barrier_init(pb, &attr, n) != 0)
                die_msg("pthread_barrier_init failed");
        pthread_barrierattr_destroy(&attr);
}

/* ---- the schedule -------------------------------------------------------- */

/* The method of turn k (0 .. blocks * n - 1). */
static int turn_method(const struct schedule *s, long k) {
        long block = k / s->n, i = k % s->n;
        return s->methods[(i + block + s->shift) % s->n];
}

/* How many of a run's total operations block `block` gets. */
static long block_size(long total, long blocks, long block) {
        return total / blocks + (block < total % blocks ? 1 : 0);
}

void play_turns(const struct schedule *s, long ops, void (*block)(void *data, int method, long len), void *data,
                double *total) {
        for (long k = 0; k < s->blocks * s->n; k++) {
                int id = turn_method(s, k);
                long len = block_size(ops, s->blocks, k / s->n);
                double t0 = now_ns();
                block(data, id, len);
                if (total)
                        total[id] += now_ns() - t0;
        }
}

/* ---- statistics ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

double median(const double *v, int n) {
        double s[MAX_RUNS];

        memcpy(s, v, sizeof(double) * (size_t)n);
        qsort(s, (size_t)n, sizeof(double), cmp_double);
        return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double minimum(const double *v, int n) {
        double m = v[0];

        for (int i = 1; i < n; i++)
                if (v[i] < m)
                        m = v[i];
        return m;
}

double maximum(const double *v, int n) {
        double m = v[0];

        for (int i = 1; i < n; i++)
                if (v[i] > m)
                        m = v[i];
        return m;
}

double paired_ratio(const double *a, const double *b, int n, double range[2]) {
        double ratio[MAX_RUNS] = { 0 };

        for (int r = 0; r < n; r++)
                ratio[r] = a[r] / b[r];
        if (range) {
                range[0] = minimum(ratio, n);
                range[1] = maximum(ratio, n);
        }
        return median(ratio, n);
}
