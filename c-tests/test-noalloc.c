/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * No entry point allocates: not on success, not on failure, not while it
 * blocks, not on misuse. Barrier groups map memory with mmap (a shared
 * page and the handle), but only in barrier_group_new(),
 * barrier_group_import_env() and barrier_group_free().
 *
 * This program replaces the allocator (malloc and its relatives, which
 * glibc and musl let a program do by defining them), mmap and munmap (on
 * x86-64 and arm64), and counts
 * every call made while a flag is set. NOALLOC(...) sets the flag around
 * exactly one call into the library, so what the harness, stdio and the
 * tests themselves allocate is never counted. The first test proves that
 * the counting works, including for allocations made inside libc.
 *
 * Every exported function must appear inside a NOALLOC(...) here: a Rust
 * test (barrier-capi/tests/footprint.rs) compares the library's exports
 * with this file and names any that is missing. A new entry point goes
 * into the test below that matches it best.
 *
 * The last test forks while another thread holds the allocator's lock,
 * and runs in the child every call the documentation says is
 * async-signal-safe.
 *
 * Async-signal-safety of groups: every barrier_group_* call but
 * barrier_group_import_env() is claimed safe (barrier-core's crate
 * documentation). barrier_group_new() and barrier_group_free() map and
 * unmap memory: mmap and munmap are not on POSIX's list, but on Linux
 * they are plain system calls that take no lock in user space (glibc and
 * musl wrap them without one), so they are as safe there as read or
 * write; the child below runs them while the allocator's lock is held.
 */
#define _GNU_SOURCE
/* This file defines mmap and mmap64 itself, so it must see them as two
 * functions; with 64-bit file offsets asked for, glibc's header would
 * turn mmap into mmap64. Nothing here passes an off_t elsewhere. */
#undef _FILE_OFFSET_BITS
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the counting allocator ---------------------------------------------- */

/* AddressSanitizer, MemorySanitizer and ThreadSanitizer bring an allocator
 * of their own, which must stay in charge: built with one of them, this
 * program runs every call but cannot count (and says so). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_ALLOCATOR 1
#endif
#endif

static atomic_int armed;
/* Calls of the allocator, and of mmap and munmap, while armed. */
static atomic_ulong seen, seen_mmap, seen_munmap;
/* The first allocation function called while armed. */
static const char *_Atomic seen_first;

#ifndef SANITIZER_ALLOCATOR
/* A bump allocator over a static arena: simple, needs nothing from libc,
 * and frees nothing (every test is a short-lived process of its own). */
#define ARENA_SIZE ((size_t)32 << 20)
#define MIN_ALIGN ((size_t)16)

static alignas(64) unsigned char arena[ARENA_SIZE];
static atomic_size_t arena_used;

/* The allocator's lock, as any allocator has one. A spin lock: it needs
 * nothing from libc. */
static atomic_flag arena_lock = ATOMIC_FLAG_INIT;

/* When set, the next allocation stops inside the lock: it writes a byte
 * to stall_pipe[1] and waits for one on release_pipe[0]. Only the test
 * fork_while_another_thread_allocates sets it. */
static atomic_int stall_next;
static int stall_pipe[2] = { -1, -1 }, release_pipe[2] = { -1, -1 };

static void note_in(atomic_ulong *count, const char *fn) {
        const char *none = NULL;

        if (!atomic_load(&armed))
                return;
        atomic_fetch_add(count, 1);
        atomic_compare_exchange_strong(&seen_first, &none, fn);
}

static void note(const char *fn) {
        note_in(&seen, fn);
}

/* A block of size bytes aligned to align (a power of two); its size is
 * kept in the word before it, for realloc. */
static void *arena_alloc_locked(size_t align, size_t size);

static void *arena_alloc(size_t align, size_t size) {
        void *p;
        char c = 1;

        while (atomic_flag_test_and_set(&arena_lock))
                ;
        if (atomic_exchange(&stall_next, 0)) {
                if (write(stall_pipe[1], &c, 1) != 1 || read(release_pipe[0], &c, 1) != 1)
                        abort();
        }
        p = arena_alloc_locked(align, size);
        atomic_flag_clear(&arena_lock);
        return p;
}

static void *arena_alloc_locked(size_t align, size_t size) {
        size_t total, start, addr;

        if (align < MIN_ALIGN)
                align = MIN_ALIGN;
        if (size > ARENA_SIZE || align > ARENA_SIZE)
                goto nomem;
        total = size + align + MIN_ALIGN;
        if (total > ARENA_SIZE)
                goto nomem;
        start = atomic_fetch_add(&arena_used, total);
        if (start > ARENA_SIZE - total)
                goto nomem;
        addr = ((size_t)(uintptr_t)(arena + start + MIN_ALIGN) + align - 1) & ~(align - 1);
        ((size_t *)(uintptr_t)addr)[-1] = size;
        return (void *)(uintptr_t)addr;
nomem:
        errno = ENOMEM;
        return NULL;
}

static bool in_arena(const void *p) {
        return (const unsigned char *)p > arena && (const unsigned char *)p < arena + ARENA_SIZE;
}

/* A new block of size bytes holding what old held (as much as fits). */
static void *arena_resize(void *old, size_t size) {
        void *p = arena_alloc(MIN_ALIGN, size);
        size_t keep = size;

        if (!p || !old)
                return p;
        /* Blocks made before this allocator took over (by the dynamic
         * loader) have no recorded size; glibc never resizes them. */
        if (in_arena(old) && ((const size_t *)old)[-1] < keep)
                keep = ((const size_t *)old)[-1];
        memcpy(p, old, keep);
        return p;
}

void *malloc(size_t size) {
        note("malloc");
        return arena_alloc(MIN_ALIGN, size);
}

