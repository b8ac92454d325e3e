// SPDX-License-Identifier: Apache-2.0
/* HTTP/1.1 requests through libhttp-parser, with ember's limits (http.h). */
#include "http.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct http_conn *conn_of(http_parser *p)
{
	return p->data;
}

/* Break the stream: the parser stops at once (a callback's nonzero return). */
static int fail(struct http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct http_conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (!c->error_status) {
		c->error_status = status;
		va_start(ap, fmt);
		vsnprintf(c->error_msg, sizeof(c->error_msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int count_header(struct http_conn *c, size_t len)
{
	c->header_bytes += len;
	if (c->header_bytes > HTTP_HEADERS_MAX)
		return fail(c, 431, "request headers larger than %d bytes", HTTP_HEADERS_MAX);
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	http_request_free(&c->cur);
	memset(&c->cur, 0, sizeof(c->cur));
	c->header_bytes = c->path_len = 0;
	c->in_value = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	if (c->path_len + len >= HTTP_PATH_MAX)
		return fail(c, 414, "request target longer than %d bytes", HTTP_PATH_MAX - 1);
	memcpy(c->cur.path + c->path_len, at, len);
	c->path_len += len;
	c->cur.path[c->path_len] = '\0';
	return count_header(c, len);
}

/* Each header byte counts at most 4 kept bytes (": " and CRLF per "a:"). */
#define KEPT_MAX (4 * HTTP_HEADERS_MAX)

static int keep(struct http_conn *c, const char *sep, const char *at, size_t len)
{
	struct http_request *r = &c->cur;
	size_t n = strlen(sep);

	if (!r->headers && !(r->headers = malloc(KEPT_MAX)))
		return fail(c, 500, "out of memory");
	if (r->headers_len + n + len > KEPT_MAX)
		return fail(c, 431, "request headers larger than %d bytes", HTTP_HEADERS_MAX);
	memcpy(r->headers + r->headers_len, sep, n);
	memcpy(r->headers + r->headers_len + n, at, len);
	r->headers_len += n + len;
	return 0;
}

/* A field's or a value's bytes (the parser may split either); kept as
 * "Name: value\r\n" lines with keep_headers. */
static int header_part(http_parser *p, const char *at, size_t len, bool value)
{
	struct http_conn *c = conn_of(p);
	const char *sep = value ? (c->in_value ? "" : ": ") : (c->in_value ? "\r\n" : "");

	c->in_value = value;
	if (count_header(c, len) < 0)
		return -1;
	return c->keep_headers ? keep(c, sep, at, len) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	return header_part(p, at, len, false);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	return header_part(p, at, len, true);
}

static int pick_verb(struct http_conn *c, unsigned method)
{
	bool any = c->allow_any_method;

	c->cur.method = http_method_str((enum http_method)method);
	switch (method) {
	case HTTP_GET: c->cur.verb = HTTP_VERB_GET; return 0;
	case HTTP_PUT: c->cur.verb = HTTP_VERB_PUT; return 0;
	case HTTP_PATCH: c->cur.verb = HTTP_VERB_PATCH; return 0;
	case HTTP_POST:
		if (!c->allow_post && !any)
			break;
		c->cur.verb = HTTP_VERB_POST;
		return 0;
	case HTTP_DELETE:
		if (!c->allow_delete && !any)
			break;
		c->cur.verb = HTTP_VERB_DELETE;
		return 0;
	default:
		c->cur.verb = HTTP_VERB_OTHER;
		if (any)
			return 0;
		break;
	}
	return fail(c, 405, "method %s is not supported", c->cur.method);
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	if (pick_verb(c, p->method) < 0)
		return -1;
	if (c->keep_headers && c->in_value && keep(c, "\r\n", "", 0) < 0)
		return -1;
	c->in_value = false;
	if (p->uses_transfer_encoding || (p->flags & F_CHUNKED))
		return fail(c, 400, "transfer encodings are not supported: send Content-Length");
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->body_max)
		return fail(c, 413, "request body of %llu bytes is over the limit of %zu",
			    (unsigned long long)p->content_length, c->body_max);
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		c->cur.body = malloc(p->content_length + 1);
		if (!c->cur.body)
			return fail(c, 500, "out of memory");
		c->cur.body[0] = '\0';
	}
	c->cur.keep_alive = http_should_keep_alive(p) != 0;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);

	if (!c->cur.body || c->cur.body_len + len > c->body_max)
		return fail(c, 400, "request body does not match its Content-Length");
	memcpy(c->cur.body + c->cur.body_len, at, len);
	c->cur.body_len += len;
	c->cur.body[c->cur.body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	if (c->q_len == HTTP_QUEUE_MAX)
		return fail(c, 503, "more than %d pipelined requests", HTTP_QUEUE_MAX);
	c->cur.keep_alive = http_should_keep_alive(p) != 0;
	c->queue[(c->q_head + c->q_len++) % HTTP_QUEUE_MAX] = c->cur;
	memset(&c->cur, 0, sizeof(c->cur));
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

int http_conn_init(struct http_conn *c, size_t body_max)
{
	http_parser *p = calloc(1, sizeof(*p));

	memset(c, 0, sizeof(*c));
	if (!p)
		return -ENOMEM;
	http_parser_init(p, HTTP_REQUEST);
	p->data = c;
	c->parser = p;
	c->body_max = body_max;
	return 0;
}

void http_conn_free(struct http_conn *c)
{
	struct http_request r;

	while (http_conn_next(c, &r))
		http_request_free(&r);
	http_request_free(&c->cur);
	free(c->parser);
	c->parser = NULL;
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
	http_parser *p = c->parser;
	size_t done;

	if (c->error_status)
		return -EPROTO;
	done = http_parser_execute(p, &settings, data, len);
	if (!c->error_status && (HTTP_PARSER_ERRNO(p) != HPE_OK || done != len))
		fail(c, 400, "malformed HTTP request: %s",
		     http_errno_description(HTTP_PARSER_ERRNO(p)));
	return c->error_status ? -EPROTO : 0;
}

bool http_conn_next(struct http_conn *c, struct http_request *out)
{
	if (!c->q_len)
		return false;
	*out = c->queue[c->q_head];
	c->q_head = (c->q_head + 1) % HTTP_QUEUE_MAX;
	c->q_len--;
	return true;
}

void http_request_free(struct http_request *r)
{
	free(r->body);
	free(r->headers);
	r->body = r->headers = NULL;
	r->body_len = r->headers_len = 0;
}

int http_header_value(const struct http_request *r, const char *name, char *buf, size_t n)
{
	size_t nlen = strlen(name), vlen;
	const char *end;

	if (!r->headers)
		return -ENOENT;
	end = r->headers + r->headers_len;
	for (const char *p = r->headers; p < end;) {
		const char *eol = memchr(p, '\r', (size_t)(end - p)), *v = p + nlen + 1;

		eol = eol ? eol : end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' && !strncasecmp(p, name, nlen)) {
			v += strspn(v, " \t");
			for (vlen = (size_t)(eol - v);
			     vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t');)
				vlen--;
			if (!n)
				return -ENOSPC;
			memcpy(buf, v, vlen < n ? vlen : n - 1);
			buf[vlen < n ? vlen : n - 1] = '\0';
			return vlen < n ? (int)vlen : -ENOSPC;
		}
		p = eol < end ? eol + 2 : end;
	}
	return -ENOENT;
}

const char *http_verb_name(enum http_verb v)
{
	static const char *const names[] = { "GET", "PUT", "PATCH", "POST", "DELETE" };

	return (unsigned)v < 5 ? names[v] : "?";
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

int http_response(char **out, size_t *len, int status, const char *json_body, bool keep_alive,
		  const char *headers)
{
	size_t body_len = json_body ? strlen(json_body) : 0;
	int n;

	n = asprintf(out, "HTTP/1.1 %d %s\r\nServer: ember\r\nContent-Length: %zu\r\n%s%s%s\r\n%s",
		     status, http_reason(status), body_len,
		     json_body ? "Content-Type: application/json\r\n" : "",
		     keep_alive ? "" : "Connection: close\r\n", headers ? headers : "",
		     json_body ? json_body : "");
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	*len = (size_t)n;
	return 0;
}

/* A message quoting the request (its path, a body) may hold bytes that are
 * not UTF-8, which JSON cannot carry: those become '?'. */
static json_t *message_string(const char *msg)
{
	json_t *s = json_string(msg);
	char *copy;

	if (s || !msg)
		return s;
	copy = strdup(msg);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	s = json_string(copy);
	free(copy);
	return s;
}

char *http_fault_body(const char *msg)
{
	json_t *o = json_pack("{s:o}", "fault_message", message_string(msg));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}
