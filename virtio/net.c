// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net on a TAP (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR): the vnet header
 * passes between guest and TAP unchanged, so checksum and segmentation
 * offloads cost nothing here. TX is written straight from guest memory;
 * RX is read into one staging frame, then copied into as many guest buffers
 * as it needs (mergeable rx buffers). Everything runs on the VMM thread.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"

#define RXQ       0
#define TXQ       1
#define NET_QUEUE 256
/* mac[6], status, max_virtqueue_pairs (neither offered: read as 0), mtu
 * (virtio 1.2, 5.1.4). */
#define NET_CFG_LEN     12
#define NET_CFG_MTU_OFF 10
#define F(bit)          (1ULL << VIRTIO_NET_F_##bit)
#define NET_FEATURES                                                                             \
	(F(CSUM) | F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(HOST_TSO4) | F(HOST_TSO6) | \
	 F(MRG_RXBUF))

static void guest_warn(struct virtio_net *n, const char *what, const char *msg)
{
	n->stats.invalid++;
	log_warn_rl("net %s: %s: %s", n->iface_id, what, msg);
}

static void push(struct virtio_net *n, unsigned qi, uint16_t head, uint32_t len)
{
	struct ember_err err;

	if (virtq_push(&n->transport.queues[qi], head, len, &err) < 0)
		virtio_mmio_needs_reset(&n->transport, err.msg);
}

/* Next chain of queue qi: 1 taken, 0 none, -1 the device needs a reset.
 * Chains with a buffer of the wrong direction are returned unused. */
static int pop(struct virtio_net *n, unsigned qi, bool writable)
{
	struct ember_err err;
	int ret;

	while ((ret = virtq_pop_dir(&n->transport.queues[qi], &n->chain, writable, &err)) ==
	       -EINVAL) {
		guest_warn(n, "bad descriptor chain", err.msg);
		push(n, qi, n->chain.head, 0);
	}
	if (ret == -EPROTO)
		virtio_mmio_needs_reset(&n->transport, err.msg);
	return ret < 0 ? -1 : ret;
}

