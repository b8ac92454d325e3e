// SPDX-License-Identifier: Apache-2.0
/*
 * ember-fn serve: POST /fn/NAME runs the request in a fresh clone of the
 * function's snapshot. One epoll thread reads requests (HTTP parsed by
 * api/http.c); --max-vms worker threads each run one clone at a time;
 * up to --queue requests wait for a worker, more get 503 at once.
 *   200 the function's stdout       404 unknown function
 *   502 the function failed (exit status != 0): its stdout and stderr
 *   503 overloaded                  504 no answer within --timeout
 *   500 the clone could not be started (ember's message)
 *   408 the request did not arrive whole within 10 s
 * GET /stats answers the counters as JSON. SIGINT/SIGTERM: stop accepting,
 * finish what was accepted, exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fn.h"
#include "http.h"

#define BODY_MAX   (16u << 20)
#define MAX_EVENTS 64
#define SEND_MS    10000
#define READ_MS    10000 /* a request must arrive whole within this */
#define CLIENTS    1024  /* connections still sending their request */

struct job {
	int fd;
	struct fn_snapshot snap;
	char *body;
	size_t body_len;
	struct job *next;
};

struct server {
	const struct fn_opts *o;
	int lfd, epfd, sigfd;
	unsigned max_vms, queue_max;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	unsigned queued, running;
	bool stopping;
	unsigned long long served, failed, rejected, unknown;
	pthread_t *workers;
	struct client *clients; /* only the epoll thread touches these */
	unsigned nr_clients;
};

/* A connection still sending its request; listed so the slow ones end. */
struct client {
	int fd;
	uint64_t since_us;
	struct http_conn http;
	struct client *prev, *next;
};

static void send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* One response, then the connection closes. */
static void respond(int fd, int status, const char *extra, const char *a, size_t alen,
		    const char *b, size_t blen)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nServer: ember-fn\r\nContent-Type: "
			 "application/octet-stream\r\nContent-Length: %zu\r\n%sConnection: "
			 "close\r\n\r\n",
			 status, http_reason(status), alen + blen, extra ? extra : "");

	send_all(fd, head, (size_t)n);
	send_all(fd, a, alen);
	send_all(fd, b, blen);
	close(fd);
}

