// SPDX-License-Identifier: MIT OR Apache-2.0
// barrier.h must compile as C++ with every warning enabled, and its
// functions must have C linkage.
#include "barrier.h"

#include <type_traits>

static_assert(sizeof(Barrier) == 24, "layout of struct Barrier");
static_assert(std::is_same<decltype(&barrier_sync), bool (*)(Barrier *)>::value, "barrier_sync");
static_assert(std::is_same<decltype(&barrier_create), int (*)(Barrier *)>::value, "barrier_create");

extern "C" int header_cxx_probe(void);

int header_cxx_probe(void) {
        Barrier b = BARRIER_NULL;
        if (barrier_create(&b) < 0)
                return -1;
        barrier_set_role(&b, BARRIER_PARENT);
        bool aborted = barrier_is_aborted(&b) || b.barriers == BARRIER_I_ABORTED;
        barrier_destroy(&b);
        return aborted ? 1 : 0;
}
