/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A parent forks a child that syncs three rounds and exits; the parent
 * follows through a raw epoll loop, never blocking in the library, until
 * the child's exit ends its fourth wait as an abort.
 *
 * The rule: watch the two descriptors of barrier_get_pollfds() only while
 * a bounded call has just returned -ETIMEDOUT; on 1, 0 or another error,
 * remove them from the epoll set first. EPOLLHUP and EPOLLERR come
 * whatever was asked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier.h"

int main(void) {
        Barrier b = BARRIER_NULL;
        struct pollfd fds[2];
        bool watching = false, place = true;
        int ep, rounds = 0, r, status;
        pid_t pid;

        if (barrier_create(&b) < 0)
                return 1;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                r = 0;
                barrier_set_role(&b, BARRIER_CHILD);
                for (int i = 0; i < 3 && r == 0; i++)
                        r = barrier_place_and_sync(&b) ? 0 : 1;
                barrier_destroy(&b);
                _exit(r);
        }
        barrier_set_role(&b, BARRIER_PARENT);
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0 || barrier_get_pollfds(&b, fds, 2) != 2)
                return 1;
        for (;;) {
                if (place && !barrier_place(&b))
                        r = -EIO;
                else
                        r = barrier_sync_timeout(&b, 0);
                place = false;
                if (r == -ETIMEDOUT) {
                        struct epoll_event ev = { .events = EPOLLIN };

                        for (int i = 0; i < 2 && !watching; i++)
                                epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &ev);
                        watching = true;
                        /* one event is enough: the barrier says what it was */
                        if (epoll_wait(ep, &ev, 1, -1) < 0 && errno != EINTR)
                                return 1;
                        continue;
                }
                /* done, aborted or failed: stop watching before anything else
                 * (after an error the library has closed its pipe end, and
                 * EPOLL_CTL_DEL on it fails with EBADF) */
                for (int i = 0; i < 2 && watching; i++)
                        epoll_ctl(ep, EPOLL_CTL_DEL, fds[i].fd, NULL);
                watching = false;
                if (r != 1)
                        break;
                printf("parent: round %d synced\n", ++rounds);
                fflush(stdout);
                place = true;
        }
        printf("parent: the child %s\n", r == 0 ? "exited (an abort)" : "failed");
        close(ep);
        barrier_destroy(&b);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        return r == 0 ? 0 : 1;
}
