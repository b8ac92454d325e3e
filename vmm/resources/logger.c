// SPDX-License-Identifier: Apache-2.0
/* PUT /logger: where log lines go and which (Firecracker's LoggerConfig).
 * The process's, not the VM's: never dumped, never in a snapshot. */
#include <errno.h>
#include <stdlib.h>

#include "instance.h"
#include "resource.h"

static const struct field fields[] = {
	{ .name = "log_path", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "level", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "show_level", .type = FT_BOOL, .flags = F_NULLABLE },
	{ .name = "show_log_origin", .type = FT_BOOL, .flags = F_NULLABLE },
	{ .name = "module", .type = FT_STRING, .flags = F_NULLABLE },
	{ 0 },
};

/* Levels are taken in any case ("warning", "WARN" is not one). */
static int parse(struct res_call *c, struct ember_err *err)
{
	enum log_level l;
	int ret = body_check(&c->body, fields, "struct LoggerConfig", 0, err);
	const char *s = body_str(c->body.value, "level");

	if (!ret && s && log_parse_level(s, &l) < 0)
		ret = body_error(&c->body, "level", err,
				 "unknown variant `%s`, expected one of `Off`, `Trace`, `Debug`, "
				 "`Info`, `Warning`, `Error`",
				 s);
	return ret;
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct instance_logger l = in->logger;
	char *path = NULL;
	int ret;

	if (body_has(o, "level"))
		log_parse_level(body_str(o, "level"), &l.opts.level);
	l.opts.show_level = body_bool(o, "show_level", l.opts.show_level);
	l.opts.show_origin = body_bool(o, "show_log_origin", l.opts.show_origin);
	if (body_dup(body_str(o, "log_path"), &path, err))
		return -err->code;
	l.log_path = path ? path : l.log_path;
	ret = instance_apply_logger(in, &l, err);
	if (ret) {
		free(path);
		return err_prefix(err, "Logger error");
	}
	if (path)
		free(in->logger.log_path);
	l.set = true;
	in->logger = l;
	return 0;
}

const struct res_def res_logger = {
	.path = "logger",
	.metric = "logger",
	.ops = { [RES_PUT] = { RES_PRE, false, parse, apply } },
	.key = "logger",
	.process = true,
	.dump = res_dump_null, /* as Firecracker: never shown */
};
