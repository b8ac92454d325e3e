// SPDX-License-Identifier: Apache-2.0
/*
 * /drives/{drive_id}: virtio-blk devices (Firecracker's BlockDeviceConfig).
 * PUT before boot adds or replaces a drive, the root one first in attach
 * order; its file must open now. PATCH after boot swaps the backing file
 * (the guest sees the new size) and/or the rate limiter. PUT and DELETE
 * after boot are hot-plug, which needs PCI: refused as Firecracker refuses
 * them without it. The config file's "drives" is a list of PUT bodies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "resource.h"

static const char *const caches[] = { "Unsafe", "Writeback", NULL };
static const char *const engines[] = { "Sync", "Async", NULL };

static const struct field put_fields[] = {
	{ .name = "drive_id", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "partuuid", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "is_root_device", .type = FT_BOOL, .flags = F_REQUIRED },
	{ .name = "cache_type", .type = FT_ENUM, .variants = caches },
	{ .name = "is_read_only", .type = FT_BOOL, .flags = F_NULLABLE },
	{ .name = "path_on_host", .type = FT_STRING, .flags = F_NULLABLE },
	RES_LIMITER_FIELD("rate_limiter"),
	{ .name = "io_engine", .type = FT_ENUM, .flags = F_NULLABLE, .variants = engines },
	{ .name = "socket", .type = FT_STRING, .flags = F_NULLABLE },
	{ 0 },
};

static const struct field patch_fields[] = {
	{ .name = "drive_id", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "path_on_host", .type = FT_STRING, .flags = F_NULLABLE },
	RES_LIMITER_FIELD("rate_limiter"),
	{ 0 },
};

static int same_id(const struct res_call *c, struct ember_err *err)
{
	if (c->id && strcmp(c->id, body_str(c->body.value, "drive_id")))
		return err_set(err, EINVAL,
			       "The id from the path does not match the id from the body!");
	return 0;
}

static int parse_put(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, put_fields, "struct BlockDeviceConfig", 0, err);

	return ret ? ret : same_id(c, err);
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	int ret = body_check(&c->body, patch_fields, "struct BlockDeviceUpdateConfig", 0, err);

	return ret ? ret : same_id(c, err);
}

/* Firecracker's words for a backing file that will not do. */
static int check_file(const char *path, bool read_only, const char *prefix, const char *suffix,
		      struct ember_err *err)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	char os[128];

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return err_set(err, errno,
		       "Drive config error: %sVirtio backend error: Error manipulating the backing "
		       "file: %s %s%s",
		       prefix, res_os_error(errno, os, sizeof(os)), path, suffix);
}

static int read_drive(const struct res_call *c, struct config_drive *d, struct ember_err *err)
{
	json_t *o = c->body.value;
	int ret;

	d->is_root_device = body_bool(o, "is_root_device", false);
	d->is_read_only = body_bool(o, "is_read_only", false);
	d->writeback = body_enum(o, "cache_type", caches, 0) == 1;
	d->io_engine = (enum config_io_engine)body_enum(o, "io_engine", engines, CONFIG_IO_SYNC);
	res_get_limiter(json_object_get(o, "rate_limiter"), &d->rate_limiter);
	ret = body_dup(body_str(o, "drive_id"), &d->drive_id, err);
	if (!ret)
		ret = body_dup(body_str(o, "path_on_host"), &d->path_on_host, err);
	if (!ret)
		ret = body_dup(body_str(o, "partuuid"), &d->partuuid, err);
	return ret;
}

static int check_drive(const struct res_call *c, const struct config_drive *d, int old,
		       struct ember_err *err)
{
	const struct vm_config *cfg = c->cfg;

	if (!res_id_valid(d->drive_id))
		return err_set(err, EINVAL,
			       "API Resource IDs can only contain alphanumeric characters and "
			       "underscores.");
	if (body_has(c->body.value, "socket"))
		return err_set(err, ENOTSUP,
			       "Drive config error: Unable to create the virtio block device: "
			       "vhost-user drives (`socket`) are not supported by ember");
	if (!d->path_on_host)
		return err_set(err, EINVAL,
			       "Drive config error: Unable to create the virtio block device: a "
			       "virtio-block drive needs `path_on_host`");
	/* Only one root: a new root may replace the root itself, nothing else. */
	if (d->is_root_device && cfg->nr_drives && cfg->drives[0].is_root_device && old != 0)
		return err_set(err, EEXIST,
			       "Drive config error: A root block device already exists!");
	if (old < 0 && cfg->nr_drives == CONFIG_MAX_DRIVES)
		return err_set(err, ENOSPC,
			       "Drive config error: Unable to create the virtio block device: at "
			       "most %d drives",
			       CONFIG_MAX_DRIVES);
	if (c->restoring)
		return 0;
	return check_file(d->path_on_host, d->is_read_only,
			  "Unable to create the virtio block device: ", "", err);
}

