// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: split-virtqueue descriptor-chain parsing over hostile memory. */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "queue.h"

#define FUZZ_MEM 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[FUZZ_MEM];

/* The block request parser on top: its segments must cover exactly data_len. */
static void check_blk(const struct guest_mem *mem, const struct virtq_chain *c)
{
	static struct blk_request req;
	struct ember_err err;
	uint64_t total = 0;
	uint8_t status;

	if (virtio_blk_parse(mem, c, 1 << 20, c->head & 1, &req, &status, &err) < 0)
		return;
	for (uint32_t i = 0; i < req.nsegs; i++)
		total += req.segs[i].len;
	if (req.nsegs > VIRTQ_MAX_CHAIN || total != req.data_len || !req.has_status)
		abort();
	if (req.type == VIRTIO_BLK_T_OUT && (c->head & 1))
		abort(); /* a write to a read-only disk was accepted */
}

/* The first bytes steer the queue; the rest is guest memory. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_region r = { .gpa = 0, .size = FUZZ_MEM, .host = ram };
	static struct virtq_chain chain;
	struct ember_err err;
	struct guest_mem mem;
	struct virtq q;

	if (size < 8)
		return 0;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 8, size - 8 < FUZZ_MEM ? size - 8 : FUZZ_MEM);
	guest_mem_init_static(&mem, &r, 1);
	virtq_init(&q, &mem);
	q.size = (uint16_t)(1u << (data[0] % 10)); /* 1 .. 512, some refused */
	q.event_idx = data[1] & 1;
	q.desc_gpa = (uint64_t)(data[2] | data[3] << 8) & ~15ULL;
	q.avail_gpa = (uint64_t)(data[4] | data[5] << 8) & ~1ULL;
	q.used_gpa = (uint64_t)(data[6] | data[7] << 8) & ~3ULL;
	if (virtq_activate(&q, &err) < 0)
		return 0;
	for (int n = 0; n < 64; n++) {
		int ret = virtq_pop(&q, &chain, &err);

		if (ret <= 0 && ret != -EINVAL)
			break;
		if (chain.nbufs > VIRTQ_MAX_CHAIN)
			abort();
		for (uint32_t i = 0; ret == 1 && i < chain.nbufs; i++)
			if (!guest_mem_ptr(&mem, chain.bufs[i].gpa, chain.bufs[i].len))
				abort();
		if (ret == 1)
			check_blk(&mem, &chain);
		virtq_push(&q, chain.head, 0, &err);
		virtq_needs_notify(&q);
	}
	return 0;
}
