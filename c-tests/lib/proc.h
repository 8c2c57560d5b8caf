/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What a test reads of processes from /proc: a process's state, and the
 * memory this process maps. Shared by the test programs (through
 * harness.h) and the fault drivers, which have no harness. Header-only:
 * each program compiles what it uses. Nothing here allocates or maps
 * memory, so that comparing the mappings before and after a call shows
 * the library's alone.
 */
#ifndef LIBBARRIER_TEST_PROC_H
#define LIBBARRIER_TEST_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The state letter of a process in /proc/PID/stat ('S' asleep, 'T'
 * stopped, 'Z' a zombie ...), or '?' if it cannot be read (the process is
 * gone). */
static inline char process_state(pid_t pid) {
        char path[64], buf[512], *paren;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return '?';
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return '?';
        buf[n] = '\0';
        paren = strrchr(buf, ')');
        return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* Whether this process runs under valgrind, whose own mappings come and
 * go in /proc/self/maps: there, mappings cannot be compared. */
static inline bool under_valgrind(void) {
        const char *preload = getenv("LD_PRELOAD");

        return preload && strstr(preload, "vgpreload");
}

/* Bytes mapped, from /proc/self/maps, less the stack and the heap (which
 * grow by themselves); -1 if the file cannot be read whole. Mappings with
 * the same flags side by side show as one line, and a mapping given back
 * between two others may leave them one line or two, so bytes are
 * counted, not lines. Read into a static buffer. */
static inline long long mapped_bytes(void) {
        static char buf[1 << 16];
        size_t len = 0;
        long long total = 0;
        int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -1;
        for (;;) {
                ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                len += (size_t)r;
                if (len == sizeof(buf) - 1) {
                        close(fd);
                        return -1;
                }
        }
        close(fd);
        buf[len] = '\0';
        for (char *line = buf, *end; *line; line = end + 1) {
                char *p;
                unsigned long long lo, hi;

                end = strchr(line, '\n');
                if (end)
                        *end = '\0';
                lo = strtoull(line, &p, 16);
                hi = *p == '-' ? strtoull(p + 1, NULL, 16) : lo;
                if (!strstr(line, "[stack]") && !strstr(line, "[heap]"))
                        total += (long long)(hi - lo);
                if (!end)
                        break;
        }
        return total;
}

#endif
