// SPDX-License-Identifier: Apache-2.0
/* Firecracker config-file parsing with jansson: strict, one message per fault. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid.h"

#define CONFIG_FILE_MAX (1 << 20)

typedef int (*section_fn)(struct vm_config *cfg, json_t *val, struct ember_err *err);

struct section {
	const char *key;
	section_fn parse;
};

static void boot_free(struct config_boot *b)
{
	free(b->kernel_image_path);
	free(b->initrd_path);
	free(b->boot_args);
	memset(b, 0, sizeof(*b));
}

static void drive_free(struct config_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
}

static void net_free(struct config_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
}

void config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.vcpu_count = 1;
	cfg->machine.mem_size_mib = CONFIG_DEFAULT_MEM_MIB;
	snprintf(cfg->machine.cpu_template, sizeof(cfg->machine.cpu_template), "None");
	cfg->logger.opts.level = LOG_INFO;
}

void config_free(struct vm_config *cfg)
{
	boot_free(&cfg->boot);
	free(cfg->logger.log_path);
	free(cfg->serial_out_path);
	for (unsigned i = 0; i < cfg->nr_drives; i++)
		drive_free(&cfg->drives[i]);
	free(cfg->vsock.uds_path);
	free(cfg->metrics.metrics_path);
	free(cfg->metrics.properties);
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		net_free(&cfg->nets[i]);
	memset(cfg, 0, sizeof(*cfg));
}

/* Reject keys of obj that are not in the NULL-terminated list. */
static int check_keys(json_t *obj, const char *section, const char *const *known,
		      struct ember_err *err)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val)
	{
		size_t i;

		for (i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				break;
		if (!known[i])
			return err_set(err, EINVAL, "%s: unknown field `%s`", section, key);
	}
	return 0;
}

static int get_string(json_t *obj, const char *section, const char *key, bool required, char **out,
		      struct ember_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return err_set(err, EINVAL, "%s: missing field `%s`", section, key);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(err, EINVAL, "%s: `%s` must be a string", section, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(err, EINVAL, "%s: `%s` contains a NUL byte", section, key);
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int get_uint(json_t *obj, const char *section, const char *key, uint64_t min, uint64_t max,
		    uint64_t *out, struct ember_err *err)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v)
		return err_set(err, EINVAL, "%s: missing field `%s`", section, key);
	if (!json_is_integer(v))
		return err_set(err, EINVAL, "%s: `%s` must be an integer", section, key);
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return err_set(err, EINVAL,
			       "%s: `%s` is %" JSON_INTEGER_FORMAT ", it must be between %" PRIu64
			       " and %" PRIu64,
			       section, key, n, min, max);
	*out = (uint64_t)n;
	return 0;
}

static int get_bool(json_t *obj, const char *section, const char *key, bool *out,
		    struct ember_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return err_set(err, EINVAL, "%s: `%s` must be true or false", section, key);
	*out = json_is_true(v);
	return 0;
}

static int need_object(json_t *val, const char *section, struct ember_err *err)
{
	if (!json_is_object(val))
		return err_set(err, EINVAL, "%s must be a JSON object", section);
	return 0;
}

/* PUT /boot-source: the new source replaces the old one whole. */
static int parse_boot_source(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "kernel_image_path", "boot_args", "initrd_path", NULL };
	const char *s = "boot-source";
	struct config_boot b = { 0 };
	int ret;

	ret = need_object(val, s, err);
	if (!ret)
		ret = check_keys(val, s, keys, err);
	if (!ret)
		ret = get_string(val, s, "kernel_image_path", true, &b.kernel_image_path, err);
	if (!ret)
		ret = get_string(val, s, "boot_args", false, &b.boot_args, err);
	if (!ret)
		ret = get_string(val, s, "initrd_path", false, &b.initrd_path, err);
	if (ret) {
		boot_free(&b);
		return ret;
	}
	boot_free(&cfg->boot);
	cfg->boot = b;
	cfg->has_boot = true;
	return 0;
}

