// SPDX-License-Identifier: Apache-2.0
/*
 * MMDS (Firecracker's vmm_config/mmds.rs and its API's mmds.rs): the data
 * store at /mmds (GET, PUT, PATCH, before and after boot) and PUT
 * /mmds/config before boot, which names the interfaces the guest reaches
 * it through, its address, version and IMDS compatibility. After boot the
 * store answers only when some interface was named, as Firecracker's does
 * (its store then lives with those interfaces).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "resource.h"

static const char not_initialized[] = "MMDS error: The MMDS data store is not initialized.";

static bool started(const struct instance *in)
{
	return in->state != INSTANCE_NOT_STARTED;
}

/* After boot, only with an interface that reaches it. */
static int reachable(const struct instance *in, struct ember_err *err)
{
	bool named = false;

	for (unsigned n = 0; n < in->cfg.nr_nets; n++)
		named |= in->cfg.nets[n].mmds;
	if (started(in) && !(in->cfg.mmds.set && named))
		return err_set(err, ENOENT, not_initialized);
	return 0;
}

/* The store's errors, in Firecracker's words; beyond the limit is 413. */
static int store_error(struct res_call *c, int ret, struct ember_err *err)
{
	char msg[ERR_MSG_MAX];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	if (ret == -EFBIG) {
		c->status = 413;
		return err_set(err, EFBIG, "MMDS limit exceeded error: %s", msg);
	}
	return err_set(err, -ret, "MMDS error: %s", msg);
}

static int get(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *v;

	if (reachable(in, err) < 0)
		return -ENOENT;
	v = mmds_value(&in->mmds);
	c->reply = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
	json_decref(v);
	c->status = 200;
	return c->reply ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	int ret = reachable(in, err);

	if (!ret)
		ret = mmds_put(&in->mmds, json_incref(c->body.value), err);
	return ret < 0 && ret != -ENOENT ? store_error(c, ret, err) : ret;
}

static int patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	int ret = reachable(in, err);

	if (!ret && (ret = mmds_patch(&in->mmds, c->body.value, err)) < 0)
		return store_error(c, ret, err);
	return ret;
}

const struct res_def res_mmds = {
	.path = "mmds",
	.metric = "mmds",
	.ops = {
		[RES_GET] = { RES_PRE | RES_POST, false, NULL, get },
		[RES_PUT] = { RES_PRE | RES_POST, false, NULL, put },
		[RES_PATCH] = { RES_PRE | RES_POST, false, NULL, patch },
	},
};

/* --- PUT /mmds/config --------------------------------------------------- */

static const char *const versions[] = { "V1", "V2", NULL };

static const struct field config_fields[] = {
	{ .name = "version", .type = FT_ENUM, .variants = versions },
	{ .name = "network_interfaces", .type = FT_ARRAY, .flags = F_REQUIRED, .item = FT_STRING },
	{ .name = "ipv4_address", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "imds_compat", .type = FT_BOOL },
	{ 0 },
};

static int parse_config(struct res_call *c, struct ember_err *err)
{
	const char *ip;
	struct in_addr a;
	int ret = body_check(&c->body, config_fields, "struct MmdsConfig", 0, err);

	if (ret)
		return ret;
	ip = body_str(c->body.value, "ipv4_address");
	if (ip && inet_pton(AF_INET, ip, &a) != 1)
		return body_error(&c->body, "ipv4_address", err, "invalid IPv4 address syntax");
	if (body_enum(c->body.value, "version", versions, 0) == 0) {
		c->deprecated = true;
		log_warn("PUT /mmds/config: V1 is deprecated. Use V2 instead.");
	}
	return 0;
}

/* Firecracker's is_link_local_valid: 169.254/16 but its first and last /24. */
static bool link_local(uint32_t ip)
{
	return (ip >> 16) == 0xa9fe && ((ip >> 8) & 0xff) != 0 && ((ip >> 8) & 0xff) != 0xff;
}

static int config_error(struct ember_err *err, const char *what)
{
	return err_set(err, EINVAL, "MMMDS config error: %s", what);
}

static int apply_config(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value, *ifaces = json_object_get(o, "network_interfaces"), *id;
	const char *ip = body_str(o, "ipv4_address");
	struct config_mmds m = { .set = true, .ipv4 = CONFIG_MMDS_DEFAULT_IPV4 };
	struct in_addr a;
	size_t i;

	(void)in;
	if (ip && inet_pton(AF_INET, ip, &a) == 1)
		m.ipv4 = ntohl(a.s_addr);
	if (!link_local(m.ipv4))
		return config_error(err, "The MMDS IPv4 address is not link local.");
	if (json_array_size(ifaces) == 0)
		return config_error(err, "The list of network interface IDs that allow forwarding "
					 "MMDS requests is empty.");
	json_array_foreach(ifaces, i, id)
	{
		if (config_find_net(c->cfg, json_string_value(id)) < 0)
			return config_error(err, "The list of network interface IDs provided "
						 "contains at least one ID that does not "
						 "correspond to any existing network interface.");
	}
	for (unsigned n = 0; n < c->cfg->nr_nets; n++) {
		c->cfg->nets[n].mmds = false;
		json_array_foreach(ifaces, i, id)
		{
			if (!strcmp(json_string_value(id), c->cfg->nets[n].iface_id))
				c->cfg->nets[n].mmds = true;
		}
	}
	m.v2 = body_enum(o, "version", versions, 0) == 1;
	m.imds_compat = body_bool(o, "imds_compat", false);
	c->cfg->mmds = m;
	return 0;
}

/* As Firecracker rebuilds it: null unless an interface reaches MMDS. */
static json_t *dump_config(const struct instance *in)
{
	const struct vm_config *cfg = &in->cfg;
	json_t *ifaces = json_array();
	struct in_addr a = { .s_addr = htonl(cfg->mmds.ipv4) };
	char ip[INET_ADDRSTRLEN];

	for (unsigned n = 0; ifaces && n < cfg->nr_nets; n++)
		if (cfg->nets[n].mmds)
			json_array_append_new(ifaces, json_string(cfg->nets[n].iface_id));
	if (!cfg->mmds.set || json_array_size(ifaces) == 0) {
		json_decref(ifaces);
		return json_null();
	}
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	return json_pack("{sssosssb}", "version", cfg->mmds.v2 ? "V2" : "V1", "network_interfaces",
			 ifaces, "ipv4_address", ip, "imds_compat", cfg->mmds.imds_compat);
}

const struct res_def res_mmds_config = {
	.path = "mmds",
	.sub = "config",
	.metric = "mmds",
	.ops = { [RES_PUT] = { RES_PRE, true, parse_config, apply_config } },
	.key = "mmds-config",
	.dump = dump_config,
};