void *calloc(size_t n, size_t size) {
        note("calloc");
        if (size && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        /* the arena is zero and never reused */
        return arena_alloc(MIN_ALIGN, n * size);
}

void *realloc(void *old, size_t size) {
        note("realloc");
        return arena_resize(old, size);
}

void *reallocarray(void *old, size_t n, size_t size) {
        note("reallocarray");
        if (size && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        return arena_resize(old, n * size);
}

void free(void *p) {
        (void)p;
        note("free");
}

int posix_memalign(void **out, size_t align, size_t size) {
        void *p;

        note("posix_memalign");
        if (align == 0 || (align & (align - 1)) || align % sizeof(void *))
                return EINVAL;
        p = arena_alloc(align, size);
        if (!p)
                return ENOMEM;
        *out = p;
        return 0;
}

void *aligned_alloc(size_t align, size_t size) {
        note("aligned_alloc");
        if (align == 0 || (align & (align - 1))) {
                errno = EINVAL;
                return NULL;
        }
        return arena_alloc(align, size);
}

void *memalign(size_t align, size_t size) {
        note("memalign");
        return arena_alloc(align, size);
}

void *valloc(size_t size) {
        note("valloc");
        return arena_alloc(4096, size);
}

void *pvalloc(size_t size) {
        note("pvalloc");
        return arena_alloc(4096, (size + 4095) & ~(size_t)4095);
}

/* Where the mmap syscall takes its six arguments as they are. */
#if defined(__x86_64__) || defined(__aarch64__)
#define COUNT_MMAP 1
#endif

#ifdef COUNT_MMAP
/* Only calls from outside libc arrive here (libc's own allocator maps
 * memory through internal calls, and is counted as malloc above). */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        note_in(&seen_mmap, "mmap");
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

#ifdef __GLIBC__
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
        note_in(&seen_mmap, "mmap64");
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
#endif

int munmap(void *addr, size_t len) {
        note_in(&seen_munmap, "munmap");
        return (int)syscall(SYS_munmap, addr, len);
}
#define COUNTING_MAPS 1
#endif
#endif /* SANITIZER_ALLOCATOR */

/* ---- the flagged region ---------------------------------------------------- */

static void arm(void) {
        atomic_store(&seen, 0);
        atomic_store(&seen_mmap, 0);
        atomic_store(&seen_munmap, 0);
        atomic_store(&seen_first, NULL);
        atomic_store(&armed, 1);
}

/* Stops counting; returns how many allocation calls were seen, mmap and
 * munmap included. */
static unsigned long disarm(void) {
        atomic_store(&armed, 0);
        return atomic_load(&seen) + atomic_load(&seen_mmap) + atomic_load(&seen_munmap);
}

/* Set by MAPS_ALLOWED() for the next NOALLOC(...) only: the call may
 * map and unmap memory (not allocate). What it did is left in last_mmap
 * and last_munmap. */
static bool maps_allowed;
static unsigned long last_mmap, last_munmap;

#define MAPS_ALLOWED() (maps_allowed = true)

static void disarm_check(const char *file, int line, const char *call) {
        unsigned long n = disarm();

        last_mmap = atomic_load(&seen_mmap);
        last_munmap = atomic_load(&seen_munmap);
        if (maps_allowed)
                n = atomic_load(&seen);
        maps_allowed = false;
        if (n)
                harness_fail(file, line, "%s: %lu allocation call(s), the first %s()", call, n,
                             atomic_load(&seen_first));
}

/* Whether mmap and munmap are counted in this build. */
#ifdef COUNTING_MAPS
static const bool counting_maps = true;
#else
static const bool counting_maps = false;
#endif

/* Runs one statement (one call into the library) with counting on, and
 * fails the test if anything was allocated meanwhile. */
#define NOALLOC(stmt)                                                        \
        do {                                                                 \
                arm();                                                       \
                stmt;                                                        \
                disarm_check(__FILE__, __LINE__, #stmt);                     \
        } while (0)

static bool is_null(const Barrier *b) {
        return b->me == -1 && b->them == -1 && b->pipe[0] == -1 && b->pipe[1] == -1 && b->barriers == 0;
}

/* Both sides finished what came before; nothing either places later can
 * be consumed early. */
static void lockstep_child(struct peer *p) {
        peer_signal(p);
        CHECK(peer_await(p));
}

static void lockstep_parent(struct peer *p) {
        CHECK(peer_await(p));
        peer_signal(p);
}

/* ---- the tests ------------------------------------------------------------- */

TEST(counting_works) {
        void *p = NULL, *q;
        char *s;
        FILE *f;

#ifdef SANITIZER_ALLOCATOR
        (void)p, (void)q, (void)s, (void)f;
        fprintf(stderr, "note: built with a sanitizer that owns the allocator: allocations are not counted\n");
#else
        /* Under valgrind, its allocator takes the place of this one. */
        p = malloc(1);
        if (!in_arena(p)) {
                (void)q, (void)s, (void)f;
                fprintf(stderr, "note: another allocator (valgrind?) replaced this program's: "
                                "allocations are not counted\n");
                return;
        }
        arm();
        p = malloc(24);
        CHECK(disarm() == 1 && p);
        memset(p, 0x5a, 24);
        arm();
        q = realloc(p, 48);
        CHECK(disarm() == 1 && q && ((unsigned char *)q)[23] == 0x5a);
        arm();
        free(q);
        CHECK(disarm() == 1);
        arm();
        p = calloc(3, 8);
        CHECK(disarm() == 1 && p && ((char *)p)[23] == 0);
        arm();
        CHECK_INT(posix_memalign(&p, 64, 10), 0);
        CHECK(disarm() == 1 && ((uintptr_t)p & 63) == 0);
        arm();
        p = aligned_alloc(256, 256);
        CHECK(disarm() == 1 && ((uintptr_t)p & 255) == 0);
        /* Allocations inside libc are seen too, unless a tool serves libc
         * with an allocator of its own (then only calls that do not go
         * through libc are counted). */
        s = strdup("probe");
        if (!in_arena(s)) {
                fprintf(stderr, "note: libc allocates elsewhere (valgrind or a sanitizer?); "
                                "skipping the checks on allocations inside libc\n");
        } else {
                arm();
                s = strdup("barrier");
                CHECK(disarm() >= 1 && s && strcmp(s, "barrier") == 0);
                arm();
                CHECK_INT(setenv("LIBBARRIER_NOALLOC_PROBE", "x", 1), 0);
                CHECK(disarm() >= 1);
                arm();
                f = fopen("/dev/null", "r");
                CHECK(disarm() >= 1 && f);
                if (f)
                        fclose(f);
        }
#ifdef COUNT_MMAP
        arm();
        p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(disarm() == 1 && p != MAP_FAILED && atomic_load(&seen_mmap) == 1);
        arm();
        CHECK_INT(munmap(p, 4096), 0);
        CHECK(disarm() == 1 && atomic_load(&seen_munmap) == 1);
#endif
        /* and nothing is counted while disarmed */
        p = malloc(8);
        free(p);
        arm();
        CHECK(disarm() == 0);
#endif
}

TEST(null_and_misuse) {
        Barrier b = BARRIER_NULL, *bp = NULL, *ret;
        struct pollfd fds[2];
        char env[BARRIER_ENV_MAX];
        int r;
        bool ok;

        /* NULL */
        NOALLOC(r = barrier_create(NULL));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_init(NULL));
        CHECK_INT(r, -EINVAL);
        NOALLOC(ret = barrier_destroy(NULL));
        CHECK(ret == NULL);
        NOALLOC(barrier_destroyp(NULL));
        NOALLOC(barrier_destroyp(&bp));
        NOALLOC(barrier_set_role(NULL, BARRIER_PARENT));
        NOALLOC(ok = barrier_place(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_abort(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_wait_next(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_wait_abortion(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_sync_next(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_sync(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_place_and_sync(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_i_aborted(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_they_aborted(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_we_aborted(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_is_aborted(NULL));
        CHECK(!ok);
        NOALLOC(r = barrier_wait_next_timeout(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_wait_abortion_timeout(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_sync_next_timeout(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_sync_timeout(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_get_pollfds(NULL, fds, 2));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_create_pair(NULL, NULL));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_export_env(NULL, env, sizeof(env)));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_import_env(NULL));
        CHECK_INT(r, -EINVAL);

        /* never created */
        NOALLOC(ok = barrier_sync(&b));
        CHECK(!ok);
        NOALLOC(r = barrier_sync_timeout(&b, 0));
        CHECK_INT(r, -EBADF);
        NOALLOC(r = barrier_get_pollfds(&b, fds, 2));
        CHECK_INT(r, -EBADF);
        NOALLOC(barrier_set_role(&b, BARRIER_PARENT));
        NOALLOC(ret = barrier_destroy(&b));
        CHECK(is_null(&b));

        /* created, role not set yet */
        NOALLOC(r = barrier_create(&b));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_wait_next_timeout(&b, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_get_pollfds(&b, fds, 2));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_export_env(&b, env, sizeof(env)));
        CHECK_INT(r, -EINVAL);
        NOALLOC(barrier_set_role(&b, 7));
        NOALLOC(barrier_set_role(&b, BARRIER_PARENT));
        NOALLOC(barrier_set_role(&b, BARRIER_CHILD));
        NOALLOC(r = barrier_get_pollfds(&b, fds, 1));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_get_pollfds(&b, fds, 2));
        CHECK_INT(r, 2);
        NOALLOC(ret = barrier_destroy(&b));
        NOALLOC(ret = barrier_destroy(&b));
        CHECK(is_null(&b));

        /* the original name, and the cleanup helper */
        NOALLOC(r = barrier_init(&b));
        CHECK_INT(r, 0);
        bp = &b;
        NOALLOC(barrier_destroyp(&bp));
        CHECK(is_null(&b));
}

/* Lowers RLIMIT_NOFILE so that `room` more descriptors can be opened,
 * keeping the limit before in `saved`; returns the lowest free number. */
static int limit_descriptors(int room, struct rlimit *saved) {
        struct rlimit lim;
        int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);

        CHECK(lowest >= 0);
        close(lowest);
        CHECK_INT(getrlimit(RLIMIT_NOFILE, saved), 0);
        lim = *saved;
        lim.rlim_cur = (rlim_t)lowest + (rlim_t)room;
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &lim), 0);
        return lowest;
}

TEST(create_fails_cleanly) {
        struct rlimit saved;
        Barrier b = BARRIER_NULL, c = BARRIER_NULL;
        int lowest, r;

        /* Room for exactly one more descriptor: the first eventfd is
         * made, the second fails, and the first must be closed again. */
        lowest = limit_descriptors(1, &saved);
        NOALLOC(r = barrier_create(&b));
        CHECK_INT(r, -EMFILE);
        CHECK(is_null(&b));
        NOALLOC(r = barrier_init(&b));
        CHECK_INT(r, -EMFILE);
        NOALLOC(r = barrier_create_pair(&b, &c));
        CHECK_INT(r, -EMFILE);
        CHECK(is_null(&b) && is_null(&c));
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &saved), 0);
        /* nothing was left open */
        CHECK_INT(open("/dev/null", O_RDONLY | O_CLOEXEC), lowest);
}

/* Every kind of wait, blocking and bounded, between two processes. */
static void waits_child(Barrier *b, struct peer *p) {
        int r;
        bool ok;

        /* both place_and_sync */
        NOALLOC(ok = barrier_place_and_sync(b));
        CHECK(ok);
        lockstep_child(p);
        /* place, then sync */
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(ok = barrier_sync(b));
        CHECK(ok);
        lockstep_child(p);
        /* they place, we wait_next and answer */
        NOALLOC(ok = barrier_wait_next(b));
        CHECK(ok);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        lockstep_child(p);
        /* both place and sync_next */
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(ok = barrier_sync_next(b));
        CHECK(ok);
        lockstep_child(p);
        /* bounded waits that time out while they are idle, or need not wait */
        NOALLOC(r = barrier_wait_next_timeout(b, 0));
        CHECK_INT(r, -ETIMEDOUT);
        NOALLOC(r = barrier_wait_next_timeout(b, 1000));
        CHECK_INT(r, -ETIMEDOUT);
        NOALLOC(r = barrier_wait_abortion_timeout(b, 1000));
        CHECK_INT(r, -ETIMEDOUT);
        NOALLOC(r = barrier_sync_next_timeout(b, 0));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_sync_timeout(b, 1000));
        CHECK_INT(r, 1);
        lockstep_child(p);
        lockstep_child(p);
        /* bounded waits that succeed, with a deadline */
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(r = barrier_sync_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        lockstep_child(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(r = barrier_sync_next_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        lockstep_child(p);
        NOALLOC(r = barrier_wait_next_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        lockstep_child(p);
        /* they abort */
        NOALLOC(ok = barrier_wait_abortion(b));
        CHECK(ok);
        NOALLOC(ok = barrier_they_aborted(b));
        CHECK(ok);
        NOALLOC(ok = barrier_i_aborted(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_is_aborted(b));
        CHECK(ok);
        NOALLOC(ok = barrier_place(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_sync(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_sync_next(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_wait_next(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_place_and_sync(b));
        CHECK(!ok);
        NOALLOC(r = barrier_sync_timeout(b, 0));
        CHECK_INT(r, 0);
        NOALLOC(ok = barrier_abort(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_we_aborted(b));
        CHECK(ok);
        NOALLOC(ok = barrier_wait_abortion(b));
        CHECK(!ok);
        NOALLOC(r = barrier_wait_abortion_timeout(b, 0));
        CHECK_INT(r, 0);
}

static void waits_parent(Barrier *b, struct peer *p) {
        int r;
        bool ok;

        NOALLOC(ok = barrier_place_and_sync(b));
        CHECK(ok);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(ok = barrier_sync(b));
        CHECK(ok);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(ok = barrier_wait_next(b));
        CHECK(ok);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(ok = barrier_sync_next(b));
        CHECK(ok);
        lockstep_parent(p);
        /* the child runs its timeouts while we wait here, then we run ours */
        lockstep_parent(p);
        NOALLOC(r = barrier_wait_next_timeout(b, 1000));
        CHECK_INT(r, -ETIMEDOUT);
        NOALLOC(r = barrier_wait_abortion_timeout(b, 0));
        CHECK_INT(r, -ETIMEDOUT);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(r = barrier_sync_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(r = barrier_sync_next_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        lockstep_parent(p);
        NOALLOC(ok = barrier_place(b));
        CHECK(ok);
        NOALLOC(r = barrier_wait_next_timeout(b, 60 * 1000000ULL));
        CHECK_INT(r, 1);
        lockstep_parent(p);
        NOALLOC(ok = barrier_abort(b));
        CHECK(ok);
        NOALLOC(ok = barrier_i_aborted(b));
        CHECK(ok);
        /* ends when the child aborts too (or exits): false, since we aborted */
        NOALLOC(ok = barrier_wait_abortion(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_we_aborted(b));
        CHECK(ok);
}

TEST(waits_between_processes) {
        run_pair(waits_child, waits_parent);
}

static void exits_at_once(Barrier *b, struct peer *p) {
        (void)b;
        (void)p;
}

static void sees_exit(Barrier *b, struct peer *p) {
        bool ok;

        (void)p;
        NOALLOC(ok = barrier_place_and_sync(b));
        CHECK(!ok);
        NOALLOC(ok = barrier_they_aborted(b));
        CHECK(ok);
        NOALLOC(ok = barrier_wait_abortion(b));
        CHECK(ok);
}

TEST(exit_of_the_other_side) {
        run_pair(exits_at_once, sees_exit);
}

TEST(pair_and_pollfds) {
        Barrier parent = BARRIER_NULL, child = BARRIER_NULL;
        struct pollfd fds[2];
        int r;
        bool ok;

        NOALLOC(r = barrier_create_pair(&parent, &parent));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_create_pair(&parent, &child));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_get_pollfds(&parent, fds, 2));
        CHECK_INT(r, 2);
        NOALLOC(r = barrier_get_pollfds(&child, fds, 2));
        CHECK_INT(r, 2);
        NOALLOC(ok = barrier_place(&parent));
        CHECK(ok);
        CHECK_INT(poll(fds, 2, 0), 1);
        NOALLOC(r = barrier_wait_next_timeout(&child, 0));
        CHECK_INT(r, 1);
        NOALLOC(ok = barrier_place(&child));
        CHECK(ok);
        NOALLOC(r = barrier_sync_timeout(&parent, 0));
        CHECK_INT(r, 1);
        NOALLOC(barrier_destroy(&parent));
        /* the other end sees the destroy as an exit */
        NOALLOC(r = barrier_wait_abortion_timeout(&child, 0));
        CHECK_INT(r, 1);
        NOALLOC(barrier_destroy(&child));
}

TEST(env_hand_over) {
        static char env[BARRIER_ENV_MAX];
        static char malformed[] = "BARRIER_FDS=1,2,x";
        Barrier parent = BARRIER_NULL, child = BARRIER_NULL, imported = BARRIER_NULL;
        char small[4];
        int r;
        bool ok;

        CHECK_INT(barrier_create_pair(&parent, &child), 0);
        NOALLOC(r = barrier_export_env(&child, small, sizeof(small)));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_export_env(&child, NULL, 0));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_export_env(&child, env, sizeof(env)));
        CHECK(r > 0);

        unsetenv("BARRIER_FDS");
        NOALLOC(r = barrier_import_env(&imported));
        CHECK_INT(r, -ENOENT);
        CHECK_INT(putenv(malformed), 0);
        NOALLOC(r = barrier_import_env(&imported));
        CHECK_INT(r, -EINVAL);
        CHECK_INT(setenv("BARRIER_FDS", "0,1,-1,2,0", 1), 0);
        NOALLOC(r = barrier_import_env(&imported));
        CHECK_INT(r, -EBADF);
        CHECK(is_null(&imported));

        /* the exported end, taken over as a program started by execve()
         * would; its descriptors now belong to `imported` */
        CHECK_INT(putenv(env), 0);
        NOALLOC(r = barrier_import_env(&imported));
        CHECK_INT(r, 0);
        child = (Barrier)BARRIER_NULL;
        NOALLOC(ok = barrier_place(&parent));
        CHECK(ok);
        NOALLOC(r = barrier_wait_next_timeout(&imported, 0));
        CHECK_INT(r, 1);
        barrier_destroy(&imported);
        barrier_destroy(&parent);
}

/* ---- barrier groups ---------------------------------------------------------- */

/* A bound that no working run comes near. */
#define LONG_USEC (UINT64_C(60) * 1000000)

/* What the last NOALLOC(...) call mapped and unmapped, where this build
 * counts it. */
#define CHECK_MAPS(mapped, unmapped)                                         \
        do {                                                                 \
                if (counting_maps) {                                         \
                        CHECK_INT(last_mmap, (mapped));                      \
                        CHECK_INT(last_munmap, (unmapped));                  \
                }                                                            \
        } while (0)

TEST(group_null_and_misuse) {
        BarrierGroup *g, *gp = NULL, *ret;
        struct pollfd fds[BARRIER_GROUP_POLLFDS_MAX];
        char env[BARRIER_GROUP_ENV_MAX], small[4];
        unsigned u;
        int r;
        bool ok;

        /* NULL */
        NOALLOC(r = barrier_group_new(NULL, 3));
        CHECK_INT(r, -EINVAL);
        g = (BarrierGroup *)&gp;
        NOALLOC(r = barrier_group_new(&g, 1));
        CHECK_INT(r, -EINVAL);
        CHECK(g == NULL);
        g = (BarrierGroup *)&gp;
        NOALLOC(r = barrier_group_new(&g, BARRIER_GROUP_MAX + 1));
        CHECK_INT(r, -EINVAL);
        CHECK(g == NULL);
        NOALLOC(r = barrier_group_join(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(ret = barrier_group_free(NULL));
        CHECK(ret == NULL);
        NOALLOC(barrier_group_freep(NULL));
        NOALLOC(barrier_group_freep(&gp));
        NOALLOC(u = barrier_group_size(NULL));
        CHECK_INT(u, 0);
        NOALLOC(r = barrier_group_rank(NULL));
        CHECK_INT(r, -1);
        NOALLOC(r = barrier_group_place(NULL));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_sync(NULL, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_place_and_sync(NULL, BARRIER_INFINITY));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_abort(NULL));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_wait_abortion(NULL, BARRIER_INFINITY));
        CHECK_INT(r, -EINVAL);
        NOALLOC(ok = barrier_group_i_aborted(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_group_they_aborted(NULL));
        CHECK(!ok);
        NOALLOC(ok = barrier_group_is_aborted(NULL));
        CHECK(!ok);
        NOALLOC(r = barrier_group_aborted_by(NULL));
        CHECK_INT(r, -1);
        NOALLOC(r = barrier_group_get_pollfds(NULL, fds, 1));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_export_env(NULL, env, sizeof(env)));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_import_env(NULL));
        CHECK_INT(r, -EINVAL);

        /* made, not joined: the shared page and the handle are mapped */
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_new(&g, 3));
        CHECK_INT(r, 0);
        CHECK_MAPS(2, 0);
        NOALLOC(u = barrier_group_size(g));
        CHECK_INT(u, 3);
        NOALLOC(r = barrier_group_rank(g));
        CHECK_INT(r, -1);
        NOALLOC(r = barrier_group_place(g));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_sync(g, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_place_and_sync(g, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_abort(g));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_wait_abortion(g, 0));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_get_pollfds(g, fds, 1));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_export_env(g, env, sizeof(env)));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_join(g, 3));
        CHECK_INT(r, -EINVAL);

        /* joined as 0 of 3, alone: members 1 and 2 never join, and their
         * pipes hung up when this join closed their write ends */
        NOALLOC(r = barrier_group_join(g, 0));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_join(g, 1));
        CHECK_INT(r, -EALREADY);
        NOALLOC(r = barrier_group_rank(g));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_get_pollfds(g, fds, 0));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_group_get_pollfds(g, NULL, 1));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_export_env(g, small, sizeof(small)));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_group_export_env(g, NULL, 0));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_group_export_env(g, NULL, 5));
        CHECK_INT(r, -EINVAL);
        NOALLOC(r = barrier_group_place(g));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_sync(g, 0));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_aborted_by(g));
        CHECK_INT(r, 1);
        NOALLOC(ok = barrier_group_they_aborted(g));
        CHECK(ok);
        NOALLOC(ok = barrier_group_i_aborted(g));
        CHECK(!ok);
        NOALLOC(r = barrier_group_wait_abortion(g, 0));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_abort(g));
        CHECK_INT(r, 0);
        NOALLOC(ok = barrier_group_is_aborted(g));
        CHECK(ok);
        NOALLOC(r = barrier_group_place(g));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_place_and_sync(g, 0));
        CHECK_INT(r, 0);
        MAPS_ALLOWED();
        NOALLOC(ret = barrier_group_free(g));
        CHECK(ret == NULL);
        CHECK_MAPS(0, 2);

        /* the cleanup helper, on a handle that never joined */
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_new(&gp, 2));
        CHECK_INT(r, 0);
        MAPS_ALLOWED();
        NOALLOC(barrier_group_freep(&gp));
        CHECK(gp == NULL);
        CHECK_MAPS(0, 2);
}