static int parse_huge_pages(struct config_machine *m, json_t *val, struct ember_err *err)
{
	json_t *v = json_object_get(val, "huge_pages");

	if (!v)
		return 0;
	if (json_is_string(v) && !strcmp(json_string_value(v), "None"))
		m->huge_pages = false;
	else if (json_is_string(v) && !strcmp(json_string_value(v), "2M"))
		m->huge_pages = true;
	else
		return err_set(err, EINVAL,
			       "machine-config: `huge_pages` must be \"None\" or \"2M\"");
	return 0;
}

static int parse_cpu_template(struct config_machine *m, json_t *val, struct ember_err *err)
{
	char *name = NULL, known[128];
	int ret = get_string(val, "machine-config", "cpu_template", false, &name, err);

	if (ret || !name)
		return ret;
	if (cpuid_template_find(name)) {
		snprintf(m->cpu_template, sizeof(m->cpu_template), "%s", name);
	} else {
		cpuid_template_names(known, sizeof(known));
		ret =
		    err_set(err, EINVAL, "machine-config: unknown cpu_template \"%s\" (known: %s)",
			    name, known);
	}
	free(name);
	return ret;
}

static int parse_machine_fields(struct config_machine *m, json_t *val, bool patch,
				struct ember_err *err)
{
	const char *s = "machine-config";
	uint64_t vcpus = m->vcpu_count;
	int ret = 0;

	if (!patch || json_object_get(val, "vcpu_count"))
		ret = get_uint(val, s, "vcpu_count", 1, CONFIG_MAX_VCPUS, &vcpus, err);
	/* 1 TiB: beyond any microVM, and keeps MiB -> bytes far from overflow. */
	if (!ret && (!patch || json_object_get(val, "mem_size_mib")))
		ret = get_uint(val, s, "mem_size_mib", 1, 1 << 20, &m->mem_size_mib, err);
	if (!ret)
		ret = get_bool(val, s, "smt", &m->smt, err);
	if (!ret)
		ret = get_bool(val, s, "track_dirty_pages", &m->track_dirty_pages, err);
	if (!ret)
		ret = parse_huge_pages(m, val, err);
	if (!ret)
		ret = parse_cpu_template(m, val, err);
	m->vcpu_count = (unsigned)vcpus;
	if (!ret && m->smt && m->vcpu_count > 1 && m->vcpu_count % 2)
		ret =
		    err_set(err, EINVAL, "machine-config: with smt, vcpu_count must be 1 or even");
	return ret;
}

/* PUT /machine-config: fields left out take their defaults; PATCH: they
 * keep their values. Nothing changes on an error. */
static int apply_machine_config(struct vm_config *cfg, json_t *val, bool patch,
				struct ember_err *err)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib",
					    "smt",        "track_dirty_pages",
					    "huge_pages", "cpu_template",
					    NULL };
	struct config_machine m = cfg->machine;
	int ret;

	if (!patch) {
		struct vm_config defaults;

		config_init(&defaults);
		m = defaults.machine;
	}
	ret = need_object(val, "machine-config", err);
	if (!ret)
		ret = check_keys(val, "machine-config", keys, err);
	if (!ret)
		ret = parse_machine_fields(&m, val, patch, err);
	if (!ret)
		cfg->machine = m;
	return ret;
}

static int parse_machine_config(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	return apply_machine_config(cfg, val, false, err);
}

static int parse_logger(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "log_path",        "level",  "show_level",
					    "show_log_origin", "module", NULL };
	struct config_logger l = { .opts.level = LOG_INFO };
	char *level = NULL, *module = NULL;
	int ret;

	ret = need_object(val, "logger", err);
	if (!ret)
		ret = check_keys(val, "logger", keys, err);
	if (!ret)
		ret = get_string(val, "logger", "log_path", false, &l.log_path, err);
	if (!ret)
		ret = get_string(val, "logger", "level", false, &level, err);
	if (!ret && level && log_parse_level(level, &l.opts.level) < 0)
		ret = err_set(err, EINVAL, "logger: unknown level \"%s\"", level);
	if (!ret)
		ret = get_bool(val, "logger", "show_level", &l.opts.show_level, err);
	if (!ret)
		ret = get_bool(val, "logger", "show_log_origin", &l.opts.show_origin, err);
	if (!ret)
		ret = get_string(val, "logger", "module", false, &module, err);
	free(level);
	free(module);
	if (ret) {
		free(l.log_path);
		return ret;
	}
	free(cfg->logger.log_path);
	l.set = true;
	cfg->logger = l;
	return 0;
}

