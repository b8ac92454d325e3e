// SPDX-License-Identifier: Apache-2.0
/* Token buckets: passive refill on each use, exact integer arithmetic. */
#include "ratelimit.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ULL

void tb_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst, uint64_t refill_ms,
	     uint64_t now_ns)
{
	tb->size = size;
	tb->one_time_burst = one_time_burst;
	tb->refill_ms = refill_ms;
	tb->budget = size; /* buckets start full */
	tb->last_ns = now_ns;
}

bool tb_enabled(const struct token_bucket *tb)
{
	return tb->size && tb->refill_ms;
}

/* Credit whole tokens for the time since last_ns, carrying the remainder. */
static void refill(struct token_bucket *tb, uint64_t now_ns)
{
	unsigned __int128 refill_ns = (unsigned __int128)tb->refill_ms * NS_PER_MS;
	unsigned __int128 tokens;
	uint64_t elapsed;

	if (now_ns <= tb->last_ns)
		return;
	elapsed = now_ns - tb->last_ns;
	tokens = (unsigned __int128)elapsed * tb->size / refill_ns;
	if (tokens == 0)
		return;
	if (tokens >= tb->size - tb->budget) {
		tb->budget = tb->size;
		tb->last_ns = now_ns; /* a full bucket accrues nothing */
		return;
	}
	tb->budget += (uint64_t)tokens;
	/* Advance only by the time those whole tokens took. */
	tb->last_ns += (uint64_t)(tokens * refill_ns / tb->size);
}

enum tb_result tb_reduce(struct token_bucket *tb, uint64_t tokens, uint64_t now_ns,
			 uint64_t *block_ns)
{
	if (!tb_enabled(tb))
		return TB_OK;
	if (tb->one_time_burst) {
		if (tb->one_time_burst >= tokens) {
			tb->one_time_burst -= tokens;
			return TB_OK;
		}
		tokens -= tb->one_time_burst;
		tb->one_time_burst = 0;
	}
	refill(tb, now_ns);
	if (tokens > tb->size) {
		/* Over-consumption: allowed, but the bucket pays it back in time. */
		uint64_t debt = tokens - tb->budget;

		tb->budget = 0;
		*block_ns =
		    (uint64_t)((unsigned __int128)debt * tb->refill_ms * NS_PER_MS / tb->size);
		return TB_OVER;
	}
	if (tokens > tb->budget)
		return TB_EMPTY;
	tb->budget -= tokens;
	return TB_OK;
}

void tb_refund(struct token_bucket *tb, uint64_t tokens)
{
	tb->budget = tokens > tb->size - tb->budget ? tb->size : tb->budget + tokens;
}

int ratelimit_init(struct ratelimit *rl, const struct token_bucket *bw,
		   const struct token_bucket *ops, struct ember_err *err)
{
	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	if (bw)
		rl->bw = *bw;
	if (ops)
		rl->ops = *ops;
	/* Every limiter has its timer from the start, limited or not: a PATCH
	 * after boot only changes buckets, and the VMM thread's seccomp filter
	 * has no timerfd_create. */
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return err_errno(err, "rate limiter timerfd");
	return 0;
}

int ratelimit_update(struct ratelimit *rl, const struct token_bucket *bw,
		     const struct token_bucket *ops, struct ember_err *err)
{
	if (rl->timer_fd < 0)
		return err_set(err, EBADF, "the rate limiter has no timer");
	rl->bw = *bw;
	rl->ops = *ops;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}

static void block_for(struct ratelimit *rl, uint64_t ns)
{
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(ns / 1000000000ULL),
						.tv_nsec = (long)(ns % 1000000000ULL) } };

	if (ns == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm the timer */
	rl->blocked = true;
	if (rl->timer_fd >= 0)
		timerfd_settime(rl->timer_fd, 0, &its, NULL);
}

bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns)
{
	uint64_t wait = 0;
	enum tb_result r;

	if (rl->blocked)
		return false;
	r = tb_reduce(&rl->ops, 1, now_ns, &wait);
	if (r == TB_EMPTY) {
		block_for(rl, RATELIMIT_RETRY_MS * NS_PER_MS);
		return false;
	}
	if (r == TB_OVER)
		block_for(rl, wait);
	r = tb_reduce(&rl->bw, bytes, now_ns, &wait);
	if (r == TB_EMPTY) {
		tb_refund(&rl->ops, 1); /* the op did not happen */
		block_for(rl, RATELIMIT_RETRY_MS * NS_PER_MS);
		return false;
	}
	if (r == TB_OVER)
		block_for(rl, wait);
	/* Over-consumption lets this request through and blocks the next. */
	return true;
}

void ratelimit_refund(struct ratelimit *rl, uint64_t bytes)
{
	tb_refund(&rl->bw, bytes);
	tb_refund(&rl->ops, 1);
}

void ratelimit_timer_fired(struct ratelimit *rl)
{
	uint64_t n;

	if (rl->timer_fd >= 0 && read(rl->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN) {
		/* nothing to do: the limiter is retried either way */
	}
	rl->blocked = false;
}

uint64_t ratelimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
