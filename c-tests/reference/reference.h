/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Loads an implementation of the two-party barrier from a shared library
 * by its file name, at run time: systemd's own, as the distribution ships
 * it inside its private library libsystemd-shared-<version>.so, or
 * libbarrier.so. Tests and benchmarks use it to run the same program
 * against both. Nothing of systemd's is built into, or shipped with,
 * libbarrier: the reference is only ever loaded from the system.
 *
 * Both libraries export the same names, so each is opened with
 * RTLD_LOCAL and called only through the pointers below, and loading
 * checks with dladdr() that every pointer lies in the file it was loaded
 * from.
 *
 * Only the nine functions systemd exports are here: in systemd the
 * predicates and barrier_place_and_sync() are inline in its header, and
 * the callers write them from the struct.
 */
#ifndef LIBBARRIER_REFERENCE_H
#define LIBBARRIER_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "barrier.h"

/* Room for a path (PATH_MAX on Linux). */
#define BARRIER_IMPL_PATH_MAX 4096

struct barrier_impl {
        /* The file every function below was found in (a real path). */
        char path[BARRIER_IMPL_PATH_MAX];
        void *handle;
        int (*create)(Barrier *b);
        Barrier *(*destroy)(Barrier *b);
        void (*set_role)(Barrier *b, int role);
        bool (*place)(Barrier *b);
        bool (*abort)(Barrier *b);
        bool (*wait_next)(Barrier *b);
        bool (*wait_abortion)(Barrier *b);
        bool (*sync_next)(Barrier *b);
        bool (*sync)(Barrier *b);
};

/* The names of the nine functions, in the order of the struct's pointers. */
extern const char *const barrier_impl_names[9];

/*
 * Loads the library at `path` (RTLD_NOW | RTLD_LOCAL) and resolves the
 * nine functions. Returns 0, or a negative errno with a message in `err`:
 * -ENOENT if the file cannot be opened, -ENOSYS if a function is missing,
 * -EXDEV if a function resolves into another file than `path`.
 */
int barrier_impl_load(struct barrier_impl *impl, const char *path, char *err, size_t errsize);

/*
 * Finds systemd's shared library: the file $SYSTEMD_SHARED_LIB names if
 * set, else the newest libsystemd-shared-*.so in the directories where
 * distributions put it (/usr/lib/<multiarch>/systemd, /usr/lib/systemd,
 * /usr/lib64/systemd). Writes its path; 0, or -ENOENT if there is none.
 */
int reference_find(char *path, size_t size);

/* reference_find(), then barrier_impl_load(). */
int reference_load(struct barrier_impl *impl, char *err, size_t errsize);

/*
 * Whether a missing reference is a failure rather than a skip: true in
 * CI (the environment variable CI is set and not empty), where the
 * comparison with systemd must never be skipped silently.
 */
bool reference_required(void);

#endif
