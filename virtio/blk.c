// SPDX-License-Identifier: Apache-2.0
/* virtio-blk request parsing: no assumption about descriptor framing (§2.6.4). */
#include "blk.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <string.h>

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Copy the first len readable bytes of the chain (the header) into dst. */
static int gather(const struct guest_mem *mem, const struct virtq_chain *c, void *dst, uint32_t len)
{
	uint32_t got = 0;

	for (uint32_t i = 0; i < c->nbufs && got < len && !c->bufs[i].writable; i++) {
		uint32_t n = c->bufs[i].len < len - got ? c->bufs[i].len : len - got;
		const void *src = guest_mem_ptr(mem, c->bufs[i].gpa, n);

		if (!src)
			return -EFAULT;
		memcpy((uint8_t *)dst + got, src, n);
		got += n;
	}
	return got == len ? 0 : -EINVAL;
}

/* Collect [skip, skip+len) of the readable or writable bytes as segments. */
static void collect(const struct virtq_chain *c, bool writable, uint64_t skip, uint64_t len,
		    struct blk_request *req)
{
	for (uint32_t i = 0; i < c->nbufs && len; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		uint64_t take;

		if (b->writable != writable)
			continue;
		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		take = b->len - skip < len ? b->len - skip : len;
		req->segs[req->nsegs++] = (struct blk_seg){ b->gpa + skip, (uint32_t)take };
		len -= take;
		skip = 0;
	}
}

static int check_range(const struct blk_request *req, uint64_t capacity, struct ember_err *err)
{
	uint64_t sectors = req->data_len / VIRTIO_BLK_SECTOR;

	if (req->data_len == 0 || req->data_len % VIRTIO_BLK_SECTOR)
		return err_set(err, EINVAL,
			       "data length %" PRIu64 " is not a positive multiple of 512",
			       req->data_len);
	if (req->sector > capacity || sectors > capacity - req->sector)
		return err_set(err, EINVAL,
			       "sectors %" PRIu64 "+%" PRIu64 " are beyond the end (%" PRIu64 ")",
			       req->sector, sectors, capacity);
	return 0;
}

static int parse_body(const struct virtq_chain *c, uint64_t capacity, bool read_only,
		      struct blk_request *req, uint8_t *status, struct ember_err *err)
{
	uint64_t rd = c->readable - sizeof(struct blk_header), wr = c->writable - 1;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (rd)
			return err_set(err, EINVAL,
				       "read request carries %" PRIu64 " readable data bytes", rd);
		req->data_len = wr;
		collect(c, true, 0, wr, req);
		return check_range(req, capacity, err);
	case VIRTIO_BLK_T_OUT:
		if (read_only)
			return err_set(err, EROFS, "write to a read-only drive");
		if (wr)
			return err_set(err, EINVAL,
				       "write request carries %" PRIu64 " writable data bytes", wr);
		req->data_len = rd;
		collect(c, false, sizeof(struct blk_header), rd, req);
		return check_range(req, capacity, err);
	case VIRTIO_BLK_T_FLUSH: return 0;
	case VIRTIO_BLK_T_GET_ID:
		if (!wr)
			return err_set(err, EINVAL, "GET_ID without a buffer");
		req->data_len = wr < VIRTIO_BLK_ID_BYTES ? wr : VIRTIO_BLK_ID_BYTES;
		collect(c, true, 0, req->data_len, req);
		return 0;
	default:
		*status = VIRTIO_BLK_S_UNSUPP;
		return err_set(err, ENOTSUP, "unsupported request type %u", req->type);
	}
}

int virtio_blk_parse(const struct guest_mem *mem, const struct virtq_chain *c, uint64_t capacity,
		     bool read_only, struct blk_request *req, uint8_t *status,
		     struct ember_err *err)
{
	const struct virtq_buf *last = c->nbufs ? &c->bufs[c->nbufs - 1] : NULL;
	struct blk_header h;

	memset(req, 0, offsetof(struct blk_request, segs));
	*status = VIRTIO_BLK_S_IOERR;
	if (!last || !last->writable)
		return err_set(err, EINVAL, "request without a status byte");
	req->has_status = true;
	req->status_gpa = last->gpa + last->len - 1;
	if (c->readable < sizeof(h) || gather(mem, c, &h, sizeof(h)) < 0)
		return err_set(err, EINVAL, "request header shorter than %zu bytes", sizeof(h));
	req->type = h.type;
	req->sector = h.sector;
	return parse_body(c, capacity, read_only, req, status, err);
}
