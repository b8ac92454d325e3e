// SPDX-License-Identifier: Apache-2.0
/* Firecracker's RateLimiter and TokenBucket bodies, shared by the drives,
 * the interfaces, the entropy device and the serial console. */
#include "resource.h"

const struct field res_bucket_fields[] = {
	{ .name = "size", .type = FT_U64, .flags = F_REQUIRED },
	{ .name = "one_time_burst", .type = FT_U64, .flags = F_NULLABLE },
	{ .name = "refill_time", .type = FT_U64, .flags = F_REQUIRED },
	{ 0 },
};

const struct field res_limiter_fields[] = {
	{ .name = "bandwidth",
	  .type = FT_OBJECT,
	  .flags = F_NULLABLE,
	  .sub = res_bucket_fields,
	  .what = "struct TokenBucketConfig" },
	{ .name = "ops",
	  .type = FT_OBJECT,
	  .flags = F_NULLABLE,
	  .sub = res_bucket_fields,
	  .what = "struct TokenBucketConfig" },
	{ 0 },
};

void res_get_bucket(json_t *o, struct config_bucket *b)
{
	*b = (struct config_bucket){ 0 };
	if (!json_is_object(o))
		return;
	b->set = true;
	b->size = body_u64(o, "size", 0);
	b->has_burst = body_has(o, "one_time_burst");
	b->one_time_burst = body_u64(o, "one_time_burst", 0);
	b->refill_time_ms = body_u64(o, "refill_time", 0);
}

void res_get_limiter(json_t *o, struct config_rate_limiter *rl)
{
	*rl = (struct config_rate_limiter){ 0 };
	if (!json_is_object(o))
		return;
	rl->set = true;
	res_get_bucket(json_object_get(o, "bandwidth"), &rl->bandwidth);
	res_get_bucket(json_object_get(o, "ops"), &rl->ops);
}

/* As Firecracker reports a limiter: from what it enforces, so a bucket of
 * size 0 or refill_time 0 (unlimited) shows as null, and so does a limiter
 * without a bucket; a burst of 0 as null too. */
static bool enabled(const struct config_bucket *b)
{
	return b->set && b->size && b->refill_time_ms;
}

json_t *res_dump_bucket(const struct config_bucket *b)
{
	if (!enabled(b))
		return json_null();
	return json_pack("{sIsosI}", "size", (json_int_t)b->size, "one_time_burst",
			 b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
					   : json_null(),
			 "refill_time", (json_int_t)b->refill_time_ms);
}

json_t *res_dump_limiter(const struct config_rate_limiter *rl)
{
	if (!enabled(&rl->bandwidth) && !enabled(&rl->ops))
		return json_null();
	return json_pack("{soso}", "bandwidth", res_dump_bucket(&rl->bandwidth), "ops",
			 res_dump_bucket(&rl->ops));
}
