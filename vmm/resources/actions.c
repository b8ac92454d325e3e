// SPDX-License-Identifier: Apache-2.0
/* PUT /actions: InstanceStart (before boot, once), FlushMetrics and
 * SendCtrlAltDel (after). */
#include <errno.h>

#include "instance.h"
#include "log.h"
#include "resource.h"

enum action { ACTION_FLUSH_METRICS, ACTION_INSTANCE_START, ACTION_SEND_CTRL_ALT_DEL };

static const char *const actions[] = { "FlushMetrics", "InstanceStart", "SendCtrlAltDel", NULL };

static const struct field fields[] = {
	{ .name = "action_type", .type = FT_ENUM, .flags = F_REQUIRED, .variants = actions },
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, fields, "struct ActionBody", 0, err);
}

static int only(struct instance *in, bool started, struct ember_err *err)
{
	bool is = in->state != INSTANCE_NOT_STARTED;

	if (is == started)
		return 0;
	return err_set(err, EPERM,
		       "The requested operation is not supported %s starting the microVM.",
		       is ? "after" : "before");
}

static int start(struct instance *in, struct ember_err *err)
{
	int ret = only(in, false, err);

	if (!ret)
		ret = instance_start(in, err);
	if (!ret)
		log_info("InstanceStart: the microVM was built in %llu us",
			 (unsigned long long)in->start_us);
	return ret;
}

/* Without a metrics sink Firecracker's flush writes nothing, and succeeds. */
static int flush(struct instance *in, struct ember_err *err)
{
	int ret = only(in, true, err);

	if (ret || !metrics_enabled(&in->metrics))
		return ret;
	return instance_flush_metrics(in, err);
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	switch (body_enum(c->body.value, "action_type", actions, -1)) {
	case ACTION_INSTANCE_START: return start(in, err);
	case ACTION_FLUSH_METRICS: return flush(in, err);
	default:
		if (only(in, true, err) < 0)
			return -EPERM;
		if (i8042_send_ctrl_alt_del(&in->vm->i8042) < 0)
			return err_set(err, EBUSY, "SendCtrlAltDel: the keyboard buffer is full");
		return 0;
	}
}

const struct res_def res_actions = {
	.path = "actions",
	.metric = "actions",
	.ops = { [RES_PUT] = { RES_PRE | RES_POST, false, parse, apply } },
};
