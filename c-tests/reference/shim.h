/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shim.c defines the names of barrier.h by forwarding to systemd's
 * barrier, loaded at run time; see there.
 */
#ifndef LIBBARRIER_REFERENCE_SHIM_H
#define LIBBARRIER_REFERENCE_SHIM_H

#include "reference.h"

/* Exit statuses of a program whose reference cannot be loaded: meson's
 * "skipped" outside CI, its "hard error" in CI. */
#define SHIM_EXIT_SKIPPED 77
#define SHIM_EXIT_MISSING 99

/* systemd's functions that the names of barrier.h forward to. */
const struct barrier_impl *shim_impl(void);

#endif
