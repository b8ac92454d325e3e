// SPDX-License-Identifier: Apache-2.0
/*
 * PUT /serial: where the guest's console (COM1) goes and how fast
 * (Firecracker's SerialConfig: serial_out_path, a file or named pipe opened
 * at start; rate_limiter, one token bucket of bytes, output beyond it
 * dropped and counted as uart.rate_limiter_dropped_bytes). Firecracker
 * neither dumps it nor reads it from a config file; ember also takes a
 * "serial" section there.
 */
#include <stdlib.h>

#include "instance.h"
#include "resource.h"

static const struct field fields[] = {
	{ .name = "serial_out_path", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "rate_limiter",
	  .type = FT_OBJECT,
	  .flags = F_NULLABLE,
	  .sub = res_bucket_fields,
	  .what = "struct TokenBucketConfig" },
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, fields, "struct SerialConfig", 0, err);
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	char *path;

	(void)in;
	if (body_dup(body_str(c->body.value, "serial_out_path"), &path, err))
		return -err->code;
	free(c->cfg->serial.out_path);
	c->cfg->serial.out_path = path;
	res_get_bucket(json_object_get(c->body.value, "rate_limiter"), &c->cfg->serial.output);
	return 0;
}

const struct res_def res_serial = {
	.path = "serial",
	.metric = "serial",
	.ops = { [RES_PUT] = { RES_PRE, false, parse, apply } },
	.key = "serial",
};
