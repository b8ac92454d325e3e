// SPDX-License-Identifier: Apache-2.0
/* PUT, PATCH and GET /machine-config (Firecracker's MachineConfig and
 * MachineConfigUpdate): vCPUs, memory, SMT, dirty-page tracking, huge
 * pages and the deprecated static CPU template. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_template.h"
#include "instance.h"
#include "log.h"
#include "resource.h"

/* serde's order of Firecracker's StaticCpuTemplate and HugePageConfig. */
static const char *const templates[] = { "C3", "T2", "T2S", "None", "T2CL", "T2A", NULL };
static const char *const huge_pages[] = { "None", "Transparent", "2M", NULL };

#define MACHINE_FIELDS(req, opt)                                                               \
	{ .name = "vcpu_count", .type = FT_U8, .flags = (req) },                               \
	    { .name = "mem_size_mib", .type = FT_USIZE, .flags = (req) },                      \
	    { .name = "smt", .type = FT_BOOL, .flags = (opt) },                                \
	    { .name = "cpu_template",                                                          \
	      .type = FT_ENUM,                                                                 \
	      .flags = F_NULLABLE,                                                             \
	      .variants = templates },                                                         \
	    { .name = "track_dirty_pages", .type = FT_BOOL, .flags = (opt) },                  \
	    { .name = "huge_pages", .type = FT_ENUM, .flags = (opt), .variants = huge_pages }, \
	{                                                                                      \
		0                                                                              \
	}

static const struct field put_fields[] = { MACHINE_FIELDS(F_REQUIRED, 0) };
static const struct field patch_fields[] = { MACHINE_FIELDS(F_NULLABLE, F_NULLABLE) };

static int note_template(struct res_call *c, const char *verb)
{
	if (body_has(c->body.value, "cpu_template")) {
		c->deprecated = true;
		log_warn("%s /machine-config: cpu_template field is deprecated.", verb);
	}
	return 0;
}

static int parse_put(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, put_fields, "struct MachineConfig", 0, err);

	return ret ? ret : note_template(c, "PUT");
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, patch_fields, "struct MachineConfigUpdate", 0, err);
	bool empty = true;

	for (const struct field *f = patch_fields; !ret && f->name; f++)
		empty &= !body_has(c->body.value, f->name);
	if (!ret && empty)
		return err_set(err, EINVAL, "Empty PATCH request.");
	return ret ? ret : note_template(c, "PATCH");
}

static int check(const struct config_machine *m, struct ember_err *err)
{
	if (!m->vcpu_count || m->vcpu_count > CONFIG_MAX_VCPUS ||
	    (m->smt && m->vcpu_count > 1 && m->vcpu_count % 2))
		return err_set(err, EINVAL,
			       "Machine config error: The number of vCPUs must be greater than 0, "
			       "less than %d and must be 1 or an even number if SMT is enabled.",
			       CONFIG_MAX_VCPUS);
	if (!m->mem_size_mib || m->mem_size_mib % config_mem_granule_mib(m->huge_pages))
		return err_set(err, EINVAL,
			       "Machine config error: The memory size (MiB) is either 0, or not a "
			       "multiple of the configured page size.");
	return 0;
}

/* PUT and PATCH alike are Firecracker's update: fields left out keep their
 * value (PUT requires the two that matter), and so does a CPU template. */
static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct config_machine m = c->cfg->machine;
	json_t *o = c->body.value;
	int t;

	(void)in;
	m.vcpu_count = (unsigned)body_u64(o, "vcpu_count", m.vcpu_count);
	m.mem_size_mib = body_u64(o, "mem_size_mib", m.mem_size_mib);
	m.smt = body_bool(o, "smt", c->verb == RES_PUT ? false : m.smt);
	m.track_dirty_pages =
	    body_bool(o, "track_dirty_pages", c->verb == RES_PUT ? false : m.track_dirty_pages);
	m.huge_pages = (enum config_huge_pages)body_enum(
	    o, "huge_pages", huge_pages, c->verb == RES_PUT ? CONFIG_HUGE_NONE : (int)m.huge_pages);
	t = body_has(o, "cpu_template") ? cpu_template_parse(body_str(o, "cpu_template")) : -1;
	if (t >= 0)
		m.cpu_template = (enum config_cpu_template)t;
	if (check(&m, err) < 0)
		return -EINVAL;
	if (t >= 0) { /* a static template replaces a custom one */
		cpu_template_free(c->cfg->cpu_custom);
		c->cfg->cpu_custom = NULL;
	}
	c->cfg->machine = m;
	return 0;
}

static json_t *machine_json(const struct config_machine *m)
{
	json_t *o = json_pack("{sIsIsb}", "vcpu_count", (json_int_t)m->vcpu_count, "mem_size_mib",
			      (json_int_t)m->mem_size_mib, "smt", m->smt);

	/* Only a static template shows, as in Firecracker (a custom one does not). */
	if (o && m->cpu_template != CONFIG_TEMPLATE_NONE)
		json_object_set_new(o, "cpu_template",
				    json_string(cpu_template_name(m->cpu_template)));
	if (o) {
		json_object_set_new(o, "track_dirty_pages", json_boolean(m->track_dirty_pages));
		json_object_set_new(o, "huge_pages", json_string(huge_pages[m->huge_pages]));
	}
	return o;
}

static json_t *dump(const struct instance *in)
{
	return machine_json(&in->cfg.machine);
}

static int get(struct instance *in, struct res_call *c, struct ember_err *err)
{
	return res_reply(c, machine_json(&in->cfg.machine), err);
}

const struct res_def res_machine_config = {
	.path = "machine-config",
	.metric = "machine_cfg",
	.ops = {
		[RES_GET] = { RES_PRE | RES_POST, false, NULL, get },
		[RES_PUT] = { RES_PRE, true, parse_put, apply },
		[RES_PATCH] = { RES_PRE, true, parse_patch, apply },
	},
	.key = "machine-config",
	.dump = dump,
};