TEST(group_new_fails_cleanly) {
        struct rlimit saved;
        BarrierGroup *g = NULL;
        int lowest, r;

        /* Room for the memfd and one eventfd: the first pipe fails, and
         * all that was made must be closed and unmapped again. */
        lowest = limit_descriptors(3, &saved);
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_new(&g, 3));
        CHECK_INT(r, -EMFILE);
        CHECK(g == NULL);
        /* the handle's page and the shared page, both given back */
        CHECK_MAPS(2, 2);
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &saved), 0);
        /* nothing was left open */
        CHECK_INT(open("/dev/null", O_RDONLY | O_CLOEXEC), lowest);
}

/* Where members 1 and 2 tell member 0 that their last sync is over. */
static int members_through[2] = { -1, -1 };

/* Every kind of call of a member of a group of three; member 0 aborts at
 * the end, once the others (`pid`, for member 0) are through their last
 * sync (earlier, its abort would supersede it) and sleep in
 * wait_abortion. */
static void member_calls(BarrierGroup *g, unsigned rank, const pid_t *pid) {
        struct pollfd fds[BARRIER_GROUP_POLLFDS_MAX];
        char env[BARRIER_GROUP_ENV_MAX];
        BarrierGroup *ret;
        unsigned u;
        int r;
        bool ok;

        NOALLOC(r = barrier_group_join(g, rank));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_place_and_sync(g, BARRIER_INFINITY));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_place(g));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_sync(g, BARRIER_INFINITY));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_place_and_sync(g, LONG_USEC));
        CHECK_INT(r, 1);
        /* nobody aborts before every member is through the next sync */
        NOALLOC(r = barrier_group_wait_abortion(g, 1000));
        CHECK_INT(r, -ETIMEDOUT);
        NOALLOC(r = barrier_group_get_pollfds(g, fds, BARRIER_GROUP_POLLFDS_MAX));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_export_env(g, env, sizeof(env)));
        CHECK(r > 0);
        NOALLOC(r = barrier_group_place_and_sync(g, BARRIER_INFINITY));
        CHECK_INT(r, 1);
        NOALLOC(ok = barrier_group_is_aborted(g));
        CHECK(!ok);
        NOALLOC(r = barrier_group_aborted_by(g));
        CHECK_INT(r, -1);
        NOALLOC(u = barrier_group_size(g));
        CHECK_INT(u, 3);
        if (rank == 0) {
                char through;

                /* a byte from each, then seen asleep after their last
                 * sync: in wait_abortion */
                for (int k = 0; k < 2; k++)
                        CHECK(read(members_through[0], &through, 1) == 1);
                await_sleeping(pid[1]);
                await_sleeping(pid[2]);
                NOALLOC(r = barrier_group_abort(g));
                CHECK_INT(r, 1);
                NOALLOC(ok = barrier_group_i_aborted(g));
                CHECK(ok);
                /* ends when another member aborts too: 0, as we did */
                NOALLOC(r = barrier_group_wait_abortion(g, BARRIER_INFINITY));
                CHECK_INT(r, 0);
        } else {
                CHECK(write(members_through[1], "x", 1) == 1);
                NOALLOC(r = barrier_group_wait_abortion(g, BARRIER_INFINITY));
                CHECK_INT(r, 1);
                NOALLOC(r = barrier_group_aborted_by(g));
                CHECK_INT(r, 0);
                NOALLOC(ok = barrier_group_they_aborted(g));
                CHECK(ok);
                NOALLOC(r = barrier_group_place(g));
                CHECK_INT(r, 0);
                NOALLOC(r = barrier_group_sync(g, 0));
                CHECK_INT(r, 0);
                NOALLOC(r = barrier_group_place_and_sync(g, 1000));
                CHECK_INT(r, 0);
                NOALLOC(r = barrier_group_abort(g));
                CHECK_INT(r, 0);
                NOALLOC(r = barrier_group_wait_abortion(g, 0));
                CHECK_INT(r, 0);
        }
        MAPS_ALLOWED();
        NOALLOC(ret = barrier_group_free(g));
        CHECK(ret == NULL);
        CHECK_MAPS(0, 2);
}

