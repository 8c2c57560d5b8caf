/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A parent forks a child that syncs three rounds and exits; the parent
 * follows through a GLib main loop on a GMainContext of its own (made
 * after fork(): the default context is shared state of the process that
 * forked), never blocking in the library, until the child's exit ends
 * its fourth wait as an abort.
 *
 * The rule: watch the two descriptors of barrier_get_pollfds() only while
 * a bounded call has just returned -ETIMEDOUT; on 1, 0 or another error,
 * remove the watches first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier.h"

struct side {
        Barrier *b;
        GMainContext *context;
        GMainLoop *loop;
        GSource *io[2];
        int rounds;
        int status;
};

static gboolean on_ready(gint fd, GIOCondition condition, gpointer data);

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
                        for (int i = 0; i < 2; i++) {
                                s->io[i] = g_unix_fd_source_new(fds[i].fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
                                g_source_set_callback(s->io[i], G_SOURCE_FUNC(on_ready), s, NULL);
                                g_source_attach(s->io[i], s->context);
                        }
                        return;
                }
                /* done, aborted or failed: stop watching before anything else */
                for (int i = 0; i < 2 && s->io[i]; i++) {
                        g_source_destroy(s->io[i]);
                        g_source_unref(s->io[i]);
                        s->io[i] = NULL;
                }
                if (r != 1) {
                        printf("parent: the child %s\n", r == 0 ? "exited (an abort)" : "failed");
                        s->status = r == 0 ? 0 : 1;
                        g_main_loop_quit(s->loop);
                        return;
                }
                printf("parent: round %d synced\n", ++s->rounds);
                fflush(stdout);
                place = true;
        }
}

static gboolean on_ready(gint fd, GIOCondition condition, gpointer data) {
        (void)fd;
        (void)condition;
        step(data, false);
        /* step() destroyed this source if the wait is over */
        return G_SOURCE_CONTINUE;
}

int main(void) {
        Barrier b = BARRIER_NULL;
        struct side s = { .b = &b };
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
        s.context = g_main_context_new();
        s.loop = g_main_loop_new(s.context, FALSE);
        step(&s, true);
        if (s.io[0])
                g_main_loop_run(s.loop);
        g_main_loop_unref(s.loop);
        g_main_context_unref(s.context);
        barrier_destroy(&b);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return 1;
        return s.status;
}
