// SPDX-License-Identifier: Apache-2.0
/*
 * /network-interfaces/{iface_id}: virtio-net devices on existing TAPs
 * (Firecracker's NetworkInterfaceConfig). PUT before boot adds or replaces
 * an interface; its TAP must attach now. PATCH after boot replaces the rate
 * limiters. PUT and DELETE after boot are hot-plug, which needs PCI. The
 * config file's "network-interfaces" is a list of PUT bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "net.h"
#include "resource.h"

#define MTU_MIN 68
#define MTU_MAX 65535

static const struct field put_fields[] = {
	{ .name = "iface_id", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "host_dev_name", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "guest_mac", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "mtu", .type = FT_U16, .flags = F_NULLABLE },
	RES_LIMITER_FIELD("rx_rate_limiter"),
	RES_LIMITER_FIELD("tx_rate_limiter"),
	{ 0 },
};

static const struct field patch_fields[] = {
	{ .name = "iface_id", .type = FT_STRING, .flags = F_REQUIRED },
	RES_LIMITER_FIELD("rx_rate_limiter"),
	RES_LIMITER_FIELD("tx_rate_limiter"),
	{ 0 },
};

static int same_id(const struct res_call *c, struct ember_err *err)
{
	const char *id = body_str(c->body.value, "iface_id");

	if (c->id && strcmp(c->id, id))
		return err_set(
		    err, EINVAL,
		    "The id from the path [%s] does not match the id from the body [%s]!", c->id,
		    id);
	return 0;
}

/* "06:00:AC:10:00:02": six hex pairs; any address, multicast too, as
 * Firecracker's MacAddr takes it. */
static int parse_mac(const struct body *b, uint8_t mac[6], struct ember_err *err)
{
	const char *s = body_str(b->value, "guest_mac");
	unsigned v[6];
	char end;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
				      &v[4], &v[5], &end) != 6)
		return body_error(b, "guest_mac", err, "invalid MAC address: %s", s);
	for (int i = 0; i < 6; i++) {
		if (s[i * 3] == '+' || s[i * 3] == '-' || s[i * 3 + 1] == ' ')
			return body_error(b, "guest_mac", err, "invalid MAC address: %s", s);
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse_put(struct res_call *c, struct ember_err *err)
{
	uint8_t mac[6];
	int ret = body_check(&c->body, put_fields, "struct NetworkInterfaceConfig", 0, err);

	if (!ret && body_has(c->body.value, "guest_mac"))
		ret = parse_mac(&c->body, mac, err);
	return ret ? ret : same_id(c, err);
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, patch_fields, "struct NetworkInterfaceUpdateConfig", 0, err);

	return ret ? ret : same_id(c, err);
}

static int read_net(const struct res_call *c, struct config_net *n, struct ember_err *err)
{
	json_t *o = c->body.value;
	int ret;

	n->mtu = (uint16_t)body_u64(o, "mtu", 0);
	n->has_mac = body_has(o, "guest_mac");
	if (n->has_mac)
		parse_mac(&c->body, n->mac, err);
	res_get_limiter(json_object_get(o, "rx_rate_limiter"), &n->rx_rate_limiter);
	res_get_limiter(json_object_get(o, "tx_rate_limiter"), &n->tx_rate_limiter);
	ret = body_dup(body_str(o, "iface_id"), &n->iface_id, err);
	if (!ret)
		ret = body_dup(body_str(o, "host_dev_name"), &n->host_dev_name, err);
	return ret;
}

static int tap_error(const char *tap, int code, struct ember_err *err)
{
	char os[128];

	return err_set(err, code,
		       "Network config error: Could not create the network device: Open tap "
		       "device failed: Error while creating ifreq structure: %s. Invalid TUN/TAP "
		       "Backend provided by %s. Check our documentation on setting up the network "
		       "devices.",
		       res_os_error(code, os, sizeof(os)), tap);
}

static void mac_text(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Another interface's MAC or TAP (the TAP: the open that fails in
 * Firecracker, where each device holds its TAP from the PUT on). */
static int check_others(const struct vm_config *cfg, const struct config_net *n, int old,
			struct ember_err *err)
{
	char mac[18];

	mac_text(n->mac, mac);
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct config_net *o = &cfg->nets[i];