/* Waits for a child and checks that it passed. */
static void reap_member(pid_t pid) {
        int status;

        CHECK(pid > 0);
        if (pid <= 0)
                return;
        CHECK_INT(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(group_waits_between_processes) {
        BarrierGroup *g = NULL;
        pid_t pid[3] = { 0 };
        int r;

        CHECK_INT(pipe2(members_through, O_CLOEXEC), 0);
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_new(&g, 3));
        CHECK_INT(r, 0);
        CHECK_MAPS(2, 0);
        if (r != 0)
                return;
        for (unsigned k = 1; k < 3; k++) {
                pid[k] = fork();
                if (pid[k] == 0) {
                        harness_side = "member";
                        member_calls(g, k, pid);
                        _exit(harness_failures ? 1 : 0);
                }
        }
        member_calls(g, 0, pid);
        reap_member(pid[1]);
        reap_member(pid[2]);
        close(members_through[0]);
        close(members_through[1]);
}

/* Member 1, handed over as after execve(): exported, then imported in the
 * same process, whose first handle is left alone (it names the same
 * descriptors). */
static void group_imported_member(BarrierGroup *g) {
        static char env[BARRIER_GROUP_ENV_MAX];
        static char malformed[] = "BARRIER_GROUP=x";
        BarrierGroup *h = NULL, *ret;
        char small[4];
        int r;

        NOALLOC(r = barrier_group_join(g, 1));
        CHECK_INT(r, 0);
        NOALLOC(r = barrier_group_export_env(g, small, sizeof(small)));
        CHECK_INT(r, -ENOBUFS);
        NOALLOC(r = barrier_group_export_env(g, env, sizeof(env)));
        CHECK(r > 0);

        /* what a failed import_env maps, it unmaps */
        unsetenv("BARRIER_GROUP");
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_import_env(&h));
        CHECK_INT(r, -ENOENT);
        CHECK(h == NULL);
        CHECK_INT(last_mmap, last_munmap);
        CHECK_INT(putenv(malformed), 0);
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_import_env(&h));
        CHECK_INT(r, -EINVAL);
        CHECK(h == NULL);
        CHECK_INT(last_mmap, last_munmap);

        CHECK_INT(putenv(env), 0);
        MAPS_ALLOWED();
        NOALLOC(r = barrier_group_import_env(&h));
        CHECK_INT(r, 0);
        CHECK_MAPS(2, 0);
        if (r != 0)
                return;
        NOALLOC(r = barrier_group_rank(h));
        CHECK_INT(r, 1);
        NOALLOC(r = barrier_group_place_and_sync(h, BARRIER_INFINITY));
        CHECK_INT(r, 1);
        MAPS_ALLOWED();
        NOALLOC(ret = barrier_group_free(h));
        CHECK(ret == NULL);
        CHECK_MAPS(0, 2);
}

