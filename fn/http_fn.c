// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP functions, host side: the request a client sent to serve, rebuilt
 * for the function's server (hop-by-hop headers dropped, the body with a
 * Content-Length, Connection: close), and the server's answer parsed back
 * by libhttp-parser in response mode with ember-fn's limits.
 */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fn.h"

/* RFC 9110 §7.6.1's connection-specific fields, and the framing we redo. */
static bool hop_by_hop(const char *name, size_t len)
{
	static const char *const names[] = {
		"connection", "keep-alive",          "proxy-connection",  "te",
		"trailer",    "transfer-encoding",   "upgrade",           "content-length",
		"expect",     "proxy-authorization", "proxy-authenticate"
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncasecmp(names[i], name, len))
			return true;
	return false;
}

size_t fn_http_copy_headers(char *out, const char *lines, size_t len, bool keep_length)
{
	size_t n = 0;

	for (const char *p = lines, *end = lines + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t line = (size_t)((eol ? eol + 1 : end) - p);
		bool length =
		    colon && (size_t)(colon - p) == 14 && !strncasecmp(p, "content-length", 14);

		if (colon && colon < p + line &&
		    (!hop_by_hop(p, (size_t)(colon - p)) || (length && keep_length))) {
			memcpy(out + n, p, line);
			n += line;
		}
		p += line;
	}
	return n;
}

static bool has_header(const char *lines, size_t len, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = lines, *end = lines + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) > nlen && p[nlen] == ':' && !strncasecmp(p, name, nlen))
			return true;
		p = eol ? eol + 1 : end;
	}
	return false;
}

int fn_http_build(const struct fn_http_req *r, char **out, size_t *len, struct ember_err *err)
{
	size_t cap = strlen(r->method) + strlen(r->target) + r->headers_len + r->body_len + 128;
	char *buf = malloc(cap);
	int n;

	if (!buf)
		return err_set(err, ENOMEM, "out of memory");
	n = snprintf(buf, cap, "%s %s HTTP/1.1\r\n%s", r->method, r->target,
		     has_header(r->headers, r->headers_len, "host") ? "" : "Host: localhost\r\n");
	n += (int)fn_http_copy_headers(buf + n, r->headers, r->headers_len, false);
	n += snprintf(buf + n, cap - (size_t)n, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		      r->body_len);
	if (r->body_len)
		memcpy(buf + n, r->body, r->body_len);
	*out = buf;
	*len = (size_t)n + r->body_len;
	return 0;
}

/* The answer, piece by piece from the parser's callbacks. */

static struct fn_http_resp *resp_of(http_parser *p)
{
	return p->data;
}

static int grow(struct fn_http_resp *r, char **buf, size_t *used, size_t *cap, size_t max,
		const char *at, size_t len, const char *what)
{
	if (*used + len > max) {
		snprintf(r->error, sizeof(r->error), "the function's %s is over %zu bytes", what,
			 max);
		return -1;
	}
	if (*used + len + 1 > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		char *p;

		while (ncap < *used + len + 1)
			ncap *= 2;
		p = realloc(*buf, ncap);
		if (!p) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			return -1;
		}
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *used, at, len);
	*used += len;
	(*buf)[*used] = '\0';
	return 0;
}

static int add_head(struct fn_http_resp *r, const char *at, size_t len)
{
	return grow(r, &r->head, &r->head_len, &r->head_cap, FN_HTTP_HEAD_MAX, at, len,
		    "response header");
}