		if ((int)i == old)
			continue;
		if (o->has_mac && n->has_mac && !memcmp(o->mac, n->mac, 6))
			return err_set(
			    err, EADDRINUSE,
			    "Network config error: The MAC address is already in use: %s", mac);
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return tap_error(n->host_dev_name, EBUSY, err);
	}
	return 0;
}

static int check_net(const struct res_call *c, const struct config_net *n, int old,
		     struct ember_err *err)
{
	int ret;

	if (!res_id_valid(n->iface_id))
		return err_set(err, EINVAL,
			       "API Resource IDs can only contain alphanumeric characters and "
			       "underscores.");
	if (body_has(c->body.value, "mtu") && n->mtu < MTU_MIN)
		return err_set(err, EINVAL,
			       "Network config error: Could not create the network device: MTU %u "
			       "is out of range [%d, %d]",
			       n->mtu, MTU_MIN, MTU_MAX);
	if (old < 0 && c->cfg->nr_nets == CONFIG_MAX_NETS)
		return err_set(err, ENOSPC,
			       "Network config error: Could not create the network device: at most "
			       "%d interfaces",
			       CONFIG_MAX_NETS);
	ret = check_others(c->cfg, n, old, err);
	if (ret || c->restoring)
		return ret;
	ret = virtio_net_probe_tap(n->host_dev_name);
	return ret ? tap_error(n->host_dev_name, -ret, err) : 0;
}

static int apply_put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct config_net n = { 0 };
	int old, ret;

	if (in->state != INSTANCE_NOT_STARTED)
		return res_no_hotplug(in, c, err);
	ret = read_net(c, &n, err);
	old = ret ? -1 : config_find_net(c->cfg, n.iface_id);
	if (!ret)
		ret = check_net(c, &n, old, err);
	if (ret) {
		config_net_free(&n);
		return ret;
	}
	if (old >= 0)
		config_net_free(&c->cfg->nets[old]);
	c->cfg->nets[old >= 0 ? (unsigned)old : c->cfg->nr_nets++] = n;
	return 0;
}

/* After boot: the device's limiters first, then the configuration. */
static int apply_patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	int i = config_find_net(&in->cfg, body_str(o, "iface_id"));
	struct config_net n;

	if (i < 0)
		return err_set(err, ENOENT,
			       "Network config error: Unable to update the net device: Invalid "
			       "interface ID - not found: %s",
			       body_str(o, "iface_id"));
	n = in->cfg.nets[i];
	if (body_has(o, "rx_rate_limiter"))
		res_get_limiter(json_object_get(o, "rx_rate_limiter"), &n.rx_rate_limiter);
	if (body_has(o, "tx_rate_limiter"))
		res_get_limiter(json_object_get(o, "tx_rate_limiter"), &n.tx_rate_limiter);
	if (vm_virtio_update_net(in->vm, &n, err) < 0)
		return err_prefix(err, "Network config error: Unable to update the net device");
	in->cfg.nets[i] = n;
	return 0;
}

static json_t *net_json(const struct config_net *n)
{
	char mac[18];

	mac_text(n->mac, mac);
	return json_pack("{sssssosososo}", "iface_id", n->iface_id, "host_dev_name",
			 n->host_dev_name, "guest_mac", n->has_mac ? json_string(mac) : json_null(),
			 "mtu", n->mtu ? json_integer(n->mtu) : json_null(), "rx_rate_limiter",
			 res_dump_limiter(&n->rx_rate_limiter), "tx_rate_limiter",
			 res_dump_limiter(&n->tx_rate_limiter));
}

static json_t *dump(const struct instance *in)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < in->cfg.nr_nets; i++)
		json_array_append_new(a, net_json(&in->cfg.nets[i]));
	return a;
}

const struct res_def res_network_interfaces = {
	.path = "network-interfaces",
	.has_id = true,
	.metric = "network",
	.ops = {
		[RES_PUT] = { RES_PRE | RES_POST, true, parse_put, apply_put },
		[RES_PATCH] = { RES_POST, false, parse_patch, apply_patch },
		[RES_DELETE] = { RES_POST, false, NULL, res_no_hotplug },
	},
	.key = "network-interfaces",
	.file_id = "iface_id",
	.dump = dump,
};
