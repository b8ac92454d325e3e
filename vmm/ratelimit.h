/* SPDX-License-Identifier: Apache-2.0 */
/* Token-bucket rate limiter with Firecracker's semantics (bandwidth + ops). */
#ifndef EMBER_RATELIMIT_H
#define EMBER_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Retry interval after a plain failure, as Firecracker's REFILL_TIMER. */
#define RATELIMIT_RETRY_MS 100

struct token_bucket {
	uint64_t size;           /* capacity; 0 disables the bucket */
	uint64_t one_time_burst; /* initial extra credit, never refilled */
	uint64_t refill_ms;      /* empty to full; 0 disables the bucket */
	uint64_t budget;
	uint64_t last_ns; /* time up to which refill has been credited */
};

enum tb_result {
	TB_OK,    /* tokens taken */
	TB_EMPTY, /* not enough: nothing taken, retry later */
	TB_OVER,  /* larger than the bucket: emptied, blocked for a while */
};

enum ratelimit_kind { RATELIMIT_BYTES, RATELIMIT_OPS };

struct ratelimit {
	struct token_bucket bw;
	struct token_bucket ops;
	bool blocked;
	int timer_fd; /* fires when the limiter may be retried */
};

void tb_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst, uint64_t refill_ms,
	     uint64_t now_ns);
bool tb_enabled(const struct token_bucket *tb);
/* Take tokens at time now_ns. For TB_OVER, *block_ns is how long to wait. */
enum tb_result tb_reduce(struct token_bucket *tb, uint64_t tokens, uint64_t now_ns,
			 uint64_t *block_ns);
/* Give back tokens taken for a request that was then not done. */
void tb_refund(struct token_bucket *tb, uint64_t tokens);

int ratelimit_init(struct ratelimit *rl, const struct token_bucket *bw,
		   const struct token_bucket *ops, struct ember_err *err);
/* New buckets (full, as Firecracker's PATCH): 0, or -errno. No syscall: the
 * timer was made by ratelimit_init. A blocked limiter stays blocked until
 * its timer fires. */
int ratelimit_update(struct ratelimit *rl, const struct token_bucket *bw,
		     const struct token_bucket *ops, struct ember_err *err);
void ratelimit_free(struct ratelimit *rl);
/*
 * May a request of `bytes` (one op) go ahead at now_ns? On false the limiter
 * is blocked and its timer armed; the device stops its queue until
 * ratelimit_timer_fired() is called from the event loop.
 */
bool ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns);
/* Give back what a consume took for a request that could not be done. */
void ratelimit_refund(struct ratelimit *rl, uint64_t bytes);
void ratelimit_timer_fired(struct ratelimit *rl);
uint64_t ratelimit_now_ns(void);

#endif
