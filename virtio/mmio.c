// SPDX-License-Identifier: Apache-2.0
/* virtio-mmio transport (virtio 1.2 §4.2.2): registers, status, features. */
#include "mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define S_ACK         VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER      VIRTIO_CONFIG_S_DRIVER
#define S_FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK   VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define S_FAILED      VIRTIO_CONFIG_S_FAILED
#define S_ALL         (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK | S_NEEDS_RESET | S_FAILED)
#define QUEUE_RESET   0x0c0 /* VIRTIO_F_RING_RESET register, not offered */

/* Features every ember device gets from the transport and the virtqueue code. */
#define TRANSPORT_FEATURES                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* What the guest's driver got wrong: logged at a limited rate, so a hostile
 * guest cannot flood the log. */
static void guest_warn(struct virtio_mmio *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void guest_warn(struct virtio_mmio *t, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->warnings++;
	log_warn_rl("%s: %s", t->ops->name, msg);
}

int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev_ops *ops, void *dev,
		     const struct guest_mem *mem, uint64_t base, uint32_t irq,
		     struct ember_err *err)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->base = base;
	t->irq = irq;
	t->irq_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		t->notify_fds[i] = -1;
		t->notifiers[i] = (struct virtio_mmio_notifier){ t, i };
		virtq_init(&t->queues[i], mem);
		t->queues[i].size = ops->queue_max;
	}
	pthread_mutex_init(&t->lock, NULL);
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		return err_set(err, EINVAL, "%s: %u queues is not supported", ops->name,
			       ops->num_queues);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if (t->notify_fds[i] >= 0)
			close(t->notify_fds[i]);
	pthread_mutex_destroy(&t->lock);
}

uint64_t virtio_mmio_offered(const struct virtio_mmio *t)
{
	return t->ops->features(t->dev) | TRANSPORT_FEATURES;
}

static void raise_irq(struct virtio_mmio *t, uint32_t why)
{
	uint64_t one = 1;

	__atomic_or_fetch(&t->interrupt_status, why, __ATOMIC_SEQ_CST);
	if (t->irq_fd >= 0 && write(t->irq_fd, &one, sizeof(one)) < 0)
		log_warn("%s: cannot raise IRQ %u: %s", t->ops->name, t->irq, strerror(errno));
}