static int parse_serial(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "serial_out_path", NULL };
	int ret = need_object(val, "serial", err);

	if (!ret)
		ret = check_keys(val, "serial", keys, err);
	if (!ret)
		ret =
		    get_string(val, "serial", "serial_out_path", false, &cfg->serial_out_path, err);
	return ret;
}

static int parse_bucket(json_t *obj, const char *section, const char *key, struct config_bucket *b,
			struct ember_err *err)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time", NULL };
	json_t *v = json_object_get(obj, key);
	char where[160];
	int ret;

	memset(b, 0, sizeof(*b));
	if (!v || json_is_null(v))
		return 0;
	snprintf(where, sizeof(where), "%s: rate_limiter.%s", section, key);
	ret = need_object(v, where, err);
	if (!ret)
		ret = check_keys(v, where, keys, err);
	if (!ret)
		ret = get_uint(v, where, "size", 0, UINT64_MAX >> 1, &b->size, err);
	if (!ret)
		ret =
		    get_uint(v, where, "refill_time", 0, UINT64_MAX >> 1, &b->refill_time_ms, err);
	if (!ret && json_object_get(v, "one_time_burst") &&
	    !json_is_null(json_object_get(v, "one_time_burst")))
		ret = get_uint(v, where, "one_time_burst", 0, UINT64_MAX >> 1, &b->one_time_burst,
			       err);
	return ret;
}

/* Firecracker's RateLimiter object: optional bandwidth and ops buckets. */
static int parse_rate_limiter(json_t *obj, const char *section, const char *key,
			      struct config_rate_limiter *rl, struct ember_err *err)
{
	static const char *const keys[] = { "bandwidth", "ops", NULL };
	json_t *v = json_object_get(obj, key);
	char where[160];
	int ret;

	memset(rl, 0, sizeof(*rl));
	if (!v || json_is_null(v))
		return 0;
	snprintf(where, sizeof(where), "%s: %s", section, key);
	ret = need_object(v, where, err);
	if (!ret)
		ret = check_keys(v, where, keys, err);
	if (!ret)
		ret = parse_bucket(v, section, "bandwidth", &rl->bandwidth, err);
	if (!ret)
		ret = parse_bucket(v, section, "ops", &rl->ops, err);
	return ret;
}

static int parse_choice(json_t *obj, const char *section, const char *key,
			const char *const *choices, int *out, struct ember_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	for (int i = 0; json_is_string(v) && choices[i]; i++)
		if (!strcmp(json_string_value(v), choices[i])) {
			*out = i;
			return 0;
		}
	return err_set(err, EINVAL, "%s: `%s` must be \"%s\" or \"%s\"", section, key, choices[0],
		       choices[1]);
}

static int parse_drive_options(json_t *val, const char *s, struct config_drive *d,
			       struct ember_err *err)
{
	static const char *const caches[] = { "Unsafe", "Writeback", NULL };
	static const char *const engines[] = { "Sync", "Async", NULL };
	int cache = 0, engine = 0;
	int ret;

	ret = get_bool(val, s, "is_read_only", &d->is_read_only, err);
	if (!ret)
		ret = get_string(val, s, "partuuid", false, &d->partuuid, err);
	if (!ret)
		ret = parse_choice(val, s, "cache_type", caches, &cache, err);
	if (!ret)
		ret = parse_choice(val, s, "io_engine", engines, &engine, err);
	if (!ret)
		ret = parse_rate_limiter(val, s, "rate_limiter", &d->rate_limiter, err);
	if (!ret && json_object_get(val, "socket") && !json_is_null(json_object_get(val, "socket")))
		ret =
		    err_set(err, ENOTSUP, "%s: vhost-user drives (`socket`) are not supported", s);
	d->writeback = cache == 1;
	return ret;
}

