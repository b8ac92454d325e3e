// SPDX-License-Identifier: Apache-2.0
/* virtio-blk request parsing: no assumption about descriptor framing (§2.6.4). */
#include "blk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

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

/* The device: one queue, requests served on the VMM thread. */

#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX    (VIRTQ_MAX_CHAIN - 2) /* data buffers besides header and status */
#define BLK_CONFIG_LEN 16                    /* up to seg_max */

static void guest_warn(struct virtio_blk *b, const char *what, const char *msg)
{
	b->stats.invalid++;
	log_warn_rl("block %s: %s: %s", b->drive_id, what, msg);
}

static int map_segs(struct virtio_blk *b, struct iovec *iov)
{
	for (uint32_t i = 0; i < b->req.nsegs; i++) {
		iov[i].iov_base = guest_mem_ptr(b->mem, b->req.segs[i].gpa, b->req.segs[i].len);
		iov[i].iov_len = b->req.segs[i].len;
		if (!iov[i].iov_base)
			return -EFAULT;
	}
	return 0;
}

static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* The whole transfer or an error: short transfers are retried. */
static int transfer(struct virtio_blk *b, bool write)
{
	struct iovec iovs[VIRTQ_MAX_CHAIN], *iov = iovs;
	int cnt = (int)b->req.nsegs;
	off_t off = (off_t)(b->req.sector * VIRTIO_BLK_SECTOR);
	ssize_t n;

	if (map_segs(b, iovs) < 0)
		return -EFAULT;
	while (cnt) {
		n = write ? pwritev(b->fd, iov, cnt, off) : preadv(b->fd, iov, cnt, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		off += n;
		iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

static int get_id(struct virtio_blk *b)
{
	uint32_t done = 0;

	for (uint32_t i = 0; i < b->req.nsegs; i++) {
		void *p = guest_mem_ptr(b->mem, b->req.segs[i].gpa, b->req.segs[i].len);

		if (!p)
			return -EFAULT;
		memcpy(p, b->id + done, b->req.segs[i].len);
		done += b->req.segs[i].len;
	}
	return 0;
}

static int execute(struct virtio_blk *b)
{
	struct blk_request *r = &b->req;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		b->stats.reads++;
		b->stats.read_bytes += r->data_len;
		return transfer(b, false);
	case VIRTIO_BLK_T_OUT:
		b->stats.writes++;
		b->stats.write_bytes += r->data_len;
		return transfer(b, true);
	case VIRTIO_BLK_T_FLUSH: b->stats.flushes++; return fdatasync(b->fd) < 0 ? -errno : 0;
	case VIRTIO_BLK_T_GET_ID: return get_id(b);
	}
	return -ENOTSUP;
}

/* Bytes written into the chain: data for IN and GET_ID, plus the status. */
static uint32_t used_len(const struct blk_request *r, uint8_t status)
{
	bool fills = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID;

	return 1 + (status == VIRTIO_BLK_S_OK && fills ? (uint32_t)r->data_len : 0);
}

static void complete(struct virtio_blk *b, uint8_t status, bool has_status)
{
	struct virtq *q = &b->transport.queues[0];
	uint32_t len = 0;
	struct ember_err err;

	if (has_status) {
		uint8_t *p = guest_mem_ptr(b->mem, b->req.status_gpa, 1);

		if (p) {
			*p = status;
			len = used_len(&b->req, status);
		}
	}
	if (virtq_push(q, b->chain.head, len, &err) < 0)
		virtio_mmio_needs_reset(&b->transport, err.msg);
}

/*
 * A chain that could not be walked: report IOERR in the last byte of the
 * last device-writable buffer seen before the error, where the driver's
 * status byte would be, so the request does not look done; without one,
 * return the chain with nothing written.
 */
static void fail_chain(struct virtio_blk *b)
{
	const struct virtq_chain *c = &b->chain;
	const struct virtq_buf *last = c->nbufs ? &c->bufs[c->nbufs - 1] : NULL;

	memset(&b->req, 0, offsetof(struct blk_request, segs));
	b->req.type = VIRTIO_BLK_T_FLUSH; /* no data in the used length */
	b->req.has_status = last && last->writable;
	if (b->req.has_status)
		b->req.status_gpa = last->gpa + last->len - 1;
	complete(b, VIRTIO_BLK_S_IOERR, b->req.has_status);
}

/* 1: request done, 0: the rate limiter stopped the queue. */
static int serve(struct virtio_blk *b)
{
	uint64_t bytes;
	uint8_t status;
	struct ember_err err;
	int ret;

	if (virtio_blk_parse(b->mem, &b->chain, b->capacity, b->read_only, &b->req, &status, &err) <
	    0) {
		guest_warn(b, "bad request", err.msg);
		complete(b, status, b->req.has_status);
		return 1;
	}
	bytes = b->req.type == VIRTIO_BLK_T_GET_ID ? 0 : b->req.data_len;
	if (!ratelimit_consume(&b->rl, bytes, ratelimit_now_ns())) {
		b->stats.throttled++;
		virtq_unpop(&b->transport.queues[0]);
		return 0;
	}
	ret = execute(b);
	if (ret < 0) {
		b->stats.io_errors++;
		log_warn_rl("block %s: request type %u at sector %" PRIu64 ": %s", b->drive_id,
			    b->req.type, b->req.sector, strerror(-ret));
	}
	complete(b, ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, true);
	return 1;
}

static void process(struct virtio_blk *b)
{
	struct virtq *q = &b->transport.queues[0];
	struct ember_err err;
	bool done = false;
	int ret;

	while (!b->rl.blocked) {
		ret = virtq_pop(q, &b->chain, &err);
		if (ret == 0)
			break;
		if (ret == -EPROTO) {
			virtio_mmio_needs_reset(&b->transport, err.msg);
			break;
		}
		if (ret == -EINVAL) {
			guest_warn(b, "bad descriptor chain", err.msg);
			fail_chain(b);
			done = true;
			continue;
		}
		if (!serve(b))
			break;
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&b->transport, 0);
}

static void blk_notify(void *dev, unsigned q)
{
	(void)q;
	process(dev);
}

void virtio_blk_ratelimit_expired(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->transport.lock);
	ratelimit_timer_fired(&b->rl);
	if (b->transport.active)
		process(b);
	pthread_mutex_unlock(&b->transport.lock);
}

static uint64_t blk_features(void *dev)
{
	struct virtio_blk *b = dev;
	/* Without SEG_MAX, Linux sends one segment per request. */
	uint64_t f = 1ULL << VIRTIO_BLK_F_SEG_MAX;

	if (b->read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	if (b->writeback)
		f |= 1ULL << VIRTIO_BLK_F_FLUSH;
	return f;
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = dev;
	uint32_t seg_max = BLK_SEG_MAX;
	uint8_t cfg[BLK_CONFIG_LEN] = { 0 };

	/* struct virtio_blk_config, little-endian: capacity, size_max, seg_max */
	for (int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(b->capacity >> (8 * i));
	for (int i = 0; i < 4; i++)
		cfg[12 + i] = (uint8_t)(seg_max >> (8 * i));
	memcpy(data, cfg + off, len);
}

static int blk_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev;
	(void)features;
	(void)err;
	return 0;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* Requests are served synchronously: nothing is in flight. */
	b->rl.blocked = false;
}

static void blk_save(void *dev, struct state_writer *w)
{
	struct virtio_blk *b = dev;

	state_put_u64(w, b->capacity);
	state_put_u8(w, b->read_only);
}

static int blk_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_blk *b = dev;
	uint64_t capacity = state_get_u64(r);
	bool read_only = state_get_u8(r);

	if (r->failed)
		return err_set(err, EINVAL, "truncated block device state");
	if (capacity != b->capacity || read_only != b->read_only)
		return err_set(err, EINVAL,
			       "drive %s changed: %" PRIu64 " sectors%s when saved, now %" PRIu64
			       "%s",
			       b->drive_id, capacity, read_only ? " read-only" : "", b->capacity,
			       b->read_only ? " read-only" : "");
	return 0;
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.config_len = BLK_CONFIG_LEN,
	.features = blk_features,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset = blk_reset,
	.notify = blk_notify,
	.save = blk_save,
	.restore = blk_restore,
};

/* Firecracker's disk id: the file's device, rdev and inode numbers. */
static void make_id(struct virtio_blk *b, const struct stat *st)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%" PRIu64 "%" PRIu64 "%" PRIu64, (uint64_t)st->st_dev,
		 (uint64_t)st->st_rdev, (uint64_t)st->st_ino);
	memset(b->id, 0, sizeof(b->id));
	memcpy(b->id, buf, strnlen(buf, sizeof(b->id)));
}

