// SPDX-License-Identifier: Apache-2.0
/* virtio-balloon: inflated, hinted and reported pages given back to the
 * host, statistics polled from the guest. */
#include "balloon.h"

#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

#define INFLATE_Q 0
#define DEFLATE_Q 1
#define STAT_SIZE 10         /* struct virtio_balloon_stat: le16 tag, le64 val, packed */
#define RUN_MAX   (1u << 20) /* pages given back in one madvise at most */

const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_NR_STATS] = {
	"swap_in",          "swap_out",    "major_faults",
	"minor_faults",     "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures", "oom_kill",    "alloc_stall",
	"async_scan",       "direct_scan", "async_reclaim",
	"direct_reclaim",
};

static void push(struct virtio_balloon *b, unsigned q, uint16_t head)
{
	struct ember_err err;

	if (virtq_push(&b->transport.queues[q], head, 0, &err) < 0)
		virtio_mmio_needs_reset(&b->transport, err.msg);
}

/* The next chain of queue q, every buffer device-readable when
 * readable_only: 1, or 0 when none is left or the ring is broken (the
 * device then needs a reset), or -EINVAL for a bad chain (consumed). */
static int next_chain(struct virtio_balloon *b, unsigned q, bool readable_only,
		      struct ember_err *err)
{
	struct virtq *vq = &b->transport.queues[q];
	int ret = readable_only ? virtq_pop_dir(vq, &b->chain, false, err)
				: virtq_pop(vq, &b->chain, err);

	if (ret == -EPROTO) {
		virtio_mmio_needs_reset(&b->transport, err->msg);
		return 0;
	}
	return ret;
}

/* A run of consecutive page frames, given back in one madvise. */
struct run {
	uint64_t first;
	uint64_t count;
};

static void give_back(struct virtio_balloon *b, struct run *r)
{
	struct ember_err err;

	if (!r->count)
		return;
	if (guest_mem_discard(b->mem, r->first << VIRTIO_BALLOON_PAGE_SHIFT,
			      r->count << VIRTIO_BALLOON_PAGE_SHIFT, &err) < 0) {
		b->metrics.event_fails++;
		log_warn_rl("virtio-balloon: inflated pages: %s", err.msg);
	}
	r->count = 0;
}

static void add_pfn(struct virtio_balloon *b, struct run *r, uint32_t pfn)
{
	if (r->count && pfn == r->first + r->count && r->count < RUN_MAX) {
		r->count++;
		return;
	}
	give_back(b, r);
	r->first = pfn;
	r->count = 1;
}

