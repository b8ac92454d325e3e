// SPDX-License-Identifier: Apache-2.0
/*
 * The one table of resources, and what every resource shares through it:
 * a request's run (parse, state, apply), the config file and a snapshot's
 * configuration (each section as its PUT), and GET /vm/config.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "resource.h"

/* A config file's sections are applied in this order (Firecracker's
 * VmResources::from_json): the process's logger and metrics first, then
 * the machine, its boot source and devices, mmds-config after the
 * interfaces it names. The API routes are matched against all of it. */
const struct res_def *const res_table[] = {
	&res_logger,
	&res_metrics,
	&res_machine_config,
	&res_cpu_config,
	&res_boot_source,
	&res_drives,
	&res_network_interfaces,
	&res_vsock,
	&res_balloon,
	&res_balloon_statistics,
	&res_balloon_hinting,
	&res_mmds_config,
	&res_mmds,
	&res_entropy,
	&res_pmem,
	&res_serial,
	&res_memory_hotplug,
	&res_instance_info,
	&res_version,
	&res_vm_config,
	&res_actions,
	&res_vm_state,
	&res_snapshot_create,
	&res_snapshot_load,
};

const unsigned res_count = sizeof(res_table) / sizeof(res_table[0]);

unsigned res_index(const struct res_def *d)
{
	for (unsigned i = 0; i < res_count; i++)
		if (res_table[i] == d)
			return i;
	return 0;
}

const struct res_def *res_find(const char *first, const char *second)
{
	for (unsigned i = 0; i < res_count; i++) {
		const struct res_def *d = res_table[i];

		if (!d->path || strcmp(d->path, first))
			continue;
		if (d->sub ? second && !strcmp(d->sub, second) : d->has_id || !second)
			return d;
	}
	return NULL;
}

const char *res_os_error(int errnum, char *buf, size_t size)
{
	snprintf(buf, size, "%s (os error %d)", strerror(errnum), errnum);
	return buf;
}

bool res_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= INSTANCE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return false;
	return true;
}

int res_no_hotplug(struct instance *in, struct res_call *c, struct ember_err *err)
{
	(void)in;
	(void)c;
	return err_set(err, ENOTSUP, "PCI is not enabled");
}

int res_reply(struct res_call *c, json_t *body, struct ember_err *err)
{
	c->reply = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	c->status = 200;
	return c->reply ? 0 : err_set(err, ENOMEM, "out of memory");
}

json_t *res_dump_null(const struct instance *in)
{
	(void)in;
	return json_null();
}

