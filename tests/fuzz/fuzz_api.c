// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the API from bytes on the socket to the VMM thread's
 * answer. The input is parsed as an HTTP stream, each request is routed and
 * served by a pre-boot instance, and every answer must be a status with a
 * JSON body (or none). Operations that reach outside the process are routed
 * but not served: /actions (InstanceStart needs KVM), /logger and /metrics
 * (they create files named by the input) and /snapshot/load (it reads one,
 * /dev/stdin as well).
 */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "routes.h"

static bool served_here(const struct http_request *r)
{
	struct ember_err err;
	char id[INSTANCE_ID_MAX];
	struct res_call c;

	if (api_route(r, &c, id, sizeof(id), &err) < 0)
		return true; /* the router answers its own errors */
	return c.res != &res_actions && c.res != &res_logger && c.res != &res_metrics &&
	       c.res != &res_snapshot_load;
}

static void serve(struct instance *in, const struct http_request *r)
{
	struct api_reply reply = { 0 };
	json_t *o;

	if (!served_here(r))
		return;
	api_routes_handle(in, r, &reply);
	assert(reply.status == 200 || reply.status == 204 || reply.status == 400 ||
	       reply.status == 413);
	assert((reply.status == 204) == (reply.body == NULL));
	if (reply.body) {
		o = json_loads(reply.body, JSON_DECODE_ANY, NULL); /* GET /mmds: any value */
		assert(o);
		assert(reply.status < 400 || json_is_string(json_object_get(o, "fault_message")));
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
	c.allow_delete = true; /* as the API server's connections */
	if (instance_init(&in, "fuzz", "0", &opts) < 0)
		return 0;
	http_conn_feed(&c, (const char *)data, size);
	while (http_conn_next(&c, &r)) {
		serve(&in, &r);
		http_request_free(&r);
	}
	http_conn_free(&c);
	instance_free(&in);
	return 0;
}