static void respond_msg(int fd, int status, const char *msg)
{
	char line[ERR_MSG_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", msg);

	respond(fd, status, status == 503 ? "Retry-After: 1\r\n" : NULL, line,
		(size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1), NULL, 0);
}

static void count(struct server *s, unsigned long long *counter)
{
	pthread_mutex_lock(&s->lock);
	(*counter)++;
	pthread_mutex_unlock(&s->lock);
}

static void answer(struct server *s, struct job *j, const struct fn_clone *c,
		   const struct agent_result *res)
{
	char extra[256];

	snprintf(extra, sizeof(extra),
		 "X-Ember-Exit-Status: %d\r\nX-Ember-Mode: %s%s\r\nX-Ember-Restore-Us: "
		 "%llu\r\nX-Ember-Total-Us: %llu\r\n",
		 res->status, c->t.mode, c->t.pooled ? ", pooled" : "",
		 (unsigned long long)(c->t.load - c->t.api_ready), (unsigned long long)c->t.answer);
	if (res->status == 0) {
		respond(j->fd, 200, extra, res->out, res->out_len, NULL, 0);
		count(s, &s->served);
	} else {
		respond(j->fd, 502, extra, res->out, res->out_len, res->err, res->err_len);
		count(s, &s->failed);
	}
}

/* In the spare if there is one (a spare that fails is replaced at once). */
static int start_clone(struct server *s, struct job *j, struct fn_clone *c, bool spare,
		       struct ember_err *err)
{
	if (spare) {
		if (!fn_clone_restore(c, &j->snap, err))
			return 0;
		fn_clone_destroy(c);
	}
	return fn_clone_start(c, s->o, &j->snap, err);
}

static void run_job(struct server *s, struct job *j, struct fn_clone *c, bool spare)
{
	struct ember_err err = { 0 };
	struct agent_result res = { 0 };
	int ret = start_clone(s, j, c, spare, &err);

	if (!ret)
		ret = fn_clone_run(c, j->body, j->body_len, &res, &err);
	fn_clone_destroy(c);
	if (ret < 0) {
		int status = err.code == ETIMEDOUT ? 504 : 500;

		fprintf(stderr, "ember-fn: POST /fn/%s: %d %s\n", j->snap.name, status, err.msg);
		respond_msg(j->fd, status, err.msg);
		count(s, &s->failed);
	} else {
		answer(s, j, c, &res);
	}
	agent_result_free(&res);
}

static struct job *take_job(struct server *s)
{
	struct job *j;

	pthread_mutex_lock(&s->lock);
	while (!s->head && !s->stopping)
		pthread_cond_wait(&s->cond, &s->lock);
	j = s->head;
	if (j) {
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		s->running++;
	}
	pthread_mutex_unlock(&s->lock);
	return j;
}

/* Each worker spawns its next ember while it waits (--no-pool: not), so a
 * request only restores: exec and API start-up are off its path. */
static void *worker(void *arg)
{
	struct server *s = arg;
	struct ember_err err;
	struct fn_clone c;
	bool spare = false;
	struct job *j;

	for (;;) {
		if (s->o->pool && !spare) {
			spare = fn_clone_spawn(&c, s->o, &err) == 0;
			if (!spare)
				fn_clone_destroy(&c);
		}
		j = take_job(s);
		if (!j)
			break;
		run_job(s, j, &c, spare);
		spare = false;
		free(j->body);
		free(j);
		pthread_mutex_lock(&s->lock);
		s->running--;
		pthread_mutex_unlock(&s->lock);
	}
	if (spare)
		fn_clone_destroy(&c);
	return NULL;
}

/* false when the server is full: the caller answers 503. */
static bool enqueue(struct server *s, struct job *j)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->queued + s->running < s->max_vms + s->queue_max;
	if (ok) {
		j->next = NULL;
		if (s->tail)
			s->tail->next = j;
		else
			s->head = j;
		s->tail = j;
		s->queued++;
		pthread_cond_signal(&s->cond);
	} else {
		s->rejected++;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void stats(struct server *s, int fd)
{
	char body[512];
	int n;

	pthread_mutex_lock(&s->lock);
	n = snprintf(body, sizeof(body),
		     "{\"running\": %u, \"queued\": %u, \"max_vms\": %u, \"queue\": %u, "
		     "\"served\": %llu, \"failed\": %llu, \"rejected\": %llu, \"unknown\": %llu}\n",
		     s->running, s->queued, s->max_vms, s->queue_max, s->served, s->failed,
		     s->rejected, s->unknown);
	pthread_mutex_unlock(&s->lock);
	respond(fd, 200, "Content-Type: application/json\r\n", body, (size_t)n, NULL, 0);
}

/* A complete request: the fd goes to a worker, or is answered here. */
static void dispatch(struct server *s, int fd, struct http_request *req)
{
	struct ember_err err = { 0 };
	struct job *j;

	if (req->verb == HTTP_VERB_GET && !strcmp(req->path, "/stats"))
		return stats(s, fd);
	if (strncmp(req->path, "/fn/", 4) || strchr(req->path + 4, '/'))
		return respond_msg(fd, 404, "no such endpoint: POST /fn/NAME runs function NAME");
	if (req->verb != HTTP_VERB_POST)
		return respond_msg(fd, 405, "functions are invoked with POST");
	j = calloc(1, sizeof(*j));
	if (!j)
		return respond_msg(fd, 500, "out of memory");
	if (fn_store_lookup(s->o->store, req->path + 4, &j->snap, &err) < 0) {
		count(s, &s->unknown);
		free(j);
		return respond_msg(fd, err.code == ENOENT ? 404 : 400, err.msg);
	}
	j->fd = fd;
	j->body = req->body;
	j->body_len = req->body_len;
	req->body = NULL;
	if (!enqueue(s, j)) {
		free(j->body);
		free(j);
		respond_msg(fd, 503, "overloaded: every VM is busy and the queue is full");
	}
}

static void client_close(struct server *s, struct client *c, bool close_fd)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nr_clients--;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	if (close_fd)
		close(c->fd);
	http_conn_free(&c->http);
	free(c);
}

static void client_read(struct server *s, struct client *c)
{
	struct http_request req;
	char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return client_close(s, c, true);
	if (http_conn_feed(&c->http, buf, (size_t)n) < 0) {
		int fd = dup(c->fd);

		if (fd >= 0)
			respond_msg(fd, c->http.error_status, c->http.error_msg);
		return client_close(s, c, true);
	}
	if (!http_conn_next(&c->http, &req))
		return;
	fcntl(c->fd, F_SETFL, 0); /* the answer is written blocking, with SO_SNDTIMEO */
	dispatch(s, c->fd, &req);
	http_request_free(&req);
	client_close(s, c, false);
}

static void client_accept(struct server *s)
{
	struct timeval tv = { SEND_MS / 1000, 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct client *c;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = s->nr_clients < CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (!c || http_conn_init(&c->http, BODY_MAX) < 0) {
		free(c);
		close(fd); /* too many half-sent requests: this one waits its turn */
		return;
	}
	c->http.allow_post = true;
	c->fd = fd;
	c->since_us = fn_now_us();
	c->next = s->clients;
	if (c->next)
		c->next->prev = c;
	s->clients = c;
	s->nr_clients++;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ev.data.ptr = c;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_close(s, c, true);
}

/* A request that has not arrived whole within READ_MS gets 408. */
static void sweep(struct server *s)
{
	uint64_t now = fn_now_us();

	for (struct client *c = s->clients, *next; c; c = next) {
		next = c->next;
		if (now - c->since_us < READ_MS * 1000ull)
			continue;
		fcntl(c->fd, F_SETFL, 0);
		respond_msg(dup(c->fd), 408, "the request did not arrive in time");
		client_close(s, c, true);
	}
}

static int listen_unix(const char *path, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_errno(err, "socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 256) < 0) {
		err_errno(err, "cannot listen on %s", path);
		close(fd);
		return -err->code;
	}
	return fd;
}

/* HOST:PORT ([::1]:8080 for IPv6); an empty HOST is every address. */
static int listen_tcp(const char *addr, struct ember_err *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	char host[256];
	const char *colon = strrchr(addr, ':');
	int fd, one = 1, ret;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return err_set(err, EINVAL, "--listen %s: expected HOST:PORT or a socket path",
			       addr);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	ret = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (ret)
		return err_set(err, EINVAL, "--listen %s: %s", addr, gai_strerror(ret));
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 256) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd < 0 ? err_errno(err, "cannot listen on %s", addr) : fd;
}

static int setup(struct server *s, const char *addr, struct ember_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;

	s->lfd = strchr(addr, '/') ? listen_unix(addr, err) : listen_tcp(addr, err);
	if (s->lfd < 0)
		return s->lfd;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* blocked before the workers start, so they inherit the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->sigfd < 0 || s->epfd < 0)
		return err_errno(err, "signalfd/epoll");
	ev.data.ptr = &s->lfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
	ev.data.ptr = &s->sigfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev);
	return 0;
}

