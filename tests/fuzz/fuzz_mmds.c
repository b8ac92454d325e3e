// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: what the guest will ask MMDS for. The input is a JSON
 * document (the store, as an operator's PUT could make it), a NUL, then a
 * path (the guest's request line), looked up in both formats; a second NUL
 * starts a merge patch applied first (and is the request's headers). Whatever
 * they hold, the lookup ends with a body or a clean error, the store stays
 * within its limit, and GET or PUT of the path has a status and a body. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2), *path, *patch_text;
	struct mmds_store st;
	struct ember_err err;
	json_t *doc, *patch = NULL;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	path = buf + strlen(buf) + (strlen(buf) < size);
	patch_text = path + strlen(path) + 1;
	mmds_store_init(&st, 4096);
	doc = json_loads(buf, JSON_DECODE_ANY, NULL);
	if (doc && mmds_put(&st, doc, &err) == 0 && patch_text < buf + size + 1)
		patch = json_loads(patch_text, JSON_DECODE_ANY, NULL);
	if (patch && mmds_patch(&st, patch, &err) == 0 && mmds_json_size(st.data) > st.limit)
		abort(); /* a patch took the store past its limit */
	for (int json = 0; json < 2; json++) {
		int e = 0;
		char *out = mmds_lookup(&st, path, json, &e);

		if (!out && e != ENOENT && e != EPROTO && e != ENOMEM)
			abort();
		free(out);
	}
	for (int m = 0; m < 2; m++) { /* the same bytes as a guest's request */
		static struct mmds_guest g;
		struct mmds_request r = { .method = m ? "GET" : "PUT",
					  .path = path,
					  .ttl = patch_text,
					  .token = patch_text,
					  .accept = patch_text };
		struct mmds_response out;

		mmds_guest_init(&g, buf[0] & 1, buf[0] & 2);
		if (mmds_guest_serve(&g, &st, &r, 1000, &out) == 0 &&
		    (out.status < 200 || out.status > 501 || !out.body))
			abort();
		free(out.body);
	}
	json_decref(patch);
	mmds_store_free(&st);
	free(buf);
	return 0;
}
