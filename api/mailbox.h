/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API thread hands each request to the VMM thread and waits for its
 * answer: one slot, a mutex and condition variable, and an eventfd the VMM
 * thread polls (in its pre-boot loop, then in its event loop). Requests are
 * served one at a time, in order, as Firecracker does.
 */
#ifndef EMBER_API_MAILBOX_H
#define EMBER_API_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>

#include "err.h"
#include "server.h"

struct api_mailbox {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd; /* eventfd: readable while a request waits */
	const struct http_request *req;
	struct api_reply *reply;
	bool pending, serving, closed;
};

int api_mailbox_init(struct api_mailbox *m, struct ember_err *err);
/* An api_handler (ctx = the mailbox), on the API thread: post the request
 * and wait until the VMM thread answers it, or answer 503 once closed. */
void api_mailbox_post(void *ctx, const struct http_request *req, struct api_reply *reply);
/* On the VMM thread when fd is readable: serve the waiting request, if any. */
void api_mailbox_serve(struct api_mailbox *m, api_handler handle, void *ctx);
/* No more answers: a waiting and every later request gets 503. */
void api_mailbox_close(struct api_mailbox *m);
void api_mailbox_free(struct api_mailbox *m);

#endif
