/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _GNU_SOURCE
#include "reference.h"

#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const barrier_impl_names[9] = {
        "barrier_create",     "barrier_destroy",       "barrier_set_role",
        "barrier_place",      "barrier_abort",         "barrier_wait_next",
        "barrier_wait_abortion", "barrier_sync_next",  "barrier_sync",
};

static int fail(char *err, size_t errsize, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errsize, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (err && errsize > 0)
                vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
        return r;
}

/* Resolves one name and checks that it lies in the file `real`. */
static int resolve(void *handle, const char *real, const char *name, void **out,
                   char *err, size_t errsize) {
        dlerror();
        void *sym = dlsym(handle, name);
        if (!sym)
                return fail(err, errsize, -ENOSYS, "%s: no %s", real, name);
        Dl_info info;
        if (!dladdr(sym, &info) || !info.dli_fname)
                return fail(err, errsize, -EXDEV, "%s: dladdr() knows no file for %s", real, name);
        char from[PATH_MAX];
        if (!realpath(info.dli_fname, from) || strcmp(from, real) != 0)
                return fail(err, errsize, -EXDEV, "%s resolves into %s, not %s", name,
                            info.dli_fname, real);
        *out = sym;
        return 0;
}

int barrier_impl_load(struct barrier_impl *impl, const char *path, char *err, size_t errsize) {
        memset(impl, 0, sizeof(*impl));
        if (!realpath(path, impl->path))
                return fail(err, errsize, -ENOENT, "%s: %s", path, strerror(errno));
        impl->handle = dlopen(impl->path, RTLD_NOW | RTLD_LOCAL);
        if (!impl->handle)
                return fail(err, errsize, -ENOENT, "dlopen: %s", dlerror());

        void *syms[9];
        for (size_t i = 0; i < 9; i++) {
                int r = resolve(impl->handle, impl->path, barrier_impl_names[i], &syms[i], err,
                                errsize);
                if (r < 0) {
                        dlclose(impl->handle);
                        impl->handle = NULL;
                        return r;
                }
        }
        /* POSIX guarantees that a function pointer survives the round trip
         * through void * that dlsym() makes. */
        memcpy(&impl->create, &syms[0], sizeof(void *));
        memcpy(&impl->destroy, &syms[1], sizeof(void *));
        memcpy(&impl->set_role, &syms[2], sizeof(void *));
        memcpy(&impl->place, &syms[3], sizeof(void *));
        memcpy(&impl->abort, &syms[4], sizeof(void *));
        memcpy(&impl->wait_next, &syms[5], sizeof(void *));
        memcpy(&impl->wait_abortion, &syms[6], sizeof(void *));
        memcpy(&impl->sync_next, &syms[7], sizeof(void *));
        memcpy(&impl->sync, &syms[8], sizeof(void *));
        return 0;
}

int reference_find(char *path, size_t size) {
        const char *env = getenv("SYSTEMD_SHARED_LIB");
        if (env && *env) {
                if ((size_t)snprintf(path, size, "%s", env) >= size)
                        return -ENAMETOOLONG;
                return 0;
        }
        static const char *const patterns[] = {
                "/usr/lib/*-linux-*/systemd/libsystemd-shared-*.so",
                "/usr/lib/systemd/libsystemd-shared-*.so",
                "/usr/lib64/systemd/libsystemd-shared-*.so",
        };
        for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
                glob_t g;
                if (glob(patterns[i], 0, NULL, &g) == 0 && g.gl_pathc > 0) {
                        /* Sorted: the last is the newest version. */
                        int n = snprintf(path, size, "%s", g.gl_pathv[g.gl_pathc - 1]);
                        globfree(&g);
                        return (size_t)n < size ? 0 : -ENAMETOOLONG;
                }
                globfree(&g);
        }
        return -ENOENT;
}

int reference_load(struct barrier_impl *impl, char *err, size_t errsize) {
        char path[PATH_MAX];
        int r = reference_find(path, sizeof(path));
        if (r < 0) {
                memset(impl, 0, sizeof(*impl));
                return fail(err, errsize, r,
                            "no libsystemd-shared found (set SYSTEMD_SHARED_LIB, or install "
                            "Debian's package systemd)");
        }
        return barrier_impl_load(impl, path, err, errsize);
}

bool reference_required(void) {
        const char *ci = getenv("CI");
        return ci && *ci;
}
