// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: virtio-mem's requests over hostile guest memory. The
 * first 6 bytes place the queue's rings, the 7th sets the requested size;
 * the rest is guest memory. Whatever the chains hold, each is returned,
 * nothing outside guest memory is touched (ASan), the plugged size never
 * passes the requested one by a plug, and it always matches the bitmap and
 * the slots mapped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_guest.h"
#include "mem.h"

#define HDR    7
#define REGION 0x100000000ull
#define BLOCK  (2ull << 20)
#define SLOT   (8 * BLOCK)
#define TOTAL  (4 * SLOT)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned slots_mapped;

static int set_slot(void *ctx, unsigned slot, bool present, struct ember_err *err)
{
	(void)ctx, (void)err;
	if (slot >= TOTAL / SLOT)
		abort();
	slots_mapped += present ? 1 : -1u;
	return 0;
}

static void check(const struct virtio_mem *m)
{
	uint64_t plugged = 0, slots = 0;

	for (uint64_t b = 0; b < m->nr_blocks; b++)
		plugged += m->plugged[b / 64] >> (b % 64) & 1;
	for (uint64_t s = 0; s < m->nr_slots; s++)
		slots += m->slot_blocks[s] != 0;
	if (plugged * BLOCK != m->plugged_size || slots != slots_mapped ||
	    m->plugged_size > m->requested_size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_region r;
	struct virtio_mem m;
	struct ember_err err;
	struct guest_mem mem;

	if (size < HDR)
		return 0;
	fuzz_guest_mem(&mem, &r, data, size, HDR);
	slots_mapped = 0;
	if (virtio_mem_open(&m, &mem, REGION, TOTAL, BLOCK, SLOT, set_slot, NULL, 0xd0000000, 5,
			    &err) < 0)
		abort();
	virtio_mem_set_requested(&m, (data[6] % (TOTAL / BLOCK + 1)) * BLOCK);
	m.transport.active = true;
	if (fuzz_queue(&m.transport.queues[0], data))
		virtio_mmio_kick(&m.transport, 0);
	check(&m);
	virtio_mem_close(&m);
	return 0;
}
