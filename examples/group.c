/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A supervisor forks four workers; nobody serves until all five are
 * ready. With `--crash K`, worker K dies (SIGKILL) during its start-up,
 * and every other member is released at once, told which rank failed,
 * instead of waiting forever.
 *
 * Exits 0 when what happened is what was asked for: everyone served, or
 * with --crash, nobody did.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier.h"

#define WORKERS 4

static int worker(BarrierGroup *g, unsigned rank, unsigned crash) {
        if (barrier_group_join(g, rank) < 0)
                return 2;
        /* ... set up ... */
        if (rank == crash)
                raise(SIGKILL);
        int r = barrier_group_place_and_sync(g, BARRIER_INFINITY);
        if (r == 1) {
                printf("worker %u: everyone is ready, serving\n", rank);
                return 0;
        }
        if (r == 0) {
                printf("worker %u: start-up aborted (rank %d failed), not serving\n", rank,
                       barrier_group_aborted_by(g));
                return 1;
        }
        fprintf(stderr, "worker %u: error %d\n", rank, -r);
        return 2;
}

int main(int argc, char **argv) {
        unsigned crash = 0; /* rank 0 is the supervisor: no worker crashes */
        BarrierGroup *g = NULL;
        pid_t pids[WORKERS];
        int r, failed = 0;

        if (argc == 3 && strcmp(argv[1], "--crash") == 0) {
                char *end;
                unsigned long k = strtoul(argv[2], &end, 10);
                if (end != argv[2] && *end == '\0' && k >= 1 && k <= WORKERS)
                        crash = (unsigned)k;
        }
        if (argc != 1 && crash == 0) {
                fprintf(stderr, "usage: %s [--crash K], K from 1 to %d\n", argv[0], WORKERS);
                return 2;
        }

        r = barrier_group_new(&g, WORKERS + 1);
        if (r < 0) {
                fprintf(stderr, "barrier_group_new: error %d\n", -r);
                return 1;
        }
        fflush(NULL);
        for (unsigned rank = 1; rank <= WORKERS; rank++) {
                pids[rank - 1] = fork();
                if (pids[rank - 1] < 0) {
                        perror("fork");
                        return 1; /* the workers forked so far see the exit */
                }
                if (pids[rank - 1] == 0) {
                        r = worker(g, rank, crash);
                        fflush(stdout);
                        _exit(r);
                }
        }

        /* The supervisor is rank 0, and joins after the last fork. */
        r = barrier_group_join(g, 0);
        if (r >= 0)
                r = barrier_group_place_and_sync(g, BARRIER_INFINITY);
        if (r == 1)
                printf("supervisor: all %d members are ready\n", WORKERS + 1);
        else if (r == 0)
                printf("supervisor: start-up failed, rank %d is gone\n", barrier_group_aborted_by(g));
        else
                fprintf(stderr, "supervisor: error %d\n", -r);
        fflush(stdout);
        g = barrier_group_free(g);

        for (int i = 0; i < WORKERS; i++) {
                int status;
                if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0)
                        failed++;
        }
        printf("supervisor: %d of %d workers did not serve\n", failed, WORKERS);
        if (crash == 0)
                return r == 1 && failed == 0 ? 0 : 1;
        return r == 0 && failed == WORKERS ? 0 : 1;
}
