// SPDX-License-Identifier: Apache-2.0
/* virtio-pmem: a host file as guest memory; flush requests fsync it. */
#include "pmem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define REQ_FLUSH 0u
#define RESP_OK   0u
#define RESP_FAIL 0xffffffffu /* -1: the driver reports EIO */

static void push(struct virtio_pmem *p, uint32_t len)
{
	struct ember_err err;

	if (virtq_push(&p->transport.queues[0], p->chain.head, len, &err) < 0)
		virtio_mmio_needs_reset(&p->transport, err.msg);
}

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A request: a 4-byte type the device reads, then a 4-byte status it
 * writes. The status, or -EINVAL for a chain of another shape. */
static int request(struct virtio_pmem *p, uint8_t **status)
{
	const struct virtq_buf *req = &p->chain.bufs[0], *resp = &p->chain.bufs[1];
	const uint8_t *type;

	if (p->chain.nbufs != 2 || req->writable || req->len != 4 || !resp->writable ||
	    resp->len != 4)
		return -EINVAL;
	type = guest_mem_ptr(p->mem, req->gpa, 4);
	*status = guest_mem_ptr(p->mem, resp->gpa, 4);
	if (!type || !*status)
		return -EINVAL;
	return le32(type) == REQ_FLUSH ? 0 : -EOPNOTSUPP;
}

static void answer(uint8_t *status, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		status[i] = (uint8_t)(v >> (8 * i));
}

/* 1: a request done, 0: the rate limiter stopped the queue. */
static int serve(struct virtio_pmem *p)
{
	uint8_t *status = NULL;
	int ret = request(p, &status);

	if (ret == -EINVAL) {
		p->stats.fails++;
		log_warn_rl("virtio-pmem: a request of another shape than type and status");
		push(p, 0);
		return 1;
	}
	if (!ratelimit_consume(&p->rl, p->file_len, ratelimit_now_ns())) {
		p->stats.throttled++;
		virtq_unpop(&p->transport.queues[0]);
		return 0;
	}
	if (!ret && !p->read_only && fsync(p->fd) < 0) {
		log_warn_rl("virtio-pmem: fsync: %s", strerror(errno));
		ret = -errno;
	}
	if (ret == -EOPNOTSUPP)
		log_warn_rl("virtio-pmem: an unknown request type");
	p->stats.flushes += ret == 0;
	p->stats.fails += ret != 0;
	answer(status, ret ? RESP_FAIL : RESP_OK);
	push(p, 4);
	return 1;
}

static void process(struct virtio_pmem *p)
{
	struct ember_err err;
	bool done = false;
	int ret;

	while (!p->rl.blocked) {
		ret = virtq_pop(&p->transport.queues[0], &p->chain, &err);
		if (ret == 0)
			break;
		if (ret == -EPROTO) {
			virtio_mmio_needs_reset(&p->transport, err.msg);
			break;
		}
		if (ret < 0) {
			p->stats.fails++;
			log_warn_rl("virtio-pmem: bad descriptor chain: %s", err.msg);
			push(p, 0);
			done = true;
			continue;
		}
		if (!serve(p))
			break;
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&p->transport, 0);
}

static void pmem_notify(void *dev, unsigned q)
{
	struct virtio_pmem *p = dev;

	(void)q;
	p->stats.queue_events++;
	process(p);
}

void virtio_pmem_ratelimit_expired(struct virtio_pmem *p)
{
	pthread_mutex_lock(&p->transport.lock);
	p->stats.limiter_events++;
	ratelimit_timer_fired(&p->rl);
	if (p->transport.active)
		process(p);
	pthread_mutex_unlock(&p->transport.lock);
}

static uint64_t pmem_features(void *dev)
{
	(void)dev;
	return 0;
}

static void put_le64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void pmem_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_pmem *p = dev;
	uint8_t cfg[VIRTIO_PMEM_CONFIG_LEN];

	put_le64(cfg, p->gpa);
	put_le64(cfg + 8, p->map_len);
	memcpy(data, cfg + off, len);
}

static int pmem_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev;
	(void)features;
	(void)err;
	return 0;
}

static void pmem_reset(void *dev)
{
	struct virtio_pmem *p = dev;

	p->rl.blocked = false; /* requests are served at once: none in flight */
}

