/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A parent forks a child that syncs three rounds and exits; the parent
 * follows through an sd-event loop of its own (made after fork()), never
 * blocking in the library, until the child's exit ends its fourth wait as
 * an abort.
 *
 * The rule: watch the two descriptors of barrier_get_pollfds() only while
 * a bounded call has just returned -ETIMEDOUT; on 1, 0 or another error,
 * remove the watches first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "barrier.h"

struct side {
        const char *name;
        Barrier *b;
        sd_event *loop;
        sd_event_source *io[2];
        int rounds;
        int status;
};

static int on_ready(sd_event_source *s, int fd, uint32_t revents, void *data);

/* Places a barrier (once per round) and syncs without blocking. */
static void step(struct side *s, bool place) {
        for (;;) {
                int r;

                if (place && !barrier_place(s->b))
                        r = -EIO;
                else
                        r = barrier_sync_timeout(s->b, 0);
                if (r == -ETIMEDOUT) {
                        struct pollfd fds[2];

                        if (s->io[0])
                                return; /* still watching */
                        barrier_get_pollfds(s->b, fds, 2);
                        for (int i = 0; i < 2; i++)
                                sd_event_add_io(s->loop, &s->io[i], fds[i].fd, EPOLLIN, on_ready, s);
                        return;
                }
                /* done, aborted or failed: stop watching before anything else */
                for (int i = 0; i < 2; i++)
                        s->io[i] = sd_event_source_disable_unref(s->io[i]);
                if (r != 1) {
                        printf("%s: the other side %s\n", s->name, r == 0 ? "aborted or exited" : "failed");
                        s->status = r == 0 ? 0 : 1;
                        sd_event_exit(s->loop, 0);
                        return;
                }
                printf("%s: round %d synced\n", s->name, ++s->rounds);
                fflush(stdout);
                place = true;
        }
}

static int on_ready(sd_event_source *src, int fd, uint32_t revents, void *data) {
        (void)src;
        (void)fd;
        (void)revents;
        step(data, false);
        return 0;
}

static int run_side(const char *name, Barrier *b) {
        struct side s = { .name = name, .b = b };
        int r = 0;

        if (sd_event_new(&s.loop) < 0)
                return 1;
        step(&s, true);
        if (s.io[0])
                r = sd_event_loop(s.loop);
        if (r == 0)
                r = s.status;
        for (int i = 0; i < 2; i++)
                sd_event_source_disable_unref(s.io[i]);
        sd_event_unref(s.loop);
        return r;
}

/* The child's side, with blocking calls. */
static int child_rounds(Barrier *b) {
        for (int i = 0; i < 3; i++)
                if (!barrier_place_and_sync(b))
                        return 1;
        return 0;
}

int main(void) {
        Barrier b = BARRIER_NULL;
        int status, r;
        pid_t pid;

        if (barrier_create(&b) < 0)
                return 1;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                barrier_set_role(&b, BARRIER_CHILD);
                r = child_rounds(&b);
                barrier_destroy(&b);
                _exit(r);
        }
        barrier_set_role(&b, BARRIER_PARENT);
        r = run_side("parent", &b);
        barrier_destroy(&b);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        return r;
}
