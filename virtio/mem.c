// SPDX-License-Identifier: Apache-2.0
/* virtio-mem: the guest plugs and unplugs blocks of the region (mem.h). */
#include "mem.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log.h"

#define REQ_LEN  24 /* type, padding, addr, nb_blocks, padding */
#define RESP_LEN 10 /* type, padding, state */

static uint64_t le_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_plugged(const struct virtio_mem *m, uint64_t b)
{
	return m->plugged[b / 64] >> (b % 64) & 1;
}

/* Blocks [first, first + n) are all in state `plugged`: 1, all in the
 * other: 0, mixed: -1. */
static int range_state(const struct virtio_mem *m, uint64_t first, uint64_t n, bool plugged)
{
	uint64_t same = 0;

	for (uint64_t b = first; b < first + n; b++)
		same += is_plugged(m, b) == plugged;
	return same == n ? 1 : same == 0 ? 0 : -1;
}

/* One block's new state, its slot mapped in or out with it. */
static int set_block(struct virtio_mem *m, uint64_t b, bool plug, struct ember_err *err)
{
	uint64_t slot = b * m->block_size / m->slot_size;
	int ret = 0;

	if (plug && m->slot_blocks[slot] == 0)
		ret = m->set_slot(m->slot_ctx, (unsigned)slot, true, err);
	if (ret)
		return ret;
	if (plug) {
		m->plugged[b / 64] |= 1ull << (b % 64);
		m->slot_blocks[slot]++;
		m->plugged_size += m->block_size;
		m->stats.plugged_blocks++;
		return 0;
	}
	m->plugged[b / 64] &= ~(1ull << (b % 64));
	m->slot_blocks[slot]--;
	m->plugged_size -= m->block_size;
	m->stats.unplugged_blocks++;
	/* Given back: the guest finds zeros when it plugs the block again (a
	 * snapshot's file under it is dropped for anonymous memory). */
	if (m->from_file
		? mmap(m->map + b * m->block_size, m->block_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED
		: madvise(m->map + b * m->block_size, m->block_size, MADV_DONTNEED) < 0)
		log_warn_rl("virtio-mem: giving a block back: %s", strerror(errno));
	if (m->slot_blocks[slot] == 0)
		ret = m->set_slot(m->slot_ctx, (unsigned)slot, false, err);
	return ret;
}

static uint16_t set_range(struct virtio_mem *m, uint64_t first, uint64_t n, bool plug)
{
	struct ember_err err;

	for (uint64_t b = first; b < first + n; b++)
		if (set_block(m, b, plug, &err) < 0) {
			log_warn_rl("virtio-mem: %s", err.msg);
			return VIRTIO_MEM_RESP_ERROR;
		}
	return VIRTIO_MEM_RESP_ACK;
}

/* The blocks a request names, within the region: false if it names none. */
static bool blocks_of(const struct virtio_mem *m, uint64_t addr, uint64_t nb, uint64_t *first)
{
	if (nb == 0 || addr < m->gpa || (addr - m->gpa) % m->block_size)
		return false;
	*first = (addr - m->gpa) / m->block_size;
	return *first < m->nr_blocks && nb <= m->nr_blocks - *first;
}

static uint16_t plug(struct virtio_mem *m, uint64_t addr, uint64_t nb)
{
	uint64_t first;

	if (!blocks_of(m, addr, nb, &first) || range_state(m, first, nb, false) != 1)
		return VIRTIO_MEM_RESP_ERROR;
	if (m->plugged_size + nb * m->block_size > m->requested_size)
		return VIRTIO_MEM_RESP_NACK; /* beyond what the host asked for */
	m->stats.plugs++;
	return set_range(m, first, nb, true);
}

static uint16_t unplug(struct virtio_mem *m, uint64_t addr, uint64_t nb)
{
	uint64_t first;

	if (!blocks_of(m, addr, nb, &first) || range_state(m, first, nb, true) != 1)
		return VIRTIO_MEM_RESP_ERROR;
	m->stats.unplugs++;
	return set_range(m, first, nb, false);
}

static uint16_t unplug_all(struct virtio_mem *m)
{
	m->stats.unplug_alls++;
	for (uint64_t b = 0; b < m->nr_blocks; b++)
		if (is_plugged(m, b) && set_range(m, b, 1, false) != VIRTIO_MEM_RESP_ACK)
			return VIRTIO_MEM_RESP_ERROR;
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t state(struct virtio_mem *m, uint64_t addr, uint64_t nb, uint16_t *st)
{
	uint64_t first;
	int s;

	if (!blocks_of(m, addr, nb, &first))
		return VIRTIO_MEM_RESP_ERROR;
	s = range_state(m, first, nb, true);
	*st = s == 1   ? VIRTIO_MEM_STATE_PLUGGED
	      : s == 0 ? VIRTIO_MEM_STATE_UNPLUGGED
		       : VIRTIO_MEM_STATE_MIXED;
	m->stats.states++;
	return VIRTIO_MEM_RESP_ACK;
}

/* One request: a readable buffer of REQ_LEN, a writable one of RESP_LEN. */
static void serve(struct virtio_mem *m)
{
	const struct virtq_buf *req = &m->chain.bufs[0], *resp = &m->chain.bufs[1];
	const uint8_t *q = NULL;
	uint8_t *r = NULL, out[RESP_LEN] = { 0 };
	uint16_t type = VIRTIO_MEM_RESP_ERROR, st = 0;
	uint32_t len = 0;

	if (m->chain.nbufs == 2 && !req->writable && req->len >= REQ_LEN && resp->writable &&
	    resp->len >= RESP_LEN) {
		q = guest_mem_ptr(m->mem, req->gpa, REQ_LEN);
		r = guest_mem_ptr(m->mem, resp->gpa, RESP_LEN);
	}
	if (q && r) {
		uint64_t addr = le_get(q + 8, 8), nb = le_get(q + 16, 2);

		switch (le_get(q, 2)) {
		case VIRTIO_MEM_REQ_PLUG: type = plug(m, addr, nb); break;
		case VIRTIO_MEM_REQ_UNPLUG: type = unplug(m, addr, nb); break;
		case VIRTIO_MEM_REQ_UNPLUG_ALL: type = unplug_all(m); break;
		case VIRTIO_MEM_REQ_STATE: type = state(m, addr, nb, &st); break;
		default: break;
		}
		le_put(out, type, 2);
		le_put(out + 8, st, 2);
		memcpy(r, out, RESP_LEN);
		len = RESP_LEN;
	} else {
		log_warn_rl("virtio-mem: a request of another shape than request and response");
	}
	m->stats.nacks += type == VIRTIO_MEM_RESP_NACK;
	m->stats.errors += type == VIRTIO_MEM_RESP_ERROR;
	if (virtq_push(&m->transport.queues[0], m->chain.head, len, &(struct ember_err){ 0 }) < 0)
		virtio_mmio_needs_reset(&m->transport, "virtio-mem: the used ring is unusable");
}

static void mem_notify(void *dev, unsigned q)
{
	struct virtio_mem *m = dev;
	struct ember_err err;
	bool done = false;
	int ret;

	(void)q;
	while ((ret = virtq_pop(&m->transport.queues[0], &m->chain, &err)) != 0) {
		if (ret == -EPROTO) {
			virtio_mmio_needs_reset(&m->transport, err.msg);
			break;
		}
		if (ret < 0) {
			m->stats.errors++;
			log_warn_rl("virtio-mem: bad descriptor chain: %s", err.msg);
			virtq_push(&m->transport.queues[0], m->chain.head, 0, &err);
		} else {
			serve(m);
		}
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&m->transport, 0);
}

static uint64_t mem_features(void *dev)
{
	(void)dev;
	return 1ull << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE;
}

static void mem_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mem *m = dev;
	uint8_t cfg[VIRTIO_MEM_CONFIG_LEN] = { 0 };

	le_put(cfg, m->block_size, 8);
	/* node_id (0) and padding */
	le_put(cfg + 16, m->gpa, 8);
	le_put(cfg + 24, m->region_size, 8);
	le_put(cfg + 32, m->region_size, 8); /* usable_region_size: all of it */
	le_put(cfg + 40, m->plugged_size, 8);
	le_put(cfg + 48, m->requested_size, 8);
	memcpy(data, cfg + off, len);
}

static int mem_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev, (void)features, (void)err;
	return 0;
}

