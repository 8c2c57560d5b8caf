/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A fault injector for the syscalls libbarrier makes, loaded with
 * LD_PRELOAD in front of libc. Each wrapper counts its calls while the
 * injector is armed and makes the planned one fail; otherwise it forwards
 * to libc untouched. See inject.h.
 *
 * Single-threaded use only: the driver runs one scenario per process.
 */
#define _GNU_SOURCE
#include "inject.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int armed;
static long counts[FAULT_NCALLS];
static long fired;
static struct {
        int call;
        long nth;
        int mode;
        int err;
} plan = { -1, 0, FAULT_ERRNO, 0 };

static void set_plan(int call, long nth, int mode, int err) {
        plan.call = call;
        plan.nth = nth;
        plan.mode = mode;
        plan.err = err;
        memset(counts, 0, sizeof(counts));
        fired = 0;
}

static void arm(int on) {
        armed = on;
}

static long count(int call) {
        return call >= 0 && call < FAULT_NCALLS ? counts[call] : -1;
}

static long fired_so_far(void) {
        return fired;
}

/* Exported as FAULT_CONTROLS; see inject.h. */
const struct fault_controls fault_controls = {
        .plan = set_plan,
        .arm = arm,
        .count = count,
        .fired = fired_so_far,
};

static void *next(const char *name) {
        void *p = dlsym(RTLD_NEXT, name);

        if (!p) {
                static const char msg[] = "inject: a libc symbol is missing\n";
                (void)!write(2, msg, sizeof(msg) - 1);
                abort();
        }
        return p;
}

/* Looks up libc's own `name` once; assigned through a void * as POSIX
 * documents for dlsym(), since ISO C has no object-to-function cast. */
#define REAL(name, type)                                                     \
        static type real_##name;                                             \
        if (!real_##name)                                                    \
        *(void **)&real_##name = next(#name)

/* Whether this call of `call` is the planned failure. */
static bool hit(int call) {
        long n;

        if (!armed)
                return false;
        n = ++counts[call];
        if (call != plan.call)
                return false;
        if (plan.mode == FAULT_EINTR_STORM ? n >= plan.nth && n < plan.nth + FAULT_STORM : n == plan.nth) {
                fired++;
                return true;
        }
        return false;
}

static int fail(int err) {
        errno = err;
        return -1;
}

static int planned_errno(void) {
        return plan.mode == FAULT_EINTR_STORM ? EINTR : plan.err;
}

typedef int eventfd_fn(unsigned int, int);
int eventfd(unsigned int initval, int flags) {
        REAL(eventfd, eventfd_fn *);
        if (hit(FAULT_EVENTFD))
                return fail(planned_errno());
        return real_eventfd(initval, flags);
}

typedef int pipe2_fn(int[2], int);
int pipe2(int fds[2], int flags) {
        REAL(pipe2, pipe2_fn *);
        if (hit(FAULT_PIPE2))
                return fail(planned_errno());
        return real_pipe2(fds, flags);
}

typedef int ppoll_fn(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask) {
        REAL(ppoll, ppoll_fn *);
        if (hit(FAULT_PPOLL)) {
                if (plan.mode != FAULT_NVAL)
                        return fail(planned_errno());
                for (nfds_t i = 0; i < n; i++)
                        fds[i].revents = POLLNVAL;
                return (int)n;
        }
        return real_ppoll(fds, n, timeout, mask);
}

typedef ssize_t read_fn(int, void *, size_t);
ssize_t read(int fd, void *buf, size_t len) {
        REAL(read, read_fn *);
        if (hit(FAULT_READ)) {
                uint64_t whole;
                ssize_t r;

                if (plan.mode != FAULT_SHORT || len != sizeof(whole))
                        return fail(planned_errno());
                /* what was read is consumed; half of it is lost */
                r = real_read(fd, &whole, sizeof(whole));
                if (r != (ssize_t)sizeof(whole))
                        return r;
                memcpy(buf, &whole, 4);
                return 4;
        }
        return real_read(fd, buf, len);
}

typedef ssize_t write_fn(int, const void *, size_t);
ssize_t write(int fd, const void *buf, size_t len) {
        REAL(write, write_fn *);
        if (hit(FAULT_WRITE)) {
                /* an eventfd takes 8 bytes or nothing: a short write is one
                 * that wrote nothing but says it wrote half */
                if (plan.mode == FAULT_SHORT && len > 4)
                        return 4;
                return fail(planned_errno());
        }
        return real_write(fd, buf, len);
}

typedef int close_fn(int);
int close(int fd) {
        REAL(close, close_fn *);
        if (hit(FAULT_CLOSE)) {
                if (plan.mode == FAULT_AFTER) {
                        real_close(fd);
                        return fail(plan.err);
                }
                return fail(planned_errno());
        }
        return real_close(fd);
}

typedef int fcntl_fn(int, int, ...);
int fcntl(int fd, int cmd, ...) {
        va_list ap;
        void *arg;

        REAL(fcntl, fcntl_fn *);
        /* every fcntl command takes at most one argument, an int or a
         * pointer; passing it on as a pointer-sized value works for both */
        va_start(ap, cmd);
        arg = va_arg(ap, void *);
        va_end(ap);
        if (hit(FAULT_FCNTL))
                return fail(planned_errno());
        return real_fcntl(fd, cmd, arg);
}

typedef int memfd_create_fn(const char *, unsigned int);
int memfd_create(const char *name, unsigned int flags) {
        REAL(memfd_create, memfd_create_fn *);
        if (hit(FAULT_MEMFD_CREATE))
                return fail(planned_errno());
        return real_memfd_create(name, flags);
}

typedef int ftruncate_fn(int, off_t);
int ftruncate(int fd, off_t len) {
        REAL(ftruncate, ftruncate_fn *);
        if (hit(FAULT_FTRUNCATE))
                return fail(planned_errno());
        return real_ftruncate(fd, len);
}

typedef void *mmap_fn(void *, size_t, int, int, int, off_t);
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        REAL(mmap, mmap_fn *);
        if (hit(FAULT_MMAP)) {
                errno = planned_errno();
                return MAP_FAILED;
        }
        return real_mmap(addr, len, prot, flags, fd, off);
}

