// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the balloon device over hostile guest memory. The
 * guest's inflate frame lists, statistics buffers, hinting commands and
 * ranges (during a run) and reported ranges are taken from every queue; whatever they say, nothing outside guest memory
 * is touched (ASan), and every chain is returned or held. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "balloon.h"
#include "fuzz_guest.h"

#define HDR (5 * 6) /* ring addresses of the five queues */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each queue: ring addresses from the input, size 16, ready. */
static void setup_queues(struct virtio_balloon *b, const uint8_t *data)
{
	for (unsigned q = 0; q < b->ops.num_queues; q++)
		fuzz_queue(&b->transport.queues[q], data + 6 * q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_balloon_params p = { .num_pages = 8,
					   .stats_interval_s = 1,
					   .free_page_hinting = true,
					   .free_page_reporting = true };
	struct guest_region r;
	struct virtio_balloon b;
	struct ember_err err;
	struct guest_mem mem;

	if (size < HDR)
		return 0;
	fuzz_guest_mem(&mem, &r, data, size, HDR);
	if (virtio_balloon_open(&b, &p, &mem, 0xd0000000, 5, &err) < 0)
		abort();
	setup_queues(&b, data);
	b.transport.active = true;
	if (virtio_balloon_hint_start(&b, data[0] & 1, &err) < 0)
		abort(); /* hinting is on and the device active */
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned q = 0; q < b.ops.num_queues; q++)
			if (b.transport.queues[q].ready)
				virtio_mmio_kick(&b.transport, q);
		virtio_balloon_stats_timer(&b);
	}
	if (b.stats.seen >> VIRTIO_BALLOON_NR_STATS)
		abort(); /* a tag beyond those named was kept */
	if (b.hint.host_cmd != 2 && b.hint.host_cmd != VIRTIO_BALLOON_HINT_DONE)
		abort(); /* only the run, or its end, is ever in config space */
	virtio_balloon_close(&b);
	return 0;
}