/* Up to len bytes of the tx chain from byte off on, into dst: the count. */
static size_t chain_copy(const struct virtio_net *n, void *dst, size_t off, size_t len)
{
	const struct virtq_chain *c = &n->chain;
	size_t done = 0;

	for (uint32_t i = 0; i < c->nbufs && done < len; i++) {
		size_t blen = c->bufs[i].len, take;
		const uint8_t *src;

		if (off >= blen) {
			off -= blen;
			continue;
		}
		take = blen - off < len - done ? blen - off : len - done;
		src = guest_mem_ptr(n->mem, c->bufs[i].gpa + off, take);
		if (!src)
			break;
		memcpy((uint8_t *)dst + done, src, take);
		done += take;
		off = 0;
	}
	return done;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static void csum_store(uint8_t *at, uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	at[0] = (uint8_t)(sum >> 8);
	at[1] = (uint8_t)sum;
}

#define ETH_HLEN 14

/* An IPv4 TCP or UDP frame the guest left to the device: a segmentation
 * offload (GSO) frame is taken as one large packet, so its IP length and
 * header checksum are set, then the transport checksum is computed whole
 * (a GSO frame's partial sum leaves out the length). */
static void complete_ipv4(uint8_t *f, size_t len, bool gso)
{
	size_t ihl = (size_t)(f[ETH_HLEN] & 0xf) * 4, tot, l4, coff;
	uint8_t pseudo[4] = { 0, 0, 0, 0 };

	if (ihl < 20 || len < ETH_HLEN + ihl || (f[ETH_HLEN] >> 4) != 4)
		return;
	if (gso && len - ETH_HLEN <= 0xffff) {
		f[ETH_HLEN + 2] = (uint8_t)((len - ETH_HLEN) >> 8);
		f[ETH_HLEN + 3] = (uint8_t)(len - ETH_HLEN);
		f[ETH_HLEN + 10] = f[ETH_HLEN + 11] = 0;
		csum_store(f + ETH_HLEN + 10, csum_add(0, f + ETH_HLEN, ihl));
	}
	tot = (size_t)(f[ETH_HLEN + 2] << 8 | f[ETH_HLEN + 3]);
	coff = f[ETH_HLEN + 9] == 6 ? 16 : f[ETH_HLEN + 9] == 17 ? 6 : 0;
	if (!coff || tot < ihl + coff + 2 || tot > len - ETH_HLEN)
		return;
	l4 = ETH_HLEN + ihl;
	f[l4 + coff] = f[l4 + coff + 1] = 0;
	pseudo[1] = f[ETH_HLEN + 9];
	pseudo[2] = (uint8_t)((tot - ihl) >> 8);
	pseudo[3] = (uint8_t)(tot - ihl);
	csum_store(f + l4 + coff, csum_add(csum_add(csum_add(0, f + ETH_HLEN + 12, 8), pseudo, 4),
					   f + l4, tot - ihl));
}

/* Checksums the guest left to the device, done before the detour sees f. */
static void complete_csum(uint8_t *f, size_t len, const struct virtio_net_hdr_v1 *h)
{
	bool gso = h->gso_type != VIRTIO_NET_HDR_GSO_NONE;
	size_t start = h->csum_start, off = h->csum_offset;

	if (len >= ETH_HLEN + 20 && f[12] == 0x08 && f[13] == 0x00) {
		if (gso || (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
			complete_ipv4(f, len, gso);
		return;
	}
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && start + off + 2 <= len) {
		/* The field holds the pseudo-header's sum, which the sum takes in. */
		csum_store(f + start + off, csum_add(0, f + start, len - start));
	}
}

/* Whether the detour took the chain's frame (bad ones are taken and dropped). */
static bool detour_tx(struct virtio_net *n)
{
	size_t len = n->chain.readable - VIRTIO_NET_HDR_LEN;
	struct virtio_net_hdr_v1 h;
	uint8_t head[64];
	size_t got = chain_copy(n, head, VIRTIO_NET_HDR_LEN, sizeof(head));

	if (!n->detour.claims(n->detour.ctx, head, got))
		return false;
	if (chain_copy(n, &h, 0, sizeof(h)) != sizeof(h) ||
	    chain_copy(n, n->detour_frame, VIRTIO_NET_HDR_LEN, len) != len) {
		guest_warn(n, "tx frame", "outside guest memory");
		return true;
	}
	complete_csum(n->detour_frame, len, &h);
	n->detour.input(n->detour.ctx, n->detour_frame, len);
	return true;
}

/* TX: one frame per chain, vnet header first, written to the TAP as is. */
static int tx_one(struct virtio_net *n)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	const struct virtq_chain *c = &n->chain;
	uint64_t len = c->readable;

	if (len < VIRTIO_NET_HDR_LEN || len > VIRTIO_NET_FRAME_MAX) {
		guest_warn(n, "tx frame", "shorter than the vnet header or longer than 64 KiB");
		return -EINVAL;
	}
	if (n->detour.ctx && detour_tx(n))
		return 0;
	for (uint32_t i = 0; i < c->nbufs; i++) {
		iov[i].iov_base = guest_mem_ptr(n->mem, c->bufs[i].gpa, c->bufs[i].len);
		iov[i].iov_len = c->bufs[i].len;
		if (!iov[i].iov_base)
			return -EFAULT;
	}
	if (writev(n->tap_fd, iov, (int)c->nbufs) < 0) {
		n->stats.tx_dropped++; /* a full TAP queue drops, like a wire */
		return 0;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += len - VIRTIO_NET_HDR_LEN;
	return 0;
}

static void rx_process(struct virtio_net *n);

static void tx_process(struct virtio_net *n)
{
	bool done = false;
	int ret;

	n->in_tx = true;
	while (!n->tx_rl.blocked && (ret = pop(n, TXQ, false)) == 1) {
		uint64_t bytes = n->chain.readable;

		if (!ratelimit_consume(&n->tx_rl, bytes, ratelimit_now_ns())) {
			n->stats.tx_throttled++;
			virtq_unpop(&n->transport.queues[TXQ]);
			break;
		}
		tx_one(n);
		push(n, TXQ, n->chain.head, 0);
		done = true;
	}
	n->in_tx = false;
	if (done)
		virtio_mmio_signal_used(&n->transport, TXQ);
	if (n->inject_count) /* the detour answered */
		rx_process(n);
}

/* Where the vnet header's num_buffers lands in the guest: offsets 10, 11. */
#define NB_OFF offsetof(struct virtio_net_hdr_v1, num_buffers)

/* Copy rx_frame[*off..] into the chain's buffers; returns the bytes copied. */
static uint32_t rx_fill(struct virtio_net *n, size_t *off, uint64_t nb_gpa[2])
{
	const struct virtq_chain *c = &n->chain;
	uint32_t copied = 0;

	for (uint32_t i = 0; i < c->nbufs && *off < n->rx_len; i++) {
		size_t len = c->bufs[i].len < n->rx_len - *off ? c->bufs[i].len : n->rx_len - *off;
		void *dst = guest_mem_ptr(n->mem, c->bufs[i].gpa, len);

		if (!dst)
			break;
		for (size_t k = 0; k < 2; k++)
			if (NB_OFF + k >= *off && NB_OFF + k < *off + len)
				nb_gpa[k] = c->bufs[i].gpa + (NB_OFF + k - *off);
		memcpy(dst, n->rx_frame + *off, len);
		*off += len;
		copied += (uint32_t)len;
	}
	return copied;
}

static void put_byte(struct virtio_net *n, uint64_t gpa, uint8_t v)
{
	uint8_t *p = gpa == UINT64_MAX ? NULL : guest_mem_ptr(n->mem, gpa, 1);

	if (p)
		*p = v;
}

/* Deliver the pending frame: 1 done (or dropped), 0 not enough buffers, -1 reset. */
static int rx_deliver(struct virtio_net *n)
{
	struct virtio_net_hdr_v1 *hdr = (struct virtio_net_hdr_v1 *)n->rx_frame;
	uint64_t nb_gpa[2] = { UINT64_MAX, UINT64_MAX };
	unsigned taken = 0;
	size_t off = 0;
	int ret;

	hdr->num_buffers = 1;
	while (off < n->rx_len && taken < VIRTQ_MAX_SIZE && (n->mrg_rxbuf || taken == 0)) {
		ret = pop(n, RXQ, true);
		if (ret <= 0) {
			for (unsigned i = 0; ret == 0 && i < taken; i++)
				virtq_unpop(&n->transport.queues[RXQ]);
			return ret;
		}
		n->rx_heads[taken] = n->chain.head;
		n->rx_lens[taken++] = rx_fill(n, &off, nb_gpa);
	}
	if (off < n->rx_len) { /* the buffers are too small for it: dropped */
		n->stats.rx_dropped++;
		memset(n->rx_lens, 0, taken * sizeof(n->rx_lens[0]));
	} else {
		n->stats.rx_frames++;
		n->stats.rx_bytes += n->rx_len - VIRTIO_NET_HDR_LEN;
		put_byte(n, nb_gpa[0], (uint8_t)taken);
		put_byte(n, nb_gpa[1], (uint8_t)(taken >> 8));
	}
	for (unsigned i = 0; i < taken; i++)
		push(n, RXQ, n->rx_heads[i], n->rx_lens[i]);
	return 1;
}

/* The next frame from the detour into rx_frame; false when none waits. */
static bool rx_take_injected(struct virtio_net *n)
{
	unsigned i = n->inject_head;

	if (!n->inject_count)
		return false;
	n->rx_len = n->inject_len[i];
	memcpy(n->rx_frame, n->inject[i], n->rx_len);
	n->inject_head = (i + 1) % VIRTIO_NET_INJECT_MAX;
	n->inject_count--;
	n->rx_pending = true;
	return true;
}

/* Read the next frame from the TAP into rx_frame; false when there is none.
 * The detour's frames come first. */
static bool rx_read(struct virtio_net *n)
{
	ssize_t r;

	if (rx_take_injected(n))
		return true;
	for (;;) {
		r = read(n->tap_fd, n->rx_frame, VIRTIO_NET_FRAME_MAX);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			if (errno != EAGAIN) {
				n->stats.rx_dropped++;
				log_warn_rl("net %s: reading TAP %s: %s", n->iface_id, n->tap_name,
					    strerror(errno));
			}
			return false;
		}
		if ((size_t)r >= VIRTIO_NET_HDR_LEN)
			break;
		n->stats.rx_dropped++;
	}
	n->rx_len = (size_t)r;
	n->rx_pending = true;
	return true;
}

static void rx_process(struct virtio_net *n)
{
	bool done = false;
	uint64_t bytes;
	int ret;

	while (!n->rx_rl.blocked && (n->rx_pending || rx_read(n))) {
		bytes = n->rx_len - VIRTIO_NET_HDR_LEN;
		if (!ratelimit_consume(&n->rx_rl, bytes, ratelimit_now_ns())) {
			n->stats.rx_throttled++;
			break;
		}
		ret = rx_deliver(n);
		if (ret <= 0) {
			ratelimit_refund(&n->rx_rl, bytes);
			break;
		}
		n->rx_pending = false;
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&n->transport, RXQ);
}

static void net_notify(void *dev, unsigned q)
{
	if (q == TXQ)
		tx_process(dev);
	else
		rx_process(dev); /* new rx buffers: deliver what waits */
}

static void locked(struct virtio_net *n, void (*fn)(struct virtio_net *))
{
	pthread_mutex_lock(&n->transport.lock);
	if (n->transport.active)
		fn(n);
	pthread_mutex_unlock(&n->transport.lock);
}

void virtio_net_tap_readable(struct virtio_net *n)
{
	locked(n, rx_process);
}

void virtio_net_rx_timer(struct virtio_net *n)
{
	ratelimit_timer_fired(&n->rx_rl);
	locked(n, rx_process);
}

void virtio_net_tx_timer(struct virtio_net *n)
{
	ratelimit_timer_fired(&n->tx_rl);
	locked(n, tx_process);
}

static uint64_t net_features(void *dev)
{
	struct virtio_net *n = dev;

	return NET_FEATURES | (n->has_mac ? F(MAC) : 0) | (n->mtu ? F(MTU) : 0);
}

static void net_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = dev;
	uint8_t cfg[NET_CFG_LEN] = { 0 };

	memcpy(cfg, n->mac, sizeof(n->mac));
	cfg[NET_CFG_MTU_OFF] = (uint8_t)n->mtu; /* little-endian */
	cfg[NET_CFG_MTU_OFF + 1] = (uint8_t)(n->mtu >> 8);
	memcpy(data, cfg + off, len); /* the transport keeps off + len within NET_CFG_LEN */
}

