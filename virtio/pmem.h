/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-pmem (virtio 1.2 §5.19), configured by PUT /pmem/{id} as in
 * Firecracker: a host file mapped (MAP_SHARED) into guest-physical space
 * past RAM as its own KVM memory slot, read-only when asked; the guest
 * reads and writes it as memory (with DAX, no page cache of its own), and
 * asks on the one queue for a flush, which is an fsync of the file. The
 * mapping is padded to 2 MiB with private anonymous memory.
 */
#ifndef EMBER_VIRTIO_PMEM_H
#define EMBER_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "mmio.h"
#include "queue.h"
#include "ratelimit.h"

#define VIRTIO_PMEM_QUEUE_SIZE 256
#define VIRTIO_PMEM_CONFIG_LEN 16         /* le64 start, le64 size */
#define VIRTIO_PMEM_ALIGN      (2u << 20) /* the guest's region granularity */

/* Firecracker's pmem metrics, and the flushes served. */
struct virtio_pmem_stats {
	uint64_t flushes;        /* flush requests served */
	uint64_t fails;          /* event_fails: bad chains, failed fsyncs */
	uint64_t queue_events;   /* queue_event_count */
	uint64_t throttled;      /* rate_limiter_throttled_events */
	uint64_t limiter_events; /* rate_limiter_event_count */
};

struct virtio_pmem {
	struct virtio_mmio transport;
	const struct guest_mem *mem;
	int fd;
	uint64_t file_len;
	uint8_t *map; /* map_len bytes: the file, then anonymous padding */
	uint64_t map_len;
	uint64_t gpa; /* where the guest sees it */
	bool read_only;
	struct ratelimit rl;
	struct virtio_pmem_stats stats;
	struct virtq_chain chain;
};

extern const struct virtio_dev_ops virtio_pmem_ops;

/* Open and map path (read_only: O_RDONLY and PROT_READ). The region's
 * size is the file's rounded up to VIRTIO_PMEM_ALIGN; gpa is set later
 * (virtio_pmem_place), before the guest runs. */
int virtio_pmem_open(struct virtio_pmem *p, const char *path, bool read_only,
		     const struct token_bucket *bandwidth, const struct token_bucket *ops,
		     const struct guest_mem *mem, uint64_t base, uint32_t irq,
		     struct ember_err *err);
void virtio_pmem_close(struct virtio_pmem *p);
void virtio_pmem_place(struct virtio_pmem *p, uint64_t gpa);
/* The rate limiter's timer fired (VMM thread): resume the queue. */
void virtio_pmem_ratelimit_expired(struct virtio_pmem *p);

#endif
