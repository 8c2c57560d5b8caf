/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barriers driven by GLib's main loop, as cases.h describes. Each
 * side makes a GMainContext of its own after fork() (the default context
 * is shared state of the process that forked). Each descriptor is watched
 * by a g_unix_fd_source_new() source with G_IO_IN | G_IO_HUP | G_IO_ERR;
 * a watch is removed by destroying its source: a condition of 0 would not
 * stop poll() from reporting the hang-up.
 */
#define _GNU_SOURCE
#define LOOP_NAME "glib"
#include "cases.h"

#include <glib-unix.h>
#include <glib.h>

struct loop {
        GMainContext *context;
        GSource *io[2];
        GSource *timer;
};

static gboolean on_io(gint fd, GIOCondition condition, gpointer data) {
        (void)fd;
        (void)condition;
        (void)data;
        barrier_ready();
        /* the source is destroyed by loop_unwatch() when the wait ends */
        return G_SOURCE_CONTINUE;
}

static gboolean on_time(gpointer data) {
        (void)data;
        timer_fired();
        return G_SOURCE_CONTINUE;
}

static struct loop *loop_new(void) {
        struct loop *l = g_new0(struct loop, 1);

        l->context = g_main_context_new();
        l->timer = g_timeout_source_new(TICK_USEC / 1000);
        g_source_set_callback(l->timer, on_time, NULL, NULL);
        g_source_attach(l->timer, l->context);
        return l;
}

static void loop_free(struct loop *l) {
        g_source_destroy(l->timer);
        g_source_unref(l->timer);
        g_main_context_unref(l->context);
        g_free(l);
}

static void loop_watch(struct loop *l, const struct pollfd fds[2]) {
        for (int i = 0; i < 2; i++) {
                l->io[i] = g_unix_fd_source_new(fds[i].fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
                g_source_set_callback(l->io[i], G_SOURCE_FUNC(on_io), NULL, NULL);
                g_source_attach(l->io[i], l->context);
        }
}

static void loop_unwatch(struct loop *l) {
        for (int i = 0; i < 2; i++) {
                g_source_destroy(l->io[i]);
                g_source_unref(l->io[i]);
                l->io[i] = NULL;
        }
}

static void loop_run_once(struct loop *l) {
        g_main_context_iteration(l->context, TRUE);
}