/* The offloads the guest accepted, as the TAP's: what it may be handed. */
static unsigned tap_offloads(uint64_t f)
{
	unsigned o = 0;

	if (f & F(GUEST_CSUM)) {
		o |= TUN_F_CSUM;
		if (f & F(GUEST_TSO4))
			o |= TUN_F_TSO4;
		if (f & F(GUEST_TSO6))
			o |= TUN_F_TSO6;
	}
	return o;
}

static int net_activate(void *dev, uint64_t features, struct ember_err *err)
{
	struct virtio_net *n = dev;
	unsigned offloads = tap_offloads(features);

	if (offloads != n->offloads && ioctl(n->tap_fd, TUNSETOFFLOAD, offloads) < 0)
		return err_errno(err, "net %s: TUNSETOFFLOAD on %s", n->iface_id, n->tap_name);
	n->offloads = offloads;
	n->mrg_rxbuf = features & F(MRG_RXBUF);
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->rx_pending = false; /* the frame in hand is dropped, like on a wire */
	n->inject_count = 0;
	n->rx_rl.blocked = n->tx_rl.blocked = false;
}

static void net_save(void *dev, struct state_writer *w)
{
	struct virtio_net *n = dev;

	state_put_u8(w, n->has_mac);
	state_put(w, n->mac, sizeof(n->mac));
}