static int parse_drive(json_t *val, const char *label, struct config_drive *d,
		       struct ember_err *err)
{
	static const char *const keys[] = {
		"drive_id",   "path_on_host", "is_root_device", "is_read_only", "partuuid",
		"cache_type", "io_engine",    "rate_limiter",   "socket",       NULL
	};
	char s[96];
	json_t *root;
	int ret;

	snprintf(s, sizeof(s), "%s", label);
	ret = need_object(val, s, err);
	if (!ret)
		ret = check_keys(val, s, keys, err);
	if (!ret)
		ret = get_string(val, s, "drive_id", true, &d->drive_id, err);
	if (!ret)
		snprintf(s, sizeof(s), "drive %s", d->drive_id);
	if (!ret && (!*d->drive_id || strlen(d->drive_id) > 64))
		ret = err_set(err, EINVAL, "%s: `drive_id` must be 1 to 64 characters", s);
	if (!ret)
		ret = get_string(val, s, "path_on_host", true, &d->path_on_host, err);
	root = json_object_get(val, "is_root_device");
	if (!ret && !root)
		ret = err_set(err, EINVAL, "%s: missing field `is_root_device`", s);
	if (!ret)
		ret = get_bool(val, s, "is_root_device", &d->is_root_device, err);
	if (!ret)
		ret = parse_drive_options(val, s, d, err);
	return ret;
}

int config_find_drive(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_drives; i++)
		if (!strcmp(cfg->drives[i].drive_id, id))
			return (int)i;
	return -1;
}

/* Only one root, counting every drive but the one at `skip`. */
static int check_root(const struct vm_config *cfg, const struct config_drive *d, int skip,
		      struct ember_err *err)
{
	for (unsigned i = 0; d->is_root_device && i < cfg->nr_drives; i++)
		if ((int)i != skip && cfg->drives[i].is_root_device)
			return err_set(err, EINVAL,
				       "drives: `%s` and `%s` are both root devices; only one "
				       "drive can be the root",
				       cfg->drives[i].drive_id, d->drive_id);
	return 0;
}

/* Add a parsed drive: the root drive goes first, as Firecracker attaches it. */
static void add_drive(struct vm_config *cfg, const struct config_drive *d)
{
	if (d->is_root_device) {
		memmove(&cfg->drives[1], &cfg->drives[0], cfg->nr_drives * sizeof(*d));
		cfg->drives[0] = *d;
	} else {
		cfg->drives[cfg->nr_drives] = *d;
	}
	cfg->nr_drives++;
}

static void remove_drive(struct vm_config *cfg, int i)
{
	drive_free(&cfg->drives[i]);
	memmove(&cfg->drives[i], &cfg->drives[i + 1],
		(cfg->nr_drives - (unsigned)i - 1) * sizeof(cfg->drives[0]));
	cfg->nr_drives--;
}

static int check_put_drive(const struct vm_config *cfg, const struct config_drive *d,
			   const char *path_id, int old, bool replace, struct ember_err *err)
{
	if (path_id && strcmp(path_id, d->drive_id))
		return err_set(err, EINVAL,
			       "drive %s: the body's drive_id `%s` differs from the path's",
			       path_id, d->drive_id);
	if (old >= 0 && !replace)
		return err_set(err, EINVAL, "drives: `%s` is listed twice", d->drive_id);
	if (old < 0 && cfg->nr_drives == CONFIG_MAX_DRIVES)
		return err_set(err, EINVAL, "drives: at most %d drives", CONFIG_MAX_DRIVES);
	return check_root(cfg, d, old, err);
}

/* Add a drive; with `replace` (the API's PUT) one with the same drive_id is
 * swapped, in place unless it changes root. Nothing changes on an error. */
static int put_drive(struct vm_config *cfg, json_t *val, const char *label, const char *path_id,
		     bool replace, struct ember_err *err)
{
	struct config_drive d = { 0 };
	int old = -1, ret = parse_drive(val, label, &d, err);

	if (!ret) {
		old = config_find_drive(cfg, d.drive_id);
		ret = check_put_drive(cfg, &d, path_id, old, replace, err);
	}
	if (ret) {
		drive_free(&d);
		return ret;
	}
	if (old >= 0 && cfg->drives[old].is_root_device == d.is_root_device) {
		drive_free(&cfg->drives[old]);
		cfg->drives[old] = d;
		return 0;
	}
	if (old >= 0)
		remove_drive(cfg, old);
	add_drive(cfg, &d);
	return 0;
}

