// SPDX-License-Identifier: Apache-2.0
/* Split virtqueue walking with every hostile case turned into an error. */
#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ring.h>
#include <string.h>

#define DESC_SIZE sizeof(struct vring_desc)

void virtq_init(struct virtq *q, const struct guest_mem *mem)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->size = VIRTQ_MAX_SIZE;
}

void virtq_reset(struct virtq *q)
{
	virtq_init(q, q->mem);
}

#define GUEST_PAGE 4096ULL

static uint64_t avail_bytes(const struct virtq *q)
{
	return 6 + 2ULL * q->size; /* flags, idx, ring[size], used_event */
}

static uint64_t used_bytes(const struct virtq *q)
{
	return 6 + 8ULL * q->size; /* flags, idx, ring[size], avail_event */
}

int virtq_activate(struct virtq *q, struct ember_err *err)
{
	if (q->size == 0 || q->size > VIRTQ_MAX_SIZE || (q->size & (q->size - 1)))
		return err_set(err, EINVAL, "queue size %u is not a power of 2 up to %d", q->size,
			       VIRTQ_MAX_SIZE);
	/* Alignment per §2.7: 16 for descriptors, 2 for avail, 4 for used. */
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return err_set(err, EINVAL, "misaligned virtqueue rings");
	if (!guest_mem_ptr(q->mem, q->desc_gpa, DESC_SIZE * q->size) ||
	    !guest_mem_ptr(q->mem, q->avail_gpa, avail_bytes(q)) ||
	    !guest_mem_ptr(q->mem, q->used_gpa, used_bytes(q)))
		return err_set(err, EFAULT, "virtqueue rings lie outside guest memory");
	q->last_avail = q->used_idx = 0;
	q->signalled_valid = false;
	q->broken = false;
	q->ready = true;
	return 0;
}

/* Ring fields are re-fetched through the accessor on every use: the driver
 * may move nothing, but the checks cost nothing next to an exit. */
static volatile uint16_t *avail_field(const struct virtq *q, uint64_t off)
{
	return guest_mem_ptr(q->mem, q->avail_gpa + off, 2);
}

static int broken(struct virtq *q, struct ember_err *err, const char *why)
{
	q->broken = true;
	return err_set(err, EPROTO, "virtqueue broken: %s", why);
}

static int add_buf(struct virtq_chain *c, const struct vring_desc *d, struct ember_err *err)
{
	bool wr = d->flags & VRING_DESC_F_WRITE;

	if (d->len == 0)
		return err_set(err, EINVAL, "zero-length buffer in chain %u", c->head);
	if (c->nbufs == VIRTQ_MAX_CHAIN)
		return err_set(err, EINVAL, "chain %u is longer than %d buffers", c->head,
			       VIRTQ_MAX_CHAIN);
	if (!wr && c->writable)
		return err_set(err, EINVAL, "chain %u has a readable buffer after a writable one",
			       c->head);
	c->bufs[c->nbufs++] = (struct virtq_buf){ d->addr, d->len, wr };
	if (wr)
		c->writable += d->len;
	else
		c->readable += d->len;
	return 0;
}

/* Copy one descriptor out of a table of n, and check its buffer. */
static int read_desc(const struct virtq *q, uint64_t table, uint32_t n, uint32_t i,
		     struct vring_desc *d, struct ember_err *err)
{
	const void *p;

	if (i >= n)
		return err_set(err, EINVAL, "descriptor index %u out of range (%u)", i, n);
	p = guest_mem_ptr(q->mem, table + (uint64_t)i * DESC_SIZE, DESC_SIZE);
	if (!p)
		return err_set(err, EINVAL, "descriptor table outside guest memory");
	memcpy(d, p, sizeof(*d));
	if (d->len && !guest_mem_ptr(q->mem, d->addr, d->len))
		return err_set(err, EINVAL, "buffer 0x%" PRIx64 "+%u outside guest memory",
			       (uint64_t)d->addr, d->len);
	return 0;
}

/* Walk a table (the ring's or an indirect one) from index `first`. */
static int walk(const struct virtq *q, uint64_t table, uint32_t n, uint32_t first, bool indirect,
		struct virtq_chain *c, struct ember_err *err)
{
	struct vring_desc d;
	uint32_t i = first;

	/* A chain visits each descriptor at most once: more steps is a loop. */
	for (uint32_t steps = 0; steps < n; steps++) {
		if (read_desc(q, table, n, i, &d, err) < 0)
			return -EINVAL;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (d.flags & VRING_DESC_F_NEXT) || c->nbufs)
				return err_set(err, EINVAL,
					       "misplaced indirect descriptor in chain %u",
					       c->head);
			if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > VIRTQ_MAX_CHAIN)
				return err_set(err, EINVAL,
					       "indirect table of %u bytes in chain %u", d.len,
					       c->head);
			return walk(q, d.addr, d.len / DESC_SIZE, 0, true, c, err);
		}
		if (add_buf(c, &d, err) < 0)
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
	return err_set(err, EINVAL, "chain %u loops or is longer than its table", c->head);
}

