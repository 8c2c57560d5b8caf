/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The fault-injection drivers' common part: see driver-common.h.
 */
#define _GNU_SOURCE
#include "driver-common.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const struct fault_controls *injector;

int failures;

/* The driver that runs, and the case in this process. */
static const struct driver *driver;
static char case_name[128];

static const char *call_names[FAULT_NCALLS + 1] = {
        "eventfd", "pipe2", "ppoll", "read", "write", "close", "fcntl", "memfd_create", "ftruncate", "mmap",
        "munmap", "epoll_create1", "epoll_ctl", "epoll_wait", "fstat", "readlink", "nothing",
};

void fail(int line, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s.c:%d: [%s, pid %d] ", driver->name, line, case_name, (int)getpid());
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        failures++;
}

int case_outcome(void) {
        if (failures)
                return CASE_FAILED;
        return injector->fired() > 0 ? CASE_FIRED : CASE_NOT_REACHED;
}

/* ---- what the process holds ---------------------------------------------- */

/* Open descriptors; with `without_cloexec`, only those that survive
 * execve(). */
static int count_fds_where(bool without_cloexec) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d))) {
                int fd;

                if (e->d_name[0] == '.')
                        continue;
                fd = atoi(e->d_name);
                if (fd == dirfd(d))
                        continue;
                if (without_cloexec) {
                        int flags = fcntl(fd, F_GETFD);
                        if (flags < 0 || (flags & FD_CLOEXEC))
                                continue;
                }
                n++;
        }
        closedir(d);
        return n;
}

int count_fds(void) {
        return count_fds_where(false);
}

int count_inherited(void) {
        return count_fds_where(true);
}

/* ---- handshakes ------------------------------------------------------------- */

bool write_all(int fd, const void *buf, size_t len) {
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

bool read_all(int fd, void *buf, size_t len) {
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

/* ---- cases ----------------------------------------------------------------------------- */

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

/* Runs one case in this process; returns its exit code. */
static int run_case(int scenario, const struct fault *f, long nth) {
        snprintf(case_name, sizeof(case_name), "%s %s %s %s #%ld", driver->scenario_names[scenario],
                 call_names[f->call], mode_name(f->mode), strerror(f->err), nth);
        alarm(driver->watchdog_sec);
        injector->plan(f->call, nth, f->mode, f->err);
        return driver->run(scenario, f->transient ? 0 : f->err, f->transient);
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
        if (pid == 0) {
                /* its own process group, so that the watchdog's end takes
                 * every process of the case with it */
                setpgid(0, 0);
                _exit(run_case(scenario, f, nth));
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        kill(-pid, SIGKILL);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        fprintf(stderr, "%s %s %s %s #%ld: killed by signal %d%s\n", driver->scenario_names[scenario],
                call_names[f->call], mode_name(f->mode), strerror(f->err), nth, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (watchdog: it hung)" : "");
        return CASE_FAILED;
}


int run_driver(const struct driver *d, int argc, char **argv) {
        int passed = 0, failed = 0;
        long injected = 0;

        driver = d;
        injector = dlsym(RTLD_DEFAULT, FAULT_CONTROLS);
        if (!injector) {
                fprintf(stderr, "%s not found: run with LD_PRELOAD=.../inject.so\n", FAULT_CONTROLS);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);

        if (argc == 6) {
                struct fault f = { atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), false };
                int scenario = atoi(argv[1]);
                if (scenario < 0 || scenario >= d->nscenarios || f.call < 0 || f.call > FAULT_NCALLS)
                        return 2;
                for (size_t i = 0; i < d->nfaults; i++)
                        if (d->faults[i].call == f.call && d->faults[i].mode == f.mode && d->faults[i].err == f.err)
                                f.transient = d->faults[i].transient;
                return run_case(scenario, &f, atol(argv[5])) == CASE_FAILED;
        }

        /* Without a fault, every scenario gives the expected answers. */
        for (int s = 0; s < d->nscenarios; s++) {
                struct fault none = { FAULT_NCALLS, FAULT_ERRNO, 0, true };
                if (fork_case(s, &none, 1) == CASE_NOT_REACHED) {
                        passed++;
                } else {
                        printf("FAIL %s without a fault\n", d->scenario_names[s]);
                        failed++;
                }
        }
        for (int s = 0; s < d->nscenarios; s++) {
                for (size_t i = 0; i < d->nfaults; i++) {
                        const struct fault *f = &d->faults[i];
                        long nth;

                        for (nth = 1; nth < 1000; nth++) {
                                int r = fork_case(s, f, nth);
                                if (r == CASE_NOT_REACHED)
                                        break;
                                if (r == CASE_FIRED) {
                                        passed++;
                                        injected++;
                                } else {
                                        printf("FAIL %s %s %s %s #%ld (reproduce: %s %d %d %d %d %ld)\n",
                                               d->scenario_names[s], call_names[f->call], mode_name(f->mode),
                                               strerror(f->err), nth, d->name, s, f->call, f->mode, f->err, nth);
                                        failed++;
                                }
                        }
                        printf("%s: %s %s %s: %ld positions\n", d->scenario_names[s], call_names[f->call],
                               mode_name(f->mode), strerror(f->err), nth - 1);
                }
        }
        printf("%ld faults injected\n", injected);
        printf("%d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
}
