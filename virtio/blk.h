/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk (virtio 1.2 §5.2) backed by a host file. */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"
#include "mmio.h"
#include "queue.h"
#include "ratelimit.h"

#define VIRTIO_BLK_SECTOR   512
#define VIRTIO_BLK_ID_BYTES 20

struct blk_seg {
	uint64_t gpa;
	uint32_t len;
};

struct blk_request {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint64_t sector;
	uint64_t data_len;
	uint32_t nsegs;
	struct blk_seg segs[VIRTQ_MAX_CHAIN];
	bool has_status;
	uint64_t status_gpa; /* the chain's last writable byte */
};

/*
 * Turn a chain into a request for a disk of `capacity` sectors. On error,
 * *status is what to report (VIRTIO_BLK_S_IOERR or _UNSUPP) when
 * req->has_status; without a status byte the chain is returned with len 0.
 */
int virtio_blk_parse(const struct guest_mem *mem, const struct virtq_chain *c, uint64_t capacity,
		     bool read_only, struct blk_request *req, uint8_t *status,
		     struct ember_err *err);

struct virtio_blk_params {
	const char *drive_id;
	const char *path;
	bool read_only;
	bool writeback; /* cache_type Writeback: offer FLUSH, which is fdatasync */
	struct token_bucket bandwidth;
	struct token_bucket ops;
};

struct virtio_blk_stats {
	uint64_t read_bytes, write_bytes, reads, writes, flushes;
	uint64_t invalid; /* requests refused because of what the guest wrote */
	uint64_t io_errors;
	uint64_t throttled;
};

struct virtio_blk {
	struct virtio_mmio transport;
	const struct guest_mem *mem;
	char drive_id[64];
	int fd;
	bool read_only;
	bool writeback;
	uint64_t capacity; /* in 512-byte sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct ratelimit rl;
	struct virtio_blk_stats stats;
	/* scratch for the request in hand: too large for the stack */
	struct virtq_chain chain;
	struct blk_request req;
};

extern const struct virtio_dev_ops virtio_blk_ops;

/* Open the backing file and set up the device at `base`/`irq`. */
int virtio_blk_open(struct virtio_blk *b, const struct virtio_blk_params *p,
		    const struct guest_mem *mem, uint64_t base, uint32_t irq,
		    struct ember_err *err);
void virtio_blk_close(struct virtio_blk *b);
/* PATCH /drives after boot (VMM thread): a new backing file, opened with the
 * drive's mode; the guest reads the new capacity after a config interrupt.
 * On an error the old file stays. */
int virtio_blk_swap(struct virtio_blk *b, const char *path, struct ember_err *err);
/* The rate limiter's timer fired (VMM thread): resume the queue. */
void virtio_blk_ratelimit_expired(struct virtio_blk *b);

#endif