int virtq_pop(struct virtq *q, struct virtq_chain *c, struct ember_err *err)
{
	volatile uint16_t *idx = avail_field(q, 2), *slot;
	uint16_t avail, pending;

	if (q->broken)
		return err_set(err, EPROTO, "virtqueue broken: the driver must reset the device");
	if (!q->ready || !idx)
		return 0;
	avail = __atomic_load_n(idx, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail - q->last_avail);
	if (pending == 0 && q->event_idx) {
		/* Our avail_event store (the last pop's) before this second look
		 * at avail->idx, against the driver's store of idx before its look
		 * at avail_event: else both can miss, and no kick comes (§2.7.10). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = __atomic_load_n(idx, __ATOMIC_ACQUIRE);
		pending = (uint16_t)(avail - q->last_avail);
	}
	if (pending == 0)
		return 0;
	if (pending > q->size)
		return broken(q, err,
			      "the driver made more buffers available than the queue holds");
	slot = avail_field(q, 4 + 2ULL * (q->last_avail % q->size));
	c->head = *slot;
	q->last_avail++;
	if (q->event_idx) {
		/* Tell the driver how far we got: avail_event (§2.7.10). */
		volatile uint16_t *ev = guest_mem_ptr(q->mem, q->used_gpa + 4 + 8ULL * q->size, 2);

		if (ev)
			__atomic_store_n(ev, q->last_avail, __ATOMIC_RELEASE);
	}
	if (c->head >= q->size)
		return broken(q, err, "available ring names a descriptor beyond the table");
	c->nbufs = 0;
	c->readable = c->writable = 0;
	if (walk(q, q->desc_gpa, q->size, c->head, false, c, err) < 0)
		return -EINVAL;
	return 1;
}

int virtq_pop_dir(struct virtq *q, struct virtq_chain *c, bool writable, struct ember_err *err)
{
	int ret = virtq_pop(q, c, err);

	if (ret == 1 && (writable ? c->readable : c->writable))
		return err_set(err, EINVAL, "chain %u has device-%s buffers", c->head,
			       writable ? "readable" : "writable");
	return ret;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written, struct ember_err *err)
{
	struct vring_used_elem *e;
	volatile uint16_t *idx;

	if (!q->ready)
		return err_set(err, EINVAL, "queue not ready");
	e = guest_mem_ptr(q->mem, q->used_gpa + 4 + 8ULL * (q->used_idx % q->size), sizeof(*e));
	idx = guest_mem_ptr(q->mem, q->used_gpa + 2, 2);
	if (!e || !idx)
		return broken(q, err, "used ring outside guest memory");
	e->id = head;
	e->len = written;
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(idx, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

void virtq_notify_on_next(struct virtq *q)
{
	volatile uint16_t *idx = avail_field(q, 2);
	volatile uint16_t *ev;

	if (!q->event_idx || !idx)
		return; /* without EVENT_IDX the driver notifies every time */
	ev = guest_mem_ptr(q->mem, q->used_gpa + 4 + 8ULL * q->size, 2);
	if (ev)
		__atomic_store_n(ev, *idx, __ATOMIC_RELEASE);
}

bool virtq_needs_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	volatile uint16_t *p;
	bool valid = q->signalled_valid;

	/* Our used index store must be ordered before reading the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx) {
		p = avail_field(q, 0);
		return !p || !(*p & VRING_AVAIL_F_NO_INTERRUPT);
	}
	p = avail_field(q, 4 + 2ULL * q->size); /* used_event */
	if (!p || !valid)
		return true;
	return vring_need_event(*p, now, old);
}

void virtq_own_used(struct virtq *q)
{
	uint64_t end = q->used_gpa + used_bytes(q);

	if (!q->ready)
		return;
	for (uint64_t page = q->used_gpa & ~(GUEST_PAGE - 1); page < end; page += GUEST_PAGE) {
		volatile uint8_t *p =
		    guest_mem_ptr(q->mem, page < q->used_gpa ? q->used_gpa : page, 1);

		if (p)
			*p = *p;
	}
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

uint16_t virtq_avail_idx(const struct virtq *q)
{
	volatile uint16_t *idx = q->ready ? avail_field(q, 2) : NULL;

	return idx ? __atomic_load_n(idx, __ATOMIC_ACQUIRE) : q->last_avail;
}

void virtq_save(const struct virtq *q, struct state_writer *w)
{
	state_put_u32(w, q->size);
	state_put_u8(
	    w, (uint8_t)(q->ready | q->event_idx << 1 | q->signalled_valid << 2 | q->broken << 3));
	state_put_u64(w, q->desc_gpa);
	state_put_u64(w, q->avail_gpa);
	state_put_u64(w, q->used_gpa);
	state_put_u32(w, q->last_avail);
	state_put_u32(w, q->used_idx);
	state_put_u32(w, q->signalled_used);
}

int virtq_restore(struct virtq *q, struct state_reader *r, struct ember_err *err)
{
	uint32_t size = state_get_u32(r);
	uint8_t flags = state_get_u8(r);
	struct virtq saved;
	uint32_t idx[3];

	virtq_init(&saved, q->mem);
	saved.desc_gpa = state_get_u64(r);
	saved.avail_gpa = state_get_u64(r);
	saved.used_gpa = state_get_u64(r);
	for (int i = 0; i < 3; i++)
		idx[i] = state_get_u32(r);
	if (r->failed)
		return err_set(err, EINVAL, "truncated virtqueue state");
	if (size > VIRTQ_MAX_SIZE || idx[0] > 0xffff || idx[1] > 0xffff || idx[2] > 0xffff)
		return err_set(err, EINVAL, "bad virtqueue state");
	saved.size = (uint16_t)size;
	if ((flags & 1) && virtq_activate(&saved, err) < 0)
		return -EINVAL;
	saved.event_idx = flags & 2;
	saved.signalled_valid = flags & 4;
	saved.broken = flags & 8;
	saved.last_avail = (uint16_t)idx[0];
	saved.used_idx = (uint16_t)idx[1];
	saved.signalled_used = (uint16_t)idx[2];
	*q = saved;
	return 0;
}
