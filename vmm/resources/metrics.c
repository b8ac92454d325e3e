// SPDX-License-Identifier: Apache-2.0
/* PUT /metrics: the metrics sink, once per process (Firecracker's
 * MetricsConfig: metrics_path, emit_id, properties of string values). */
#include <errno.h>
#include <stdlib.h>

#include "instance.h"
#include "resource.h"

static const struct field fields[] = {
	{ .name = "metrics_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "emit_id", .type = FT_BOOL },
	{ .name = "properties", .type = FT_OBJECT, .flags = F_NULLABLE | F_OPEN, .sub = NULL },
	{ 0 },
};

/* properties: a map of strings. No deny_unknown_fields in Firecracker. */
static int parse(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, fields, "struct MetricsConfig", F_OPEN, err);
	json_t *p = json_object_get(c->body.value, "properties"), *v;
	const char *k;

	json_object_foreach(p, k, v)
	{
		if (!ret && !json_is_string(v)) {
			struct body sub;

			body_enter(&sub, &c->body, "properties", 0);
			ret = body_error(&sub, k, err, "invalid type: expected a string");
		}
	}
	return ret;
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value, *p = json_object_get(o, "properties");
	struct instance_metrics_cfg m = { .set = true, .emit_id = body_bool(o, "emit_id", false) };
	int ret = body_dup(body_str(o, "metrics_path"), &m.metrics_path, err);

	if (!ret && json_is_object(p) &&
	    !(m.properties = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS)))
		ret = err_set(err, ENOMEM, "out of memory");
	if (!ret && (ret = instance_set_metrics(in, &m, err)) < 0)
		err_prefix(err, "Metrics error: Cannot initialize the metrics system due to bad "
				"user input");
	if (ret) {
		free(m.metrics_path);
		free(m.properties);
		return ret;
	}
	in->metrics_cfg = m;
	return 0;
}

const struct res_def res_metrics = {
	.path = "metrics",
	.metric = "metrics",
	.ops = { [RES_PUT] = { RES_PRE, false, parse, apply } },
	.key = "metrics",
	.process = true,
	.dump = res_dump_null, /* as Firecracker: never shown */
};
