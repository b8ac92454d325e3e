// SPDX-License-Identifier: Apache-2.0
/* The API-to-VMM mailbox: a request waits for its answer; closing frees it. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"

static struct api_mailbox mb;

struct poster {
	struct http_request req;
	struct api_reply reply;
	pthread_t th;
};

static void *post_thread(void *arg)
{
	struct poster *p = arg;

	api_mailbox_post(&mb, &p->req, &p->reply);
	return NULL;
}

static void answer(void *ctx, const struct http_request *req, struct api_reply *reply)
{
	int *served = ctx;

	(*served)++;
	reply->status = 200;
	reply->body = strdup(req->path);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

Test(mailbox, a_request_is_served_on_the_other_thread_and_answered)
{
	struct ember_err err;
	struct poster p = { .req.path = "/version" };
	int served = 0;

	cr_assert_eq(api_mailbox_init(&mb, &err), 0);
	cr_assert_not(readable(mb.fd, 0));
	pthread_create(&p.th, NULL, post_thread, &p);
	cr_assert(readable(mb.fd, 5000), "the eventfd wakes the VMM thread");
	api_mailbox_serve(&mb, answer, &served);
	pthread_join(p.th, NULL);
	cr_assert_eq(served, 1);
	cr_assert_eq(p.reply.status, 200);
	cr_assert_str_eq(p.reply.body, "/version");
	api_mailbox_serve(&mb, answer, &served);
	cr_assert_eq(served, 1, "nothing waits: nothing served");
	free(p.reply.body);
	api_mailbox_free(&mb);
}

Test(mailbox, closing_answers_a_waiting_and_later_requests_with_503)
{
	struct ember_err err;
	struct poster p = { .req.path = "/" }, q = { .req.path = "/" };
	int served = 0;

	cr_assert_eq(api_mailbox_init(&mb, &err), 0);
	pthread_create(&p.th, NULL, post_thread, &p);
	cr_assert(readable(mb.fd, 5000));
	api_mailbox_close(&mb);
	pthread_join(p.th, NULL);
	cr_assert_eq(p.reply.status, 503);
	cr_assert(strstr(p.reply.body, "fault_message"), "%s", p.reply.body);
	post_thread(&q);
	cr_assert_eq(q.reply.status, 503);
	api_mailbox_serve(&mb, answer, &served);
	cr_assert_eq(served, 0, "a closed mailbox serves nothing");
	free(p.reply.body);
	free(q.reply.body);
	api_mailbox_free(&mb);
}