static int start_workers(struct server *s, struct ember_err *err)
{
	s->workers = calloc(s->max_vms, sizeof(*s->workers));
	if (!s->workers)
		return err_set(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < s->max_vms; i++)
		if (pthread_create(&s->workers[i], NULL, worker, s)) {
			s->max_vms = i;
			return err_set(err, EAGAIN, "cannot start worker %u", i);
		}
	return 0;
}

static void loop(struct server *s)
{
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(s->epfd, evs, MAX_EVENTS, s->clients ? 1000 : -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &s->sigfd)
				return;
			if (evs[i].data.ptr == &s->lfd)
				client_accept(s);
			else
				client_read(s, evs[i].data.ptr);
		}
		sweep(s);
	}
}

/* Accepted requests still run; then the workers end. */
static void drain(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->max_vms; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
}

int fn_serve(const struct fn_opts *o, const char *listen_addr, unsigned max_vms, unsigned queue,
	     struct ember_err *err)
{
	struct server s = {
		.o = o, .lfd = -1, .epfd = -1, .sigfd = -1, .max_vms = max_vms, .queue_max = queue
	};
	int ret;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	ret = setup(&s, listen_addr, err);
	if (!ret)
		ret = start_workers(&s, err);
	if (!ret) {
		fprintf(stderr, "ember-fn: serving %s on %s (%u VMs at once, %u queued)\n",
			o->store, listen_addr, max_vms, queue);
		loop(&s);
		fprintf(stderr, "ember-fn: stopping: finishing %u running and %u queued requests\n",
			s.running, s.queued);
	}
	if (s.workers)
		drain(&s);
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.epfd >= 0)
		close(s.epfd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	if (strchr(listen_addr, '/') && s.lfd >= 0)
		unlink(listen_addr);
	return ret;
}