/* Open a backing file; its size in sectors and its serial number (id). */
static int open_file(const char *drive_id, const char *path, bool read_only, int *fd_out,
		     uint64_t *capacity, struct stat *st, struct ember_err *err)
{
	int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return err_errno(err, "drive %s: cannot open %s", drive_id, path);
	if (fstat(fd, st) < 0)
		ret = err_errno(err, "drive %s: stat %s", drive_id, path);
	else if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode))
		ret = err_set(err, EINVAL, "drive %s: %s is not a file or block device", drive_id,
			      path);
	if (!ret && S_ISBLK(st->st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0)
			ret = err_errno(err, "drive %s: size of %s", drive_id, path);
		st->st_size = end;
	}
	if (ret) {
		close(fd);
		return ret;
	}
	if (st->st_size % VIRTIO_BLK_SECTOR)
		log_warn("drive %s: %s is not a whole number of sectors; the last %lld bytes "
			 "are not visible",
			 drive_id, path, (long long)(st->st_size % VIRTIO_BLK_SECTOR));
	*capacity = (uint64_t)st->st_size / VIRTIO_BLK_SECTOR;
	*fd_out = fd;
	return 0;
}

static int open_backing(struct virtio_blk *b, const struct virtio_blk_params *p,
			struct ember_err *err)
{
	struct stat st;
	int ret = open_file(p->drive_id, p->path, p->read_only, &b->fd, &b->capacity, &st, err);