/* One inflate buffer: little-endian 32-bit page frame numbers. */
static void inflate_buf(struct virtio_balloon *b, const struct virtq_buf *buf, struct run *r)
{
	const uint8_t *p = guest_mem_ptr(b->mem, buf->gpa, buf->len);

	if (!p || buf->len % 4) {
		b->metrics.event_fails++;
		log_warn_rl("virtio-balloon: inflate buffer of %u bytes at 0x%llx refused",
			    buf->len, (unsigned long long)buf->gpa);
		return;
	}
	for (uint32_t off = 0; off < buf->len; off += 4)
		add_pfn(b, r,
			(uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
			    (uint32_t)p[off + 3] << 24);
}

/* Inflate and deflate: every chain device-readable. Deflated pages need
 * nothing from the host: the guest's next touch faults them back in. */
static bool drain_pages(struct virtio_balloon *b, unsigned q)
{
	struct ember_err err;
	struct run r = { 0 };
	bool done = false;
	int ret;

	while ((ret = next_chain(b, q, true, &err)) != 0) {
		if (ret < 0) {
			b->metrics.event_fails++;
			log_warn_rl("virtio-balloon: bad descriptor chain: %s", err.msg);
		}
		for (uint32_t i = 0; ret > 0 && q == INFLATE_Q && i < b->chain.nbufs; i++)
			inflate_buf(b, &b->chain.bufs[i], &r);
		give_back(b, &r);
		push(b, q, b->chain.head);
		done = true;
	}
	return done;
}

static uint64_t le_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void read_stat(struct virtio_balloon *b, const uint8_t *s)
{
	uint16_t tag = (uint16_t)le_get(s, 2);

	if (tag >= VIRTIO_BALLOON_NR_STATS) {
		b->metrics.stats_update_fails++;
		return;
	}
	b->stats.val[tag] = le_get(s + 2, 8);
	b->stats.seen |= 1u << tag;
}

/* The driver's statistics, kept until the timer asks for fresh ones. */
static void take_stats(struct virtio_balloon *b)
{
	uint8_t buf[VIRTIO_BALLOON_STATS_MAX * STAT_SIZE];
	uint64_t len = b->chain.readable < sizeof(buf) ? b->chain.readable : sizeof(buf);
	uint64_t got = 0;

	for (uint32_t i = 0; i < b->chain.nbufs && got < len; i++) {
		const struct virtq_buf *v = &b->chain.bufs[i];
		uint64_t n = v->len < len - got ? v->len : len - got;
		const uint8_t *p = v->writable ? NULL : guest_mem_ptr(b->mem, v->gpa, n);

		if (p) {
			memcpy(buf + got, p, n);
			got += n;
		}
	}
	if (b->chain.readable > sizeof(buf))
		log_warn_rl("virtio-balloon: statistics beyond the first %u ignored",
			    VIRTIO_BALLOON_STATS_MAX);
	for (uint64_t off = 0; off + STAT_SIZE <= got; off += STAT_SIZE)
		read_stat(b, buf + off);
	b->metrics.stats_updates_count++;
}

static bool stats_queue(struct virtio_balloon *b)
{
	struct ember_err err;
	bool done = false;
	int ret;

	while ((ret = next_chain(b, (unsigned)b->stats_q, false, &err)) != 0) {
		/* One buffer is the protocol; an older one goes back at once. */
		if (b->stats_held) {
			log_warn_rl("virtio-balloon: a second statistics buffer");
			push(b, (unsigned)b->stats_q, b->stats_head);
			done = true;
		}
		if (ret < 0)
			b->metrics.stats_update_fails++;
		else
			take_stats(b);
		b->stats_held = true;
		b->stats_head = b->chain.head;
	}
	return done;
}

/* A new command id in config space, and the driver told (lock held). */
static void set_hint_cmd(struct virtio_balloon *b, uint32_t cmd)
{
	b->hint.host_cmd = cmd;
	virtio_mmio_config_changed_locked(&b->transport);
}

/* One buffer of a hinting chain: a device-readable 4-byte command id (the
 * run the ranges after it belong to, or STOP at its end), or a free range
 * the driver holds (device-writable), given back only while it belongs to
 * the run in config space: once the host says DONE the driver frees its
 * hinted pages and may use them again. Returns whether the run ended. */
static bool hint_buf(struct virtio_balloon *b, const struct virtq_buf *v, bool ended)
{
	const uint8_t *p = v->writable ? NULL : guest_mem_ptr(b->mem, v->gpa, 4);
	struct ember_err err;

	if (!v->writable) {
		if (!p || v->len != 4) {
			b->metrics.free_page_hint_fails++;
			log_warn_rl("virtio-balloon: a hinting command of %u bytes", v->len);
			return ended;
		}
		b->hint.guest_cmd = (uint32_t)le_get(p, 4);
		b->hint.guest_cmd_seen = true;
		if (b->hint.guest_cmd == VIRTIO_BALLOON_HINT_DONE)
			log_warn_rl("virtio-balloon: the driver sent DONE (taken as STOP)");
		return b->hint.guest_cmd <= VIRTIO_BALLOON_HINT_DONE;
	}
	if (b->hint.host_cmd < VIRTIO_BALLOON_HINT_FIRST || !b->hint.guest_cmd_seen ||
	    b->hint.guest_cmd != b->hint.host_cmd)
		return ended; /* a range of a run that is over */
	b->metrics.free_page_hint_count++;
	if (guest_mem_discard(b->mem, v->gpa, v->len, &err) < 0) {
		b->metrics.free_page_hint_fails++;
		log_warn_rl("virtio-balloon: hinted range: %s", err.msg);
	} else {
		b->metrics.free_page_hint_freed += v->len;
	}
	return ended;
}

static bool hint_queue(struct virtio_balloon *b)
{
	struct ember_err err;
	bool done = false, ended = false;
	int ret;

	while ((ret = next_chain(b, (unsigned)b->hint_q, false, &err)) != 0) {
		if (ret < 0)
			b->metrics.free_page_hint_fails++;
		for (uint32_t i = 0; ret > 0 && i < b->chain.nbufs; i++)
			ended = hint_buf(b, &b->chain.bufs[i], ended);
		push(b, (unsigned)b->hint_q, b->chain.head);
		done = true;
	}
	if (ended && b->hint.ack_on_stop)
		set_hint_cmd(b, VIRTIO_BALLOON_HINT_DONE);
	return done;
}

/* Free page reporting: every buffer of a chain is a free range of the
 * guest (the driver makes them device-writable), given back. */
static bool report_queue(struct virtio_balloon *b)
{
	struct ember_err err;
	bool done = false;
	int ret;

	while ((ret = next_chain(b, (unsigned)b->report_q, false, &err)) != 0) {
		for (uint32_t i = 0; ret > 0 && i < b->chain.nbufs; i++) {
			const struct virtq_buf *v = &b->chain.bufs[i];

			b->metrics.free_page_report_count++;
			if (guest_mem_discard(b->mem, v->gpa, v->len, &err) < 0) {
				b->metrics.free_page_report_fails++;
				log_warn_rl("virtio-balloon: reported range: %s", err.msg);
			} else {
				b->metrics.free_page_report_freed += v->len;
			}
		}
		push(b, (unsigned)b->report_q, b->chain.head);
		done = true;
	}
	return done;
}

static void balloon_notify(void *dev, unsigned q)
{
	struct virtio_balloon *b = dev;
	bool done;

	if (q == INFLATE_Q || q == DEFLATE_Q) {
		b->metrics.inflate_count += q == INFLATE_Q;
		b->metrics.deflate_count += q == DEFLATE_Q;
		done = drain_pages(b, q);
	} else if ((int)q == b->stats_q) {
		done = stats_queue(b);
	} else if ((int)q == b->hint_q) {
		done = hint_queue(b);
	} else {
		done = report_queue(b);
	}
	if (done)
		virtio_mmio_signal_used(&b->transport, q);
}

static uint64_t balloon_features(void *dev)
{
	struct virtio_balloon *b = dev;
	uint64_t f = 0;

	if (b->p.deflate_on_oom)
		f |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->stats_q >= 0)
		f |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
	if (b->hint_q >= 0)
		f |= 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT;
	if (b->report_q >= 0)
		f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void balloon_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint8_t cfg[VIRTIO_BALLOON_CONFIG_LEN] = { 0 };

	put_le32(cfg, b->p.num_pages);
	put_le32(cfg + 4, b->actual_pages);
	put_le32(cfg + 8, b->hint.host_cmd);
	memcpy(data, cfg + off, len);
}

