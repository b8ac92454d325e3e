// SPDX-License-Identifier: Apache-2.0
/* One-slot hand-off of API requests from the API thread to the VMM thread. */
#include "mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int api_mailbox_init(struct api_mailbox *m, struct ember_err *err)
{
	memset(m, 0, sizeof(*m));
	m->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->fd < 0)
		return err_errno(err, "eventfd for the API mailbox");
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	return 0;
}

static void answer_closed(struct api_reply *reply)
{
	reply->status = 503;
	reply->body = http_fault_body("The microVM has stopped; the request was not served.");
}

void api_mailbox_post(void *ctx, const struct http_request *req, struct api_reply *reply)
{
	struct api_mailbox *m = ctx;
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	if (m->closed) {
		pthread_mutex_unlock(&m->lock);
		answer_closed(reply);
		return;
	}
	m->req = req;
	m->reply = reply;
	m->pending = true;
	if (write(m->fd, &one, sizeof(one)) < 0) {
		/* a saturated eventfd is still readable */
	}
	while (m->pending && (!m->closed || m->serving))
		pthread_cond_wait(&m->cond, &m->lock);
	if (m->pending) { /* closed before the VMM thread took it */
		m->pending = false;
		answer_closed(reply);
	}
	pthread_mutex_unlock(&m->lock);
}

void api_mailbox_serve(struct api_mailbox *m, api_handler handle, void *ctx)
{
	uint64_t v;

	if (read(m->fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
		/* nothing to clear */
	}
	pthread_mutex_lock(&m->lock);
	if (m->pending && !m->closed) {
		/* The poster waits, so req and reply stay valid; serve without the lock
		 * held so a long operation does not block close(). */
		const struct http_request *req = m->req;
		struct api_reply *reply = m->reply;

		m->serving = true;
		pthread_mutex_unlock(&m->lock);
		handle(ctx, req, reply);
		pthread_mutex_lock(&m->lock);
		m->pending = m->serving = false;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
}

void api_mailbox_close(struct api_mailbox *m)
{
	pthread_mutex_lock(&m->lock);
	m->closed = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

void api_mailbox_free(struct api_mailbox *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
}
