/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio transport, modern register layout (virtio 1.2 §4.2.2). The
 * transport owns status, feature negotiation and the virtqueues; a device
 * plugs in through struct virtio_dev_ops. Register accesses come from vCPU
 * threads, queue work runs on the VMM thread; both hold `lock`.
 */
#ifndef EMBER_VIRTIO_MMIO_H
#define EMBER_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "guest_mem.h"
#include "queue.h"
#include "state.h"

#define VIRTIO_MMIO_SLOT_SIZE  0x1000
#define VIRTIO_MMIO_MAX_QUEUES 5          /* the balloon's, with every feature */
#define VIRTIO_MMIO_MAGIC      0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR     0x524d4245 /* "EBMR": ember */

struct virtio_mmio;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id; /* VIRTIO_ID_* */
	uint16_t num_queues;
	uint16_t queue_max;
	uint32_t config_len;
	/* Features the device offers beyond what the transport adds. */
	uint64_t (*features)(void *dev);
	/* Config space; offset + len is within config_len. */
	void (*config_read)(void *dev, uint32_t offset, uint8_t *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t offset, const uint8_t *data, uint32_t len);
	/* DRIVER_OK with these features: start serving the ready queues. */
	int (*activate)(void *dev, uint64_t features, struct ember_err *err);
	/* The driver reset the device: drop every request in flight. */
	void (*reset)(void *dev);
	/* The driver kicked queue `q` (VMM thread, lock held). */
	void (*notify)(void *dev, unsigned q);
	void (*save)(void *dev, struct state_writer *w);
	int (*restore)(void *dev, struct state_reader *r, struct ember_err *err);
};

/* Context of one queue's notify eventfd on the event loop. */
struct virtio_mmio_notifier {
	struct virtio_mmio *t;
	unsigned q;
};

struct virtio_mmio {
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	pthread_mutex_t lock;
	uint64_t base;
	uint32_t irq;
	int irq_fd;                             /* irqfd for `irq`; -1 in unit tests */
	int notify_fds[VIRTIO_MMIO_MAX_QUEUES]; /* ioeventfds; -1 if none */
	struct virtio_mmio_notifier notifiers[VIRTIO_MMIO_MAX_QUEUES];

	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint32_t interrupt_status; /* atomic: set by the device, acked by the driver */
	bool active;               /* DRIVER_OK accepted and the device activated */
	unsigned warnings;         /* driver errors seen (logged at a limited rate) */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

extern const struct device_ops virtio_mmio_bus_ops;

/* Set up the transport; no KVM wiring (irq_fd and notify_fds are -1, and
 * are closed by virtio_mmio_destroy once the VMM sets them). */
int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev_ops *ops, void *dev,
		     const struct guest_mem *mem, uint64_t base, uint32_t irq,
		     struct ember_err *err);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Every feature bit offered to the driver: the device's plus the transport's. */
uint64_t virtio_mmio_offered(const struct virtio_mmio *t);
/* Work on a queue was completed: raise the interrupt if the driver wants it. */
void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q);
/* The device cannot go on (e.g. a corrupt ring): DEVICE_NEEDS_RESET. */
void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why);
/* A queue notification that reached the VMM thread (ioeventfd or write). */
/* The device's config space changed: new generation, config interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* The same, from a device op (lock held). */
void virtio_mmio_config_changed_locked(struct virtio_mmio *t);
void virtio_mmio_kick(struct virtio_mmio *t, unsigned q);

#endif
