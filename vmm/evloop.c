// SPDX-License-Identifier: Apache-2.0
/* epoll event loop with a fixed handler table. */
#include "evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int evloop_init(struct evloop *loop, struct ember_err *err)
{
	memset(loop, 0, sizeof(*loop));
	for (int i = 0; i < EVLOOP_MAX; i++)
		loop->handlers[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return err_errno(err, "epoll_create1");
	return 0;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *ctx,
	       struct ember_err *err)
{
	struct epoll_event ev = { .events = events };

	for (int i = 0; i < EVLOOP_MAX; i++) {
		struct evloop_handler *h = &loop->handlers[i];

		if (h->fd >= 0)
			continue;
		ev.data.ptr = h;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return err_errno(err, "epoll_ctl add fd %d", fd);
		*h = (struct evloop_handler){ fd, fn, ctx };
		return 0;
	}
	return err_set(err, ENOSPC, "event loop is full");
}

void evloop_del(struct evloop *loop, int fd)
{
	for (int i = 0; i < EVLOOP_MAX; i++) {
		if (loop->handlers[i].fd == fd) {
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
			loop->handlers[i].fd = -1;
		}
	}
}

int evloop_run(struct evloop *loop, struct ember_err *err)
{
	struct epoll_event events[16];

	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, events, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(err, "epoll_wait");
		for (int i = 0; i < n && !loop->stop; i++) {
			struct evloop_handler *h = events[i].data.ptr;

			if (h->fd >= 0)
				h->fn(h->ctx, h->fd, events[i].events);
		}
	}
	return 0;
}

void evloop_free(struct evloop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}
