/* SPDX-License-Identifier: Apache-2.0 */
/* Split virtqueues (virtio 1.2 §2.7): chains walked only through guest_mem_ptr. */
#ifndef EMBER_VIRTIO_QUEUE_H
#define EMBER_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"
#include "state.h"

#define VIRTQ_MAX_SIZE 256
/* Longest chain a device accepts, direct or indirect. */
#define VIRTQ_MAX_CHAIN 256

struct virtq {
	const struct guest_mem *mem;
	uint16_t size; /* negotiated queue size, a power of 2 */
	bool ready;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t last_avail;     /* next avail ring slot the device reads */
	uint16_t used_idx;       /* next used ring slot the device writes */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_valid;
	bool broken; /* the driver corrupted the ring: needs reset */
};

struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable; /* device-writable */
};

struct virtq_chain {
	uint16_t head;
	uint32_t nbufs;
	uint64_t readable; /* total bytes the device may read */
	uint64_t writable; /* total bytes the device may write */
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

void virtq_init(struct virtq *q, const struct guest_mem *mem);
/* Check the ring addresses and size the driver wrote before QUEUE_READY. */
int virtq_activate(struct virtq *q, struct ember_err *err);
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain. Returns 1 with *c filled, 0 when the ring
 * is empty, -EINVAL for a malformed chain (consumed: complete c->head with
 * an error status), -EPROTO when the ring itself is corrupt (q->broken set:
 * the device must report DEVICE_NEEDS_RESET).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c, struct ember_err *err);
/* virtq_pop for queues whose chains go one way: every buffer device-writable
 * (`writable`) or every one device-readable; otherwise -EINVAL (consumed). */
int virtq_pop_dir(struct virtq *q, struct virtq_chain *c, bool writable, struct ember_err *err);
/* Return a chain to the driver with `written` bytes filled in. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written, struct ember_err *err);
/* Whether the driver wants an interrupt for what was pushed (§2.7.10). */
/* Ask the driver to notify when it next makes a buffer available, even
 * before the device has used the ones it has (avail_event, §2.7.10). */
void virtq_notify_on_next(struct virtq *q);
bool virtq_needs_notify(struct virtq *q);
/* Put the chain just popped back: it is taken again by the next pop. */
/* Write each page of the used ring once (its own bytes back). After a
 * restore from a privately mapped file this makes them this process's
 * copies before the guest runs (virtio-mmio's restore). */
void virtq_own_used(struct virtq *q);
void virtq_unpop(struct virtq *q);
/* The driver's avail idx: it moves each time a buffer is made available. */
uint16_t virtq_avail_idx(const struct virtq *q);

void virtq_save(const struct virtq *q, struct state_writer *w);
/* Checks the saved ring addresses against guest memory as activation does. */
int virtq_restore(struct virtq *q, struct state_reader *r, struct ember_err *err);

#endif
