/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The fault injector's interface (inject.c, built as inject.so and loaded
 * with LD_PRELOAD). Calls are counted, and a fault is injected, only while
 * the injector is armed: a driver arms it around libbarrier calls, so only
 * the library's own calls count, not the driver's bookkeeping.
 *
 * inject.so exports its controls as one object, FAULT_CONTROLS, which a
 * driver looks up with dlsym(); the injector knows nothing of drivers.
 */
#ifndef LIBBARRIER_FAULT_INJECT_H
#define LIBBARRIER_FAULT_INJECT_H

/* The calls the library makes that can be made to fail. */
enum fault_call {
        FAULT_EVENTFD,
        FAULT_PIPE2,
        FAULT_PPOLL,
        FAULT_READ,
        FAULT_WRITE,
        FAULT_CLOSE,
        FAULT_FCNTL,
        /* the calls of barrier groups besides those above */
        FAULT_MEMFD_CREATE,
        FAULT_FTRUNCATE,
        FAULT_MMAP,
        FAULT_MUNMAP,
        FAULT_EPOLL_CREATE1,
        FAULT_EPOLL_CTL,
        FAULT_EPOLL_WAIT,
        FAULT_FSTAT,
        FAULT_READLINK,
        FAULT_NCALLS
};

/* How the chosen call fails. */
enum fault_mode {
        /* fail with the given errno without doing anything */
        FAULT_ERRNO,
        /* fail with EINTR, this call and the next FAULT_STORM - 1 of its kind */
        FAULT_EINTR_STORM,
        /* read/write: transfer 4 of the 8 bytes */
        FAULT_SHORT,
        /* ppoll: report POLLNVAL on every entry (a descriptor closed behind
         * the library's back) */
        FAULT_NVAL,
        /* close, munmap: do it for real, then report the given errno (Linux
         * releases the descriptor even when close fails; a munmap that
         * fails without unmapping would leave a mapping that no caller can
         * free, so only its report is made to fail) */
        FAULT_AFTER,
};

#define FAULT_STORM 64

struct fault_controls {
        /* Makes the nth (from 1) armed call of `call` fail as `mode` says,
         * and starts counting anew. */
        void (*plan)(int call, long nth, int mode, int err);
        /* Counts (and injects) only while armed. */
        void (*arm)(int on);
        /* Armed calls of `call` seen so far. */
        long (*count)(int call);
        /* Calls that were made to fail so far. */
        long (*fired)(void);
};

/* The name under which inject.so exports its struct fault_controls. */
#define FAULT_CONTROLS "fault_controls"

#endif
