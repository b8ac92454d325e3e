/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 for the API socket, ember-fn's endpoint and MMDS: requests parsed by Debian's libhttp-parser
 * (behind this interface only, so it can be swapped for llhttp), with the
 * limits the parser lacks: header bytes (431), URL length (414), body size
 * from Content-Length before the body arrives (413), methods (405), and no
 * transfer encodings (400). Pipelined requests and requests split across
 * reads both work; a connection that hit an error answers it and closes.
 */
#ifndef EMBER_HTTP_H
#define EMBER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_BODY_MAX_DEFAULT 51200 /* Firecracker's --http-api-max-payload-size default */
#define HTTP_HEADERS_MAX      8192  /* request line and headers, bytes */
#define HTTP_PATH_MAX         1024
#define HTTP_QUEUE_MAX        16 /* parsed requests waiting to be served */

enum http_verb {
	HTTP_VERB_GET,
	HTTP_VERB_PUT,
	HTTP_VERB_PATCH,
	HTTP_VERB_POST,
	HTTP_VERB_DELETE,
	HTTP_VERB_OTHER /* with allow_any_method: HEAD, OPTIONS, ... (see method) */
};

struct http_request {
	enum http_verb verb;
	const char *method;       /* its name, as sent ("GET", "OPTIONS", ...) */
	char path[HTTP_PATH_MAX]; /* the request target, query included */
	char *headers;            /* keep_headers: "Name: value\r\n" lines as sent */
	size_t headers_len;
	char *body; /* NUL-terminated; NULL without a body */
	size_t body_len;
	bool keep_alive;
};

struct http_conn {
	void *parser; /* the library's state */
	size_t body_max;
	bool allow_post;       /* ember's API has no POST (405); ember-fn's endpoint has */
	bool allow_delete;     /* ember's API has DELETE (Firecracker's hot-unplug) */
	bool allow_any_method; /* ember-fn's HTTP functions take every method */
	bool keep_headers;     /* the request's headers kept, for a proxy */
	size_t header_bytes, path_len;
	bool in_value; /* keep_headers: the last header bytes were a value's */
	struct http_request cur;
	struct http_request queue[HTTP_QUEUE_MAX];
	unsigned q_head, q_len;
	int error_status; /* nonzero once the stream is broken: answer and close */
	char error_msg[160];
};

int http_conn_init(struct http_conn *c, size_t body_max);
void http_conn_free(struct http_conn *c);
/* Parse bytes read from the socket. 0, or -EPROTO once error_status is set
 * (every later call too). Also -EPROTO (status 503) when more than
 * HTTP_QUEUE_MAX requests wait: callers serve requests between reads. */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);
/* Take the oldest complete request (the caller frees it); false if none. */
bool http_conn_next(struct http_conn *c, struct http_request *out);
void http_request_free(struct http_request *r);
/* The value of the first header `name` (case-insensitive) of a request
 * parsed with keep_headers, blanks trimmed, in buf: its length, -ENOENT when
 * absent, -ENOSPC when n bytes or longer (buf then holds its first n - 1). */
int http_header_value(const struct http_request *r, const char *name, char *buf, size_t n);

const char *http_verb_name(enum http_verb v);
const char *http_reason(int status);
/* A response with an optional JSON body and extra header lines (each ending
 * "\r\n", or NULL), in a malloc'ed buffer. */
int http_response(char **out, size_t *len, int status, const char *json_body, bool keep_alive,
		  const char *headers);
/* {"fault_message": msg} as a malloc'ed string, JSON-escaped; NULL on ENOMEM. */
char *http_fault_body(const char *msg);

#endif