void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q)
{
	if (q < t->ops->num_queues && virtq_needs_notify(&t->queues[q]))
		raise_irq(t, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why)
{
	if (t->status & S_NEEDS_RESET)
		return;
	guest_warn(t, "device needs reset: %s", why);
	t->status |= S_NEEDS_RESET;
	t->config_generation++;
	if (t->status & S_DRIVER_OK)
		raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed_locked(struct virtio_mmio *t)
{
	t->config_generation++;
	if (t->status & S_DRIVER_OK)
		raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	virtio_mmio_config_changed_locked(t);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_kick(struct virtio_mmio *t, unsigned q)
{
	pthread_mutex_lock(&t->lock);
	if (t->active && q < t->ops->num_queues && t->queues[q].ready &&
	    !(t->status & S_NEEDS_RESET))
		t->ops->notify(t->dev, q);
	pthread_mutex_unlock(&t->lock);
}

static void reset(struct virtio_mmio *t)
{
	if (t->active && t->ops->reset)
		t->ops->reset(t->dev);
	t->active = false;
	t->status = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	__atomic_store_n(&t->interrupt_status, 0, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		virtq_reset(&t->queues[i]);
		t->queues[i].size = t->ops->queue_max;
	}
}

/* The selected queue, if it may be configured now (§4.2.3.2). */
static struct virtq *config_queue(struct virtio_mmio *t, const char *reg)
{
	struct virtq *q;

	if (t->queue_sel >= t->ops->num_queues) {
		virtio_mmio_needs_reset(t, "the driver configured a queue that does not exist");
		return NULL;
	}
	q = &t->queues[t->queue_sel];
	if (!(t->status & S_FEATURES_OK) || (t->status & S_DRIVER_OK) || q->ready) {
		guest_warn(t, "%s written for queue %u at the wrong time", reg, t->queue_sel);
		virtio_mmio_needs_reset(t, "the driver changed a live queue");
		return NULL;
	}
	return q;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void write_queue_ready(struct virtio_mmio *t, uint32_t val)
{
	struct ember_err err;
	struct virtq *q;

	if (val == 0) {
		/* Linux writes 0 when it tears a queue down; allowed any time. */
		if (t->queue_sel < t->ops->num_queues)
			t->queues[t->queue_sel].ready = false;
		return;
	}
	q = config_queue(t, "QueueReady");
	if (!q)
		return;
	if (q->size > t->ops->queue_max || virtq_activate(q, &err) < 0) {
		if (q->size > t->ops->queue_max)
			err_set(&err, EINVAL, "queue size %u is above the maximum %u", q->size,
				t->ops->queue_max);
		virtio_mmio_needs_reset(t, err.msg);
	}
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtq *q = config_queue(t, "a queue register");

	if (!q)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM: q->size = (uint16_t)(val > 0xffff ? 0 : val); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: set_half(&q->desc_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_half(&q->desc_gpa, true, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: set_half(&q->avail_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: set_half(&q->avail_gpa, true, val); break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: set_half(&q->used_gpa, false, val); break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: set_half(&q->used_gpa, true, val); break;
	}
}

static bool features_acceptable(struct virtio_mmio *t)
{
	uint64_t extra = t->driver_features & ~virtio_mmio_offered(t);

	if (extra) {
		guest_warn(t, "the driver accepted features 0x%" PRIx64 " that were not offered",
			   extra);
		return false;
	}
	if (!(t->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
		guest_warn(t, "the driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are "
			      "not supported)");
		return false;
	}
	return true;
}

/* Buffers the driver made available before DRIVER_OK: Linux's balloon
 * primes its statistics queue in probe, and kicks it, before it sets
 * DRIVER_OK. That notify reached the VMM thread before the device was
 * active, or after, depending on timing alone (under load, before: the
 * guest never sent statistics). Notify again now, the way the guest's own
 * notify goes: through the queue's eventfd to the VMM thread. */
static void kick_pending(struct virtio_mmio *t)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < t->ops->num_queues; i++) {
		struct virtq *q = &t->queues[i];

		if (!q->ready || virtq_avail_idx(q) == q->last_avail)
			continue;
		if (t->notify_fds[i] < 0)
			t->ops->notify(t->dev, i); /* no VMM thread to pass it to (unit tests) */
		else if (write(t->notify_fds[i], &one, sizeof(one)) < 0)
			log_warn("%s: notify: %s", t->ops->name, strerror(errno));
	}
}

static void activate(struct virtio_mmio *t)
{
	bool event_idx = t->driver_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	struct ember_err err;

	for (unsigned i = 0; i < t->ops->num_queues; i++)
		t->queues[i].event_idx = event_idx;
	if (t->ops->activate(t->dev, t->driver_features, &err) < 0) {
		virtio_mmio_needs_reset(t, err.msg);
		return;
	}
	t->active = true;
	kick_pending(t);
}

/* Each status bit needs the one before it (§3.1.1); only reset clears bits. */
static const char *status_error(uint32_t old, uint32_t val)
{
	uint32_t added = val & ~old;

	if (val & ~S_ALL)
		return "the driver set undefined status bits";
	if ((old & ~val) & ~S_NEEDS_RESET)
		return "the driver cleared status bits without a reset";
	if ((added & S_DRIVER) && !(val & S_ACK))
		return "DRIVER without ACKNOWLEDGE";
	if ((added & S_FEATURES_OK) && !(val & S_DRIVER))
		return "FEATURES_OK without DRIVER";
	if ((added & S_DRIVER_OK) && !(val & S_FEATURES_OK))
		return "DRIVER_OK without FEATURES_OK";
	return NULL;
}

static void write_status(struct virtio_mmio *t, uint32_t val)
{
	uint32_t old = t->status, added = val & ~old;
	const char *bad;

	if (val == 0) {
		reset(t);
		return;
	}
	bad = status_error(old, val);
	if (bad) {
		virtio_mmio_needs_reset(t, bad);
		return;
	}
	if ((added & S_FEATURES_OK) && !features_acceptable(t))
		val &= ~(uint32_t)S_FEATURES_OK; /* the driver reads it back and gives up */
	t->status = val | (old & S_NEEDS_RESET);
	if ((added & S_DRIVER_OK) && !(t->status & S_NEEDS_RESET))
		activate(t);
}

static void write_driver_features(struct virtio_mmio *t, uint32_t val)
{
	if (!(t->status & S_DRIVER) || (t->status & S_FEATURES_OK)) {
		virtio_mmio_needs_reset(t, "driver features written at the wrong time");
		return;
	}
	if (t->driver_features_sel < 2)
		set_half(&t->driver_features, t->driver_features_sel == 1, val);
	else if (val)
		guest_warn(t, "the driver accepted features in word %u, which offers none",
			   t->driver_features_sel);
}

static void write_notify(struct virtio_mmio *t, uint32_t val)
{
	uint64_t one = 1;

	if (val >= t->ops->num_queues) {
		guest_warn(t, "notify for queue %u, which does not exist", val);
		return;
	}
	/* Normally an ioeventfd takes this write; pass it to the VMM thread the same way. */
	if (t->notify_fds[val] < 0)
		virtio_mmio_kick(t, val);
	else if (write(t->notify_fds[val], &one, sizeof(one)) < 0)
		log_warn("%s: notify: %s", t->ops->name, strerror(errno));
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES: write_driver_features(t, val); break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_READY: write_queue_ready(t, val); break;
	case VIRTIO_MMIO_STATUS: write_status(t, val); break;
	case VIRTIO_MMIO_SHM_SEL: break; /* no shared memory regions */
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH: write_queue_reg(t, off, val); break;
	default:
		guest_warn(t, "write of 0x%x to read-only or unknown register 0x%03" PRIx64, val,
			   off);
	}
}

static uint32_t read_queue_reg(struct virtio_mmio *t, uint64_t off)
{
	const struct virtq *q;

	if (t->queue_sel >= t->ops->num_queues)
		return 0;
	q = &t->queues[t->queue_sel];
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return t->ops->queue_max;
	case VIRTIO_MMIO_QUEUE_READY: return q->ready;
	case VIRTIO_MMIO_QUEUE_NUM: return q->size;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return (uint32_t)q->desc_gpa;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return (uint32_t)(q->desc_gpa >> 32);
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return (uint32_t)q->avail_gpa;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return (uint32_t)(q->avail_gpa >> 32);
	case VIRTIO_MMIO_QUEUE_USED_LOW: return (uint32_t)q->used_gpa;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return (uint32_t)(q->used_gpa >> 32);
	}
	return 0;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	uint64_t features = virtio_mmio_offered(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(features >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS: return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH: return 0xffffffff; /* no such region */
	case QUEUE_RESET: return 0;
	}
	return read_queue_reg(t, off);
}

static void put_le32(uint8_t *data, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void config_access(struct virtio_mmio *t, uint64_t off, uint8_t *rd, const uint8_t *wr,
			  uint32_t len)
{
	uint64_t coff = off - VIRTIO_MMIO_CONFIG;

	if (coff + len > t->ops->config_len) {
		guest_warn(t, "config access at 0x%" PRIx64 "+%u is beyond its %u bytes", coff, len,
			   t->ops->config_len);
		if (rd)
			memset(rd, 0, len);
		return;
	}
	if (rd)
		t->ops->config_read(t->dev, (uint32_t)coff, rd, len);
	else if (t->ops->config_write)
		t->ops->config_write(t->dev, (uint32_t)coff, wr, len);
	else
		guest_warn(t, "the driver wrote its read-only config space");
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = dev;

	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&t->lock);
		config_access(t, off, data, NULL, len);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (len != 4 || off % 4) {
		guest_warn(t, "%u-byte read of register 0x%03" PRIx64 " (registers are 32-bit)",
			   len, off);
		memset(data, 0xff, len);
		return;
	}
	if (off == VIRTIO_MMIO_INTERRUPT_STATUS) { /* lock-free: read on every interrupt */
		put_le32(data, __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST));
		return;
	}
	pthread_mutex_lock(&t->lock);
	put_le32(data, read_reg(t, off));
	pthread_mutex_unlock(&t->lock);
}

static void mmio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *t = dev;
	uint32_t val;

	if (off >= VIRTIO_MMIO_CONFIG) {
		pthread_mutex_lock(&t->lock);
		config_access(t, off, NULL, data, len);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (len != 4 || off % 4) {
		guest_warn(t,
			   "%u-byte write of register 0x%03" PRIx64 " ignored (registers are "
			   "32-bit)",
			   len, off);
		return;
	}
	val = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	      (uint32_t)data[3] << 24;
	if (off == VIRTIO_MMIO_INTERRUPT_ACK) {
		__atomic_and_fetch(&t->interrupt_status, ~val, __ATOMIC_SEQ_CST);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) { /* takes the lock on its own */
		write_notify(t, val);
		return;
	}
	pthread_mutex_lock(&t->lock);
	write_reg(t, off, val);
	pthread_mutex_unlock(&t->lock);
}

#define STATE_MAGIC 0x766d6d31 /* "vmm1" */

static void mmio_save(void *dev, struct state_writer *w)
{
	struct virtio_mmio *t = dev;

	pthread_mutex_lock(&t->lock);
	state_put_u32(w, STATE_MAGIC);
	state_put_u32(w, t->status);
	state_put_u32(w, t->device_features_sel);
	state_put_u32(w, t->driver_features_sel);
	state_put_u64(w, t->driver_features);
	state_put_u32(w, t->queue_sel);
	state_put_u32(w, t->config_generation);
	state_put_u32(w, __atomic_load_n(&t->interrupt_status, __ATOMIC_SEQ_CST));
	state_put_u8(w, t->active);
	for (unsigned i = 0; i < t->ops->num_queues; i++)
		virtq_save(&t->queues[i], w);
	if (t->ops->save)
		t->ops->save(t->dev, w);
	pthread_mutex_unlock(&t->lock);
}

/* Buffers the driver made available before the snapshot but the device had
 * not taken: their kick was lost with the old process, and with EVENT_IDX
 * the driver, past avail_event already, will not kick again. Take them now,
 * as if kicked (Firecracker's kick() on resume does the same). */
static void replay_kicks(struct virtio_mmio *t)
{
	if (!t->active || (t->status & S_NEEDS_RESET))
		return;
	for (unsigned i = 0; i < t->ops->num_queues; i++)
		if (t->queues[i].ready && virtq_avail_idx(&t->queues[i]) != t->queues[i].last_avail)
			t->ops->notify(t->dev, i);
}

static int restore_locked(struct virtio_mmio *t, struct state_reader *r, struct ember_err *err)
{
	if (state_get_u32(r) != STATE_MAGIC)
		return err_set(err, EINVAL, "not a virtio-mmio device state");
	t->status = state_get_u32(r) & S_ALL;
	t->device_features_sel = state_get_u32(r);
	t->driver_features_sel = state_get_u32(r);
	t->driver_features = state_get_u64(r);
	t->queue_sel = state_get_u32(r);
	t->config_generation = state_get_u32(r);
	t->interrupt_status = state_get_u32(r) & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	t->active = state_get_u8(r) != 0;
	if (r->failed)
		return err_set(err, EINVAL, "truncated virtio-mmio state");
	if (t->active && (!(t->status & S_DRIVER_OK) || !features_acceptable(t)))
		return err_set(err, EINVAL, "inconsistent virtio-mmio state");
	for (unsigned i = 0; i < t->ops->num_queues; i++)
		if (virtq_restore(&t->queues[i], r, err) < 0)
			return err_prefix(err, "queue %u", i);
	/* The used rings are ours to write from here on: with a File restore
	 * (memory a private mapping of the snapshot), copy their pages now,
	 * before the guest runs, rather than at the first completion, when
	 * the guest may already map the file's page (it reads the used ring
	 * on every interrupt) and sees our copy only once that mapping is
	 * invalidated. That copy is also off a request's path. */
	for (unsigned i = 0; i < t->ops->num_queues; i++)
		virtq_own_used(&t->queues[i]);
	if (t->ops->restore && t->ops->restore(t->dev, r, err) < 0)
		return -EINVAL;
	if (t->active && t->ops->activate(t->dev, t->driver_features, err) < 0)
		return -EINVAL;
	replay_kicks(t);
	return 0;
}

static int mmio_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_mmio *t = dev;
	int ret;

	pthread_mutex_lock(&t->lock);
	ret = restore_locked(t, r, err);
	if (ret < 0) {
		t->active = false;
		reset(t);
	}
	pthread_mutex_unlock(&t->lock);
	return ret < 0 ? err_prefix(err, "%s", t->ops->name) : 0;
}

const struct device_ops virtio_mmio_bus_ops = {
	.name = "virtio-mmio",
	.read = mmio_read,
	.write = mmio_write,
	.save = mmio_save,
	.restore = mmio_restore,
};