typedef int munmap_fn(void *, size_t);
int munmap(void *addr, size_t len) {
        REAL(munmap, munmap_fn *);
        if (hit(FAULT_MUNMAP)) {
                if (plan.mode == FAULT_AFTER) {
                        real_munmap(addr, len);
                        return fail(plan.err);
                }
                return fail(planned_errno());
        }
        return real_munmap(addr, len);
}

typedef int epoll_create1_fn(int);
int epoll_create1(int flags) {
        REAL(epoll_create1, epoll_create1_fn *);
        if (hit(FAULT_EPOLL_CREATE1))
                return fail(planned_errno());
        return real_epoll_create1(flags);
}

typedef int epoll_ctl_fn(int, int, int, struct epoll_event *);
int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev) {
        REAL(epoll_ctl, epoll_ctl_fn *);
        if (hit(FAULT_EPOLL_CTL))
                return fail(planned_errno());
        return real_epoll_ctl(ep, op, fd, ev);
}

typedef int epoll_wait_fn(int, struct epoll_event *, int, int);
int epoll_wait(int ep, struct epoll_event *events, int max, int timeout) {
        REAL(epoll_wait, epoll_wait_fn *);
        if (hit(FAULT_EPOLL_WAIT))
                return fail(planned_errno());
        return real_epoll_wait(ep, events, max, timeout);
}

typedef int fstat_fn(int, struct stat *);
int fstat(int fd, struct stat *st) {
        REAL(fstat, fstat_fn *);
        if (hit(FAULT_FSTAT))
                return fail(planned_errno());
        return real_fstat(fd, st);
}

typedef ssize_t readlink_fn(const char *, char *, size_t);
ssize_t readlink(const char *path, char *buf, size_t len) {
        REAL(readlink, readlink_fn *);
        if (hit(FAULT_READLINK))
                return fail(planned_errno());
        return real_readlink(path, buf, len);
}
