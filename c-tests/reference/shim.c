/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The names of barrier.h, answered by systemd's barrier: a test program
 * linked with this file (and reference.c, and -ldl) instead of libbarrier
 * runs against the implementation systemd ships, loaded at run time from
 * libsystemd-shared. Nothing of systemd is compiled in.
 *
 * Link it statically into the program, never as a shared library: the
 * executable does not export these names, so systemd's library, loaded
 * with RTLD_LOCAL, keeps calling its own functions (its barrier_create
 * calls barrier_destroy through its PLT).
 *
 * The library is loaded once, before main(). If it cannot be, the program
 * prints why and exits: with status SHIM_EXIT_MISSING in CI (where the
 * comparison must not be skipped), else with "skipped: no
 * libsystemd-shared", the summary line "0 passed, 0 failed" and status
 * SHIM_EXIT_SKIPPED (meson's "skipped").
 *
 * What systemd has inline in its header (the predicates,
 * barrier_place_and_sync, barrier_destroyp) is written here from the
 * fields, as systemd writes it. The extensions of barrier.h exist only so
 * that the programs link; a test that calls one is not run against
 * systemd, and a call aborts the process.
 */
#include "shim.h"

#include <stdio.h>
#include <stdlib.h>

static struct barrier_impl sd;

static void __attribute__((constructor)) shim_load(void) {
        char err[512];
        int r = reference_load(&sd, err, sizeof(err));

        if (r >= 0)
                return;
        if (reference_required()) {
                fprintf(stderr, "libsystemd-shared is required (CI is set) but cannot be loaded: %s\n", err);
                fflush(NULL);
                _Exit(SHIM_EXIT_MISSING);
        }
        printf("skipped: no libsystemd-shared (%s)\n0 passed, 0 failed\n", err);
        fflush(NULL);
        _Exit(SHIM_EXIT_SKIPPED);
}

const struct barrier_impl *shim_impl(void) {
        return &sd;
}

int barrier_create(Barrier *b) {
        return sd.create(b);
}

int barrier_init(Barrier *b) {
        return sd.create(b);
}

Barrier *barrier_destroy(Barrier *b) {
        return sd.destroy(b);
}

void barrier_destroyp(Barrier **b) {
        if (*b)
                sd.destroy(*b);
}

void barrier_set_role(Barrier *b, unsigned int role) {
        sd.set_role(b, (int)role);
}

bool barrier_place(Barrier *b) {
        return sd.place(b);
}

bool barrier_abort(Barrier *b) {
        return sd.abort(b);
}

bool barrier_wait_next(Barrier *b) {
        return sd.wait_next(b);
}

bool barrier_wait_abortion(Barrier *b) {
        return sd.wait_abortion(b);
}

bool barrier_sync_next(Barrier *b) {
        return sd.sync_next(b);
}

bool barrier_sync(Barrier *b) {
        return sd.sync(b);
}

bool barrier_place_and_sync(Barrier *b) {
        (void)sd.place(b);
        return sd.sync(b);
}

bool barrier_i_aborted(const Barrier *b) {
        return b->barriers == BARRIER_I_ABORTED || b->barriers == BARRIER_WE_ABORTED;
}

bool barrier_they_aborted(const Barrier *b) {
        return b->barriers == BARRIER_THEY_ABORTED || b->barriers == BARRIER_WE_ABORTED;
}

bool barrier_we_aborted(const Barrier *b) {
        return b->barriers == BARRIER_WE_ABORTED;
}

bool barrier_is_aborted(const Barrier *b) {
        return barrier_i_aborted(b) || barrier_they_aborted(b);
}

static _Noreturn void not_in_systemd(const char *name) {
        fprintf(stderr, "%s is not in systemd's API: a test that calls it must not run against systemd\n", name);
        fflush(NULL);
        abort();
}

int barrier_wait_next_timeout(Barrier *b, uint64_t usec) {
        (void)b, (void)usec;
        not_in_systemd(__func__);
}

int barrier_wait_abortion_timeout(Barrier *b, uint64_t usec) {
        (void)b, (void)usec;
        not_in_systemd(__func__);
}

int barrier_sync_next_timeout(Barrier *b, uint64_t usec) {
        (void)b, (void)usec;
        not_in_systemd(__func__);
}

int barrier_sync_timeout(Barrier *b, uint64_t usec) {
        (void)b, (void)usec;
        not_in_systemd(__func__);
}

int barrier_get_pollfds(const Barrier *b, struct pollfd *fds, size_t n) {
        (void)b, (void)fds, (void)n;
        not_in_systemd(__func__);
}

int barrier_create_pair(Barrier *parent, Barrier *child) {
        (void)parent, (void)child;
        not_in_systemd(__func__);
}

int barrier_export_env(Barrier *b, char *buf, size_t size) {
        (void)b, (void)buf, (void)size;
        not_in_systemd(__func__);
}

int barrier_import_env(Barrier *b) {
        (void)b;
        not_in_systemd(__func__);
}