/* The driver writes `actual` only (le32 at 4). */
static void balloon_config_write(void *dev, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_balloon *b = dev;
	uint8_t cfg[4];

	if (off < 4 || off + len > 8) {
		log_warn_rl("virtio-balloon: the driver wrote config bytes %u+%u (only actual is "
			    "writable)",
			    off, len);
		return;
	}
	put_le32(cfg, b->actual_pages);
	memcpy(cfg + (off - 4), data, len);
	b->actual_pages = (uint32_t)le_get(cfg, 4);
}

static int balloon_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev;
	(void)features;
	(void)err;
	return 0;
}

static void balloon_reset(void *dev)
{
	struct virtio_balloon *b = dev;

	b->stats_held = false; /* the driver gives a new buffer when it starts again */
	b->actual_pages = 0;
	memset(&b->hint, 0, sizeof(b->hint));
}

/* BAL1: no hinting state (before free page hinting). */
#define BALLOON_STATE_V1 0x314c4142u /* "BAL1" */
#define BALLOON_STATE_V2 0x324c4142u /* "BAL2" */

static void balloon_save(void *dev, struct state_writer *w)
{
	struct virtio_balloon *b = dev;

	state_put_u32(w, BALLOON_STATE_V2);
	state_put_u32(w, b->p.num_pages);
	state_put_u32(w, b->actual_pages);
	state_put_u32(w, b->p.stats_interval_s);
	state_put_u8(w, b->stats_held);
	state_put_u32(w, b->stats_head);
	state_put_u32(w, b->stats.seen);
	for (unsigned i = 0; i < VIRTIO_BALLOON_NR_STATS; i++)
		state_put_u64(w, b->stats.val[i]);
	state_put_u8(w, b->hint_q >= 0);
	state_put_u32(w, b->hint.host_cmd);
	state_put_u32(w, b->hint.last_cmd_id);
	state_put_u32(w, b->hint.guest_cmd);
	state_put_u8(w, b->hint.guest_cmd_seen);
	state_put_u8(w, b->hint.ack_on_stop);
}

