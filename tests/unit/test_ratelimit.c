// SPDX-License-Identifier: Apache-2.0
/* Rate-limiter arithmetic: refill, one-time burst, over-consumption, blocking. */
#include <criterion/criterion.h>
#include <sys/timerfd.h>

#include "ratelimit.h"

#define MS 1000000ULL

Test(token_bucket, starts_full_and_refills_at_size_per_refill_time)
{
	struct token_bucket tb;
	uint64_t wait;

	tb_init(&tb, 1000, 0, 100, 0); /* 1000 tokens per 100 ms */
	cr_assert_eq(tb_reduce(&tb, 1000, 0, &wait), TB_OK);
	cr_assert_eq(tb_reduce(&tb, 1, 0, &wait), TB_EMPTY);
	cr_assert_eq(tb_reduce(&tb, 500, 49 * MS, &wait), TB_EMPTY, "490 tokens after 49 ms");
	cr_assert_eq(tb.budget, 490);
	cr_assert_eq(tb_reduce(&tb, 500, 50 * MS, &wait), TB_OK, "500 after 50 ms");
	cr_assert_eq(tb.budget, 0);
	cr_assert_eq(tb_reduce(&tb, 1, 10 * 1000 * MS, &wait), TB_OK);
	cr_assert_eq(tb.budget, 999, "capped at size however long it waited");
}

Test(token_bucket, fractional_refill_carries_over)
{
	struct token_bucket tb;
	uint64_t wait;

	tb_init(&tb, 3, 0, 1000, 0); /* one token per 333.33 ms */
	tb_reduce(&tb, 3, 0, &wait);
	for (uint64_t t = 100; t <= 1000; t += 100)
		tb_reduce(&tb, 0, t * MS, &wait);
	cr_assert_eq(tb.budget, 3, "ten 100 ms steps refill exactly 3 tokens, none lost");
}

Test(token_bucket, one_time_burst_is_used_first_and_never_refilled)
{
	struct token_bucket tb;
	uint64_t wait;

	tb_init(&tb, 100, 250, 1000, 0);
	cr_assert_eq(tb_reduce(&tb, 200, 0, &wait), TB_OK);
	cr_assert_eq(tb.one_time_burst, 50);
	cr_assert_eq(tb.budget, 100, "budget untouched while the burst lasts");
	cr_assert_eq(tb_reduce(&tb, 120, 0, &wait), TB_OK, "50 burst + 70 budget");
	cr_assert_eq(tb.one_time_burst, 0);
	cr_assert_eq(tb.budget, 30);
	tb_reduce(&tb, 0, 100000 * MS, &wait);
	cr_assert_eq(tb.one_time_burst, 0, "never replenished");
	cr_assert_eq(tb.budget, 100);
}

Test(token_bucket, over_consumption_empties_and_blocks_proportionally)
{
	struct token_bucket tb;
	uint64_t wait = 0;

	tb_init(&tb, 1000, 0, 100, 0);
	cr_assert_eq(tb_reduce(&tb, 3000, 0, &wait), TB_OVER);
	cr_assert_eq(tb.budget, 0);
	cr_assert_eq(wait, 200 * MS, "2000 tokens of debt at 10 per ms");
}

Test(token_bucket, disabled_when_size_or_refill_is_zero)
{
	struct token_bucket tb;
	uint64_t wait;

	tb_init(&tb, 0, 0, 100, 0);
	cr_assert_not(tb_enabled(&tb));
	cr_assert_eq(tb_reduce(&tb, UINT64_MAX, 0, &wait), TB_OK);
	tb_init(&tb, 100, 0, 0, 0);
	cr_assert_eq(tb_reduce(&tb, UINT64_MAX, 0, &wait), TB_OK);
}

Test(token_bucket, huge_values_do_not_overflow)
{
	struct token_bucket tb;
	uint64_t wait = 0;

	tb_init(&tb, UINT64_MAX / 2, 0, UINT64_MAX / MS, 0);
	cr_assert_eq(tb_reduce(&tb, UINT64_MAX / 2, 0, &wait), TB_OK);
	cr_assert_eq(tb_reduce(&tb, 1, UINT64_MAX - 1, &wait), TB_OK);
	tb_init(&tb, 10, 0, 1, 0);
	cr_assert_eq(tb_reduce(&tb, UINT64_MAX, 0, &wait), TB_OVER);
	cr_assert_gt(wait, 0);
}

Test(ratelimit, bandwidth_and_ops_both_apply)
{
	struct token_bucket bw, ops;
	struct ratelimit rl;
	struct itimerspec its;

	tb_init(&bw, 4096, 0, 100, 0);
	tb_init(&ops, 2, 0, 100, 0);
	cr_assert_eq(ratelimit_init(&rl, &bw, &ops, NULL), 0);
	cr_assert_geq(rl.timer_fd, 0);
	cr_assert(ratelimit_consume(&rl, 1000, 0));
	cr_assert(ratelimit_consume(&rl, 1000, 0));
	cr_assert_not(ratelimit_consume(&rl, 1, 0), "out of ops");
	cr_assert(rl.blocked);
	cr_assert_eq(timerfd_gettime(rl.timer_fd, &its), 0);
	cr_assert(its.it_value.tv_sec || its.it_value.tv_nsec, "retry timer armed");
	cr_assert_not(ratelimit_consume(&rl, 1, 100 * MS), "blocked until the timer fires");
	ratelimit_timer_fired(&rl);
	cr_assert(ratelimit_consume(&rl, 1000, 100 * MS));
	cr_assert_not(ratelimit_consume(&rl, 4000, 100 * MS), "bytes exhausted");
	cr_assert_eq(rl.ops.budget, 1, "the refused op was refunded");
	ratelimit_free(&rl);
}

Test(ratelimit, unlimited_passes_and_has_its_timer_for_later)
{
	struct token_bucket bw, ops = { 0 };
	struct ratelimit rl;
	int fd;

	cr_assert_eq(ratelimit_init(&rl, NULL, NULL, NULL), 0);
	cr_assert_geq(rl.timer_fd, 0, "made at build time, so a PATCH needs no syscall");
	for (int i = 0; i < 1000; i++)
		cr_assert(ratelimit_consume(&rl, 1 << 20, 0));
	/* A PATCH after boot: new buckets on the same timer. */
	fd = rl.timer_fd;
	tb_init(&bw, 1000, 0, 100, 0);
	cr_assert_eq(ratelimit_update(&rl, &bw, &ops, NULL), 0);
	cr_assert_eq(rl.timer_fd, fd);
	cr_assert(ratelimit_consume(&rl, 1000, 0));
	cr_assert_not(ratelimit_consume(&rl, 1000, 0), "limited now");
	ratelimit_free(&rl);
}

Test(ratelimit, over_consumption_passes_then_blocks)
{
	struct token_bucket bw;
	struct ratelimit rl;

	tb_init(&bw, 1000, 0, 100, 0);
	ratelimit_init(&rl, &bw, NULL, NULL);
	cr_assert(ratelimit_consume(&rl, 5000, 0), "the big request itself goes through");
	cr_assert(rl.blocked);
	cr_assert_not(ratelimit_consume(&rl, 1, 0));
	ratelimit_free(&rl);
}
