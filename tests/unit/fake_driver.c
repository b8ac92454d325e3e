// SPDX-License-Identifier: Apache-2.0
/* A fake virtio driver for device unit tests (see fake_driver.h). */
#include "fake_driver.h"

#include <criterion/criterion.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

void fake_drv_init(struct fake_drv *d, uint8_t *ram, uint64_t size, uint16_t qsize)
{
	struct guest_region r = { .gpa = 0, .size = size, .host = ram };

	memset(d, 0, sizeof(*d));
	memset(ram, 0, size);
	d->ram = ram;
	d->size = size;
	d->qsize = qsize;
	guest_mem_init_static(&d->mem, &r, 1);
}

void fake_drv_wr32(struct fake_drv *d, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	virtio_mmio_bus_ops.write(d->t, off, b, 4);
}

uint32_t fake_drv_rd32(struct fake_drv *d, uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_bus_ops.read(d->t, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void fake_drv_bring_up(struct fake_drv *d, struct virtio_mmio *t, unsigned nq, uint64_t features)
{
	uint64_t f = features ? features : virtio_mmio_offered(t);

	cr_assert_leq(nq, FAKE_DRV_QUEUES);
	d->t = t;
	fake_drv_wr32(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fake_drv_wr32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fake_drv_wr32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	fake_drv_wr32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fake_drv_wr32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	fake_drv_wr32(d, VIRTIO_MMIO_STATUS, 0xb);
	for (uint32_t q = 0; q < nq; q++) {
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_NUM, d->qsize);
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)FAKE_DRV_DESC(q));
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)FAKE_DRV_AVAIL(q));
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)FAKE_DRV_USED(q));
		fake_drv_wr32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	fake_drv_wr32(d, VIRTIO_MMIO_STATUS, 0xf);
	cr_assert_eq(fake_drv_rd32(d, VIRTIO_MMIO_STATUS), 0xf, "the device took DRIVER_OK");
}

void fake_drv_desc(struct fake_drv *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	struct vring_desc v = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(d->ram + FAKE_DRV_DESC(q) + i * sizeof(v), &v, sizeof(v));
}

void fake_drv_publish(struct fake_drv *d, unsigned q, uint16_t head)
{
	uint16_t slot = d->avail_idx[q] % d->qsize;

	memcpy(d->ram + FAKE_DRV_AVAIL(q) + 4 + 2 * slot, &head, 2);
	d->avail_idx[q]++;
	memcpy(d->ram + FAKE_DRV_AVAIL(q) + 2, &d->avail_idx[q], 2);
}

uint16_t fake_drv_used_idx(const struct fake_drv *d, unsigned q)
{
	uint16_t v;

	memcpy(&v, d->ram + FAKE_DRV_USED(q) + 2, 2);
	return v;
}

struct vring_used_elem fake_drv_used(const struct fake_drv *d, unsigned q, uint16_t i)
{
	struct vring_used_elem e;

	memcpy(&e, d->ram + FAKE_DRV_USED(q) + 4 + 8 * (i % d->qsize), sizeof(e));
	return e;
}
