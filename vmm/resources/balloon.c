// SPDX-License-Identifier: Apache-2.0
/*
 * The balloon (Firecracker's vmm_config/balloon.rs): PUT /balloon before
 * boot, GET /balloon, PATCH /balloon (the target), GET or PATCH
 * /balloon/statistics and the free page hinting run (PATCH
 * /balloon/hinting/start and /stop, GET /balloon/hinting/status) after it,
 * with Firecracker's messages.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "instance.h"
#include "resource.h"
#include "vm.h"

static const struct field put_fields[] = {
	{ .name = "amount_mib", .type = FT_U32, .flags = F_REQUIRED },
	{ .name = "deflate_on_oom", .type = FT_BOOL, .flags = F_REQUIRED },
	{ .name = "stats_polling_interval_s", .type = FT_U16 },
	{ .name = "free_page_hinting", .type = FT_BOOL },
	{ .name = "free_page_reporting", .type = FT_BOOL },
	{ 0 },
};

static const struct field patch_fields[] = {
	{ .name = "amount_mib", .type = FT_U32, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field stats_fields[] = {
	{ .name = "stats_polling_interval_s", .type = FT_U16, .flags = F_REQUIRED },
	{ 0 },
};

static const char not_found[] = "Failed perform action on device: Device not found";
/* Targets are 4 KiB pages in a 32-bit register. */
#define MIB_MAX (UINT32_MAX / VIRTIO_BALLOON_PAGES_MIB)

static int parse_put(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, put_fields, "struct BalloonDeviceConfig", 0, err);
}

static int apply_put(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct config_balloon b = {
		.set = true,
		.amount_mib = (uint32_t)body_u64(o, "amount_mib", 0),
		.deflate_on_oom = body_bool(o, "deflate_on_oom", false),
		.stats_polling_interval_s = (uint16_t)body_u64(o, "stats_polling_interval_s", 0),
		.free_page_hinting = body_bool(o, "free_page_hinting", false),
		.free_page_reporting = body_bool(o, "free_page_reporting", false),
	};

	(void)in;
	if (b.amount_mib > c->cfg->machine.mem_size_mib)
		return err_set(err, EINVAL,
			       "Balloon config error: Amount of pages requested is too large.");
	if (b.amount_mib > MIB_MAX)
		return err_set(err, EINVAL,
			       "Balloon config error: Error creating the balloon device: Requested "
			       "memory should be less than %uMiB",
			       MIB_MAX);
	c->cfg->balloon = b;
	return 0;
}

static json_t *config_json(const struct config_balloon *b)
{
	return json_pack("{sIsbsIsbsb}", "amount_mib", (json_int_t)b->amount_mib, "deflate_on_oom",
			 b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_polling_interval_s, "free_page_hinting",
			 b->free_page_hinting, "free_page_reporting", b->free_page_reporting);
}

static bool started(const struct instance *in)
{
	return in->state != INSTANCE_NOT_STARTED;
}

/* After boot the device answers, as Firecracker's VMM does. */
static struct virtio_balloon *device(struct instance *in, const char *prefix, struct ember_err *err)
{
	if (in->vm && in->vm->balloon)
		return in->vm->balloon;
	err_set(err, ENOENT, "%s%s", prefix, not_found);
	return NULL;
}

static int get(struct instance *in, struct res_call *c, struct ember_err *err)
{
	if (!started(in) && !in->cfg.balloon.set)
		return err_set(err, ENOENT, "Balloon config error: No balloon device found.");
	if (started(in) && !device(in, "Internal VMM error: ", err))
		return -ENOENT;
	return res_reply(c, config_json(&in->cfg.balloon), err);
}

static int parse_patch(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, patch_fields, "struct BalloonUpdateConfig", 0, err);
}

static int apply_patch(struct instance *in, struct res_call *c, struct ember_err *err)
{
	uint32_t mib = (uint32_t)body_u64(c->body.value, "amount_mib", 0);
	struct virtio_balloon *b = device(in, "Balloon update error: ", err);

	if (!b)
		return -ENOENT;
	if (!b->transport.active)
		return err_set(err, EAGAIN,
			       "Balloon update error: Balloon: Device not activated yet.");
	if (mib > in->cfg.machine.mem_size_mib)
		return err_set(err, EINVAL,
			       "Balloon update error: Balloon: Requested memory should be less "
			       "than %uMiB",
			       mib);
	if (mib > MIB_MAX)
		return err_set(err, EINVAL,
			       "Balloon update error: Balloon: Requested memory should be less "
			       "than %uMiB",
			       MIB_MAX);
	virtio_balloon_set_target(b, mib * VIRTIO_BALLOON_PAGES_MIB);
	in->cfg.balloon.amount_mib = mib;
	return 0;
}

static json_t *dump(const struct instance *in)
{
	return in->cfg.balloon.set ? config_json(&in->cfg.balloon) : json_null();
}

const struct res_def res_balloon = {
	.path = "balloon",
	.ops = {
		[RES_GET] = { RES_PRE | RES_POST, false, NULL, get },
		[RES_PUT] = { RES_PRE, true, parse_put, apply_put },
		[RES_PATCH] = { RES_POST, false, parse_patch, apply_patch },
	},
	.key = "balloon",
	.dump = dump,
};