static void mem_reset(void *dev)
{
	(void)dev; /* requests are served at once: none in flight; blocks stay as they are */
}

#define MEM_STATE_MAGIC 0x314d454du /* "MEM1" */

static void mem_save(void *dev, struct state_writer *w)
{
	struct virtio_mem *m = dev;

	state_put_u32(w, MEM_STATE_MAGIC);
	state_put_u64(w, m->gpa);
	state_put_u64(w, m->region_size);
	state_put_u64(w, m->block_size);
	state_put_u64(w, m->requested_size);
	state_put(w, m->plugged, (size_t)((m->nr_blocks + 63) / 64 * 8));
}

static int mem_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_mem *m = dev;
	uint64_t gpa, size, block, requested;
	uint64_t *bits = calloc((size_t)(m->nr_blocks + 63) / 64, 8);
	int ret = 0;

	if (!bits)
		return err_set(err, ENOMEM, "out of memory");
	if (state_get_u32(r) != MEM_STATE_MAGIC)
		ret = err_set(err, EINVAL, "not a virtio-mem state");
	gpa = state_get_u64(r);
	size = state_get_u64(r);
	block = state_get_u64(r);
	requested = state_get_u64(r);
	state_get(r, bits, (size_t)((m->nr_blocks + 63) / 64 * 8));
	if (!ret && r->failed)
		ret = err_set(err, EINVAL, "truncated virtio-mem state");
	if (!ret && (gpa != m->gpa || size != m->region_size || block != m->block_size ||
		     requested > size || requested % block))
		ret = err_set(err, EINVAL, "the virtio-mem region differs from the snapshot's");
	for (uint64_t b = 0; !ret && !m->from_file && b < m->nr_blocks; b++)
		if (bits[b / 64] >> (b % 64) & 1)
			ret = err_set(
			    err, ENOTSUP,
			    "hot-plugged memory is restored from a File memory backend only");
	for (uint64_t b = 0; !ret && b < m->nr_blocks; b++)
		if (bits[b / 64] >> (b % 64) & 1)
			ret = set_block(m, b, true, err);
	m->requested_size = ret ? m->requested_size : requested;
	free(bits);
	return ret;
}

