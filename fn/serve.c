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
 * An HTTP function (prepare --http) takes any method on /fn/NAME and
 * /fn/NAME/PATH: the clone's server gets METHOD /PATH?QUERY with the
 * headers and body, and its status, headers and body come back; 502 with
 * its output if it closes without a whole answer.
 * --reuse N: a worker's clone serves up to N requests of one function in a
 * row (a fresh VM each time is the default, and the isolation to expect).
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
#define RETRIES    1     /* fresh clones for a request its clone never got */

struct job {
	int fd;
	struct fn_snapshot snap;
	char *body;
	size_t body_len;
	/* an HTTP function's request */
	const char *method;
	char target[HTTP_PATH_MAX + 1];
	char *headers;
	size_t headers_len;
	struct job *next;
};

/* A worker's VM: none, a spare ember spawned ahead, or a restored clone
 * kept for --reuse (with its own copy of the snapshot it came from). */
struct slot {
	enum { SLOT_NONE, SLOT_SPARE, SLOT_LIVE } state;
	struct fn_clone c;
	struct fn_snapshot snap;
	unsigned used; /* requests the live clone has served */
};

struct server {
	const struct fn_opts *o;
	int lfd, epfd, sigfd;
	unsigned max_vms, queue_max, reuse;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	unsigned queued, running;
	unsigned spares; /* workers holding a spare ember, API up */
	bool stopping;
	unsigned long long served, failed, rejected, unknown;
	unsigned long long clone_failures; /* clones replaced before the request reached them */
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

static void slot_drop(struct slot *w)
{
	if (w->state != SLOT_NONE)
		fn_clone_destroy(&w->c);
	w->state = SLOT_NONE;
}

/* The job's clone: the live one again (--reuse), else a restore into the
 * spare if there is one (a spare that fails is replaced at once). */
static int slot_start(struct server *s, struct slot *w, const struct job *j, struct ember_err *err)
{
	int ret;

	if (w->state == SLOT_LIVE && w->used < s->reuse && !strcmp(w->snap.dir, j->snap.dir)) {
		fn_clone_again(&w->c);
		return 0;
	}
	if (w->state == SLOT_LIVE)
		slot_drop(w);
	w->snap = j->snap;
	w->used = 0;
	ret = w->state == SLOT_SPARE ? fn_clone_restore(&w->c, &w->snap, err) : -1;
	if (ret < 0) {
		slot_drop(w);
		ret = fn_clone_start(&w->c, s->o, &w->snap, err);
	}
	w->state = SLOT_LIVE;
	return ret;
}

/* After a request: the clone goes unless it may serve another. After a
 * success the answer is sent first (the clone's teardown, a SIGKILL and the
 * kernel's freeing of its VM, is off the request's path; the worker takes
 * no job before it is done); after a failure, first. */
static void slot_done(struct server *s, struct slot *w, bool ok)
{
	w->used++;
	if (!ok || w->used >= s->reuse)
		slot_drop(w);
}

static void fail_job(struct server *s, struct job *j, const struct ember_err *err)
{
	int status = err->code == ETIMEDOUT ? 504 : 500;

	fprintf(stderr, "ember-fn: %s /fn/%s: %d %s\n", j->method, j->snap.name, status, err->msg);
	respond_msg(j->fd, status, err->msg);
	count(s, &s->failed);
}

/* A clone that failed before the request reached it (its restore, or its
 * agent's handshake) is replaced by a fresh one, RETRIES times at most:
 * the function never saw the request, so nothing runs twice. Counted in
 * GET /stats and said on stderr, as the clone's failure is not the
 * function's. */
static bool retry_clone(struct server *s, const struct job *j, struct slot *w, int ret,
			const struct ember_err *err, unsigned *tries)
{
	if (ret >= 0 || w->c.delivered || (*tries)++ >= RETRIES)
		return false;
	fprintf(stderr,
		"ember-fn: %s /fn/%s: the clone failed before the request reached it (%s); "
		"trying a fresh one\n",
		j->method, j->snap.name, err->msg);
	count(s, &s->clone_failures);
	slot_drop(w);
	return true;
}

static void run_stdin_job(struct server *s, struct job *j, struct slot *w)
{
	struct ember_err err = { 0 };
	struct agent_result res = { 0 };
	unsigned tries = 0;
	int ret;

	do {
		w->c.delivered = false;
		ret = slot_start(s, w, j, &err);
		if (!ret)
			ret = fn_clone_run(&w->c, j->body, j->body_len, &res, &err);
	} while (retry_clone(s, j, w, ret, &err, &tries));
	if (ret < 0) {
		slot_done(s, w, false);
		fail_job(s, j, &err);
	} else {
		answer(s, j, &w->c, &res);
		slot_done(s, w, res.status == 0);
	}
	agent_result_free(&res);
}

/* The function's own answer, its framing ours: Content-Length, close. */
static void respond_http(int fd, const struct fn_http_resp *r, const char *extra, bool head)
{
	bool no_body = head || r->status == 204 || r->status == 304 || r->status < 200;
	char *lines = malloc(r->head_len + 1), line[512];
	size_t n =
	    lines ? fn_http_copy_headers(lines, r->head ? r->head : "", r->head_len, head) : 0;
	int len = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status,
			   r->reason[0] ? r->reason : http_reason(r->status));