/* Firecracker's BalloonStats: the sizes, then each statistic the guest
 * has reported (the others are left out). */
static json_t *stats_json(uint32_t target, uint32_t actual, const struct virtio_balloon_stats *s)
{
	json_t *o = json_pack("{sIsIsIsI}", "target_pages", (json_int_t)target, "actual_pages",
			      (json_int_t)actual, "target_mib",
			      (json_int_t)(target / VIRTIO_BALLOON_PAGES_MIB), "actual_mib",
			      (json_int_t)(actual / VIRTIO_BALLOON_PAGES_MIB));

	for (unsigned i = 0; o && i < VIRTIO_BALLOON_NR_STATS; i++)
		if (s->seen & (1u << i))
			json_object_set_new(o, virtio_balloon_stat_names[i],
					    json_integer((json_int_t)s->val[i]));
	return o;
}

static int get_stats(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct virtio_balloon *b = device(in, "Internal VMM error: ", err);
	struct virtio_balloon_stats s;
	uint32_t target, actual;

	if (!b)
		return -ENOENT;
	if (b->stats_q < 0)
		return err_set(err, EINVAL,
			       "Internal VMM error: Balloon: Received stats query when stats are "
			       "disabled.");
	virtio_balloon_read(b, &target, &actual, &s);
	return res_reply(c, stats_json(target, actual, &s), err);
}

static int parse_stats(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, stats_fields, "struct BalloonUpdateStatsConfig", 0, err);
}

static int apply_stats(struct instance *in, struct res_call *c, struct ember_err *err)
{
	uint16_t s = (uint16_t)body_u64(c->body.value, "stats_polling_interval_s", 0);
	struct virtio_balloon *b = device(in, "Balloon update error: ", err);
	int ret;

	if (!b)
		return -ENOENT;
	if (s != in->cfg.balloon.stats_polling_interval_s &&
	    (!s || !in->cfg.balloon.stats_polling_interval_s))
		return err_set(err, EINVAL,
			       "Balloon update error: Balloon: Statistics cannot be "
			       "enabled/disabled after activation.");
	ret = virtio_balloon_set_interval(b, s, err);
	if (ret)
		return err_prefix(err, "Balloon update error");
	in->cfg.balloon.stats_polling_interval_s = s;
	return 0;
}

const struct res_def res_balloon_statistics = {
	.path = "balloon",
	.sub = "statistics",
	.ops = {
		[RES_GET] = { RES_POST, false, NULL, get_stats },
		[RES_PATCH] = { RES_POST, false, parse_stats, apply_stats },
	},
};

/* --- free page hinting: /balloon/hinting/{start,stop,status} ------------- */

static const struct field hint_start_fields[] = {
	{ .name = "acknowledge_on_stop", .type = FT_BOOL },
	{ 0 },
};

/* Firecracker's parse errors for a path under /balloon/hinting/. */
static int unrecognized(const char *verb, const char *action, struct ember_err *err)
{
	return err_set(err, EINVAL, "Unrecognized %s request path `/hinting/%s`.", verb, action);
}

static int get_hinting(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct virtio_balloon_hinting st;
	struct virtio_balloon *b;

	b = device(in, "Balloon update error: ", err);
	if (!b)
		return -ENOENT;
	if (virtio_balloon_hint_status(b, &st, err) < 0)
		return err_prefix(err, "Balloon update error: Balloon");
	return res_reply(c,
			 json_pack("{sIso}", "host_cmd", (json_int_t)st.host_cmd, "guest_cmd",
				   st.guest_cmd_seen ? json_integer(st.guest_cmd) : json_null()),
			 err);
}

/* The action is checked first, as Firecracker's parser does, in any state. */
static int parse_status(struct res_call *c, struct ember_err *err)
{
	return strcmp(c->id, "status") ? unrecognized("GET", c->id, err) : 0;
}

/* start takes an optional body (acknowledge_on_stop, true by default);
 * stop ignores one, as Firecracker does. */
static int parse_hinting(struct res_call *c, struct ember_err *err)
{
	if (strcmp(c->id, "start"))
		return strcmp(c->id, "stop") ? unrecognized("PATCH", c->id, err) : 0;
	if (c->body.value)
		return body_check(&c->body, hint_start_fields, "struct StartHintingCmd", 0, err);
	return 0;
}

static int patch_hinting(struct instance *in, struct res_call *c, struct ember_err *err)
{
	bool start = !strcmp(c->id, "start");
	struct virtio_balloon *b;
	int ret;

	b = device(in, "Balloon update error: ", err);
	if (!b)
		return -ENOENT;
	ret = start ? virtio_balloon_hint_start(
			  b, body_bool(c->body.value, "acknowledge_on_stop", true), err)
		    : virtio_balloon_hint_stop(b, err);
	return ret < 0 ? err_prefix(err, "Balloon update error: Balloon") : 0;
}

const struct res_def res_balloon_hinting = {
	.path = "balloon",
	.sub = "hinting",
	.has_action = true,
	.patch_no_body = true,
	.ops = {
		[RES_GET] = { RES_POST, false, parse_status, get_hinting },
		[RES_PATCH] = { RES_POST, false, parse_hinting, patch_hinting },
	},
};
