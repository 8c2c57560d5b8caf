/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Barriers driven by a raw epoll loop, as cases.h describes, with a
 * timerfd as the other source. Both descriptors are registered with
 * EPOLLIN (epoll reports EPOLLHUP and EPOLLERR whatever was asked) for a
 * wait, and removed with EPOLL_CTL_DEL when it ends. Events that one
 * epoll_wait() returned for a watch removed meanwhile are stale and
 * skipped.
 */
#define _GNU_SOURCE
#define LOOP_NAME "epoll"
#include "cases.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { TAG_TIMER = 0, TAG_BARRIER = 1 };

struct loop {
        int epoll;
        int timer;
        int fds[2];
        bool watching;
        /* changes with every watch, so that stale events can be told */
        unsigned generation;
};

static struct loop *loop_new(void) {
        struct loop *l = calloc(1, sizeof(*l));
        struct itimerspec period = {
                .it_interval = { .tv_nsec = TICK_USEC * 1000 },
                .it_value = { .tv_nsec = TICK_USEC * 1000 },
        };
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_TIMER };

        CHECK(l != NULL);
        l->epoll = epoll_create1(EPOLL_CLOEXEC);
        CHECK(l->epoll >= 0);
        l->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        CHECK(l->timer >= 0);
        CHECK_INT(timerfd_settime(l->timer, 0, &period, NULL), 0);
        CHECK_INT(epoll_ctl(l->epoll, EPOLL_CTL_ADD, l->timer, &ev), 0);
        return l;
}

static void loop_free(struct loop *l) {
        close(l->timer);
        close(l->epoll);
        free(l);
}

static void loop_watch(struct loop *l, const struct pollfd fds[2]) {
        l->generation++;
        for (int i = 0; i < 2; i++) {
                struct epoll_event ev = { .events = EPOLLIN,
                                          .data.u64 = TAG_BARRIER | (uint64_t)l->generation << 1 };
                l->fds[i] = fds[i].fd;
                CHECK_INT(epoll_ctl(l->epoll, EPOLL_CTL_ADD, l->fds[i], &ev), 0);
        }
        l->watching = true;
}

static void loop_unwatch(struct loop *l) {
        for (int i = 0; i < 2; i++)
                CHECK_INT(epoll_ctl(l->epoll, EPOLL_CTL_DEL, l->fds[i], NULL), 0);
        l->watching = false;
}

static void loop_run_once(struct loop *l) {
        struct epoll_event ev[3];
        int n = epoll_wait(l->epoll, ev, 3, -1);

        if (n < 0 && errno == EINTR)
                return;
        CHECK(n > 0);
        for (int i = 0; i < n; i++) {
                if (ev[i].data.u64 == TAG_TIMER) {
                        uint64_t expirations;

                        CHECK_INT(read(l->timer, &expirations, sizeof(expirations)), sizeof(expirations));
                        timer_fired();
                } else if (l->watching && ev[i].data.u64 >> 1 == l->generation) {
                        barrier_ready();
                }
        }
}