const struct virtio_dev_ops virtio_mem_ops = {
	.name = "virtio-mem",
	.device_id = VIRTIO_ID_MEM,
	.num_queues = 1,
	.queue_max = VIRTIO_MEM_QUEUE_SIZE,
	.config_len = VIRTIO_MEM_CONFIG_LEN,
	.features = mem_features,
	.config_read = mem_config_read,
	.activate = mem_activate,
	.reset = mem_reset,
	.notify = mem_notify,
	.save = mem_save,
	.restore = mem_restore,
};

int virtio_mem_open(struct virtio_mem *m, struct guest_mem *mem, uint64_t gpa, uint64_t total,
		    uint64_t block, uint64_t slot, virtio_mem_slot_fn set_slot, void *slot_ctx,
		    uint64_t base, uint32_t irq, struct ember_err *err)
{
	int ret;

	memset(m, 0, sizeof(*m));
	m->mem = mem;
	m->gpa = gpa;
	m->region_size = total;
	m->block_size = block;
	m->slot_size = slot;
	m->nr_blocks = total / block;
	m->nr_slots = total / slot;
	m->set_slot = set_slot;
	m->slot_ctx = slot_ctx;
	m->map = mmap(NULL, total, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return err_errno(err, "virtio-mem: cannot reserve %llu MiB",
				 (unsigned long long)(total >> 20));
	}
	m->plugged = calloc((size_t)(m->nr_blocks + 63) / 64, 8);
	m->slot_blocks = calloc((size_t)m->nr_slots, sizeof(*m->slot_blocks));
	if (!m->plugged || !m->slot_blocks) {
		virtio_mem_close(m);
		return err_set(err, ENOMEM, "out of memory");
	}
	ret = virtio_mmio_init(&m->transport, &virtio_mem_ops, m, mem, base, irq, err);
	if (ret) {
		virtio_mem_close(m);
		return ret;
	}
	mem->hotplug = (struct guest_hotplug){
		.gpa = gpa, .size = total, .block = block, .host = m->map, .plugged = m->plugged
	};
	return 0;
}

int virtio_mem_map_file(struct virtio_mem *m, int fd, uint64_t offset, struct ember_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_errno(err, "virtio-mem: the memory file");
	if ((uint64_t)st.st_size < offset + m->region_size)
		return err_set(err, EINVAL,
			       "the memory file holds %llu bytes; with its hot-plug region it "
			       "should hold %llu",
			       (unsigned long long)st.st_size,
			       (unsigned long long)(offset + m->region_size));
	if (mmap(m->map, m->region_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, fd, (off_t)offset) == MAP_FAILED)
		return err_errno(err, "virtio-mem: mapping the memory file");
	m->from_file = true;
	return 0;
}

void virtio_mem_close(struct virtio_mem *m)
{
	if (m->mem && m->mem->hotplug.host == m->map)
		memset(&m->mem->hotplug, 0, sizeof(m->mem->hotplug));
	if (m->transport.ops)
		virtio_mmio_destroy(&m->transport);
	m->transport.ops = NULL;
	if (m->map)
		munmap(m->map, m->region_size);
	free(m->plugged);
	free(m->slot_blocks);
	m->map = NULL;
	m->plugged = NULL;
	m->slot_blocks = NULL;
}

void virtio_mem_set_requested(struct virtio_mem *m, uint64_t size)
{
	pthread_mutex_lock(&m->transport.lock);
	m->requested_size = size;
	virtio_mmio_config_changed_locked(&m->transport);
	pthread_mutex_unlock(&m->transport.lock);
}
