// SPDX-License-Identifier: Apache-2.0
/* The config back in Firecracker's config-file schema (GET /vm/config). */
#include <jansson.h>
#include <stdlib.h>

#include "config.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *bucket_json(const struct config_bucket *b)
{
	json_t *o;

	if (!b->size && !b->refill_time_ms)
		return json_null();
	o = json_pack("{sIsI}", "size", (json_int_t)b->size, "refill_time",
		      (json_int_t)b->refill_time_ms);
	if (o && b->one_time_burst)
		json_object_set_new(o, "one_time_burst",
				    json_integer((json_int_t)b->one_time_burst));
	return o;
}

static json_t *limiter_json(const struct config_rate_limiter *rl)
{
	if (!rl->bandwidth.size && !rl->bandwidth.refill_time_ms && !rl->ops.size &&
	    !rl->ops.refill_time_ms)
		return json_null();
	return json_pack("{soso}", "bandwidth", bucket_json(&rl->bandwidth), "ops",
			 bucket_json(&rl->ops));
}

static json_t *boot_json(const struct vm_config *cfg)
{
	if (!cfg->has_boot)
		return json_null();
	return json_pack("{soso*so}", "kernel_image_path", str_or_null(cfg->boot.kernel_image_path),
			 "initrd_path", str_or_null(cfg->boot.initrd_path), "boot_args",
			 str_or_null(cfg->boot.boot_args));
}

static json_t *machine_json(const struct config_machine *m)
{
	return json_pack("{sIsIsbsbssss}", "vcpu_count", (json_int_t)m->vcpu_count, "mem_size_mib",
			 (json_int_t)m->mem_size_mib, "smt", m->smt, "track_dirty_pages",
			 m->track_dirty_pages, "huge_pages", m->huge_pages ? "2M" : "None",
			 "cpu_template", m->cpu_template);
}

static json_t *drives_json(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < cfg->nr_drives; i++) {
		const struct config_drive *d = &cfg->drives[i];

		json_array_append_new(a,
				      json_pack("{sssssbsbsossso}", "drive_id", d->drive_id,
						"path_on_host", d->path_on_host, "is_root_device",
						d->is_root_device, "is_read_only", d->is_read_only,
						"partuuid", str_or_null(d->partuuid), "cache_type",
						d->writeback ? "Writeback" : "Unsafe",
						"rate_limiter", limiter_json(&d->rate_limiter)));
	}
	return a;
}

static json_t *mac_json(const struct config_net *n)
{
	char mac[18];

	if (!n->has_mac)
		return json_null();
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2],
		 n->mac[3], n->mac[4], n->mac[5]);
	return json_string(mac);
}

static json_t *nets_json(const struct vm_config *cfg)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < cfg->nr_nets; i++) {
		const struct config_net *n = &cfg->nets[i];

		json_array_append_new(
		    a, json_pack("{sssssososo}", "iface_id", n->iface_id, "host_dev_name",
				 n->host_dev_name, "guest_mac", mac_json(n), "rx_rate_limiter",
				 limiter_json(&n->rx_rate_limiter), "tx_rate_limiter",
				 limiter_json(&n->tx_rate_limiter)));
	}
	return a;
}

static json_t *vsock_json(const struct config_vsock *v)
{
	if (!v->set)
		return json_null();
	return json_pack("{sIss}", "guest_cid", (json_int_t)v->guest_cid, "uds_path", v->uds_path);
}

static json_t *logger_json(const struct config_logger *l)
{
	static const char *const levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };

	if (!l->set)
		return json_null();
	return json_pack("{sosssbsb}", "log_path", str_or_null(l->log_path), "level",
			 levels[l->opts.level], "show_level", l->opts.show_level, "show_log_origin",
			 l->opts.show_origin);
}

static json_t *metrics_json(const struct config_metrics *m)
{
	json_t *o;

	if (!m->set)
		return json_null();
	o = json_pack("{sssb}", "metrics_path", m->metrics_path, "emit_id", m->emit_id);
	if (o && m->properties)
		json_object_set_new(o, "properties", json_loads(m->properties, 0, NULL));
	return o;
}

static json_t *entropy_json(const struct config_entropy *e)
{
	if (!e->set)
		return json_null();
	return json_pack("{so}", "rate_limiter", limiter_json(&e->rate_limiter));
}

char *config_dump(const struct vm_config *cfg)
{
	json_t *o =
	    json_pack("{sososososososososo}", "boot-source", boot_json(cfg), "machine-config",
		      machine_json(&cfg->machine), "drives", drives_json(cfg), "network-interfaces",
		      nets_json(cfg), "vsock", vsock_json(&cfg->vsock), "logger",
		      logger_json(&cfg->logger), "metrics", metrics_json(&cfg->metrics), "entropy",
		      entropy_json(&cfg->entropy), "balloon", json_null());
	char *s;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}
