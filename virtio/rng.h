/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.2 §5.4), configured by PUT /entropy: one queue of
 * device-writable buffers, filled from the host's getrandom(2), with an
 * optional rate limiter (bytes and requests) as in Firecracker.
 */
#ifndef EMBER_VIRTIO_RNG_H
#define EMBER_VIRTIO_RNG_H

#include <stdint.h>

#include "mmio.h"
#include "queue.h"
#include "ratelimit.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_REQ_MAX    65536 /* bytes given per request at most */

struct virtio_rng_stats {
	uint64_t bytes;      /* entropy_bytes */
	uint64_t requests;   /* entropy_event_count */
	uint64_t host_fails; /* getrandom failed */
	uint64_t invalid;    /* chains refused because of what the guest wrote */
	uint64_t throttled;
};

struct virtio_rng {
	struct virtio_mmio transport;
	const struct guest_mem *mem;
	struct ratelimit rl;
	struct virtio_rng_stats stats;
	struct virtq_chain chain; /* the request in hand */
};

extern const struct virtio_dev_ops virtio_rng_ops;

int virtio_rng_open(struct virtio_rng *r, const struct token_bucket *bandwidth,
		    const struct token_bucket *ops, const struct guest_mem *mem, uint64_t base,
		    uint32_t irq, struct ember_err *err);
void virtio_rng_close(struct virtio_rng *r);
/* The rate limiter's timer fired (VMM thread): resume the queue. */
void virtio_rng_ratelimit_expired(struct virtio_rng *r);

#endif