	send_all(fd, line, (size_t)len);
	send_all(fd, lines, n);
	len = snprintf(line, sizeof(line), "%s", extra);
	if (!no_body)
		len += snprintf(line + len, sizeof(line) - (size_t)len, "Content-Length: %zu\r\n",
				r->body_len);
	len += snprintf(line + len, sizeof(line) - (size_t)len, "Connection: close\r\n\r\n");
	send_all(fd, line, (size_t)len);
	if (!no_body)
		send_all(fd, r->body, r->body_len);
	free(lines);
	close(fd);
}

/* The server closed mid-answer: 502 with what it printed. */
static void respond_broken(struct server *s, struct job *j, struct slot *w,
			   const struct ember_err *err)
{
	struct agent_result log = { 0 };
	struct ember_err log_err = { 0 };
	char msg[ERR_MSG_MAX + 64];
	int n = snprintf(msg, sizeof(msg), "%s; the function's output:\n", err->msg);

	if (fn_clone_http_log(&w->c, &log, &log_err) < 0)
		snprintf(msg + n, sizeof(msg) - (size_t)n, "(unavailable: %s)\n", log_err.msg);
	slot_drop(w);
	fprintf(stderr, "ember-fn: %s /fn/%s: 502 %s\n", j->method, j->snap.name, err->msg);
	respond(j->fd, 502, NULL, msg, strlen(msg), log.out, log.out_len);
	count(s, &s->failed);
	agent_result_free(&log);
}

static void timing_headers(const struct fn_clone *c, char *out, size_t size)
{
	snprintf(out, size,
		 "X-Ember-Mode: %s%s\r\nX-Ember-Restore-Us: %llu\r\nX-Ember-Total-Us: %llu\r\n",
		 c->t.mode, c->t.pooled ? ", pooled" : "",
		 (unsigned long long)(c->t.load - c->t.api_ready), (unsigned long long)c->t.answer);
}

static void run_http_job(struct server *s, struct job *j, struct slot *w)
{
	struct fn_http_req req = { .method = j->method,
				   .target = j->target,
				   .headers = j->headers,
				   .headers_len = j->headers_len,
				   .body = j->body,
				   .body_len = j->body_len };
	bool head = !strcmp(j->method, "HEAD");
	struct ember_err err = { 0 };
	struct fn_http_resp resp;
	char extra[256];
	int ret = fn_http_resp_init(&resp, head) < 0 ? err_set(&err, ENOMEM, "out of memory") : 0;
	bool broken = false;
	unsigned tries = 0;

	while (!ret) {
		w->c.delivered = false;
		ret = slot_start(s, w, j, &err);
		if (!ret)
			ret = fn_clone_http(&w->c, &req, &resp, &err);
		if (!retry_clone(s, j, w, ret, &err, &tries))
			break;
		ret = 0;
	}
	/* closed early, not HTTP, or no server listening any more */
	broken = ret < 0 && w->c.delivered &&
		 (err.code == EPIPE || err.code == EPROTO || err.code == ECONNREFUSED);
	if (broken) {
		respond_broken(s, j, w, &err);
	} else if (ret < 0) {
		slot_done(s, w, false);
		fail_job(s, j, &err);
	} else {
		timing_headers(&w->c, extra, sizeof(extra));
		respond_http(j->fd, &resp, extra, head);
		count(s, resp.status >= 500 ? &s->failed : &s->served);
		slot_done(s, w, true);
	}
	fn_http_resp_free(&resp);
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

static void spares_add(struct server *s, int n)
{
	pthread_mutex_lock(&s->lock);
	s->spares = (unsigned)((int)s->spares + n);
	pthread_mutex_unlock(&s->lock);
}

static void job_free(struct job *j)
{
	free(j->body);
	free(j->headers);
	free(j);
}

/* Each worker spawns its next ember while it waits (--no-pool: not), so a
 * request only restores: exec and API start-up are off its path. */
static void *worker(void *arg)
{
	struct server *s = arg;
	struct slot w = { .state = SLOT_NONE };
	struct ember_err err;
	struct job *j;

	for (;;) {
		if (s->o->pool && w.state == SLOT_NONE) {
			w.state = fn_clone_spawn(&w.c, s->o, &err) == 0 ? SLOT_SPARE : SLOT_NONE;
			if (w.state == SLOT_NONE)
				fn_clone_destroy(&w.c);
			else
				spares_add(s, 1);
		}
		j = take_job(s);
		if (w.state == SLOT_SPARE)
			spares_add(s, -1); /* taken for this job, or dropped at the end */
		if (!j)
			break;
		if (j->snap.http_port)
			run_http_job(s, j, &w);
		else
			run_stdin_job(s, j, &w);
		job_free(j);
		pthread_mutex_lock(&s->lock);
		s->running--;
		pthread_mutex_unlock(&s->lock);
	}
	slot_drop(&w);
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
		     "\"spares\": %u, \"served\": %llu, \"failed\": %llu, \"rejected\": %llu, "
		     "\"unknown\": %llu, \"clone_failures\": %llu}\n",
		     s->running, s->queued, s->max_vms, s->queue_max, s->spares, s->served,
		     s->failed, s->rejected, s->unknown, s->clone_failures);
	pthread_mutex_unlock(&s->lock);
	respond(fd, 200, "Content-Type: application/json\r\n", body, (size_t)n, NULL, 0);
}

