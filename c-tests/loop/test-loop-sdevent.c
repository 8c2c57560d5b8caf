/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barriers driven by sd-event (libsystemd), as cases.h describes.
 * sd_event_add_io() with EPOLLIN on both descriptors (epoll reports the
 * pipe end's EPOLLHUP or EPOLLERR whatever was asked); a watch is removed
 * with sd_event_source_disable_unref(): setting its events to 0 would not
 * stop the hang-up from firing.
 */
#define _GNU_SOURCE
#define LOOP_NAME "sd-event"
#include "cases.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <systemd/sd-event.h>

struct loop {
        sd_event *event;
        sd_event_source *io[2];
        sd_event_source *timer;
};

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void)s;
        (void)fd;
        (void)revents;
        (void)userdata;
        barrier_ready();
        return 0;
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        (void)usec;
        (void)userdata;
        /* a time source fires once; set it again for the next period */
        CHECK_INT(sd_event_source_set_time_relative(s, TICK_USEC), 0);
        CHECK_INT(sd_event_source_set_enabled(s, SD_EVENT_ONESHOT), 0);
        timer_fired();
        return 0;
}

static struct loop *loop_new(void) {
        struct loop *l = calloc(1, sizeof(*l));

        CHECK(l != NULL);
        CHECK_INT(sd_event_new(&l->event), 0);
        /* accuracy 1 us: the default lets sd-event delay it by 250 ms */
        CHECK_INT(sd_event_add_time_relative(l->event, &l->timer, CLOCK_MONOTONIC, TICK_USEC, 1, on_time, NULL),
                  0);
        return l;
}

static void loop_free(struct loop *l) {
        sd_event_source_disable_unref(l->timer);
        sd_event_unref(l->event);
        free(l);
}

static void loop_watch(struct loop *l, const struct pollfd fds[2]) {
        for (int i = 0; i < 2; i++)
                CHECK_INT(sd_event_add_io(l->event, &l->io[i], fds[i].fd, EPOLLIN, on_io, NULL), 0);
}

static void loop_unwatch(struct loop *l) {
        for (int i = 0; i < 2; i++)
                l->io[i] = sd_event_source_disable_unref(l->io[i]);
}

static void loop_run_once(struct loop *l) {
        int r = sd_event_run(l->event, UINT64_MAX);

        CHECK(r >= 0);
}
