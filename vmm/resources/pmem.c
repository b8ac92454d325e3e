// SPDX-License-Identifier: Apache-2.0
/*
 * /pmem/{id}: virtio-pmem devices (Firecracker's vmm_config/pmem.rs). PUT
 * before boot adds or replaces one (its file must open now); one may be
 * the root device, and not beside a root drive. PATCH after boot changes
 * the flush rate limiter. PUT and DELETE after boot are hot-plug, which
 * needs PCI. The config file's "pmem" is a list of PUT bodies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instance.h"
#include "resource.h"

static const struct field put_fields[] = {
	{ .name = "id", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "path_on_host", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "root_device", .type = FT_BOOL },
	{ .name = "read_only", .type = FT_BOOL },
	RES_LIMITER_FIELD("rate_limiter"),
	{ 0 },
};

static const struct field patch_fields[] = {
	{ .name = "id", .type = FT_STRING, .flags = F_REQUIRED },
	RES_LIMITER_FIELD("rate_limiter"),
	{ 0 },
};

static int same_id(const struct res_call *c, struct ember_err *err)
{
	if (c->id && strcmp(c->id, body_str(c->body.value, "id")))
		return err_set(err, EINVAL,
			       "The id from the path does not match the id from the body!");
	return 0;
}

static int parse_put(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, put_fields, "struct PmemConfig", 0, err);

	return ret ? ret : same_id(c, err);
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, patch_fields, "struct PmemDeviceUpdateConfig", 0, err);

	return ret ? ret : same_id(c, err);
}

static int config_error(struct ember_err *err, int code, const char *what)
{
	return err_set(err, code, "Pmem config error: %s", what);
}

/* The file must open as the device will open it, and hold data. */
static int check_file(const char *path, bool read_only, struct ember_err *err)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	char os[128], msg[ERR_MSG_MAX];
	struct stat st;

	if (fd < 0) {
		snprintf(msg, sizeof(msg), "Error accessing underlying file: %s",
			 res_os_error(errno, os, sizeof(os)));
		return config_error(err, errno, msg);
	}
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		close(fd);
		return config_error(err, EINVAL,
				    "Unable to create the virtio-pmem device: The backing file "
				    "has zero size");
	}
	close(fd);
	return 0;
}

/* Firecracker's PmemBuilder::build: one root, and not beside a root drive. */
static int check_root(const struct vm_config *cfg, const struct config_pmem *p, int old,
		      struct ember_err *err)
{
	if (!p->root_device)
		return 0;
	if (cfg->nr_drives && cfg->drives[0].is_root_device)
		return config_error(err, EINVAL,
				    "Attempt to add pmem as a root device while the root device "
				    "defined as a block device");
	for (unsigned i = 0; i < cfg->nr_pmems; i++)
		if ((int)i != old && cfg->pmems[i].root_device)
			return config_error(err, EINVAL, "A root pmem device already exist");
	return 0;
}

static int apply_put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct vm_config *cfg = c->cfg;
	struct config_pmem p = {
		.root_device = body_bool(o, "root_device", false),
		.read_only = body_bool(o, "read_only", false),
	};
	int old = config_find_pmem(cfg, body_str(o, "id")), ret;

	if (in->state != INSTANCE_NOT_STARTED && !c->restoring)
		return res_no_hotplug(in, c, err);
	if (old < 0 && cfg->nr_pmems == CONFIG_MAX_PMEMS)
		return config_error(err, ENOSPC, "too many pmem devices");
	ret = check_root(cfg, &p, old, err);
	if (!ret && !c->restoring)
		ret = check_file(body_str(o, "path_on_host"), p.read_only, err);
	res_get_limiter(json_object_get(o, "rate_limiter"), &p.rate_limiter);
	if (!ret)
		ret = body_dup(body_str(o, "id"), &p.id, err);
	if (!ret)
		ret = body_dup(body_str(o, "path_on_host"), &p.path_on_host, err);
	if (ret) {
		config_pmem_free(&p);
		return ret;
	}
	if (old >= 0)
		config_pmem_free(&cfg->pmems[old]);
	cfg->pmems[old >= 0 ? (unsigned)old : cfg->nr_pmems++] = p;
	return 0;
}

static int apply_patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	int i = config_find_pmem(&in->cfg, body_str(o, "id"));
	struct config_rate_limiter rl;
	int ret;

	if (i < 0 || !in->vm || (unsigned)i >= in->vm->nr_pmems)
		return err_set(err, ENOENT,
			       "Pmem config error: Unable to patch the pmem device: device %s not "
			       "found Please verify the request arguments.",
			       body_str(o, "id"));
	rl = in->cfg.pmems[i].rate_limiter;
	if (body_has(o, "rate_limiter"))
		res_get_limiter(json_object_get(o, "rate_limiter"), &rl);
	ret = vm_virtio_update_pmem(in->vm, (unsigned)i, &rl, err);
	if (ret)
		return err_prefix(err, "Pmem config error: Unable to patch the pmem device");
	in->cfg.pmems[i].rate_limiter = rl;
	return 0;
}

static json_t *pmem_json(const struct config_pmem *p)
{
	return json_pack("{sssssbsbso}", "id", p->id, "path_on_host", p->path_on_host,
			 "root_device", p->root_device, "read_only", p->read_only, "rate_limiter",
			 res_dump_limiter(&p->rate_limiter));
}

static json_t *dump(const struct instance *in)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < in->cfg.nr_pmems; i++)
		json_array_append_new(a, pmem_json(&in->cfg.pmems[i]));
	return a;
}

const struct res_def res_pmem = {
	.path = "pmem",
	.has_id = true,
	.metric = "pmem",
	.ops = {
		[RES_PUT] = { RES_PRE | RES_POST, true, parse_put, apply_put },
		[RES_PATCH] = { RES_POST, false, parse_patch, apply_patch },
		[RES_DELETE] = { RES_POST, false, NULL, res_no_hotplug },
	},
	.key = "pmem",
	.file_id = "id",
	.dump = dump,
};