/* /fn/NAME[/PATH][?QUERY]: NAME, and the target its server gets. */
static int split_target(const char *path, char *name, size_t size, char *target, size_t tsize)
{
	size_t len = strcspn(path + 4, "/?");

	if (strncmp(path, "/fn/", 4) || !len || len >= size)
		return -1;
	snprintf(name, size, "%.*s", (int)len, path + 4);
	snprintf(target, tsize, "%s%s", path[4 + len] == '/' ? "" : "/", path + 4 + len);
	return 0;
}

/* What the function's kind allows; the job takes the request's parts. */
static int fill_job(struct job *j, struct http_request *req)
{
	if (!j->snap.http_port && req->verb != HTTP_VERB_POST)
		return 405;
	if (!j->snap.http_port && strcmp(j->target, "/"))
		return 404;
	j->method = req->method;
	j->body = req->body;
	j->body_len = req->body_len;
	j->headers = req->headers;
	j->headers_len = req->headers_len;
	req->body = req->headers = NULL;
	return 0;
}

/* A complete request: the fd goes to a worker, or is answered here. */
static void dispatch(struct server *s, int fd, struct http_request *req)
{
	struct ember_err err = { 0 };
	char name[FN_NAME_MAX + 2];
	struct job *j;
	int status;

	if (req->verb == HTTP_VERB_GET && !strcmp(req->path, "/stats"))
		return stats(s, fd);
	j = calloc(1, sizeof(*j));
	if (!j)
		return respond_msg(fd, 500, "out of memory");
	if (split_target(req->path, name, sizeof(name), j->target, sizeof(j->target)) < 0) {
		free(j);
		return respond_msg(fd, 404, "no such endpoint: POST /fn/NAME runs function NAME");
	}
	if (fn_store_lookup(s->o->store, name, &j->snap, &err) < 0) {
		count(s, &s->unknown);
		free(j);
		return respond_msg(fd, err.code == ENOENT ? 404 : 400, err.msg);
	}
	status = fill_job(j, req);
	if (status) {
		free(j);
		return respond_msg(fd, status,
				   status == 405 ? "functions are invoked with POST"
						 : "no such endpoint: POST /fn/NAME "
						   "runs function NAME");
	}
	j->fd = fd;
	if (!enqueue(s, j)) {
		job_free(j);
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
	c->http.allow_any_method = true; /* HTTP functions take them all */
	c->http.keep_headers = true;
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
	     unsigned reuse, struct ember_err *err)
{
	struct server s = { .o = o,
			    .lfd = -1,
			    .epfd = -1,
			    .sigfd = -1,
			    .max_vms = max_vms,
			    .queue_max = queue,
			    .reuse = reuse ? reuse : 1 };
	int ret;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	ret = setup(&s, listen_addr, err);
	if (!ret)
		ret = start_workers(&s, err);
	if (!ret) {
		fprintf(stderr, "ember-fn: serving %s on %s (%u VMs at once, %u queued%s)\n",
			o->store, listen_addr, max_vms, queue,
			s.reuse > 1 ? ", clones reused: weaker isolation" : "");
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
