// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the API from bytes on the socket to the VMM thread's
 * answer. The input is parsed as an HTTP stream, each request is routed and
 * served by a pre-boot instance, and every answer must be a status with a
 * JSON body (or none). Operations that reach outside the process are routed
 * but not served: InstanceStart (KVM), PUT /logger and PUT /metrics (they
 * create files named by the input).
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"

static bool served_here(const struct http_request *r)
{
	struct api_call c;
	struct ember_err err;

	if (api_route(r, &c, &err) < 0)
		return true; /* the instance answers routing errors itself */
	return c.op != API_PUT_ACTIONS && c.op != API_PUT_LOGGER && c.op != API_PUT_METRICS;
}

static void serve(struct instance *in, const struct http_request *r)
{
	struct api_reply reply = { 0 };
	json_t *o;

	if (!served_here(r))
		return;
	instance_api(in, r, &reply);
	assert(reply.status == 200 || reply.status == 204 || reply.status == 400);
	assert((reply.status == 204) == (reply.body == NULL));
	if (reply.body) {
		o = json_loads(reply.body, 0, NULL);
		assert(o);
		assert(reply.status != 400 || json_is_string(json_object_get(o, "fault_message")));
		json_decref(o);
	}
	free(reply.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };
	struct instance in;
	struct http_conn c;
	struct http_request r;

	log_set_level(LOG_OFF);
	if (http_conn_init(&c, 4096) < 0)
		return 0;
	instance_init(&in, "fuzz", "0", &opts);
	http_conn_feed(&c, (const char *)data, size);
	while (http_conn_next(&c, &r)) {
		serve(&in, &r);
		http_request_free(&r);
	}
	http_conn_free(&c);
	instance_free(&in);
	return 0;
}