static int on_begin(http_parser *p)
{
	struct fn_http_resp *r = resp_of(p);

	r->head_len = r->body_len = 0; /* after a 100 Continue */
	if (r->head)
		r->head[0] = '\0';
	if (r->body)
		r->body[0] = '\0';
	r->reason[0] = '\0';
	r->in_value = false;
	return 0;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
	struct fn_http_resp *r = resp_of(p);
	size_t have = strlen(r->reason);

	if (have + len < sizeof(r->reason)) {
		memcpy(r->reason + have, at, len);
		r->reason[have + len] = '\0';
	}
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct fn_http_resp *r = resp_of(p);
	int ret = r->in_value ? add_head(r, "\r\n", 2) : 0;

	r->in_value = false;
	return ret ? ret : add_head(r, at, len);
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct fn_http_resp *r = resp_of(p);
	int ret = r->in_value ? 0 : add_head(r, ": ", 2);

	r->in_value = true;
	return ret ? ret : add_head(r, at, len);
}

static int on_headers_done(http_parser *p)
{
	struct fn_http_resp *r = resp_of(p);

	if (r->in_value && add_head(r, "\r\n", 2) < 0)
		return -1;
	r->in_value = false;
	r->status = (int)p->status_code;
	if (r->status < 100 || r->status > 599) {
		snprintf(r->error, sizeof(r->error), "the function answered status %d", r->status);
		return -1;
	}
	/* 1 tells the parser there is no body: the answer to a HEAD */
	return r->head_request ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct fn_http_resp *r = resp_of(p);

	return grow(r, &r->body, &r->body_len, &r->body_cap, FN_HTTP_BODY_MAX, at, len,
		    "response body");
}

static int on_complete(http_parser *p)
{
	struct fn_http_resp *r = resp_of(p);

	if (p->status_code >= 100 && p->status_code < 200)
		return 0; /* 100 Continue and the like: the answer follows */
	r->complete = true;
	http_parser_pause(p, 1); /* nothing after the answer counts */
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_message_begin = on_begin,
	.on_status = on_status,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers_done,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

int fn_http_resp_init(struct fn_http_resp *r, bool head_request)
{
	http_parser *p = calloc(1, sizeof(*p));

	memset(r, 0, sizeof(*r));
	if (!p)
		return -ENOMEM;
	http_parser_init(p, HTTP_RESPONSE);
	p->data = r;
	r->parser = p;
	r->head_request = head_request;
	return 0;
}

int fn_http_resp_feed(struct fn_http_resp *r, const char *data, size_t len)
{
	http_parser *p = r->parser;

	if (r->complete)
		return 1;
	if (r->error[0])
		return -EPROTO;
	http_parser_execute(p, &resp_settings, data, len);
	if (r->complete)
		return 1;
	if (!len) { /* the end of the stream, which ends a body without a length */
		snprintf(r->error, sizeof(r->error),
			 "the function's server closed the connection before a complete answer");
		return -EPIPE;
	}
	if (!r->error[0] && HTTP_PARSER_ERRNO(p) != HPE_OK)
		snprintf(r->error, sizeof(r->error), "the function's answer is not HTTP: %s",
			 http_errno_description(HTTP_PARSER_ERRNO(p)));
	return r->error[0] ? -EPROTO : 0;
}

void fn_http_resp_free(struct fn_http_resp *r)
{
	free(r->parser);
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Write the request (a server may answer before reading all of it), then
 * read until the answer is whole, the stream ends or SO_RCVTIMEO fires. */
int fn_http_exchange(int fd, const char *req, size_t req_len, struct fn_http_resp *r,
		     struct ember_err *err)
{
	char buf[65536];
	int ret = 0;

	for (size_t off = 0; off < req_len;) {
		ssize_t n = send(fd, req + off, req_len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the answer, if any, says why */
		off += (size_t)n;
	}
	while (ret == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_set(err, ETIMEDOUT,
				       "the function's server gave no answer within "
				       "the time allowed");
		if (n < 0 && errno != ECONNRESET)
			return err_errno(err, "reading the function's answer");
		ret = fn_http_resp_feed(r, buf, n > 0 ? (size_t)n : 0);
	}
	if (ret < 0)
		return err_set(err, ret == -EPIPE ? EPIPE : EPROTO, "%s", r->error);
	return 0;
}