static int parse_drives(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	char label[32];
	size_t i;
	json_t *v;

	if (json_is_null(val))
		return 0;
	if (!json_is_array(val))
		return err_set(err, EINVAL, "drives must be a JSON array");
	json_array_foreach(val, i, v)
	{
		int ret;

		snprintf(label, sizeof(label), "drives[%zu]", i);
		ret = put_drive(cfg, v, label, NULL, false, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_mac(json_t *obj, const char *s, struct config_net *n, struct ember_err *err)
{
	json_t *v = json_object_get(obj, "guest_mac");
	unsigned b[6];
	char end;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    sscanf(json_string_value(v), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6 ||
	    strlen(json_string_value(v)) != 17)
		return err_set(err, EINVAL, "%s: `guest_mac` must look like \"06:00:ac:10:00:02\"",
			       s);
	if (b[0] & 1)
		return err_set(err, EINVAL, "%s: `guest_mac` is a multicast address", s);
	for (int i = 0; i < 6; i++)
		n->mac[i] = (uint8_t)b[i];
	n->has_mac = true;
	return 0;
}

static int parse_net(json_t *val, const char *label, struct config_net *n, struct ember_err *err)
{
	static const char *const keys[] = { "iface_id",        "host_dev_name",   "guest_mac",
					    "rx_rate_limiter", "tx_rate_limiter", NULL };
	char s[96];
	int ret;

	snprintf(s, sizeof(s), "%s", label);
	ret = need_object(val, s, err);
	if (!ret)
		ret = check_keys(val, s, keys, err);
	if (!ret)
		ret = get_string(val, s, "iface_id", true, &n->iface_id, err);
	if (!ret)
		snprintf(s, sizeof(s), "network interface %.64s", n->iface_id);
	if (!ret && (!*n->iface_id || strlen(n->iface_id) > 64))
		ret = err_set(err, EINVAL, "%s: `iface_id` must be 1 to 64 characters", s);
	if (!ret)
		ret = get_string(val, s, "host_dev_name", true, &n->host_dev_name, err);
	if (!ret && (!*n->host_dev_name || strlen(n->host_dev_name) > 15))
		ret = err_set(err, EINVAL, "%s: `host_dev_name` must be 1 to 15 characters", s);
	if (!ret)
		ret = parse_mac(val, s, n, err);
	if (!ret)
		ret = parse_rate_limiter(val, s, "rx_rate_limiter", &n->rx_rate_limiter, err);
	if (!ret)
		ret = parse_rate_limiter(val, s, "tx_rate_limiter", &n->tx_rate_limiter, err);
	return ret;
}

int config_find_net(const struct vm_config *cfg, const char *id)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].iface_id, id))
			return (int)i;
	return -1;
}

/* No TAP or MAC shared with another interface than the one at `skip`. */
static int check_net(const struct vm_config *cfg, const struct config_net *n, int skip,
		     struct ember_err *err)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		const struct config_net *o = &cfg->nets[i];

		if ((int)i == skip)
			continue;
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return err_set(err, EINVAL,
				       "network-interfaces: `%s` and `%s` use the same TAP %s",
				       o->iface_id, n->iface_id, n->host_dev_name);
		if (o->has_mac && n->has_mac && !memcmp(o->mac, n->mac, 6))
			return err_set(err, EINVAL,
				       "network-interfaces: `%s` and `%s` have the same guest_mac",
				       o->iface_id, n->iface_id);
	}
	return 0;
}

static int check_put_net(const struct vm_config *cfg, const struct config_net *n,
			 const char *path_id, int old, bool replace, struct ember_err *err)
{
	if (path_id && strcmp(path_id, n->iface_id))
		return err_set(err, EINVAL,
			       "network interface %s: the body's iface_id `%s` differs from the "
			       "path's",
			       path_id, n->iface_id);
	if (old >= 0 && !replace)
		return err_set(err, EINVAL, "network-interfaces: `%s` is listed twice",
			       n->iface_id);
	if (old < 0 && cfg->nr_nets == CONFIG_MAX_NETS)
		return err_set(err, EINVAL, "network-interfaces: at most %d interfaces",
			       CONFIG_MAX_NETS);
	return check_net(cfg, n, old, err);
}