TEST(group_env_hand_over) {
        BarrierGroup *g = NULL;
        pid_t pid;

        CHECK_INT(barrier_group_new(&g, 2), 0);
        if (!g)
                return;
        pid = fork();
        if (pid == 0) {
                harness_side = "member";
                group_imported_member(g);
                _exit(harness_failures ? 1 : 0);
        }
        CHECK_INT(barrier_group_join(g, 0), 0);
        CHECK_INT(barrier_group_place_and_sync(g, BARRIER_INFINITY), 1);
        /* the imported handle's free is member 1's exit */
        CHECK_INT(barrier_group_wait_abortion(g, BARRIER_INFINITY), 1);
        reap_member(pid);
        barrier_group_free(g);
}

/* The child of fork() in a multithreaded program may only make
 * async-signal-safe calls: another thread may have held a lock, which in
 * the child stays locked for ever. Here it does, deterministically: the
 * helper thread is stopped inside the allocator, holding its lock, when
 * the main thread forks. The child then makes every call the crate's
 * documentation lists as async-signal-safe (every function but
 * barrier_import_env and barrier_group_import_env; the group calls that
 * map memory, see the top of this file, included) with counting on: an
 * allocation is counted, and
 * would also hang on the lock, which the parent's bounded waits turn into
 * a failure. Returns 0, or the line of the first failed check. */
