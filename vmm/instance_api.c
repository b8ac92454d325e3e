// SPDX-License-Identifier: Apache-2.0
/* The API's operations, carried out on the VMM thread. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "boottimer.h"
#include "instance.h"
#include "log.h"

typedef int (*op_fn)(struct instance *in, const struct api_call *c, struct api_reply *r,
		     struct ember_err *err);

static const char *state_name(enum instance_state s)
{
	return s == INSTANCE_RUNNING ? "Running" : s == INSTANCE_PAUSED ? "Paused" : "Not started";
}

/* 200 with a JSON body; takes the reference. */
static int reply_json(struct api_reply *r, json_t *body, struct ember_err *err)
{
	r->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (!r->body)
		return err_set(err, ENOMEM, "out of memory");
	r->status = 200;
	return 0;
}

static int get_info(struct instance *in, const struct api_call *c, struct api_reply *r,
		    struct ember_err *err)
{
	json_t *info = json_pack("{ssssssss}", "id", in->id, "state", state_name(in->state),
				 "vmm_version", in->version, "app_name", "ember");

	(void)c;
	/* Beyond Firecracker's fields: how long the snapshot load took. */
	if (info && in->load_snapshot_us)
		json_object_set_new(
		    info, "latencies_us",
		    json_pack("{sI}", "load_snapshot", (json_int_t)in->load_snapshot_us));
	return reply_json(r, info, err);
}

static int get_version(struct instance *in, const struct api_call *c, struct api_reply *r,
		       struct ember_err *err)
{
	(void)c;
	return reply_json(r,
			  json_pack("{ssss}", "firecracker_version", INSTANCE_API_VERSION,
				    "ember_version", in->version),
			  err);
}

static int get_vm_config(struct instance *in, const struct api_call *c, struct api_reply *r,
			 struct ember_err *err)
{
	(void)c;
	r->body = config_dump(&in->cfg);
	r->status = 200;
	return r->body ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int get_machine(struct instance *in, const struct api_call *c, struct api_reply *r,
		       struct ember_err *err)
{
	char *all = config_dump(&in->cfg);
	json_t *o = all ? json_loads(all, 0, NULL) : NULL;

	(void)c;
	free(all);
	if (!o)
		return err_set(err, ENOMEM, "out of memory");
	reply_json(r, json_incref(json_object_get(o, "machine-config")), err);
	json_decref(o);
	return r->body ? 0 : -ENOMEM;
}

/* {"key": "One"|"Two"...} with no other member: the index of the choice. */
static int parse_enum(const char *body, const char *what, const char *key,
		      const char *const *choices, struct ember_err *err)
{
	json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	json_t *v = o ? json_object_get(o, key) : NULL;
	int found = -1;

	if (!json_is_object(o) || json_object_size(o) != 1 || !json_is_string(v)) {
		json_decref(o);
		return err_set(err, EINVAL, "%s: the body must be {\"%s\": \"...\"}", what, key);
	}
	for (int i = 0; choices[i] && found < 0; i++)
		if (!strcmp(json_string_value(v), choices[i]))
			found = i;
	if (found < 0)
		err_set(err, EINVAL, "%s: unknown %s \"%s\"", what, key, json_string_value(v));
	json_decref(o);
	return found < 0 ? -EINVAL : found;
}

/* Firecracker's messages for an operation in the wrong state. */
static int only_when(struct instance *in, bool started, struct ember_err *err)
{
	bool is = in->state != INSTANCE_NOT_STARTED;

	if (is == started)
		return 0;
	return err_set(err, EPERM,
		       "The requested operation is not supported %s starting the microVM.",
		       is ? "after" : "before");
}

static int action_start(struct instance *in, struct ember_err *err)
{
	int ret = only_when(in, false, err);

	if (!ret)
		ret = instance_start(in, err);
	if (!ret)
		log_info("InstanceStart: the microVM was built in %llu us",
			 (unsigned long long)in->start_us);
	return ret;
}

static int put_actions(struct instance *in, const struct api_call *c, struct api_reply *r,
		       struct ember_err *err)
{
	static const char *const actions[] = { "InstanceStart", "FlushMetrics", "SendCtrlAltDel",
					       NULL };
	int a = parse_enum(c->body, "actions", "action_type", actions, err);