/* Add an interface, or with `replace` swap the one with its iface_id. */
static int put_net(struct vm_config *cfg, json_t *val, const char *label, const char *path_id,
		   bool replace, struct ember_err *err)
{
	struct config_net n = { 0 };
	int old = -1, ret = parse_net(val, label, &n, err);

	if (!ret) {
		old = config_find_net(cfg, n.iface_id);
		ret = check_put_net(cfg, &n, path_id, old, replace, err);
	}
	if (ret) {
		net_free(&n);
		return ret;
	}
	if (old >= 0)
		net_free(&cfg->nets[old]);
	cfg->nets[old >= 0 ? (unsigned)old : cfg->nr_nets++] = n;
	return 0;
}

static int parse_nets(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	char label[48];
	size_t i;
	json_t *v;

	if (json_is_null(val))
		return 0;
	if (!json_is_array(val))
		return err_set(err, EINVAL, "network-interfaces must be a JSON array");
	json_array_foreach(val, i, v)
	{
		int ret;

		snprintf(label, sizeof(label), "network-interfaces[%zu]", i);
		ret = put_net(cfg, v, label, NULL, false, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_vsock(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	struct config_vsock v = { 0 };
	char *id = NULL;
	int ret;

	if (json_is_null(val))
		return 0;
	ret = need_object(val, "vsock", err);
	if (!ret)
		ret = check_keys(val, "vsock", keys, err);
	if (!ret) /* the guest's CID: 0-2 are reserved, above 2^32 - 2 is not an address */
		ret = get_uint(val, "vsock", "guest_cid", 3, 0xfffffffeULL, &v.guest_cid, err);
	if (!ret)
		ret = get_string(val, "vsock", "uds_path", true, &v.uds_path, err);
	if (!ret && (!*v.uds_path || strlen(v.uds_path) > 95))
		ret = err_set(err, EINVAL, "vsock: `uds_path` must be 1 to 95 characters");
	if (!ret) /* accepted for older configs, unused as in Firecracker */
		ret = get_string(val, "vsock", "vsock_id", false, &id, err);
	free(id);
	if (ret) {
		free(v.uds_path);
		return ret;
	}
	free(cfg->vsock.uds_path); /* a new vsock replaces the old one */
	v.set = true;
	cfg->vsock = v;
	return 0;
}

/* PATCH /drives/{id} after boot: a new backing file and/or rate limiter. */
static int patch_drive(struct vm_config *cfg, json_t *val, const char *path_id,
		       struct ember_err *err)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	struct config_rate_limiter rl;
	char *id = NULL, *path = NULL;
	int i = -1, ret = need_object(val, "drive", err);

	if (!ret)
		ret = check_keys(val, "drive", keys, err);
	if (!ret)
		ret = get_string(val, "drive", "drive_id", true, &id, err);
	if (!ret && path_id && strcmp(id, path_id))
		ret = err_set(err, EINVAL,
			      "drive %s: the body's drive_id `%s` differs from the path's", path_id,
			      id);
	if (!ret && (i = config_find_drive(cfg, id)) < 0)
		ret = err_set(err, ENOENT, "drive %s: no such drive", id);
	if (!ret)
		ret = get_string(val, "drive", "path_on_host", false, &path, err);
	if (!ret)
		ret = parse_rate_limiter(val, "drive", "rate_limiter", &rl, err);
	free(id);
	if (ret) {
		free(path);
		return ret;
	}
	if (path) {
		free(cfg->drives[i].path_on_host);
		cfg->drives[i].path_on_host = path;
	}
	if (json_object_get(val, "rate_limiter"))
		cfg->drives[i].rate_limiter = rl;
	return 0;
}

/* PATCH /network-interfaces/{id} after boot: new rate limiters. */
static int patch_net(struct vm_config *cfg, json_t *val, const char *path_id, struct ember_err *err)
{
	static const char *const keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
					    NULL };
	struct config_rate_limiter rx, tx;
	char *id = NULL;
	int i = -1, ret = need_object(val, "network interface", err);

	if (!ret)
		ret = check_keys(val, "network interface", keys, err);
	if (!ret)
		ret = get_string(val, "network interface", "iface_id", true, &id, err);
	if (!ret && path_id && strcmp(id, path_id))
		ret = err_set(err, EINVAL,
			      "network interface %s: the body's iface_id `%s` differs from the "
			      "path's",
			      path_id, id);
	if (!ret && (i = config_find_net(cfg, id)) < 0)
		ret = err_set(err, ENOENT, "network interface %s: no such interface", id);
	if (!ret)
		ret = parse_rate_limiter(val, "network interface", "rx_rate_limiter", &rx, err);
	if (!ret)
		ret = parse_rate_limiter(val, "network interface", "tx_rate_limiter", &tx, err);
	free(id);
	if (ret)
		return ret;
	if (json_object_get(val, "rx_rate_limiter"))
		cfg->nets[i].rx_rate_limiter = rx;
	if (json_object_get(val, "tx_rate_limiter"))
		cfg->nets[i].tx_rate_limiter = tx;
	return 0;
}

/* "properties": an object of string values, kept as JSON text. */
static int parse_properties(json_t *val, char **out, struct ember_err *err)
{
	json_t *p = json_object_get(val, "properties"), *v;
	const char *k;

	*out = NULL;
	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		return err_set(err, EINVAL, "metrics: `properties` must be an object");
	json_object_foreach(p, k, v)
	{
		if (!json_is_string(v))
			return err_set(err, EINVAL, "metrics: properties.%s must be a string", k);
	}
	*out = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	return *out ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int parse_metrics(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "metrics_path", "emit_id", "properties", NULL };
	struct config_metrics m = { 0 };
	int ret;

	if (json_is_null(val))
		return 0;
	ret = need_object(val, "metrics", err);
	if (!ret)
		ret = check_keys(val, "metrics", keys, err);
	if (!ret)
		ret = get_string(val, "metrics", "metrics_path", true, &m.metrics_path, err);
	if (!ret)
		ret = get_bool(val, "metrics", "emit_id", &m.emit_id, err);
	if (!ret)
		ret = parse_properties(val, &m.properties, err);
	if (ret) {
		free(m.metrics_path);
		free(m.properties);
		return ret;
	}
	free(cfg->metrics.metrics_path);
	free(cfg->metrics.properties);
	m.set = true;
	cfg->metrics = m;
	return 0;
}

static int parse_entropy(struct vm_config *cfg, json_t *val, struct ember_err *err)
{
	static const char *const keys[] = { "rate_limiter", NULL };
	struct config_entropy e = { .set = true };
	int ret;

	if (json_is_null(val))
		return 0;
	ret = need_object(val, "entropy", err);
	if (!ret)
		ret = check_keys(val, "entropy", keys, err);
	if (!ret)
		ret = parse_rate_limiter(val, "entropy", "rate_limiter", &e.rate_limiter, err);
	if (!ret)
		cfg->entropy = e;
	return ret;
}

/* Sections of Firecracker's schema that this ember does not implement yet:
 * accepted when empty (as generated by tools), refused otherwise. */
static int parse_unsupported(const char *key, json_t *val, struct ember_err *err)
{
	if (json_is_null(val) || (json_is_array(val) && json_array_size(val) == 0))
		return 0;
	return err_set(err, ENOTSUP, "%s: not supported by this version of ember", key);
}

static const struct section sections[] = {
	{ "boot-source", parse_boot_source },
	{ "machine-config", parse_machine_config },
	{ "logger", parse_logger },
	{ "serial", parse_serial },
	{ "drives", parse_drives },
	{ "network-interfaces", parse_nets },
	{ "vsock", parse_vsock },
	{ "metrics", parse_metrics },
	{ "entropy", parse_entropy },
};

static const char *const later_sections[] = {
	"balloon", "mmds-config", "cpu-config", "pmem", "memory-hotplug", NULL,
};

static int parse_section(struct vm_config *cfg, const char *key, json_t *val, struct ember_err *err)
{
	if (json_is_null(val) &&
	    strcmp(key, "machine-config")) /* unset, as GET /vm/config shows it */
		return 0;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(key, sections[i].key))
			return sections[i].parse(cfg, val, err);
	for (size_t i = 0; later_sections[i]; i++)
		if (!strcmp(key, later_sections[i]))
			return parse_unsupported(key, val, err);
	return err_set(err, EINVAL, "unknown configuration section `%s`", key);
}

