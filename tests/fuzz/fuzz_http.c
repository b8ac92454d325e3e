// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the API's HTTP layer. The input is fed in pieces whose
 * sizes come from its first bytes, as a socket's reads would split it; every
 * request that comes out must respect the limits, and every error must
 * render as a response.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void check(const struct http_request *r, size_t body_max)
{
	assert(strlen(r->path) < HTTP_PATH_MAX);
	assert(r->body_len <= body_max);
	assert(!r->body || strlen(r->body) <= r->body_len);
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
	step = (size_t)data[0] % 64 + 1;
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		int ret = http_conn_feed(&c, (const char *)data + off, n);

		while (http_conn_next(&c, &r)) {
			check(&r, body_max);
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
