/* SPDX-License-Identifier: Apache-2.0 */
/* For device fuzz targets: the input past its header as guest memory. */
#ifndef EMBER_FUZZ_GUEST_H
#define EMBER_FUZZ_GUEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guest_mem.h"
#include "queue.h"

#define FUZZ_GUEST_MEM 0x10000

/* FUZZ_GUEST_MEM bytes at GPA 0 (page-aligned, so discards work), holding
 * data[hdr..] and zeros after it; the same mapping every run. */
static inline void fuzz_guest_mem(struct guest_mem *mem, struct guest_region *r,
				  const uint8_t *data, size_t size, size_t hdr)
{
	static uint8_t *ram;

	if (!ram)
		ram = mmap(NULL, FUZZ_GUEST_MEM, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		abort();
	memset(ram, 0, FUZZ_GUEST_MEM);
	memcpy(ram, data + hdr, size - hdr < FUZZ_GUEST_MEM ? size - hdr : FUZZ_GUEST_MEM);
	*r = (struct guest_region){ .gpa = 0, .size = FUZZ_GUEST_MEM, .host = ram };
	guest_mem_init_static(mem, r, 1);
}

/* A queue of 16 whose rings sit where the input's 6 bytes at d say (the
 * low bits cleared to each ring's alignment); whether it is usable. */
static inline bool fuzz_queue(struct virtq *vq, const uint8_t *d)
{
	struct ember_err err;

	vq->size = 16;
	vq->desc_gpa = (uint16_t)(d[0] | d[1] << 8) & ~15u;
	vq->avail_gpa = (uint16_t)(d[2] | d[3] << 8) & ~1u;
	vq->used_gpa = (uint16_t)(d[4] | d[5] << 8) & ~3u;
	vq->ready = virtq_activate(vq, &err) == 0;
	return vq->ready;
}

#endif
