/* SPDX-License-Identifier: Apache-2.0 */
/* The VMM thread's epoll event loop. */
#ifndef EMBER_EVLOOP_H
#define EMBER_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define EVLOOP_MAX 64

typedef void (*evloop_fn)(void *ctx, int fd, uint32_t events);

struct evloop_handler {
	int fd;
	evloop_fn fn;
	void *ctx;
};

struct evloop {
	int epfd;
	bool stop;
	struct evloop_handler handlers[EVLOOP_MAX];
};

int evloop_init(struct evloop *loop, struct ember_err *err);
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *ctx,
	       struct ember_err *err);
void evloop_del(struct evloop *loop, int fd);
/* Dispatch events until a handler sets loop->stop. */
int evloop_run(struct evloop *loop, struct ember_err *err);
void evloop_free(struct evloop *loop);

#endif
