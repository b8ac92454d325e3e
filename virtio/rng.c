// SPDX-License-Identifier: Apache-2.0
/* virtio-rng: guest buffers filled with the host's random bytes. */
#include "rng.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

/* Fill every writable buffer of the chain, up to VIRTIO_RNG_REQ_MAX bytes.
 * The number of bytes written, or -errno from getrandom. */
static int64_t fill(struct virtio_rng *r)
{
	uint64_t done = 0;

	for (uint32_t i = 0; i < r->chain.nbufs && done < VIRTIO_RNG_REQ_MAX; i++) {
		const struct virtq_buf *b = &r->chain.bufs[i];
		uint64_t len =
		    b->len < VIRTIO_RNG_REQ_MAX - done ? b->len : VIRTIO_RNG_REQ_MAX - done;
		uint8_t *p = b->writable ? guest_mem_ptr(r->mem, b->gpa, len) : NULL;
		ssize_t n;

		if (!p)
			continue; /* the queue code checked it; nothing to fill */
		n = getrandom(p, len, 0);
		if (n < 0)
			return -errno;
		done += (uint64_t)n;
		if ((uint64_t)n < len)
			break; /* interrupted: give what we have */
	}
	return (int64_t)done;
}

static void push(struct virtio_rng *r, uint32_t len)
{
	struct ember_err err;

	if (virtq_push(&r->transport.queues[0], r->chain.head, len, &err) < 0)
		virtio_mmio_needs_reset(&r->transport, err.msg);
}

/* 1: request done, 0: the rate limiter stopped the queue. */
static int serve(struct virtio_rng *r)
{
	uint64_t want =
	    r->chain.writable < VIRTIO_RNG_REQ_MAX ? r->chain.writable : VIRTIO_RNG_REQ_MAX;
	int64_t n;

	if (!ratelimit_consume(&r->rl, want, ratelimit_now_ns())) {
		r->stats.throttled++;
		virtq_unpop(&r->transport.queues[0]);
		return 0;
	}
	n = fill(r);
	if (n < 0) {
		r->stats.host_fails++;
		log_warn_rl("virtio-rng: getrandom: %s", strerror((int)-n));
		n = 0;
	}
	r->stats.requests++;
	r->stats.bytes += (uint64_t)n;
	push(r, (uint32_t)n);
	return 1;
}

static void process(struct virtio_rng *r)
{
	struct virtq *q = &r->transport.queues[0];
	struct ember_err err;
	bool done = false;
	int ret;

	while (!r->rl.blocked) {
		ret = virtq_pop_dir(q, &r->chain, true, &err);
		if (ret == 0)
			break;
		if (ret == -EPROTO) {
			virtio_mmio_needs_reset(&r->transport, err.msg);
			break;
		}
		if (ret < 0) { /* a bad chain: returned with nothing written */
			r->stats.invalid++;
			log_warn_rl("virtio-rng: bad descriptor chain: %s", err.msg);
			push(r, 0);
			done = true;
			continue;
		}
		if (!serve(r))
			break;
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&r->transport, 0);
}

static void rng_notify(void *dev, unsigned q)
{
	(void)q;
	process(dev);
}

void virtio_rng_ratelimit_expired(struct virtio_rng *r)
{
	pthread_mutex_lock(&r->transport.lock);
	ratelimit_timer_fired(&r->rl);
	if (r->transport.active)
		process(r);
	pthread_mutex_unlock(&r->transport.lock);
}

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return 0;
}

static int rng_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev;
	(void)features;
	(void)err;
	return 0;
}

static void rng_reset(void *dev)
{
	struct virtio_rng *r = dev;

	r->rl.blocked = false; /* requests are served at once: none in flight */
}

#define RNG_STATE_MAGIC 0x31474e52u /* "RNG1" */

/* Nothing beyond the transport's queue: a mark, so a snapshot whose device
 * list differs from the VM's is told, not misread. The rate limiter starts
 * full again, as Firecracker's does. */
static void rng_save(void *dev, struct state_writer *w)
{
	(void)dev;
	state_put_u32(w, RNG_STATE_MAGIC);
}

static int rng_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	(void)dev;
	if (state_get_u32(r) != RNG_STATE_MAGIC)
		return err_set(err, EINVAL, "not a virtio-rng state");
	return 0;
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = VIRTIO_RNG_QUEUE_SIZE,
	.config_len = 0,
	.features = rng_features,
	.activate = rng_activate,
	.reset = rng_reset,
	.notify = rng_notify,
	.save = rng_save,
	.restore = rng_restore,
};

int virtio_rng_open(struct virtio_rng *r, const struct token_bucket *bandwidth,
		    const struct token_bucket *ops, const struct guest_mem *mem, uint64_t base,
		    uint32_t irq, struct ember_err *err)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->mem = mem;
	ret = ratelimit_init(&r->rl, bandwidth, ops, err);
	if (!ret)
		ret = virtio_mmio_init(&r->transport, &virtio_rng_ops, r, mem, base, irq, err);
	if (ret)
		ratelimit_free(&r->rl);
	return ret;
}

void virtio_rng_close(struct virtio_rng *r)
{
	virtio_mmio_destroy(&r->transport);
	ratelimit_free(&r->rl);
}