#ifndef SANITIZER_ALLOCATOR
#define CHILD_CHECK(cond)                                                    \
        do {                                                                 \
                if (!(cond))                                                 \
                        return __LINE__;                                     \
        } while (0)

static int child_after_fork(Barrier *b, BarrierGroup *g) {
        Barrier c = BARRIER_NULL, p = BARRIER_NULL, q = BARRIER_NULL, *cp;
        struct pollfd fds[2];
        char env[BARRIER_ENV_MAX];
        char genv[BARRIER_GROUP_ENV_MAX];
        BarrierGroup *h = NULL;

        arm();
        barrier_set_role(b, BARRIER_CHILD);
        CHILD_CHECK(barrier_get_pollfds(b, fds, 2) == 2);
        CHILD_CHECK(!barrier_is_aborted(b) && !barrier_i_aborted(b));
        CHILD_CHECK(!barrier_they_aborted(b) && !barrier_we_aborted(b));
        CHILD_CHECK(barrier_place_and_sync(b));

        CHILD_CHECK(barrier_create(&c) == 0);
        barrier_set_role(&c, BARRIER_PARENT);
        CHILD_CHECK(barrier_destroy(&c) == NULL);
        CHILD_CHECK(barrier_init(&c) == 0);
        cp = &c;
        barrier_destroyp(&cp);

        CHILD_CHECK(barrier_create_pair(&p, &q) == 0);
        CHILD_CHECK(barrier_place(&p));
        CHILD_CHECK(barrier_wait_next(&q));
        CHILD_CHECK(barrier_place(&q));
        CHILD_CHECK(barrier_sync(&p));
        CHILD_CHECK(barrier_sync_next(&p));
        CHILD_CHECK(barrier_wait_next_timeout(&q, 0) == -ETIMEDOUT);
        CHILD_CHECK(barrier_sync_timeout(&p, 0) == 1);
        CHILD_CHECK(barrier_sync_next_timeout(&p, 0) == 1);
        CHILD_CHECK(barrier_export_env(&q, env, sizeof(env)) > 0);
        CHILD_CHECK(barrier_abort(&q));
        CHILD_CHECK(barrier_wait_abortion_timeout(&p, 0) == 1);
        CHILD_CHECK(barrier_wait_abortion(&p));
        barrier_destroy(&q);
        barrier_destroy(&p);

        /* The group shared with the parent (member 1), then one of this
         * process's own, joined as member 0 of 2: member 1 never joins,
         * and its pipe hung up when the join closed its write end. */
        CHILD_CHECK(barrier_group_join(g, 1) == 0);
        CHILD_CHECK(barrier_group_place_and_sync(g, BARRIER_INFINITY) == 1);
        CHILD_CHECK(barrier_group_new(&h, 2) == 0);
        CHILD_CHECK(barrier_group_size(h) == 2 && barrier_group_rank(h) == -1);
        CHILD_CHECK(barrier_group_join(h, 0) == 0);
        CHILD_CHECK(barrier_group_get_pollfds(h, fds, 1) == 1);
        CHILD_CHECK(barrier_group_export_env(h, genv, sizeof(genv)) > 0);
        CHILD_CHECK(barrier_group_place(h) == 1);
        CHILD_CHECK(barrier_group_sync(h, 0) == 0);
        CHILD_CHECK(barrier_group_aborted_by(h) == 1 && barrier_group_they_aborted(h));
        CHILD_CHECK(barrier_group_wait_abortion(h, 0) == 1);
        CHILD_CHECK(barrier_group_abort(h) == 0);
        CHILD_CHECK(barrier_group_i_aborted(h) && barrier_group_is_aborted(h));
        CHILD_CHECK(barrier_group_place_and_sync(h, 0) == 0);
        barrier_group_freep(&h);
        CHILD_CHECK(h == NULL);
        /* for the parent, an exit: it ends its wait_abortion */
        CHILD_CHECK(barrier_group_free(g) == NULL);

        /* Not barrier_abort(b): an abort that arrives with the barrier
         * placed above, in one read, would hide that barrier from the
         * parent's sync. The exit is what ends the parent's last wait. */
        disarm();
        CHILD_CHECK(atomic_load(&seen) == 0);
        /* mmap and munmap only where groups are made and freed: two
         * mappings for the group made here, two unmapped per free */
        CHILD_CHECK(!counting_maps || (atomic_load(&seen_mmap) == 2 && atomic_load(&seen_munmap) == 4));
        return 0;
}

