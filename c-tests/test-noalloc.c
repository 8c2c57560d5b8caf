/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * No entry point allocates: not on success, not on failure, not while it
 * blocks, not on misuse.
 *
 * This program replaces the allocator (malloc and its relatives, which
 * glibc and musl let a program do by defining them) and mmap (on x86-64
 * and arm64), and counts
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
static atomic_ulong seen;
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

static void note(const char *fn) {
        const char *none = NULL;

        if (!atomic_load(&armed))
                return;
        atomic_fetch_add(&seen, 1);
        atomic_compare_exchange_strong(&seen_first, &none, fn);
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
        note("mmap");
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

#ifdef __GLIBC__
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
        note("mmap64");
        return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
#endif
#endif
#endif /* SANITIZER_ALLOCATOR */

/* ---- the flagged region ---------------------------------------------------- */

static void arm(void) {
        atomic_store(&seen, 0);
        atomic_store(&seen_first, NULL);
        atomic_store(&armed, 1);
}

/* Stops counting; returns how many allocation calls were seen. */
static unsigned long disarm(void) {
        atomic_store(&armed, 0);
        return atomic_load(&seen);
}

static void disarm_check(const char *file, int line, const char *call) {
        unsigned long n = disarm();

        if (n)
                harness_fail(file, line, "%s: %lu allocation call(s), the first %s()", call, n,
                             atomic_load(&seen_first));
}

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
        CHECK(disarm() == 1 && p != MAP_FAILED);
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
        CHECK_INT(r, -EINVAL);
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

TEST(create_fails_cleanly) {
        struct rlimit saved, lim;
        Barrier b = BARRIER_NULL, c = BARRIER_NULL;
        int lowest, r;

        /* Room for exactly one more descriptor: the first eventfd is
         * made, the second fails, and the first must be closed again. */
        lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(lowest >= 0);
        close(lowest);
        CHECK_INT(getrlimit(RLIMIT_NOFILE, &saved), 0);
        lim = saved;
        lim.rlim_cur = (rlim_t)lowest + 1;
        CHECK_INT(setrlimit(RLIMIT_NOFILE, &lim), 0);
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

/* The child of fork() in a multithreaded program may only make
 * async-signal-safe calls: another thread may have held a lock, which in
 * the child stays locked for ever. Here it does, deterministically: the
 * helper thread is stopped inside the allocator, holding its lock, when
 * the main thread forks. The child then makes every call the crate's
 * documentation lists as async-signal-safe (every function but
 * barrier_import_env) with counting on: an allocation is counted, and
 * would also hang on the lock, which the parent's bounded waits turn into
 * a failure. Returns 0, or the line of the first failed check. */
#ifndef SANITIZER_ALLOCATOR
#define CHILD_CHECK(cond)                                                    \
        do {                                                                 \
                if (!(cond))                                                 \
                        return __LINE__;                                     \
        } while (0)

static int child_after_fork(Barrier *b) {
        Barrier c = BARRIER_NULL, p = BARRIER_NULL, q = BARRIER_NULL, *cp;
        struct pollfd fds[2];
        char env[BARRIER_ENV_MAX];

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

        /* Not barrier_abort(b): an abort that arrives with the barrier
         * placed above, in one read, would hide that barrier from the
         * parent's sync. The exit is what ends the parent's last wait. */
        CHILD_CHECK(disarm() == 0);
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
        CHECK_INT(pthread_create(&helper, NULL, allocate_and_stall, &b), 0);
        CHECK_INT(write(release_pipe[1], &c, 1), 1);
        /* the helper now holds the allocator's lock, and keeps it */
        CHECK_INT(read(stall_pipe[0], &c, 1), 1);
        pid = fork();
        if (pid == 0)
                _exit(child_after_fork(&b));
        r = -1;
        if (pid > 0) {
                barrier_set_role(&b, BARRIER_PARENT);
                /* Bounds that a working child never comes near, below the
                 * harness's watchdog: a child that hangs on the lock is a
                 * failure that names itself, not a hung test. */
                r = barrier_place(&b) ? barrier_sync_timeout(&b, 20 * 1000000ULL) : -1;
                if (r == 1)
                        r = barrier_wait_abortion_timeout(&b, 20 * 1000000ULL);
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
        TEST_ENTRY(fork_while_another_thread_allocates),
};

int main(int argc, char **argv) {
        return run_tests(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
