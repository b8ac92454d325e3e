// SPDX-License-Identifier: Apache-2.0
/* ember's REST API from the client side (see api_client.h). */
#include "api_client.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

struct parse {
	struct api_reply *reply;
	size_t cap;
	bool done, too_big;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct parse *ps = p->data;
	struct api_reply *r = ps->reply;

	if (r->body_len + len > API_CLIENT_BODY_MAX) {
		ps->too_big = true;
		return -1;
	}
	if (r->body_len + len + 1 > ps->cap) {
		size_t cap = (r->body_len + len + 1) * 2;
		char *b = realloc(r->body, cap);

		if (!b)
			return -1;
		r->body = b;
		ps->cap = cap;
	}
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

static int on_complete(http_parser *p)
{
	((struct parse *)p->data)->done = true;
	return 0;
}

static int connect_to(const char *path, unsigned timeout_ms, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { (time_t)(timeout_ms / 1000),
			      (suseconds_t)(timeout_ms % 1000) * 1000 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "API socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(err, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_errno(err, "cannot connect to the API socket %s", path);
		close(fd);
		return -err->code;
	}
	return fd;
}

static int send_request(int fd, const char *method, const char *path, const char *body,
			struct ember_err *err)
{
	size_t blen = body ? strlen(body) : 0;
	char *req = NULL;
	int n = asprintf(&req,
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 method, path, blen, body ? body : "");
	int ret = 0;

	if (n < 0)
		return err_set(err, ENOMEM, "out of memory");
	for (size_t off = 0; off < (size_t)n && !ret;) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);

		if (w < 0 && errno != EINTR)
			ret = err_errno(err, "%s %s: send", method, path);
		else if (w > 0)
			off += (size_t)w;
	}
	free(req);
	return ret;
}

static int read_reply(int fd, struct parse *ps, const char *what, struct ember_err *err)
{
	http_parser_settings s = { .on_body = on_body, .on_message_complete = on_complete };
	http_parser p;
	char buf[4096];

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = ps;
	while (!ps->done) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return err_set(err, ETIMEDOUT, "%s: ember did not answer in time", what);
		if (n < 0)
			return err_errno(err, "%s: receive", what);
		if (http_parser_execute(&p, &s, buf, (size_t)n) != (size_t)n ||
		    (n == 0 && !ps->done))
			return err_set(err, EPROTO, "%s: %s", what,
				       ps->too_big ? "the answer is too large"
				       : n == 0    ? "ember closed the connection before answering"
						   : "the answer is not HTTP");
	}
	ps->reply->status = (int)p.status_code;
	return 0;
}

int api_client_call(const char *sock, const char *method, const char *path, const char *body,
		    unsigned timeout_ms, struct api_reply *reply, struct ember_err *err)
{
	struct parse ps = { .reply = reply };
	char what[128];
	int fd, ret;

	memset(reply, 0, sizeof(*reply));
	snprintf(what, sizeof(what), "%s %s", method, path);
	fd = connect_to(sock, timeout_ms, err);
	if (fd < 0)
		return fd;
	ret = send_request(fd, method, path, body, err);
	if (!ret)
		ret = read_reply(fd, &ps, what, err);
	close(fd);
	if (!ret && !reply->body)
		reply->body = strdup("");
	if (!ret && !reply->body)
		ret = err_set(err, ENOMEM, "out of memory");
	if (ret)
		api_reply_free(reply);
	return ret;
}

int api_client_expect(const char *sock, const char *method, const char *path, const char *body,
		      unsigned timeout_ms, struct ember_err *err)
{
	struct api_reply r;
	json_t *j;
	int ret = api_client_call(sock, method, path, body, timeout_ms, &r, err);

	if (ret < 0)
		return ret;
	if (r.status / 100 != 2) {
		const char *msg;

		j = json_loads(r.body, 0, NULL);
		msg = json_string_value(json_object_get(j, "fault_message"));
		if (!msg)
			msg = r.body_len ? r.body : "(no message)";
		ret = err_set(err, EIO, "%s %s: %d %s", method, path, r.status, msg);
		json_decref(j);
	}
	api_reply_free(&r);
	return ret;
}

void api_reply_free(struct api_reply *reply)
{
	free(reply->body);
	reply->body = NULL;
	reply->body_len = 0;
}