	if (!ret)
		make_id(b, &st);
	return ret;
}

int virtio_blk_swap(struct virtio_blk *b, const char *path, struct ember_err *err)
{
	uint64_t capacity;
	struct stat st;
	int fd, old;
	int ret = open_file(b->drive_id, path, b->read_only, &fd, &capacity, &st, err);

	if (ret)
		return ret;
	/* Requests run under the transport's lock: none sees half a swap. */
	pthread_mutex_lock(&b->transport.lock);
	old = b->fd;
	b->fd = fd;
	b->capacity = capacity;
	make_id(b, &st);
	pthread_mutex_unlock(&b->transport.lock);
	close(old);
	log_info("drive %s: now backed by %s (%" PRIu64 " sectors)", b->drive_id, path, capacity);
	virtio_mmio_config_changed(&b->transport);
	return 0;
}

int virtio_blk_open(struct virtio_blk *b, const struct virtio_blk_params *p,
		    const struct guest_mem *mem, uint64_t base, uint32_t irq, struct ember_err *err)
{
	int ret;

	memset(b, 0, offsetof(struct virtio_blk, chain));
	b->fd = -1;
	b->rl.timer_fd = -1;
	b->mem = mem;
	b->read_only = p->read_only;
	b->writeback = p->writeback;
	snprintf(b->drive_id, sizeof(b->drive_id), "%s", p->drive_id);
	ret = open_backing(b, p, err);
	if (!ret)
		ret = ratelimit_init(&b->rl, &p->bandwidth, &p->ops, err);
	if (!ret)
		ret = virtio_mmio_init(&b->transport, &virtio_blk_ops, b, mem, base, irq, err);
	if (ret) {
		if (b->fd >= 0)
			close(b->fd);
		ratelimit_free(&b->rl);
		b->fd = -1;
	}
	return ret;
}

void virtio_blk_close(struct virtio_blk *b)
{
	if (b->fd < 0)
		return;
	virtio_mmio_destroy(&b->transport);
	ratelimit_free(&b->rl);
	close(b->fd);
	b->fd = -1;
}