static int net_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_net *n = dev;
	uint8_t mac[6];
	bool has_mac = state_get_u8(r);

	state_get(r, mac, sizeof(mac));
	if (r->failed)
		return err_set(err, EINVAL, "truncated network device state");
	if (has_mac != n->has_mac || (has_mac && memcmp(mac, n->mac, 6)))
		return err_set(err, EINVAL, "net %s: guest_mac differs from the snapshot's",
			       n->iface_id);
	n->rx_pending = false;
	n->inject_count = 0;
	return 0;
}

const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max = NET_QUEUE,
	.config_len = NET_CFG_LEN,
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.notify = net_notify,
	.save = net_save,
	.restore = net_restore,
};

static int open_tap(struct virtio_net *n, struct ember_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr = (int)VIRTIO_NET_HDR_LEN;

	/* TUNSETIFF would create a missing device when allowed to: refuse first. */
	if (!if_nametoindex(n->tap_name))
		return err_set(err, ENODEV,
			       "net %s: TAP device %s does not exist (create it with `ip tuntap "
			       "add %s mode tap`)",
			       n->iface_id, n->tap_name, n->tap_name);
	n->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap_fd < 0)
		return err_errno(err, "net %s: cannot open /dev/net/tun", n->iface_id);
	memcpy(ifr.ifr_name, n->tap_name, strlen(n->tap_name) + 1);
	if (ioctl(n->tap_fd, TUNSETIFF, &ifr) < 0)
		return err_errno(err, "net %s: cannot attach to TAP %s", n->iface_id, n->tap_name);
	if (ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return err_errno(err, "net %s: TUNSETVNETHDRSZ on %s", n->iface_id, n->tap_name);
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, 0) < 0)
		return err_errno(err, "net %s: TUNSETOFFLOAD on %s", n->iface_id, n->tap_name);
	return 0;
}

int virtio_net_probe_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd, ret = 0;

	if (strlen(name) >= sizeof(ifr.ifr_name))
		return -EINVAL;
	if (!if_nametoindex(name))
		return -ENODEV;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int init_limits(struct virtio_net *n, const struct virtio_net_params *p,
		       struct ember_err *err)
{
	int ret = ratelimit_init(&n->rx_rl, &p->rx_bandwidth, &p->rx_ops, err);