static int deserialize_error(struct ember_err *err)
{
	char msg[ERR_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	return err_set(err, EINVAL,
		       "An error occurred when deserializing the json body of a request: %s.", msg);
}

static bool started(const struct instance *in)
{
	return in->state != INSTANCE_NOT_STARTED;
}

int res_call_run(struct instance *in, struct res_call *c, struct ember_err *err)
{
	const struct res_op *op = &c->res->ops[c->verb];
	size_t i = res_index(c->res) * RES_NR_VERBS + c->verb;
	int ret = 0;

	in->api_count[i]++;
	c->status = 204;
	c->ext = in->ext.enabled;
	if (!c->cfg)
		c->cfg = &in->cfg;
	if (c->body.text && !c->body.value && !(c->body.value = body_parse(c->body.text, err)))
		ret = deserialize_error(err);
	if (!ret && op->parse && (ret = op->parse(c, err)) < 0 && err->code == EBADMSG)
		ret = deserialize_error(err);
	if (!ret && !(op->when & (started(in) ? RES_POST : RES_PRE)))
		ret = err_set(err, EPERM,
			      "The requested operation is not supported %s starting the microVM.",
			      started(in) ? "after" : "before");
	if (!ret && op->boot_path)
		in->boot_path = true;
	if (!ret)
		ret = op->apply(in, c, err);
	if (c->deprecated)
		in->deprecated_calls++;
	if (ret)
		in->api_fails[i]++;
	return ret;
}

void res_call_free(struct res_call *c)
{
	if (c->free_args)
		c->free_args(c->args);
	c->args = NULL;
	c->free_args = NULL;
	json_decref(c->body.value);
	c->body.value = NULL;
	free(c->reply);
	c->reply = NULL;
}

/* One PUT body of a section: parsed and applied, no state or counters. */
static int run_section(struct instance *in, struct res_call *c, struct ember_err *err)
{
	const struct res_op *op = &c->res->ops[RES_PUT];
	int ret = 0;

	c->verb = RES_PUT;
	c->status = 204;
	if (c->res->file)
		ret = c->res->file(in, c, err);
	else if (op->parse)
		ret = op->parse(c, err);
	if (!ret && !c->res->file)
		ret = op->apply(in, c, err);
	if (c->free_args)
		c->free_args(c->args);
	c->args = NULL;
	c->free_args = NULL;
	return ret;
}

/* drives, network-interfaces: a list of PUT bodies. */
static int run_list(struct instance *in, const struct res_call *tmpl, struct ember_err *err)
{
	json_t *list = tmpl->body.value, *item;
	size_t i;

	if (!json_is_array(list))
		return body_error(&tmpl->body, NULL, err, "invalid type: %s, expected a sequence",
				  json_is_object(list) ? "map" : "a value");
	json_array_foreach(list, i, item)
	{
		struct res_call c = *tmpl;
		int ret;

		body_enter(&c.body, &tmpl->body, NULL, i);
		ret = run_section(in, &c, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int load_section(struct instance *in, struct vm_config *cfg, const struct res_def *d,
			const struct body *root, bool restoring, struct ember_err *err)
{
	struct res_call c = { .res = d, .cfg = cfg, .restoring = restoring };
	int ret;

	body_enter(&c.body, root, d->key, 0);
	if (!c.body.value || json_is_null(c.body.value))
		return 0;
	ret = d->file_id && !d->file ? run_list(in, &c, err) : run_section(in, &c, err);
	return ret < 0 ? err_prefix(err, "%s", d->key) : 0;
}

static bool known_section(const char *key)
{
	for (unsigned i = 0; i < res_count; i++)
		if (res_table[i]->key && !strcmp(res_table[i]->key, key))
			return true;
	return false;
}

int res_load_config(struct instance *in, struct vm_config *cfg, const char *text, bool restoring,
		    struct ember_err *err)
{
	struct body root = { .text = text };
	const char *key;
	json_t *v;
	int ret = 0;

	root.value = body_parse(text, err);
	if (!root.value)
		return -EINVAL;
	if (!json_is_object(root.value))
		ret = err_set(err, EINVAL, "the configuration must be a JSON object");
	/* Firecracker ignores keys it does not know; a typo deserves a word. */
	json_object_foreach(root.value, key, v)
	{
		if (!ret && !known_section(key))
			log_warn("configuration: unknown section `%s` ignored", key);
	}
	for (unsigned i = 0; !ret && i < res_count; i++)
		if (res_table[i]->key && !(restoring && res_table[i]->process))
			ret = load_section(in, cfg, res_table[i], &root, restoring, err);
	json_decref(root.value);
	return ret;
}

char *res_dump_config(const struct instance *in)
{
	/* Firecracker's VmmConfig order, as its GET /vm/config prints it. */
	static const struct res_def *const order[] = {
		&res_balloon,        &res_drives,      &res_boot_source,
		&res_cpu_config,     &res_logger,      &res_machine_config,
		&res_metrics,        &res_mmds_config, &res_network_interfaces,
		&res_vsock,          &res_entropy,     &res_pmem,
		&res_memory_hotplug,
	};
	json_t *o = json_object();
	char *s;

	for (unsigned i = 0; o && i < sizeof(order) / sizeof(order[0]); i++)
		json_object_set_new(o, order[i]->key, order[i]->dump(in));
	s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}