	(void)r;
	if (a == 0)
		return action_start(in, err);
	if (a > 0 && only_when(in, true, err) < 0)
		return -EPERM;
	if (a == 1)
		return instance_flush_metrics(in, err);
	if (a == 2 && i8042_send_ctrl_alt_del(&in->vm->i8042) < 0)
		return err_set(err, EBUSY, "SendCtrlAltDel: the keyboard buffer is full");
	return a < 0 ? a : 0;
}

static enum config_resource resource_of(enum api_op op)
{
	switch (op) {
	case API_PUT_BOOT_SOURCE: return CONFIG_BOOT_SOURCE;
	case API_PUT_MACHINE:
	case API_PATCH_MACHINE: return CONFIG_MACHINE;
	case API_PUT_DRIVE:
	case API_PATCH_DRIVE: return CONFIG_DRIVE;
	case API_PUT_NET:
	case API_PATCH_NET: return CONFIG_NET;
	case API_PUT_VSOCK: return CONFIG_VSOCK;
	case API_PUT_ENTROPY: return CONFIG_ENTROPY;
	case API_PUT_LOGGER: return CONFIG_LOGGER;
	default: return CONFIG_METRICS;
	}
}

/* The pre-boot resources: straight into the config. */
static int put_config(struct instance *in, const struct api_call *c, struct api_reply *r,
		      struct ember_err *err)
{
	bool patch = c->op == API_PATCH_MACHINE;

	(void)r;
	return config_put(&in->cfg, resource_of(c->op), c->id, c->body, patch, err);
}

/* Logger and metrics act at once: parse into a scratch config, apply, keep. */
static int put_logger(struct instance *in, const struct api_call *c, struct api_reply *r,
		      struct ember_err *err)
{
	struct vm_config tmp;
	int ret;

	(void)r;
	config_init(&tmp);
	ret = config_put(&tmp, CONFIG_LOGGER, NULL, c->body, false, err);
	if (!ret)
		ret = instance_apply_logger(in, &tmp.logger, err);
	if (!ret) {
		free(in->cfg.logger.log_path);
		in->cfg.logger = tmp.logger;
		memset(&tmp.logger, 0, sizeof(tmp.logger));
	}
	config_free(&tmp);
	return ret;
}

static int put_metrics(struct instance *in, const struct api_call *c, struct api_reply *r,
		       struct ember_err *err)
{
	struct vm_config tmp;
	int ret;

	(void)r;
	config_init(&tmp);
	ret = config_put(&tmp, CONFIG_METRICS, NULL, c->body, false, err);
	if (!ret)
		ret = instance_set_metrics(in, &tmp.metrics, err);
	if (!ret) {
		free(in->cfg.metrics.metrics_path);
		free(in->cfg.metrics.properties);
		in->cfg.metrics = tmp.metrics;
		memset(&tmp.metrics, 0, sizeof(tmp.metrics));
	}
	config_free(&tmp);
	return ret;
}

static bool body_has(const char *body, const char *key)
{
	json_t *o = json_loads(body, 0, NULL);
	bool has = json_is_object(o) && json_object_get(o, key);

	json_decref(o);
	return has;
}

/* After boot: a new backing file (the guest sees the new size) and/or rate
 * limiter. The config changes only if the device took the change. */
static int patch_drive(struct instance *in, const struct api_call *c, struct api_reply *r,
		       struct ember_err *err)
{
	int i = config_find_drive(&in->cfg, c->id);
	struct config_drive *d = i >= 0 ? &in->cfg.drives[i] : NULL;
	struct config_rate_limiter old_rl;
	char *old_path;
	int ret;

	(void)r;
	if (!d)
		return err_set(err, ENOENT, "drive %s: no such drive", c->id);
	old_path = strdup(d->path_on_host);
	old_rl = d->rate_limiter;
	if (!old_path)
		return err_set(err, ENOMEM, "out of memory");
	ret = config_put(&in->cfg, CONFIG_DRIVE, c->id, c->body, true, err);
	if (!ret)
		ret = vm_virtio_update_drive(in->vm, d, body_has(c->body, "path_on_host"), err);
	if (ret && d->path_on_host != old_path) {
		free(d->path_on_host);
		d->path_on_host = old_path;
		d->rate_limiter = old_rl;
		old_path = NULL;
	}
	free(old_path);
	return ret;
}

static int patch_net(struct instance *in, const struct api_call *c, struct api_reply *r,
		     struct ember_err *err)
{
	int ret = config_put(&in->cfg, CONFIG_NET, c->id, c->body, true, err);