static void *allocate_and_stall(void *arg) {
        char c;
        void *p;
        bool ok;

        /* Wait until the main thread is out of pthread_create(), which
         * may allocate too, then allocate: this stops inside the lock. */
        if (read(release_pipe[0], &c, 1) != 1)
                return NULL;
        atomic_store(&stall_next, 1);
        p = malloc(32);
        ok = p && in_arena(p);
        free(p);
        /* non-NULL: the allocation, once released, came from the arena */
        return ok ? arg : NULL;
}
#endif

TEST(fork_while_another_thread_allocates) {
#ifdef SANITIZER_ALLOCATOR
        fprintf(stderr, "note: built with a sanitizer that owns the allocator: not run\n");
#else
        Barrier b = BARRIER_NULL;
        BarrierGroup *g = NULL;
        pthread_t helper;
        void *p, *done;
        pid_t pid;
        char c = 1;
        int status, r, line = -2;

        p = malloc(1);
        if (!in_arena(p)) {
                fprintf(stderr, "note: another allocator (valgrind?) replaced this program's: not run\n");
                return;
        }
        CHECK_INT(pipe2(stall_pipe, O_CLOEXEC), 0);
        CHECK_INT(pipe2(release_pipe, O_CLOEXEC), 0);
        CHECK_INT(barrier_create(&b), 0);
        CHECK_INT(barrier_group_new(&g, 2), 0);
        CHECK_INT(pthread_create(&helper, NULL, allocate_and_stall, &b), 0);
        CHECK_INT(write(release_pipe[1], &c, 1), 1);
        /* the helper now holds the allocator's lock, and keeps it */
        CHECK_INT(read(stall_pipe[0], &c, 1), 1);
        pid = fork();
        if (pid == 0)
                _exit(child_after_fork(&b, g));
        r = -1;
        if (pid > 0) {
                barrier_set_role(&b, BARRIER_PARENT);
                /* Bounds that a working child never comes near, below the
                 * harness's watchdog: a child that hangs on the lock is a
                 * failure that names itself, not a hung test. */
                r = barrier_place(&b) ? barrier_sync_timeout(&b, 20 * 1000000ULL) : -1;
                if (r == 1)
                        r = barrier_group_join(g, 0) == 0 ? barrier_group_place_and_sync(g, 20 * 1000000ULL) : -1;
                if (r == 1)
                        r = barrier_wait_abortion_timeout(&b, 20 * 1000000ULL);
                if (r == 1)
                        r = barrier_group_wait_abortion(g, 20 * 1000000ULL);
                if (r != 1)
                        kill(pid, SIGKILL);
                line = waitpid(pid, &status, 0) != pid ? -2 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        /* Let the helper finish its allocation before anything here may
         * allocate (a failed check prints). */
        if (write(release_pipe[1], &c, 1) != 1)
                abort();
        CHECK_INT(pthread_join(helper, &done), 0);
        CHECK(pid > 0);
        if (line != 0)
                harness_fail(__FILE__, __LINE__, "the child failed the check on line %d (-1: it hung and was killed)", line);
        CHECK_INT(r, 1);
        barrier_destroy(&b);
        barrier_group_free(g);
        CHECK(done == &b);
#endif
}

static const struct test tests[] = {
        TEST_ENTRY(counting_works),
        TEST_ENTRY(null_and_misuse),
        TEST_ENTRY(create_fails_cleanly),
        TEST_ENTRY(waits_between_processes),
        TEST_ENTRY(exit_of_the_other_side),
        TEST_ENTRY(pair_and_pollfds),
        TEST_ENTRY(env_hand_over),
        TEST_ENTRY(group_null_and_misuse),
        TEST_ENTRY(group_new_fails_cleanly),
        TEST_ENTRY(group_waits_between_processes),
        TEST_ENTRY(group_env_hand_over),
        TEST_ENTRY(fork_while_another_thread_allocates),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
