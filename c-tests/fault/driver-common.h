/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the fault-injection drivers (barrier-driver.c for the two-party
 * barrier, group-driver.c for barrier groups) have in common: the
 * injector's controls, failure reports, counting descriptors, the faults
 * both try, and the loop that runs every fault at every position, each
 * case in a process of its own under a watchdog.
 */
#ifndef LIBBARRIER_DRIVER_COMMON_H
#define LIBBARRIER_DRIVER_COMMON_H

#include "inject.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

/* A case process's exit codes. */
enum { CASE_FIRED = 0, CASE_FAILED = 1, CASE_NOT_REACHED = 2 };

/* The injector's controls, looked up in the preloaded inject.so. */
extern const struct fault_controls *injector;

/* Failed checks in this case so far. */
extern int failures;

/* Reports a failed check of the driver's line `line`, and counts it. */
void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define CHECK(cond)                                                                  \
        do {                                                                         \
                if (!(cond))                                                         \
                        fail(__LINE__, "check failed: %s", #cond);                   \
        } while (0)

/* Runs a library call with the injector armed. */
#define ARMED(expr)                                                                  \
        __extension__({                                                              \
                injector->arm(1);                                                    \
                __typeof__(expr) armed_r_ = (expr);                                  \
                injector->arm(0);                                                    \
                armed_r_;                                                            \
        })

/* The exit code of a case that ran to its end: failed if a check failed,
 * else whether the planned fault was reached. */
int case_outcome(void);

/* Open descriptors, in /proc/self/fd. */
int count_fds(void);
/* Open descriptors that survive execve(). */
int count_inherited(void);

/* Write or read all of `len` bytes, through EINTR; false on an error or
 * at the end of the stream. */
bool write_all(int fd, const void *buf, size_t len);
bool read_all(int fd, void *buf, size_t len);

struct fault {
        int call;
        int mode;
        int err;
        /* the library must ride it out: no answer changes */
        bool transient;
};

/* The faults of read, write and close, which both drivers try. */
#define FAULTS_READ_WRITE_CLOSE                                                      \
        { FAULT_READ, FAULT_ERRNO, EIO, false },                                     \
        { FAULT_READ, FAULT_ERRNO, EBADF, false },                                   \
        { FAULT_READ, FAULT_SHORT, EIO, false },                                     \
        { FAULT_READ, FAULT_EINTR_STORM, EINTR, true },                              \
        { FAULT_READ, FAULT_ERRNO, EAGAIN, true },                                   \
        { FAULT_WRITE, FAULT_ERRNO, EIO, false },                                    \
        { FAULT_WRITE, FAULT_ERRNO, EBADF, false },                                  \
        { FAULT_WRITE, FAULT_ERRNO, ENOSPC, false },                                 \
        { FAULT_WRITE, FAULT_SHORT, EIO, false },                                    \
        { FAULT_WRITE, FAULT_EINTR_STORM, EINTR, true },                             \
        { FAULT_WRITE, FAULT_ERRNO, EAGAIN, true },                                  \
        { FAULT_CLOSE, FAULT_AFTER, EIO, true },                                     \
        { FAULT_CLOSE, FAULT_AFTER, EINTR, true }

struct driver {
        /* as on the command line, and in failure reports as NAME.c */
        const char *name;
        /* a case process's watchdog: it guards against hangs only */
        unsigned watchdog_sec;
        const char *const *scenario_names;
        int nscenarios;
        const struct fault *faults;
        size_t nfaults;
        /* Runs a scenario once the fault is planned; returns the case's
         * exit code. A transient fault comes with `err` 0: no answer may
         * change. */
        int (*run)(int scenario, int err, bool transient);
};

/*
 * The drivers' main(). With no argument, runs every scenario without a
 * fault, then with every fault at every position its call is made in,
 * and ends with "N passed, M failed"; with `SCENARIO CALL MODE ERRNO
 * NTH`, runs that one case in this process.
 */
int run_driver(const struct driver *d, int argc, char **argv);

#endif