	(void)r;
	if (!ret)
		ret = vm_virtio_update_net(in->vm, &in->cfg.nets[config_find_net(&in->cfg, c->id)],
					   err);
	return ret;
}

static int patch_vm(struct instance *in, const struct api_call *c, struct api_reply *r,
		    struct ember_err *err)
{
	static const char *const states[] = { "Paused", "Resumed", NULL };
	int s = parse_enum(c->body, "vm", "state", states, err);
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);

	(void)r;
	if (s < 0)
		return s;
	if (s == 0) {
		if (vm_pause(in->vm, err) < 0)
			return -err->code;
		in->state = INSTANCE_PAUSED;
		in->pause_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
		log_info("the microVM is paused (%llu us)", (unsigned long long)in->pause_us);
		return 0;
	}
	vm_resume(in->vm);
	in->state = INSTANCE_RUNNING;
	in->resume_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("the microVM is running again (%llu us)", (unsigned long long)in->resume_us);
	return 0;
}

static int put_snapshot_create(struct instance *in, const struct api_call *c, struct api_reply *r,
			       struct ember_err *err)
{
	(void)r;
	return instance_snapshot_create(in, c->body, err);
}

static int put_snapshot_load(struct instance *in, const struct api_call *c, struct api_reply *r,
			     struct ember_err *err)
{
	(void)r;
	return instance_snapshot_load(in, c->body, err);
}

static const op_fn ops[API_NR_OPS] = {
	[API_GET_INFO] = get_info,
	[API_GET_VERSION] = get_version,
	[API_GET_VM_CONFIG] = get_vm_config,
	[API_GET_MACHINE] = get_machine,
	[API_PUT_ACTIONS] = put_actions,
	[API_PUT_BOOT_SOURCE] = put_config,
	[API_PUT_MACHINE] = put_config,
	[API_PATCH_MACHINE] = put_config,
	[API_PUT_DRIVE] = put_config,
	[API_PATCH_DRIVE] = patch_drive,
	[API_PUT_NET] = put_config,
	[API_PATCH_NET] = patch_net,
	[API_PUT_VSOCK] = put_config,
	[API_PUT_ENTROPY] = put_config,
	[API_PUT_LOGGER] = put_logger,
	[API_PUT_METRICS] = put_metrics,
	[API_PATCH_VM] = patch_vm,
	[API_PUT_SNAPSHOT_CREATE] = put_snapshot_create,
	[API_PUT_SNAPSHOT_LOAD] = put_snapshot_load,
};

static void log_request(const struct http_request *req)
{
	if (!log_enabled(LOG_INFO))
		return;
	if (req->body)
		log_info("The API server received a %s request on \"%s\" with body \"%.512s\".",
			 http_verb_name(req->verb), req->path, req->body);
	else
		log_info("The API server received a %s request on \"%s\".",
			 http_verb_name(req->verb), req->path);
}

void instance_api(void *ctx, const struct http_request *req, struct api_reply *reply)
{
	struct instance *in = ctx;
	struct ember_err err = { 0 };
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	struct api_call call;
	int ret;

	log_request(req);
	reply->status = 204;
	reply->body = NULL;
	ret = api_route(req, &call, &err);
	if (!ret) {
		in->api_count[call.op]++;
		ret = api_op_check_state(call.op, in->state != INSTANCE_NOT_STARTED, &err);
		if (!ret)
			ret = ops[call.op](in, &call, reply, &err);
		if (ret)
			in->api_fails[call.op]++;
	}
	if (ret) {
		free(reply->body);
		reply->status = 400;
		reply->body = http_fault_body(err.msg);
		log_warn("API request %s %s failed: %s", http_verb_name(req->verb), req->path,
			 err.msg);
	}
	log_debug("Total previous API call duration: %llu us.",
		  (unsigned long long)(boottimer_now_us(CLOCK_MONOTONIC) - t0));
}
