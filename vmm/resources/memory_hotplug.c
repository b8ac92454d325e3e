// SPDX-License-Identifier: Apache-2.0
/*
 * /hotplug/memory: the virtio-mem device (Firecracker's
 * vmm_config/memory_hotplug.rs). PUT before boot sets the region's total,
 * block and slot sizes, with Firecracker's checks; PATCH after boot sets
 * the size the guest is asked to plug; GET after boot shows the device's
 * sizes and what is plugged. The config file's "memory-hotplug" is a PUT
 * body; GET /vm/config shows the PUT's fields, or null.
 */
#include <errno.h>

#include "instance.h"
#include "resource.h"

static const struct field put_fields[] = {
	{ .name = "total_size_mib", .type = FT_U32, .flags = F_REQUIRED },
	{ .name = "block_size_mib", .type = FT_U32 },
	{ .name = "slot_size_mib", .type = FT_U32 },
	{ 0 },
};

static const struct field patch_fields[] = {
	{ .name = "requested_size_mib", .type = FT_U32, .flags = F_REQUIRED },
	{ 0 },
};

static int parse_put(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, put_fields, "struct MemoryHotplugConfig", 0, err);
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, patch_fields, "struct MemoryHotplugSizeUpdate", 0, err);
}

#define CONFIG_ERROR "Memory hotplug config error: "

/* Firecracker's MemoryHotplugConfig::validate, in its order. */
static int validate(const struct config_hotplug *h, struct ember_err *err)
{
	if (h->block_mib < CONFIG_HOTPLUG_BLOCK_MIB)
		return err_set(err, EINVAL, CONFIG_ERROR "Block size must not be lower than %u MiB",
			       CONFIG_HOTPLUG_BLOCK_MIB);
	if (h->block_mib & (h->block_mib - 1))
		return err_set(err, EINVAL, CONFIG_ERROR "Block size must be a power of 2");
	if (h->slot_mib < CONFIG_HOTPLUG_SLOT_MIB)
		return err_set(err, EINVAL, CONFIG_ERROR "Slot size must not be lower than %u MiB",
			       CONFIG_HOTPLUG_SLOT_MIB);
	if (h->slot_mib % h->block_mib)
		return err_set(err, EINVAL,
			       CONFIG_ERROR "Slot size must be a multiple of block size (%u MiB)",
			       h->block_mib);
	if (h->total_mib < h->slot_mib)
		return err_set(err, EINVAL,
			       CONFIG_ERROR "Total size must not be lower than slot size (%u MiB)",
			       h->slot_mib);
	if (h->total_mib % h->slot_mib)
		return err_set(err, EINVAL,
			       CONFIG_ERROR "Total size must be a multiple of slot size (%u MiB)",
			       h->slot_mib);
	return 0;
}

static int apply_put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct config_hotplug h = {
		.set = true,
		.total_mib = (uint32_t)body_u64(o, "total_size_mib", 0),
		.block_mib = (uint32_t)body_u64(o, "block_size_mib", CONFIG_HOTPLUG_BLOCK_MIB),
		.slot_mib = (uint32_t)body_u64(o, "slot_size_mib", CONFIG_HOTPLUG_SLOT_MIB),
	};
	int ret = validate(&h, err);

	(void)in;
	if (!ret)
		c->cfg->hotplug = h;
	return ret;
}

static struct virtio_mem *device(struct instance *in, const char *prefix, struct ember_err *err)
{
	if (in->vm && in->vm->mem_dev)
		return in->vm->mem_dev;
	err_set(err, ENOENT, "%sThe memory hotplug device was not found.", prefix);
	return NULL;
}

static int apply_patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	uint64_t size = body_u64(c->body.value, "requested_size_mib", 0) << 20;
	struct virtio_mem *m = device(in, "Memory hotplug update error: ", err);

	if (!m)
		return -ENOENT;
	if (size % m->block_size || size > m->region_size)
		return err_set(err, EINVAL,
			       "Memory hotplug update error: Size %llu is invalid: it must be a "
			       "multiple of block size and less than the total size",
			       (unsigned long long)size);
	virtio_mem_set_requested(m, size);
	return 0;
}

static int get(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct virtio_mem *m = device(in, "Internal VMM error: ", err);

	if (!m)
		return -ENOENT;
	return res_reply(c,
			 json_pack("{sIsIsIsIsI}", "block_size_mib",
				   (json_int_t)(m->block_size >> 20), "total_size_mib",
				   (json_int_t)(m->region_size >> 20), "slot_size_mib",
				   (json_int_t)(m->slot_size >> 20), "plugged_size_mib",
				   (json_int_t)(m->plugged_size >> 20), "requested_size_mib",
				   (json_int_t)(m->requested_size >> 20)),
			 err);
}

static json_t *dump(const struct instance *in)
{
	const struct config_hotplug *h = &in->cfg.hotplug;

	if (!h->set)
		return json_null();
	return json_pack("{sIsIsI}", "total_size_mib", (json_int_t)h->total_mib, "block_size_mib",
			 (json_int_t)h->block_mib, "slot_size_mib", (json_int_t)h->slot_mib);
}

const struct res_def res_memory_hotplug = {
	.path = "hotplug",
	.sub = "memory",
	.metric = "hotplug_memory",
	.ops = { [RES_GET] = { .when = RES_POST, .apply = get },
		 [RES_PUT] = { .when = RES_PRE,
			       .boot_path = true,
			       .parse = parse_put,
			       .apply = apply_put },
		 [RES_PATCH] = { .when = RES_POST, .parse = parse_patch, .apply = apply_patch } },
	.key = "memory-hotplug",
	.dump = dump,
};
