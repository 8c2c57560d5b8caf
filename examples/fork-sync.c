/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A parent forks a worker and they step through start-up in lock-step:
 * the worker sets itself up, both sync, the parent finishes its part, both
 * sync again. Then the worker exits and the parent sees that as an abort.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier.h"

int main(void) {
        Barrier b = BARRIER_NULL;
        int r, status;
        pid_t pid;

        r = barrier_create(&b);
        if (r < 0) {
                fprintf(stderr, "barrier_create: error %d\n", -r);
                return 1;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0) {
                barrier_set_role(&b, BARRIER_CHILD);
                printf("worker: set up\n");
                fflush(stdout);
                if (!barrier_place_and_sync(&b))
                        _exit(1);
                if (!barrier_place_and_sync(&b))
                        _exit(1);
                printf("worker: running, now exiting\n");
                fflush(stdout);
                barrier_destroy(&b);
                _exit(0);
        }
        barrier_set_role(&b, BARRIER_PARENT);
        if (!barrier_place_and_sync(&b)) {
                fprintf(stderr, "parent: worker failed to set up\n");
                return 1;
        }
        printf("parent: worker is set up; finishing my part\n");
        fflush(stdout);
        if (!barrier_place_and_sync(&b)) {
                fprintf(stderr, "parent: worker went away\n");
                return 1;
        }
        /* nothing more will come: the worker's exit ends this wait */
        if (barrier_wait_next(&b) || !barrier_they_aborted(&b)) {
                fprintf(stderr, "parent: expected the worker's exit\n");
                return 1;
        }
        printf("parent: the worker exited, which the barrier reports as its abort\n");
        barrier_destroy(&b);
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        printf("parent: done\n");
        return 0;
}
