// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the API's HTTP layer. The input is fed in pieces whose
 * sizes come from its first bytes, as a socket's reads would split it; every
 * request that comes out must respect the limits, and every error must
 * render as a response. The first byte's top bit picks ember-fn serve's
 * settings: any method, the headers kept (and filtered as a proxy does).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn.h"
#include "http.h"

static void check_headers(const struct http_request *r)
{
	char *copy = malloc(r->headers_len + 1);

	assert(r->headers_len <= 4 * HTTP_HEADERS_MAX);
	assert(copy &&
	       fn_http_copy_headers(copy, r->headers, r->headers_len, false) <= r->headers_len);
	free(copy);
}

static void check(const struct http_conn *c, const struct http_request *r, size_t body_max)
{
	assert(strlen(r->path) < HTTP_PATH_MAX);
	assert(r->body_len <= body_max);
	assert(!r->body || strlen(r->body) <= r->body_len);
	assert(r->method && *r->method);
	if (c->keep_headers) {
		check_headers(r);
		return;
	}
	assert(!r->headers);
	assert(r->verb == HTTP_VERB_GET || r->verb == HTTP_VERB_PUT || r->verb == HTTP_VERB_PATCH);
}

static void answer_error(const struct http_conn *c)
{
	char *body = http_fault_body(c->error_msg), *out = NULL;
	size_t len = 0;

	assert(c->error_status >= 400 && c->error_status < 600);
	assert(body && http_response(&out, &len, c->error_status, body, false, NULL) == 0);
	assert(len == strlen(out));
	free(out);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_conn c;
	struct http_request r;
	size_t body_max = 256, off = 2, step;

	if (size < 2 || http_conn_init(&c, body_max) < 0)
		return 0;
	c.allow_any_method = c.keep_headers = data[0] & 0x80;
	step = (size_t)data[0] % 64 + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		int ret = http_conn_feed(&c, (const char *)data + off, n);

		while (http_conn_next(&c, &r)) {
			check(&c, &r, body_max);
			http_request_free(&r);
		}
		if (ret < 0) {
			answer_error(&c);
			break;
		}
		off += n;
		step = (size_t)data[1] % 64 + 1;
	}
	http_conn_free(&c);
	return 0;
}
