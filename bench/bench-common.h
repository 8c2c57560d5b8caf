/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What both benchmarks (bench.c and bench-group.c) are made of: errors,
 * the clock, child processes, the options they both take, pinning, the
 * process-shared pthread barrier, the schedule of interleaved blocks and
 * its timing, and the statistics over runs.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define MAX_RUNS 101
#define MAX_METHODS 8

/* The benchmark's name, which begins its error messages: each program
 * defines it. */
extern const char bench_name[];

/* Prints "<bench_name>: what: <errno's text>" (or without errno's text)
 * and exits 2. */
_Noreturn void die(const char *what);
_Noreturn void die_msg(const char *what);

/* CLOCK_MONOTONIC, in ns. */
double now_ns(void);

/* Waits for pid; dies with `failed` unless it exited with 0. */
void reap(pid_t pid, const char *failed);

/* ---- options ------------------------------------------------------------- */

/* The options both benchmarks take. */
struct bench_options {
        long rounds, warmup, blocks;
        int runs;
        int pin;                /* CPU to pin to, or -1 */
        bool check;             /* --check: every method a few times, briefly */
};

bool parse_long(const char *s, long min, long *out);

/* Turns on the entries of LIST (comma-separated keys) in on[]. */
bool parse_list(const char *list, const char *const *keys, int n, bool *on);

/* Whether the key of an argument (its first klen characters) is k. */
bool key_is(const char *arg, size_t klen, const char *k);

/* Parses --pin[=CPU], --check, --help, -h, --runs, --rounds, --warmup and
 * --blocks into opt; any other KEY=VALUE goes to other(), which returns
 * false for a key it does not know or a value it refuses. --help prints
 * usage() to stdout and exits 0; an option that is wrong prints it to
 * stderr and exits 2. With --check: 1 run, 20 rounds, 2 of warm-up, 2
 * blocks, and an alarm in 120 s (a hang is a failure, not a wait). */
void parse_args(int argc, char **argv, struct bench_options *opt,
                bool (*other)(void *data, const char *arg, size_t klen, const char *value), void *data,
                void (*usage)(FILE *f));

/* Keeps this process, and what it forks after, on CPU cpu if cpu >= 0. */
void pin_to(int cpu);

/* ---- pthread pshared ----------------------------------------------------- */

/* size bytes of zeroes, shared with the processes forked after. */
void *map_shared(size_t size);

/* A PTHREAD_PROCESS_SHARED barrier of n at pb. */
void pshared_init(pthread_barrier_t *pb, unsigned n);

/* ---- the schedule -------------------------------------------------------- */

/*
 * Every method of a run is measured in the same run, interleaved: the
 * run's operations for each method are cut into `blocks` blocks, and the
 * blocks take turns (A, B, C, A, ...), the first method changing from
 * block to block and, with shift, from run to run. Whatever the machine
 * does during a run (another tenant, a frequency change) then falls on
 * every method alike, instead of on the one that happened to be running.
 * Each method's figure for the run is its total time over its total
 * operations.
 */
struct schedule {
        int methods[MAX_METHODS];
        int n;          /* methods measured */
        long blocks;    /* blocks per method per run */
        int shift;      /* the run's rotation */
};

/* Plays the turns of a run of ops operations per method: turn k is block
 * k / n of the method whose place in the rotation is (k + block + shift)
 * mod n, and block(data, method, len) does its len operations. With
 * total, each turn's time is added to its method's. */
void play_turns(const struct schedule *s, long ops, void (*block)(void *data, int method, long len), void *data,
                double *total);

/* ---- statistics ---------------------------------------------------------- */

double median(const double *v, int n);
double minimum(const double *v, int n);
double maximum(const double *v, int n);

/* The median over n runs of a[r] / b[r]; with range, also the lowest and
 * the highest of those ratios. */
double paired_ratio(const double *a, const double *b, int n, double range[2]);

#endif
