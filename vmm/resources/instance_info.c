// SPDX-License-Identifier: Apache-2.0
/* GET /, GET /version and GET /vm/config: what the instance is, which
 * Firecracker API it serves, and its whole configuration. */
#include <errno.h>
#include <stdlib.h>

#include "instance.h"
#include "resource.h"

static const char *state_name(enum instance_state s)
{
	return s == INSTANCE_RUNNING ? "Running" : s == INSTANCE_PAUSED ? "Paused" : "Not started";
}

/* What the guest did in its first RESUME_PROBE_MS: KVM's counters and the
 * host's faults on ember's side. */
static json_t *first_run(const struct resume_probe *p)
{
	json_t *o = json_object();

	for (int k = 0; k < KVM_STAT_NR; k++)
		json_object_set_new(o, kvm_stat_names[k], json_integer((json_int_t)p->count[k]));
	json_object_set_new(o, "host_minflt", json_integer((json_int_t)p->minflt));
	json_object_set_new(o, "host_majflt", json_integer((json_int_t)p->majflt));
	return o;
}

/* A snapshot load's latency and where it went (us). */
static json_t *load_latencies(const struct instance *in)
{
	const struct vm_create_times *v = &in->vm->create_us;
	json_t *l = json_pack(
	    "{sI, sI, sI, sI, sI, sI, sI, sI}", "load_snapshot", (json_int_t)in->load_snapshot_us,
	    "load_read_state", (json_int_t)in->load_read_us, "load_config",
	    (json_int_t)in->load_config_us, "load_create_vm", (json_int_t)v->kvm, "load_memory",
	    (json_int_t)v->memory, "load_devices", (json_int_t)v->devices, "load_vcpus",
	    (json_int_t)v->vcpus, "load_restore_state", (json_int_t)in->load_state_us);

	if (l && in->load_prefault_us) {
		json_object_set_new(l, "load_prefault",
				    json_integer((json_int_t)in->load_prefault_us));
		json_object_set_new(
		    l, "prefaulted",
		    json_pack("{sI, sI, sI, sb}", "pages", (json_int_t)in->prefault.pages,
			      "populated", (json_int_t)in->prefault.populated, "kvm_mapped",
			      (json_int_t)in->prefault.kvm_mapped, "kvm", in->prefault.kvm));
	}
	if (l && in->probe.done)
		json_object_set_new(l, "first_100ms", first_run(&in->probe));
	return l;
}

/* Firecracker's InstanceInfo, its app_name too (a client may show or match
 * it); --ember-extensions names ember and adds the load latency with its
 * breakdown. */
static int get_info(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *info =
	    json_pack("{ssssssss}", "id", in->id, "state", state_name(in->state), "vmm_version",
		      in->version, "app_name", in->ext.enabled ? "ember" : "Firecracker");

	if (info && in->ext.enabled && in->load_snapshot_us && in->vm)
		json_object_set_new(info, "latencies_us", load_latencies(in));
	return res_reply(c, info, err);
}

static int get_version(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *v = json_pack("{ss}", "firecracker_version", INSTANCE_API_VERSION);

	if (v && in->ext.enabled)
		json_object_set_new(v, "ember_version", json_string(in->version));
	return res_reply(c, v, err);
}

static int get_config(struct instance *in, struct res_call *c, struct ember_err *err)
{
	c->reply = res_dump_config(in);
	c->status = 200;
	return c->reply ? 0 : err_set(err, ENOMEM, "out of memory");
}

#define ANY_TIME (RES_PRE | RES_POST)

const struct res_def res_instance_info = {
	.path = "",
	.metric = "instance_info",
	.ops = { [RES_GET] = { ANY_TIME, false, NULL, get_info } },
};

const struct res_def res_version = {
	.path = "version",
	.metric = "vmm_version",
	.ops = { [RES_GET] = { ANY_TIME, false, NULL, get_version } },
};

const struct res_def res_vm_config = {
	.path = "vm",
	.sub = "config",
	.metric = "vm_config",
	.ops = { [RES_GET] = { ANY_TIME, false, NULL, get_config } },
};
