/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barriers driven by libuv, as cases.h describes. Each side makes its
 * uv_loop_t after fork(). Each descriptor has a uv_poll_t, started with
 * UV_READABLE | UV_DISCONNECT for a wait and stopped when it ends. libuv
 * has no hang-up event: the read end's hang-up comes as UV_READABLE (with
 * UV_DISCONNECT), and the write end's error as status UV_EBADF, after which
 * libuv has stopped that watcher itself. Either way the callback asks the
 * barrier, which tells what happened.
 */
#define _GNU_SOURCE
#define LOOP_NAME "libuv"
#include "cases.h"

#include <stdlib.h>
#include <uv.h>

struct loop {
        uv_loop_t uv;
        uv_poll_t io[2];
        bool io_open;
        uv_timer_t timer;
};

static void on_io(uv_poll_t *h, int status, int events) {
        (void)h;
        (void)events;
        /* UV_EBADF: the write end's error; anything else is a bug */
        CHECK(status == 0 || status == UV_EBADF);
        barrier_ready();
}

static void on_time(uv_timer_t *t) {
        (void)t;
        timer_fired();
}

static struct loop *loop_new(void) {
        struct loop *l = calloc(1, sizeof(*l));

        CHECK(l != NULL);
        CHECK_INT(uv_loop_init(&l->uv), 0);
        CHECK_INT(uv_timer_init(&l->uv, &l->timer), 0);
        CHECK_INT(uv_timer_start(&l->timer, on_time, TICK_USEC / 1000, TICK_USEC / 1000), 0);
        return l;
}

static void loop_free(struct loop *l) {
        uv_close((uv_handle_t *)&l->timer, NULL);
        if (l->io_open)
                for (int i = 0; i < 2; i++)
                        uv_close((uv_handle_t *)&l->io[i], NULL);
        /* runs the close callbacks */
        CHECK_INT(uv_run(&l->uv, UV_RUN_DEFAULT), 0);
        CHECK_INT(uv_loop_close(&l->uv), 0);
        free(l);
}

static void loop_watch(struct loop *l, const struct pollfd fds[2]) {
        /* one uv_poll_t per descriptor for the loop's life: the barrier's
         * descriptors do not change */
        if (!l->io_open) {
                for (int i = 0; i < 2; i++)
                        CHECK_INT(uv_poll_init(&l->uv, &l->io[i], fds[i].fd), 0);
                l->io_open = true;
        }
        for (int i = 0; i < 2; i++)
                CHECK_INT(uv_poll_start(&l->io[i], UV_READABLE | UV_DISCONNECT, on_io), 0);
}

static void loop_unwatch(struct loop *l) {
        for (int i = 0; i < 2; i++)
                CHECK_INT(uv_poll_stop(&l->io[i]), 0);
}

static void loop_run_once(struct loop *l) {
        uv_run(&l->uv, UV_RUN_ONCE);
}