static void restore_hinting(struct virtio_balloon *b, struct state_reader *r, bool *hinting)
{
	*hinting = state_get_u8(r) != 0;
	b->hint.host_cmd = state_get_u32(r);
	b->hint.last_cmd_id = state_get_u32(r);
	b->hint.guest_cmd = state_get_u32(r);
	b->hint.guest_cmd_seen = state_get_u8(r) != 0;
	b->hint.ack_on_stop = state_get_u8(r) != 0;
}

/* A run saved in the snapshot is over: the driver is told DONE, so that
 * it frees the pages it still holds for it (as Firecracker does). */
static void end_saved_run(struct virtio_balloon *b)
{
	if (b->hint_q >= 0 && b->transport.active)
		set_hint_cmd(b, VIRTIO_BALLOON_HINT_DONE);
}

static int balloon_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_balloon *b = dev;
	uint32_t magic = state_get_u32(r), interval;
	bool hinting = false;

	if (magic != BALLOON_STATE_V1 && magic != BALLOON_STATE_V2)
		return err_set(err, EINVAL, "not a virtio-balloon state");
	b->p.num_pages = state_get_u32(r);
	b->actual_pages = state_get_u32(r);
	interval = state_get_u32(r);
	b->stats_held = state_get_u8(r) != 0;
	b->stats_head = (uint16_t)state_get_u32(r);
	b->stats.seen = state_get_u32(r);
	for (unsigned i = 0; i < VIRTIO_BALLOON_NR_STATS; i++)
		b->stats.val[i] = state_get_u64(r);
	if (magic == BALLOON_STATE_V2)
		restore_hinting(b, r, &hinting);
	if (r->failed)
		return err_set(err, EINVAL, "truncated virtio-balloon state");
	if ((interval != 0) != (b->stats_q >= 0))
		return err_set(err, EINVAL, "the balloon's statistics %s in the snapshot",
			       interval ? "are on" : "are off");
	if (hinting != (b->hint_q >= 0))
		return err_set(err, EINVAL, "the balloon's free page hinting %s in the snapshot",
			       hinting ? "is on" : "is off");
	if (b->stats_held && b->stats_head >= VIRTIO_BALLOON_QUEUE_SIZE)
		return err_set(err, EINVAL, "a statistics buffer outside the queue");
	b->stats.seen &= (1u << VIRTIO_BALLOON_NR_STATS) - 1;
	end_saved_run(b);
	return 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = 2,
	.queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
	.config_len = VIRTIO_BALLOON_CONFIG_LEN,
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.notify = balloon_notify,
	.save = balloon_save,
	.restore = balloon_restore,
};

static int arm(struct virtio_balloon *b, struct ember_err *err)
{
	struct itimerspec t = { .it_interval = { .tv_sec = b->p.stats_interval_s },
				.it_value = { .tv_sec = b->p.stats_interval_s } };

	if (b->timer_fd >= 0 && timerfd_settime(b->timer_fd, 0, &t, NULL) < 0)
		return err_errno(err, "virtio-balloon: timerfd_settime");
	return 0;
}