#define PMEM_STATE_MAGIC 0x314d4d50u /* "PMM1" */

/* The file's contents are the file's: only where the guest sees it. */
static void pmem_save(void *dev, struct state_writer *w)
{
	struct virtio_pmem *p = dev;

	state_put_u32(w, PMEM_STATE_MAGIC);
	state_put_u64(w, p->gpa);
	state_put_u64(w, p->map_len);
}

static int pmem_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_pmem *p = dev;
	uint64_t gpa, len;

	if (state_get_u32(r) != PMEM_STATE_MAGIC)
		return err_set(err, EINVAL, "not a virtio-pmem state");
	gpa = state_get_u64(r);
	len = state_get_u64(r);
	if (r->failed)
		return err_set(err, EINVAL, "truncated virtio-pmem state");
	if (len != p->map_len)
		return err_set(err, EINVAL,
			       "the pmem file's size changed: %llu bytes mapped in the snapshot, "
			       "%llu now",
			       (unsigned long long)len, (unsigned long long)p->map_len);
	if (gpa != p->gpa)
		return err_set(err, EINVAL,
			       "the pmem region moved (0x%llx in the snapshot, 0x%llx)",
			       (unsigned long long)gpa, (unsigned long long)p->gpa);
	return 0;
}

const struct virtio_dev_ops virtio_pmem_ops = {
	.name = "virtio-pmem",
	.device_id = VIRTIO_ID_PMEM,
	.num_queues = 1,
	.queue_max = VIRTIO_PMEM_QUEUE_SIZE,
	.config_len = VIRTIO_PMEM_CONFIG_LEN,
	.features = pmem_features,
	.config_read = pmem_config_read,
	.activate = pmem_activate,
	.reset = pmem_reset,
	.notify = pmem_notify,
	.save = pmem_save,
	.restore = pmem_restore,
};

/* The file, then anonymous memory up to the next VIRTIO_PMEM_ALIGN. */
static int map_file(struct virtio_pmem *p, struct ember_err *err)
{
	int prot = PROT_READ | (p->read_only ? 0 : PROT_WRITE);
	void *m;

	p->map_len = (p->file_len + VIRTIO_PMEM_ALIGN - 1) & ~(uint64_t)(VIRTIO_PMEM_ALIGN - 1);
	m = mmap(NULL, p->map_len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return err_errno(err, "cannot reserve %llu bytes", (unsigned long long)p->map_len);
	p->map = m;
	if (mmap(m, p->file_len, prot, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, p->fd, 0) ==
	    MAP_FAILED)
		return err_errno(err, "cannot map the file");
	return 0;
}

int virtio_pmem_open(struct virtio_pmem *p, const char *path, bool read_only,
		     const struct token_bucket *bandwidth, const struct token_bucket *ops,
		     const struct guest_mem *mem, uint64_t base, uint32_t irq,
		     struct ember_err *err)
{
	struct stat st;
	int ret;

	memset(p, 0, sizeof(*p));
	p->mem = mem;
	p->read_only = read_only;
	p->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (p->fd < 0)
		return err_errno(err, "%s", path);
	if (fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		ret = err_set(err, EINVAL, "%s: not a regular file with data", path);
		goto fail_fd;
	}
	p->file_len = (uint64_t)st.st_size;
	ret = map_file(p, err);
	if (ret)
		goto fail_map;
	ret = ratelimit_init(&p->rl, bandwidth, ops, err);
	if (ret)
		goto fail_map;
	ret = virtio_mmio_init(&p->transport, &virtio_pmem_ops, p, mem, base, irq, err);
	if (!ret)
		return 0;
	ratelimit_free(&p->rl);
fail_map:
	if (p->map)
		munmap(p->map, p->map_len);
fail_fd:
	close(p->fd);
	p->fd = -1;
	return ret;
}

void virtio_pmem_close(struct virtio_pmem *p)
{
	virtio_mmio_destroy(&p->transport);
	ratelimit_free(&p->rl);
	if (p->map)
		munmap(p->map, p->map_len);
	p->map = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

void virtio_pmem_place(struct virtio_pmem *p, uint64_t gpa)
{
	p->gpa = gpa;
}
