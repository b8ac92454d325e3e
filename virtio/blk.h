/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk (virtio 1.2 §5.2): request parsing; the device itself follows. */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"
#include "queue.h"

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

#endif
