/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mem (virtio 1.2 §5.15), configured by PUT /hotplug/memory as in
 * Firecracker (docs/memory-hotplug.md): a region of total_size bytes past
 * RAM, in blocks the guest plugs and unplugs on its one queue, towards the
 * requested size the host sets (PATCH). Slots of slot_size bytes are KVM
 * memory slots, present only while a block in them is plugged, so the
 * guest cannot reach unplugged memory (VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
 * unplugged blocks are given back to the host (MADV_DONTNEED).
 * A snapshot's memory file holds the region after RAM (plugged blocks
 * written, the rest holes); a File load maps it there, on demand.
 */
#ifndef EMBER_VIRTIO_MEM_H
#define EMBER_VIRTIO_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "mmio.h"
#include "queue.h"

#define VIRTIO_MEM_QUEUE_SIZE 128
#define VIRTIO_MEM_CONFIG_LEN 56

struct virtio_mem_stats {
	uint64_t plugs, unplugs, unplug_alls, states; /* requests acknowledged */
	uint64_t nacks, errors;                       /* refused: policy, or bad requests */
	uint64_t plugged_blocks, unplugged_blocks;
};

/* Maps or unmaps slot i (its KVM memory slot) for the device. */
typedef int (*virtio_mem_slot_fn)(void *ctx, unsigned slot, bool present, struct ember_err *err);

struct virtio_mem {
	struct virtio_mmio transport;
	struct guest_mem *mem; /* its hotplug region is this device's */
	uint64_t gpa, region_size, block_size, slot_size;
	uint64_t requested_size, plugged_size;
	uint8_t *map;          /* region_size bytes, anonymous, MAP_NORESERVE */
	uint64_t *plugged;     /* a bit per block */
	uint32_t *slot_blocks; /* plugged blocks per slot */
	uint64_t nr_blocks, nr_slots;
	bool from_file; /* the region maps a snapshot's memory file */
	virtio_mem_slot_fn set_slot;
	void *slot_ctx;
	struct virtio_mem_stats stats;
	struct virtq_chain chain;
};

extern const struct virtio_dev_ops virtio_mem_ops;

/* The region at gpa (slot-aligned), all unplugged; sizes in bytes, checked
 * by the caller (the resource): block a power of two >= 2 MiB, slot a
 * multiple of it, total a multiple of slot. Becomes mem's hotplug region. */
int virtio_mem_open(struct virtio_mem *m, struct guest_mem *mem, uint64_t gpa, uint64_t total,
		    uint64_t block, uint64_t slot, virtio_mem_slot_fn set_slot, void *slot_ctx,
		    uint64_t base, uint32_t irq, struct ember_err *err);
void virtio_mem_close(struct virtio_mem *m);
/* A snapshot's memory: the region maps fd from offset on (MAP_PRIVATE, read
 * on demand), where the snapshot wrote it, after RAM. Before the restore. */
int virtio_mem_map_file(struct virtio_mem *m, int fd, uint64_t offset, struct ember_err *err);
/* PATCH /hotplug/memory: the size the guest is asked to reach (a multiple
 * of the block size, at most the region's); a config interrupt tells it. */
void virtio_mem_set_requested(struct virtio_mem *m, uint64_t size);

#endif
