/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake virtio driver for device unit tests: drives a device's virtio-mmio
 * registers as Linux does and lays out split virtqueues in a static "guest
 * memory". Queue q's rings sit at FAKE_DRV_DESC(q), _AVAIL(q), _USED(q);
 * buffers go from FAKE_DRV_BUF upward.
 */
#ifndef EMBER_TESTS_FAKE_DRIVER_H
#define EMBER_TESTS_FAKE_DRIVER_H

#include <linux/virtio_ring.h>
#include <stdint.h>

#include "guest_mem.h"
#include "mmio.h"

#define FAKE_DRV_QUEUES   5
#define FAKE_DRV_DESC(q)  (0x1000 + (uint64_t)(q)*0x3000)
#define FAKE_DRV_AVAIL(q) (FAKE_DRV_DESC(q) + 0x1000)
#define FAKE_DRV_USED(q)  (FAKE_DRV_DESC(q) + 0x2000)
#define FAKE_DRV_BUF      0x10000

struct fake_drv {
	uint8_t *ram;
	uint64_t size;
	struct guest_mem mem;
	struct virtio_mmio *t;
	uint16_t qsize;
	uint16_t avail_idx[FAKE_DRV_QUEUES];
};

/* Zero `ram` and make it guest memory at GPA 0. */
void fake_drv_init(struct fake_drv *d, uint8_t *ram, uint64_t size, uint16_t qsize);
void fake_drv_wr32(struct fake_drv *d, uint64_t off, uint32_t v);
uint32_t fake_drv_rd32(struct fake_drv *d, uint64_t off);
/* Negotiate `features` (all offered ones when 0), set up `nq` queues, DRIVER_OK. */
void fake_drv_bring_up(struct fake_drv *d, struct virtio_mmio *t, unsigned nq, uint64_t features);
void fake_drv_desc(struct fake_drv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next);
void fake_drv_publish(struct fake_drv *d, unsigned q, uint16_t head);
uint16_t fake_drv_used_idx(const struct fake_drv *d, unsigned q);
struct vring_used_elem fake_drv_used(const struct fake_drv *d, unsigned q, uint16_t i);

#endif
