// SPDX-License-Identifier: Apache-2.0
/* The API server's thread: accept, read, parse, hand over, answer. */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "seccomp_filter.h"

#define READ_CHUNK 16384

struct api_client {
	int fd;
	struct http_conn http;
	char *out; /* answers not yet written */
	size_t out_len, out_off;
	bool closing; /* close once `out` is written */
	bool faulted; /* the stream broke and that was answered */
	struct api_client *next;
};

static void client_close(struct api_server *s, struct api_client *c)
{
	struct api_client **p = &s->clients;

	while (*p && *p != c)
		p = &(*p)->next;
	if (*p)
		*p = c->next;
	close(c->fd); /* also leaves the epoll set */
	http_conn_free(&c->http);
	free(c->out);
	free(c);
	s->nr_clients--;
}

static int queue_out(struct api_client *c, const char *data, size_t len)
{
	char *n = realloc(c->out, c->out_len + len);

	if (!n)
		return -ENOMEM;
	memcpy(n + c->out_len, data, len);
	c->out = n;
	c->out_len += len;
	return 0;
}

static void answer(struct api_client *c, int status, const char *body, bool keep_alive,
		   bool deprecated)
{
	char *resp;
	size_t len;

	if (http_response(&resp, &len, status, body, keep_alive,
			  deprecated ? "Deprecation: true\r\n" : NULL) < 0 ||
	    queue_out(c, resp, len) < 0)
		c->closing = true;
	free(resp);
	if (!keep_alive)
		c->closing = true;
}

static void answer_fault(struct api_client *c, int status, const char *msg)
{
	char *body = http_fault_body(msg);

	answer(c, status, body, false, false);
	free(body);
}

static void serve_requests(struct api_server *s, struct api_client *c)
{
	struct http_request req;

	while (!c->closing && http_conn_next(&c->http, &req)) {
		struct api_reply reply = { .status = 500 };

		s->handle(s->ctx, &req, &reply);
		answer(c, reply.status, reply.body, req.keep_alive, reply.deprecated);
		s->requests++;
		free(reply.body);
		http_request_free(&req);
	}
}

/* Write what is queued; true when the client is done with. */
static bool flush(struct api_server *s, struct api_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ev.events |= EPOLLOUT;
			epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return false;
		}
		if (n < 0)
			return true;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return c->closing;
}

/* Read and parse; false when the peer is gone. */
static bool take_input(struct api_client *c)
{
	char buf[READ_CHUNK];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	http_conn_feed(&c->http, buf, (size_t)n); /* an error is answered after what came before */
	return true;
}

static void client_event(struct api_server *s, struct api_client *c, uint32_t events)
{
	if ((events & EPOLLIN) && !c->closing && !c->http.error_status && !take_input(c)) {
		client_close(s, c);
		return;
	}
	serve_requests(s, c);
	if (c->http.error_status && !c->faulted && !c->closing) {
		c->faulted = true;
		answer_fault(c, c->http.error_status, c->http.error_msg);
	}
	if (flush(s, c) || (events & (EPOLLHUP | EPOLLERR)))
		client_close(s, c);
}

static void accept_clients(struct api_server *s)
{
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct api_client *c = calloc(1, sizeof(*c));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

		if (!c || s->nr_clients >= API_MAX_CLIENTS ||
		    http_conn_init(&c->http, s->body_max) < 0 ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("api: connection refused (%u open)", s->nr_clients);
			if (c)
				http_conn_free(&c->http);
			free(c);
			close(fd);
			continue;
		}
		c->http.allow_delete = true; /* Firecracker's hot-unplug routes */
		c->fd = fd;
		c->next = s->clients;
		s->clients = c;
		s->nr_clients++;
	}
}

static void *server_main(void *arg)
{
	struct api_server *s = arg;
	struct epoll_event evs[16];

	log_thread_name("api");
	pthread_setname_np(pthread_self(), "ember_api");
	s->ready_ret = seccomp_thread_apply(s->seccomp, SECCOMP_THREAD_API, &s->ready_err);
	sem_post(&s->ready);
	if (s->ready_ret < 0)
		return NULL;
	for (;;) {
		int n = epoll_wait(s->epfd, evs, 16, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &s->stop_fd)
				return NULL;
			if (evs[i].data.ptr == s)
				accept_clients(s);
			else
				client_event(s, evs[i].data.ptr, evs[i].events);
		}
		if (n < 0 && errno != EINTR) {
			log_error("api: epoll_wait: %s", strerror(errno));
			return NULL;
		}
	}
}

static int listen_on(struct api_server *s, const char *path, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "api socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return err_errno(err, "api socket");
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_errno(err, "cannot bind the api socket %s", path);
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (listen(s->listen_fd, 64) < 0)
		return err_errno(err, "cannot listen on the api socket %s", path);
	return 0;
}

static int watch(struct api_server *s, int fd, void *tag, struct ember_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return err_errno(err, "api: epoll_ctl");
	return 0;
}

/* The thread reports whether its filter is in: serving unfiltered is no option. */
static int start_thread(struct api_server *s, struct ember_err *err)
{
	int ret;

	if (sem_init(&s->ready, 0, 0) < 0)
		return err_errno(err, "api: sem_init");
	ret = -pthread_create(&s->thread, NULL, server_main, s);
	if (ret < 0)
		err_set(err, -ret, "api: cannot start its thread");
	while (!ret && sem_wait(&s->ready) < 0 && errno == EINTR)
		;
	s->started = ret == 0;
	if (!ret && s->ready_ret < 0) {
		*err = s->ready_err;
		ret = s->ready_ret;
	}
	sem_destroy(&s->ready);
	return ret;
}

int api_server_start(struct api_server *s, const struct api_server_config *c, struct ember_err *err)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->epfd = s->stop_fd = -1;
	s->body_max = c->body_max;
	s->handle = c->handle;
	s->ctx = c->ctx;
	s->seccomp = c->seccomp;
	ret = listen_on(s, c->path, err);
	if (!ret && ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		     (s->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0))
		ret = err_errno(err, "api: epoll or eventfd");
	if (!ret)
		ret = watch(s, s->listen_fd, s, err);
	if (!ret)
		ret = watch(s, s->stop_fd, &s->stop_fd, err);
	if (!ret)
		ret = start_thread(s, err);
	if (ret)
		api_server_stop(s);
	return ret;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (s->started && write(s->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(s->thread, NULL);
	s->started = false;
	while (s->clients)
		client_close(s, s->clients);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->path[0])
		unlink(s->path);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	memset(s, 0, sizeof(*s));
	s->listen_fd = s->epfd = s->stop_fd = -1;
}