int config_parse(struct vm_config *cfg, const char *text, struct ember_err *err)
{
	json_error_t jerr;
	const char *key;
	json_t *root, *val;
	int ret = 0;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, EINVAL, "invalid JSON at line %d column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	if (!json_is_object(root))
		ret = err_set(err, EINVAL, "the configuration must be a JSON object");
	json_object_foreach(root, key, val)
	{
		if (ret)
			break;
		ret = parse_section(cfg, key, val, err);
	}
	json_decref(root);
	return ret;
}

/* One API resource's body: a JSON object, strictly. */
static json_t *load_body(const char *text, const char *what, struct ember_err *err)
{
	json_error_t jerr;
	json_t *v = json_loads(text ? text : "", JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	if (!v)
		err_set(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
			jerr.column, jerr.text);
	return v;
}

int config_put(struct vm_config *cfg, enum config_resource res, const char *id, const char *json,
	       bool patch, struct ember_err *err)
{
	static const char *const names[] = {
		"boot-source", "machine-config", "drive",   "network interface",
		"vsock",       "logger",         "metrics", "entropy",
	};
	json_t *v = load_body(json, names[res], err);
	int ret;

	if (!v)
		return -EINVAL;
	if (patch && res != CONFIG_MACHINE && res != CONFIG_DRIVE && res != CONFIG_NET)
		ret = err_set(err, EINVAL, "%s: PATCH is not supported here", names[res]);
	else if (json_is_null(v) && res >= CONFIG_VSOCK)
		ret = err_set(err, EINVAL, "%s must be a JSON object", names[res]);
	else if (res == CONFIG_BOOT_SOURCE)
		ret = parse_boot_source(cfg, v, err);
	else if (res == CONFIG_MACHINE)
		ret = apply_machine_config(cfg, v, patch, err);
	else if (res == CONFIG_DRIVE)
		ret = patch ? patch_drive(cfg, v, id, err)
			    : put_drive(cfg, v, "drive", id, true, err);
	else if (res == CONFIG_NET)
		ret = patch ? patch_net(cfg, v, id, err)
			    : put_net(cfg, v, "network interface", id, true, err);
	else if (res == CONFIG_VSOCK)
		ret = parse_vsock(cfg, v, err);
	else if (res == CONFIG_LOGGER)
		ret = parse_logger(cfg, v, err);
	else if (res == CONFIG_METRICS)
		ret = parse_metrics(cfg, v, err);
	else
		ret = parse_entropy(cfg, v, err);
	json_decref(v);
	return ret;
}

int config_load_file(struct vm_config *cfg, const char *path, struct ember_err *err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int ret;

	if (!f)
		return err_errno(err, "cannot open config file %s", path);
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return err_set(err, ENOMEM, "out of memory");
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONFIG_FILE_MAX) {
		free(buf);
		return err_set(err, EFBIG, "config file %s is larger than %d bytes", path,
			       CONFIG_FILE_MAX);
	}
	buf[n] = '\0';
	if (strlen(buf) != n)
		ret = err_set(err, EINVAL, "config file %s contains a NUL byte", path);
	else
		ret = config_parse(cfg, buf, err);
	free(buf);
	if (ret < 0)
		err_prefix(err, "%s", path);
	return ret;
}

int config_validate(const struct vm_config *cfg, struct ember_err *err)
{
	if (!cfg->has_boot)
		return err_set(err, EINVAL,
			       "missing boot-source: the VM needs a kernel_image_path");
	if (cfg->machine.huge_pages && cfg->machine.mem_size_mib % 2)
		return err_set(err, EINVAL,
			       "machine-config: mem_size_mib must be even with 2M huge pages");
	return 0;
}