int virtio_balloon_open(struct virtio_balloon *b, const struct virtio_balloon_params *p,
			const struct guest_mem *mem, uint64_t base, uint32_t irq,
			struct ember_err *err)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->p = *p;
	b->mem = mem;
	b->ops = balloon_ops;
	b->stats_q = b->hint_q = b->report_q = b->timer_fd = -1;
	if (p->stats_interval_s)
		b->stats_q = b->ops.num_queues++;
	if (p->free_page_hinting)
		b->hint_q = b->ops.num_queues++;
	if (p->free_page_reporting)
		b->report_q = b->ops.num_queues++;
	if (mem->pages == GUEST_MEM_2M)
		return err_set(err, EOPNOTSUPP,
			       "the balloon cannot give back 4 KiB pages of 2 MiB huge pages");
	if (p->stats_interval_s) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0)
			return err_errno(err, "virtio-balloon: timerfd_create");
	}
	ret = arm(b, err);
	if (!ret)
		ret = virtio_mmio_init(&b->transport, &b->ops, b, mem, base, irq, err);
	if (ret && b->timer_fd >= 0)
		close(b->timer_fd);
	return ret;
}

void virtio_balloon_close(struct virtio_balloon *b)
{
	virtio_mmio_destroy(&b->transport);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
}

void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t num_pages)
{
	pthread_mutex_lock(&b->transport.lock);
	b->p.num_pages = num_pages;
	pthread_mutex_unlock(&b->transport.lock);
	virtio_mmio_config_changed(&b->transport);
}

static int hinting_usable(struct virtio_balloon *b, bool need_active, struct ember_err *err)
{
	if (b->hint_q < 0)
		return err_set(err, EINVAL, "Attempting to use hinting when not enabled");
	if (need_active && !b->transport.active)
		return err_set(err, EAGAIN, "Device not activated yet.");
	return 0;
}

int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop, struct ember_err *err)
{
	int ret;

	pthread_mutex_lock(&b->transport.lock);
	ret = hinting_usable(b, true, err);
	if (!ret) {
		b->hint.last_cmd_id++;
		if (b->hint.last_cmd_id < VIRTIO_BALLOON_HINT_FIRST)
			b->hint.last_cmd_id = VIRTIO_BALLOON_HINT_FIRST;
		b->hint.ack_on_stop = ack_on_stop;
		set_hint_cmd(b, b->hint.last_cmd_id);
	}
	pthread_mutex_unlock(&b->transport.lock);
	return ret;
}

int virtio_balloon_hint_stop(struct virtio_balloon *b, struct ember_err *err)
{
	int ret;

	pthread_mutex_lock(&b->transport.lock);
	ret = hinting_usable(b, true, err);
	if (!ret)
		set_hint_cmd(b, VIRTIO_BALLOON_HINT_DONE);
	pthread_mutex_unlock(&b->transport.lock);
	return ret;
}

int virtio_balloon_hint_status(struct virtio_balloon *b, struct virtio_balloon_hinting *st,
			       struct ember_err *err)
{
	int ret;

	pthread_mutex_lock(&b->transport.lock);
	ret = hinting_usable(b, false, err);
	*st = b->hint;
	pthread_mutex_unlock(&b->transport.lock);
	return ret;
}

/* Return the held buffer: the driver refills it and gives it again. */
static void ask_stats(struct virtio_balloon *b)
{
	if (!b->transport.active || !b->stats_held)
		return;
	b->stats_held = false;
	push(b, (unsigned)b->stats_q, b->stats_head);
	virtio_mmio_signal_used(&b->transport, (unsigned)b->stats_q);
}

int virtio_balloon_set_interval(struct virtio_balloon *b, uint16_t interval_s,
				struct ember_err *err)
{
	int ret = 0;

	pthread_mutex_lock(&b->transport.lock);
	if (interval_s != b->p.stats_interval_s) {
		b->p.stats_interval_s = interval_s;
		ask_stats(b);
		ret = arm(b, err);
	}
	pthread_mutex_unlock(&b->transport.lock);
	return ret;
}

void virtio_balloon_stats_timer(struct virtio_balloon *b)
{
	uint64_t n;

	if (read(b->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn_rl("virtio-balloon: reading the timer: %s", strerror(errno));
	pthread_mutex_lock(&b->transport.lock);
	ask_stats(b);
	pthread_mutex_unlock(&b->transport.lock);
}

void virtio_balloon_read(struct virtio_balloon *b, uint32_t *target, uint32_t *actual,
			 struct virtio_balloon_stats *stats)
{
	pthread_mutex_lock(&b->transport.lock);
	*target = b->p.num_pages;
	*actual = b->actual_pages;
	*stats = b->stats;
	pthread_mutex_unlock(&b->transport.lock);
}
