/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A parent forks a child that syncs three rounds and exits; the parent
 * follows through a libuv loop of its own (made after fork()), never
 * blocking in the library, until the child's exit ends its fourth wait as
 * an abort.
 *
 * The rule: watch the two descriptors of barrier_get_pollfds() only while
 * a bounded call has just returned -ETIMEDOUT; on 1, 0 or another error,
 * stop the watchers first. libuv has no hang-up event: the read end's
 * hang-up comes as UV_READABLE, the write end's error as status UV_EBADF
 * with that watcher already stopped; the callback asks the barrier either
 * way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "barrier.h"

struct side {
        Barrier *b;
        uv_poll_t io[2];
        bool watching;
        int rounds;
        int status;
};

static void on_ready(uv_poll_t *h, int status, int events);

/* Places a barrier (once per round) and syncs without blocking. */
static void step(struct side *s, bool place) {
        for (;;) {
                int r;

                if (place && !barrier_place(s->b))
                        r = -EIO;
                else
                        r = barrier_sync_timeout(s->b, 0);
                if (r == -ETIMEDOUT) {
                        for (int i = 0; i < 2 && !s->watching; i++)
                                uv_poll_start(&s->io[i], UV_READABLE | UV_DISCONNECT, on_ready);
                        s->watching = true;
                        return;
                }
                /* done, aborted or failed: stop watching before anything else */
                for (int i = 0; i < 2; i++)
                        uv_poll_stop(&s->io[i]);
                s->watching = false;
                if (r != 1) {
                        printf("parent: the child %s\n", r == 0 ? "exited (an abort)" : "failed");
                        s->status = r == 0 ? 0 : 1;
                        return;
                }
                printf("parent: round %d synced\n", ++s->rounds);
                fflush(stdout);
                place = true;
        }
}

static void on_ready(uv_poll_t *h, int status, int events) {
        (void)status;
        (void)events;
        step(h->data, false);
}

int main(void) {
        Barrier b = BARRIER_NULL;
        struct side s = { .b = &b };
        struct pollfd fds[2];
        uv_loop_t loop;
        int status;
        pid_t pid;

        if (barrier_create(&b) < 0)
                return 1;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                int r = 0;

                barrier_set_role(&b, BARRIER_CHILD);
                for (int i = 0; i < 3 && r == 0; i++)
                        r = barrier_place_and_sync(&b) ? 0 : 1;
                barrier_destroy(&b);
                _exit(r);
        }
        barrier_set_role(&b, BARRIER_PARENT);
        if (uv_loop_init(&loop) < 0 || barrier_get_pollfds(&b, fds, 2) != 2)
                return 1;
        /* one handle per descriptor; the descriptors do not change */
        for (int i = 0; i < 2; i++) {
                uv_poll_init(&loop, &s.io[i], fds[i].fd);
                s.io[i].data = &s;
        }
        step(&s, true);
        /* returns when no watcher is active any more */
        uv_run(&loop, UV_RUN_DEFAULT);
        for (int i = 0; i < 2; i++)
                uv_close((uv_handle_t *)&s.io[i], NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        barrier_destroy(&b);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        return s.status;
}
