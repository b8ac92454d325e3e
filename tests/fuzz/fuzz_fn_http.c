// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: what an HTTP function's server answers, parsed by
 * ember-fn (fn/http_fn.c). The server is the guest's: anything at all may
 * come back. Fed in pieces sized by the first bytes, then the end of the
 * stream; a whole answer must respect the caps, and its headers must
 * filter into no more room than they take.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fn.h"

static void check(const struct fn_http_resp *r)
{
	char *copy = malloc(r->head_len + 1);

	assert(r->status >= 200 && r->status <= 599); /* 1xx: the answer follows */
	assert(r->head_len <= FN_HTTP_HEAD_MAX && r->body_len <= FN_HTTP_BODY_MAX);
	assert(!r->head || strlen(r->head) <= r->head_len);
	assert(copy);
	assert(fn_http_copy_headers(copy, r->head ? r->head : "", r->head_len, true) <=
	       r->head_len);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fn_http_resp r;
	size_t off = 2, step;
	int ret = 0;

	if (size < 2 || fn_http_resp_init(&r, data[0] & 0x80) < 0)
		return 0;
	step = (size_t)data[0] % 64 + 1;
	while (off < size && ret == 0) {
		size_t n = size - off < step ? size - off : step;

		ret = fn_http_resp_feed(&r, (const char *)data + off, n);
		off += n;
		step = (size_t)data[1] % 64 + 1;
	}
	if (ret == 0)
		ret = fn_http_resp_feed(&r, NULL, 0);
	assert(ret == 1 || ret == -EPROTO || ret == -EPIPE);
	assert(ret == 1 ? r.complete : r.error[0] != '\0');
	if (ret == 1)
		check(&r);
	fn_http_resp_free(&r);
	return 0;
}
