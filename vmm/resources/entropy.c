// SPDX-License-Identifier: Apache-2.0
/* PUT /entropy: the virtio-rng device and its optional rate limiter
 * (Firecracker's EntropyDeviceConfig). A new PUT replaces it. */
#include "instance.h"
#include "resource.h"

static const struct field fields[] = {
	RES_LIMITER_FIELD("rate_limiter"),
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, fields, "struct EntropyDeviceConfig", 0, err);
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	(void)in;
	(void)err;
	c->cfg->entropy.set = true;
	res_get_limiter(json_object_get(c->body.value, "rate_limiter"),
			&c->cfg->entropy.rate_limiter);
	return 0;
}

static json_t *dump(const struct instance *in)
{
	if (!in->cfg.entropy.set)
		return json_null();
	return json_pack("{so}", "rate_limiter", res_dump_limiter(&in->cfg.entropy.rate_limiter));
}

const struct res_def res_entropy = {
	.path = "entropy",
	.metric = "entropy",
	.ops = { [RES_PUT] = { RES_PRE, true, parse, apply } },
	.key = "entropy",
	.dump = dump,
};