	if (!ret)
		ret = ratelimit_init(&n->tx_rl, &p->tx_bandwidth, &p->tx_ops, err);
	return ret;
}

static int setup(struct virtio_net *n, const struct virtio_net_params *p,
		 const struct guest_mem *mem, uint64_t base, uint32_t irq, struct ember_err *err)
{
	int ret;

	memset(n, 0, offsetof(struct virtio_net, rx_heads));
	n->tap_fd = n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->mem = mem;
	n->has_mac = p->has_mac;
	memcpy(n->mac, p->mac, sizeof(n->mac));
	n->mtu = p->mtu;
	snprintf(n->iface_id, sizeof(n->iface_id), "%s", p->iface_id);
	snprintf(n->tap_name, sizeof(n->tap_name), "%s", p->tap_name);
	ret = virtio_mmio_init(&n->transport, &virtio_net_ops, n, mem, base, irq, err);
	n->rx_frame = malloc(VIRTIO_NET_FRAME_MAX);
	if (!n->rx_frame) {
		virtio_mmio_destroy(&n->transport);
		return err_set(err, ENOMEM, "out of memory");
	}
	return ret;
}

static int finish(struct virtio_net *n, const struct virtio_net_params *p, int ret,
		  struct ember_err *err)
{
	if (!ret)
		ret = init_limits(n, p, err);
	if (ret)
		virtio_net_close(n);
	return ret;
}

int virtio_net_open(struct virtio_net *n, const struct virtio_net_params *p,
		    const struct guest_mem *mem, uint64_t base, uint32_t irq, struct ember_err *err)
{
	int ret = setup(n, p, mem, base, irq, err);

	if (!ret)
		ret = open_tap(n, err);
	return finish(n, p, ret, err);
}

int virtio_net_open_fd(struct virtio_net *n, const struct virtio_net_params *p, int tap_fd,
		       const struct guest_mem *mem, uint64_t base, uint32_t irq,
		       struct ember_err *err)
{
	int ret = setup(n, p, mem, base, irq, err);

	if (!ret)
		n->tap_fd = tap_fd;
	else
		close(tap_fd);
	return finish(n, p, ret, err);
}

int virtio_net_set_detour(struct virtio_net *n, const struct virtio_net_detour *d,
			  struct ember_err *err)
{
	if (!n->detour_frame && !(n->detour_frame = malloc(VIRTIO_NET_FRAME_MAX)))
		return err_set(err, ENOMEM, "out of memory");
	if (!n->inject && !(n->inject = calloc(VIRTIO_NET_INJECT_MAX, sizeof(*n->inject))))
		return err_set(err, ENOMEM, "out of memory");
	n->detour = *d;
	return 0;
}

static int enqueue(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	unsigned i;

	if (n->inject_count == VIRTIO_NET_INJECT_MAX) {
		n->stats.rx_dropped++;
		return -ENOBUFS;
	}
	i = (n->inject_head + n->inject_count++) % VIRTIO_NET_INJECT_MAX;
	memset(n->inject[i], 0, VIRTIO_NET_HDR_LEN); /* no offloads: checksums are whole */
	memcpy(n->inject[i] + VIRTIO_NET_HDR_LEN, frame, len);
	n->inject_len[i] = (uint16_t)(len + VIRTIO_NET_HDR_LEN);
	return 0;
}

int virtio_net_inject(struct virtio_net *n, const uint8_t *frame, size_t len)
{
	int ret;

	if (len + VIRTIO_NET_HDR_LEN > VIRTIO_NET_INJECT_FRAME)
		return -EMSGSIZE;
	if (n->in_tx) /* from the detour's input: tx_process holds the lock, delivers after */
		return enqueue(n, frame, len);
	pthread_mutex_lock(&n->transport.lock);
	ret = enqueue(n, frame, len);
	if (n->transport.active)
		rx_process(n);
	pthread_mutex_unlock(&n->transport.lock);
	return ret;
}

void virtio_net_close(struct virtio_net *n)
{
	if (!n->rx_frame)
		return;
	free(n->detour_frame);
	free(n->inject);
	n->detour_frame = NULL;
	n->inject = NULL;
	virtio_mmio_destroy(&n->transport);
	ratelimit_free(&n->rx_rl);
	ratelimit_free(&n->tx_rl);
	if (n->tap_fd >= 0)
		close(n->tap_fd);
	free(n->rx_frame);
	n->rx_frame = NULL;
	n->tap_fd = -1;
}