/* In place, the root first: Firecracker's BlockBuilder::insert. */
static void insert(struct vm_config *cfg, struct config_drive *d, int old)
{
	if (old >= 0) {
		config_drive_free(&cfg->drives[old]);
		cfg->drives[old] = *d;
		if (old > 0 && d->is_root_device) {
			struct config_drive tmp = cfg->drives[0];

			cfg->drives[0] = cfg->drives[old];
			cfg->drives[old] = tmp;
		}
		return;
	}
	if (d->is_root_device) {
		memmove(&cfg->drives[1], &cfg->drives[0], cfg->nr_drives * sizeof(*d));
		cfg->drives[0] = *d;
	} else {
		cfg->drives[cfg->nr_drives] = *d;
	}
	cfg->nr_drives++;
}

static int apply_put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct config_drive d = { 0 };
	int old, ret;

	if (in->state != INSTANCE_NOT_STARTED)
		return res_no_hotplug(in, c, err);
	ret = read_drive(c, &d, err);
	old = ret ? -1 : config_find_drive(c->cfg, d.drive_id);
	if (!ret)
		ret = check_drive(c, &d, old, err);
	if (ret) {
		config_drive_free(&d);
		return ret;
	}
	insert(c->cfg, &d, old);
	return 0;
}

/* After boot: the device first, then the configuration, so they agree. */
static int apply_patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	const char *path = body_str(o, "path_on_host");
	int i = config_find_drive(&in->cfg, c->id ? c->id : body_str(o, "drive_id"));
	struct config_drive d;
	char *new_path = NULL;
	int ret;

	if (i < 0)
		return err_set(err, ENOENT,
			       "Drive config error: Unable to patch the block device: drive %s not "
			       "found Please verify the request arguments.",
			       body_str(o, "drive_id"));
	if (!path && !body_has(o, "rate_limiter"))
		return err_set(err, EINVAL,
			       "Drive config error: Unable to patch the block device: Running "
			       "method expected different backend. Please verify the request "
			       "arguments.");
	d = in->cfg.drives[i];
	if (path && (ret = check_file(path, d.is_read_only, "Unable to patch the block device: ",
				      " Please verify the request arguments.", err)))
		return ret;
	if ((ret = body_dup(path, &new_path, err)))
		return ret;
	if (path)
		d.path_on_host = new_path;
	if (body_has(o, "rate_limiter"))
		res_get_limiter(json_object_get(o, "rate_limiter"), &d.rate_limiter);
	ret = vm_virtio_update_drive(in->vm, &d, path != NULL, err);
	if (ret) {
		free(new_path);
		return err_prefix(err, "Drive config error: Unable to patch the block device");
	}
	if (path)
		free(in->cfg.drives[i].path_on_host);
	in->cfg.drives[i] = d;
	return 0;
}

static json_t *drive_json(const struct config_drive *d)
{
	return json_pack("{sssosbsssbsssosssn}", "drive_id", d->drive_id, "partuuid",
			 d->partuuid ? json_string(d->partuuid) : json_null(), "is_root_device",
			 d->is_root_device, "cache_type", caches[d->writeback], "is_read_only",
			 d->is_read_only, "path_on_host", d->path_on_host, "rate_limiter",
			 res_dump_limiter(&d->rate_limiter), "io_engine", engines[d->io_engine],
			 "socket");
}

static json_t *dump(const struct instance *in)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < in->cfg.nr_drives; i++)
		json_array_append_new(a, drive_json(&in->cfg.drives[i]));
	return a;
}

const struct res_def res_drives = {
	.path = "drives",
	.has_id = true,
	.metric = "drive",
	.ops = {
		[RES_PUT] = { RES_PRE | RES_POST, true, parse_put, apply_put },
		[RES_PATCH] = { RES_POST, false, parse_patch, apply_patch },
		[RES_DELETE] = { RES_POST, false, NULL, res_no_hotplug },
	},
	.key = "drives",
	.file_id = "drive_id",
	.dump = dump,
};
