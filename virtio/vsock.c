// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock with Firecracker's Unix-socket host side. Each connection
 * pairs a guest (CID, port) with a host Unix stream socket. Host to guest,
 * data is read from the socket straight into the guest's rx buffers within
 * the guest's credit; guest to host, it is written to the socket straight
 * from guest memory, and what the socket does not take waits in a 64 KiB
 * ring, the credit we advertise, so a guest that ignores credit is reset.
 */
#include "vsock.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define RXQ        0
#define TXQ        1
#define EVQ        2
#define HDR_LEN    sizeof(struct virtio_vsock_hdr)
#define PKT_MAX    (64 * 1024)           /* largest payload taken from the guest */
#define CREDIT_LOW (VSOCK_BUF_ALLOC / 2) /* tell the guest when its view of our space drops below */
#define TICK_MS    250
#define PORT_FIRST (1U << 30)

enum conn_state {
	C_HANDSHAKE,   /* host client connected, "CONNECT <port>\n" not read yet */
	C_CONNECTING,  /* REQUEST sent to the guest, waiting for RESPONSE */
	C_ESTABLISHED, /* data flows */
	C_CLOSING,     /* waiting for the guest's RST or the ring to drain */
};

/* Control packets a connection owes the guest, sent in this order. */
enum { P_REQUEST = 1, P_RESPONSE = 2, P_CREDIT = 4, P_SHUTDOWN = 8, P_RST = 16 };

struct vsock_conn {
	struct vsock_conn *hnext;         /* hash chain */
	struct vsock_conn *wnext;         /* work list */
	struct vsock_conn *anext, *aprev; /* every connection */
	struct vsock_conn *dnext;         /* closed, to be freed */
	bool in_work, in_hash, dead;
	int fd;
	enum conn_state state;
	uint32_t local_port, peer_port;
	unsigned ctrl;           /* P_* owed to the guest */
	uint32_t shutdown_flags; /* for P_SHUTDOWN */
	uint64_t deadline_ms;    /* 0: none */
	/* host to guest */
	bool readable; /* an EPOLLIN edge not yet read to EAGAIN */
	bool eof;      /* the host side will send nothing more */
	bool hup;      /* ... and takes nothing more: its socket is closed */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	/* guest to host */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	bool peer_done;   /* the guest sends nothing more: SHUT_WR once drained */
	bool close_after; /* the guest closed: RST and close once drained */
	uint8_t *ring;    /* VSOCK_BUF_ALLOC bytes, allocated on first use */
	uint32_t ring_start, ring_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void guest_warn(struct virtio_vsock *v, const char *msg)
{
	v->stats.invalid++;
	log_warn_rl("vsock: %s", msg);
}

/* Connections: hash by (local, peer) port, work list, lazy freeing. */

static unsigned hash_of(uint32_t local, uint32_t peer)
{
	return (local * 2654435761U ^ peer * 40503U) % VSOCK_HASH;
}

static struct vsock_conn *lookup(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	struct vsock_conn *c = v->hash[hash_of(local, peer)];

	while (c && (c->local_port != local || c->peer_port != peer))
		c = c->hnext;
	return c;
}

static void hash_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	unsigned h = hash_of(c->local_port, c->peer_port);

	c->hnext = v->hash[h];
	v->hash[h] = c;
	c->in_hash = true;
}

static void hash_del(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->hash[hash_of(c->local_port, c->peer_port)];

	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->in_hash = false;
}

static void work_add(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->in_work || c->dead)
		return;
	c->in_work = true;
	c->wnext = NULL;
	if (v->work_tail)
		v->work_tail->wnext = c;
	else
		v->work_head = c;
	v->work_tail = c;
}

static void work_pop(struct virtio_vsock *v)
{
	struct vsock_conn *c = v->work_head;

	v->work_head = c->wnext;
	if (!v->work_head)
		v->work_tail = NULL;
	c->in_work = false;
}

static void set_deadline(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };

	c->deadline_ms = now_ms() + VSOCK_TIMEOUT_MS;
	if (!v->timer_armed && timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
		v->timer_armed = true;
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state state)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };

	if (!c)
		return NULL;
	ev.data.ptr = c;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->state = state;
	c->anext = v->all;
	if (v->all)
		v->all->aprev = c;
	v->all = c;
	v->nr_conns++;
	v->stats.conns_opened++;
	return c;
}

/* Close the host side now; the memory goes once nothing points at it. */
static void conn_close(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	close(c->fd);
	if (c->in_hash)
		hash_del(v, c);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		v->all = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->dnext = v->dead;
	v->dead = c;
	v->nr_conns--;
	v->stats.conns_closed++;
}

/* Free closed connections, first dropping them from the work list. */
static void reap(struct virtio_vsock *v)
{
	struct vsock_conn **p = &v->work_head, *c;

	v->work_tail = NULL;
	while ((c = *p)) {
		if (c->dead) {
			*p = c->wnext;
			continue;
		}
		v->work_tail = c;
		p = &c->wnext;
	}
	while ((c = v->dead)) {
		v->dead = c->dnext;
		free(c->ring);
		free(c);
	}
}

static void queue_rst(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	if (v->rst_len == VSOCK_RST_QUEUE)
		return; /* the guest is flooding us: it times out instead */
	v->rsts[(v->rst_head + v->rst_len++) % VSOCK_RST_QUEUE] = (struct vsock_rst){ local, peer };
}

/* Owe the guest an RST for this connection, then close it. */
static void conn_reset(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state == C_HANDSHAKE)
		conn_close(v, c);
	else {
		queue_rst(v, c->local_port, c->peer_port);
		conn_close(v, c);
	}
}

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Guest memory of the chain, [off, off+len) of its buffers, as iovecs. */
static int chain_iov(struct virtio_vsock *v, uint64_t off, uint64_t len, struct iovec *iov)
{
	const struct virtq_chain *ch = &v->chain;
	int n = 0;

	for (uint32_t i = 0; i < ch->nbufs && len; i++) {
		uint64_t blen = ch->bufs[i].len, take;

		if (off >= blen) {
			off -= blen;
			continue;
		}
		take = blen - off < len ? blen - off : len;
		iov[n].iov_base = guest_mem_ptr(v->mem, ch->bufs[i].gpa + off, take);
		iov[n].iov_len = take;
		if (!iov[n++].iov_base)
			return -1;
		len -= take;
		off = 0;
	}
	return n;
}

static int chain_copy(struct virtio_vsock *v, void *buf, size_t len, bool to_guest)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	int n = chain_iov(v, 0, len, iov);
	size_t done = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (to_guest)
			memcpy(iov[i].iov_base, (uint8_t *)buf + done, iov[i].iov_len);
		else
			memcpy((uint8_t *)buf + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done == len ? 0 : -1;
}

/* Guest-bound packets (rx queue). */

static struct virtio_vsock_hdr hdr_for(const struct virtio_vsock *v, uint32_t local, uint32_t peer,
				       uint16_t op)
{
	return (struct virtio_vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = v->guest_cid,
		.src_port = local,
		.dst_port = peer,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = VSOCK_BUF_ALLOC,
	};
}

static uint32_t put_hdr(struct virtio_vsock *v, struct vsock_conn *c, struct virtio_vsock_hdr *h)
{
	if (c) {
		h->fwd_cnt = c->fwd_cnt;
		c->fwd_cnt_sent = c->fwd_cnt;
	}
	return chain_copy(v, h, HDR_LEN, true) < 0 ? 0 : HDR_LEN;
}

static uint16_t ctrl_op(struct vsock_conn *c)
{
	static const uint16_t ops[] = { VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_RESPONSE,
					VIRTIO_VSOCK_OP_CREDIT_UPDATE, VIRTIO_VSOCK_OP_SHUTDOWN,
					VIRTIO_VSOCK_OP_RST };

	for (unsigned i = 0; i < 5; i++)
		if (c->ctrl & (1U << i)) {
			c->ctrl &= ~(1U << i);
			return ops[i];
		}
	return VIRTIO_VSOCK_OP_INVALID;
}

static uint32_t send_ctrl(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint16_t op = ctrl_op(c);
	struct virtio_vsock_hdr h = hdr_for(v, c->local_port, c->peer_port, op);
	uint32_t len;

	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		h.flags = c->shutdown_flags;
	len = put_hdr(v, c, &h);
	if (op == VIRTIO_VSOCK_OP_RST)
		conn_close(v, c);
	return len;
}

/* Read from the host socket into the guest's buffer, within its credit. */
static uint32_t send_data(struct virtio_vsock *v, struct vsock_conn *c)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	uint64_t room = v->chain.writable - HDR_LEN, want = peer_credit(c);
	struct virtio_vsock_hdr h;
	ssize_t n;
	int cnt;

	want = want < room ? want : room;
	cnt = chain_iov(v, HDR_LEN, want < PKT_MAX ? want : PKT_MAX, iov);
	if (cnt <= 0)
		return 0;
	n = readv(c->fd, iov, cnt);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = errno == EINTR;
		return 0;
	}
	if (n <= 0) { /* EOF: the host will send nothing more */
		c->eof = true;
		c->readable = false;
		if (n < 0) {
			conn_reset(v, c);
			return 0;
		}
		c->shutdown_flags =
		    VIRTIO_VSOCK_SHUTDOWN_SEND | (c->hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
		c->ctrl |= P_SHUTDOWN;
		return send_ctrl(v, c);
	}
	h = hdr_for(v, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW);
	h.len = (uint32_t)n;
	c->tx_cnt += (uint32_t)n;
	v->stats.rx_bytes += (uint64_t)n;
	return put_hdr(v, c, &h) ? HDR_LEN + (uint32_t)n : 0;
}

static bool has_more(const struct vsock_conn *c)
{
	if (c->dead)
		return false;
	return c->ctrl || (c->state == C_ESTABLISHED && c->readable && !c->eof && peer_credit(c));
}

/* Fill the rx chain in hand with the next packet; 0 when nothing is owed. */
static uint32_t next_packet(struct virtio_vsock *v)
{
	struct vsock_conn *c;
	uint32_t len = 0;

	if (v->rst_len) {
		struct vsock_rst r = v->rsts[v->rst_head];
		struct virtio_vsock_hdr h = hdr_for(v, r.src_port, r.dst_port, VIRTIO_VSOCK_OP_RST);

		v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
		v->rst_len--;
		return put_hdr(v, NULL, &h);
	}
	while (!len && (c = v->work_head)) {
		if (c->ctrl)
			len = send_ctrl(v, c);
		else if (has_more(c))
			len = send_data(v, c);
		if (!has_more(c))
			work_pop(v);
	}
	return len;
}

static void push(struct virtio_vsock *v, unsigned qi, uint16_t head, uint32_t len)
{
	struct ember_err err;

	if (virtq_push(&v->transport.queues[qi], head, len, &err) < 0)
		virtio_mmio_needs_reset(&v->transport, err.msg);
}

/* Next one-way chain: 1 taken, 0 none, -1 the device needs a reset. */
static int pop(struct virtio_vsock *v, unsigned qi, bool writable)
{
	struct ember_err err;
	int ret;

	while ((ret = virtq_pop_dir(&v->transport.queues[qi], &v->chain, writable, &err)) ==
	       -EINVAL) {
		guest_warn(v, err.msg);
		push(v, qi, v->chain.head, 0);
	}
	if (ret == -EPROTO)
		virtio_mmio_needs_reset(&v->transport, err.msg);
	return ret < 0 ? -1 : ret;
}

static void rx_process(struct virtio_vsock *v)
{
	bool done = false;
	uint32_t len;

	if (v->reset_wait && virtq_avail_idx(&v->transport.queues[EVQ]) == v->reset_evq_avail)
		return;
	v->reset_wait = false;
	while ((v->rst_len || v->work_head) && pop(v, RXQ, true) == 1) {
		if (v->chain.writable < HDR_LEN) {
			guest_warn(v, "rx buffer smaller than a packet header");
			push(v, RXQ, v->chain.head, 0);
			done = true;
			continue;
		}
		len = next_packet(v);
		if (!len) {
			virtq_unpop(&v->transport.queues[RXQ]);
			break;
		}
		push(v, RXQ, v->chain.head, len);
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&v->transport, RXQ);
}

/* Guest to host: the socket takes what it can, the ring keeps the rest. */

static void maybe_credit_update(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t seen_free = VSOCK_BUF_ALLOC - (c->rx_cnt - c->fwd_cnt_sent);

	if (seen_free < CREDIT_LOW && c->fwd_cnt != c->fwd_cnt_sent) {
		c->ctrl |= P_CREDIT;
		work_add(v, c);
	}
}

/* Everything guest-bound is through: half-close or close as the guest asked. */
static void after_drain(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->ring_len)
		return;
	if (c->close_after) {
		conn_reset(v, c);
		return;
	}
	if (c->peer_done)
		shutdown(c->fd, SHUT_WR);
	maybe_credit_update(v, c);
}

static int drain_ring(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->ring_len) {
		uint32_t first = VSOCK_BUF_ALLOC - c->ring_start;
		struct iovec iov[2] = {
			{ c->ring + c->ring_start, c->ring_len < first ? c->ring_len : first },
			{ c->ring, c->ring_len > first ? c->ring_len - first : 0 },
		};
		ssize_t n = writev(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->ring_start = (c->ring_start + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->ring_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	after_drain(v, c);
	return 0;
}

static void ring_append(struct vsock_conn *c, const struct iovec *iov, int cnt, size_t skip)
{
	for (int i = 0; i < cnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		for (p += skip, len -= skip, skip = 0; len; len--) {
			c->ring[(c->ring_start + c->ring_len++) % VSOCK_BUF_ALLOC] = *p++;
		}
	}
}

static void conn_write(struct virtio_vsock *v, struct vsock_conn *c, uint32_t len)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	ssize_t n = 0;
	int cnt = chain_iov(v, HDR_LEN, len, iov);

	if (cnt < 0 || c->ring_len + len > VSOCK_BUF_ALLOC || c->peer_done) {
		guest_warn(v, cnt < 0 ? "data outside guest memory"
				      : "the guest sent beyond its credit or after SHUTDOWN");
		conn_reset(v, c);
		return;
	}
	if (!c->ring && !(c->ring = malloc(VSOCK_BUF_ALLOC))) {
		conn_reset(v, c);
		return;
	}
	c->rx_cnt += len;
	v->stats.tx_bytes += len;
	if (!c->ring_len && cnt)
		n = writev(c->fd, iov, cnt);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_reset(v, c); /* the host side is gone */
		return;
	}
	n = n < 0 ? 0 : n;
	c->fwd_cnt += (uint32_t)n;
	ring_append(c, iov, cnt, (size_t)n);
	after_drain(v, c);
}

static void on_shutdown(struct virtio_vsock *v, struct vsock_conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->peer_done = true;
	if ((flags & VIRTIO_VSOCK_SHUTDOWN_SEND) && (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
		c->close_after = true; /* RST once what the guest sent is through */
		c->state = C_CLOSING;
		set_deadline(v, c);
	}
	after_drain(v, c);
}

static void on_response(struct virtio_vsock *v, struct vsock_conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	if (c->state != C_CONNECTING) {
		conn_reset(v, c);
		return;
	}
	/* The socket's buffer is empty: a short line fits in one write. */
	if (write(c->fd, ok, (size_t)n) != n) {
		conn_reset(v, c);
		return;
	}
	c->state = C_ESTABLISHED;
	c->deadline_ms = 0;
	work_add(v, c);
}

static void on_packet(struct virtio_vsock *v, struct vsock_conn *c,
		      const struct virtio_vsock_hdr *h)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE: on_response(v, c); break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state == C_ESTABLISHED || c->state == C_CLOSING)
			conn_write(v, c, h->len);
		else
			conn_reset(v, c);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE: work_add(v, c); break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->ctrl |= P_CREDIT;
		work_add(v, c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN: on_shutdown(v, c, h->flags); break;
	case VIRTIO_VSOCK_OP_RST: conn_close(v, c); break;
	default: /* REQUEST on a live connection, or an unknown op */
		guest_warn(v, "unexpected packet on a connection");
		conn_reset(v, c);
	}
	if (!c->dead && c->readable && peer_credit(c))
		work_add(v, c);
}

/* The guest connects to CID 2 port P: "<uds_path>_<P>" on the host. */
static void guest_connect(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c = NULL;
	int fd = -1;

	if (v->nr_conns < VSOCK_MAX_CONNS &&
	    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->uds_path, h->dst_port) <
		(int)sizeof(sa.sun_path))
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		c = conn_new(v, fd, C_ESTABLISHED);
	if (!c) {
		if (fd >= 0)
			close(fd);
		queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	hash_add(v, c);
	c->ctrl |= P_RESPONSE;
	work_add(v, c);
}

static const char *check_hdr(const struct virtio_vsock *v, const struct virtio_vsock_hdr *h,
			     uint64_t payload)
{
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return "packet of a type other than stream";
	if (h->src_cid != v->guest_cid || h->dst_cid != VSOCK_HOST_CID)
		return "packet with wrong CIDs";
	if (h->len > payload || h->len > PKT_MAX)
		return "packet longer than its buffers";
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		return "control packet with a payload";
	return NULL;
}

static void tx_one(struct virtio_vsock *v)
{
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	const char *bad;

	if (v->chain.readable < HDR_LEN || chain_copy(v, &h, HDR_LEN, false) < 0) {
		guest_warn(v, "tx packet shorter than its header");
		return;
	}
	bad = check_hdr(v, &h, v->chain.readable - HDR_LEN);
	c = bad ? NULL : lookup(v, h.dst_port, h.src_port);
	if (bad)
		guest_warn(v, bad);
	if (c)
		on_packet(v, c, &h);
	else if (!bad && h.op == VIRTIO_VSOCK_OP_REQUEST)
		guest_connect(v, &h);
	else if (h.op != VIRTIO_VSOCK_OP_RST)
		queue_rst(v, h.dst_port, h.src_port);
}

static void tx_process(struct virtio_vsock *v)
{
	bool done = false;

	while (pop(v, TXQ, false) == 1) {
		tx_one(v);
		push(v, TXQ, v->chain.head, 0);
		done = true;
	}
	if (done)
		virtio_mmio_signal_used(&v->transport, TXQ);
}

/* Host side: the listener, the CONNECT handshake, socket events, timeouts. */

static uint32_t alloc_port(struct virtio_vsock *v, uint32_t peer)
{
	for (;;) {
		uint32_t p = v->next_local_port++;

		if (v->next_local_port < PORT_FIRST || v->next_local_port >= 2 * PORT_FIRST)
			v->next_local_port = PORT_FIRST;
		if (p >= PORT_FIRST && p < 2 * PORT_FIRST && !lookup(v, p, peer))
			return p;
	}
}

/* "CONNECT <port>": keyword in any case, one space, a decimal port. */
static bool parse_connect(const char *line, uint32_t *port)
{
	unsigned long long p;
	char *end;

	if (strncasecmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9')
		return false;
	errno = 0;
	p = strtoull(line + 8, &end, 10);
	if (errno || *end || p > UINT32_MAX)
		return false;
	*port = (uint32_t)p;
	return true;
}

/* Peek for the handshake line; consume only it, the stream follows. */
static void read_handshake(struct virtio_vsock *v, struct vsock_conn *c)
{
	char buf[VSOCK_HANDSHAKE_MAX + 1];
	ssize_t n = recv(c->fd, buf, VSOCK_HANDSHAKE_MAX, MSG_PEEK);
	char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
	uint32_t port;

	if (n < 0 && errno == EAGAIN)
		return;
	if (!nl && n > 0 && n < VSOCK_HANDSHAKE_MAX)
		return; /* wait for the rest of the line */
	if (nl) {
		*nl = '\0';
		if (nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
	}
	if (!nl || !parse_connect(buf, &port) || recv(c->fd, buf, (size_t)(nl - buf + 1), 0) < 0) {
		v->stats.refused++;
		conn_close(v, c);
		return;
	}
	c->peer_port = port;
	c->local_port = alloc_port(v, port);
	c->state = C_CONNECTING;
	c->peer_buf_alloc = 0; /* no credit until the guest answers */
	hash_add(v, c);
	set_deadline(v, c);
	c->ctrl |= P_REQUEST;
	work_add(v, c);
}

static void accept_all(struct virtio_vsock *v)
{
	struct vsock_conn *c;
	int fd;

	while ((fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = v->nr_conns < VSOCK_MAX_CONNS ? conn_new(v, fd, C_HANDSHAKE) : NULL;
		if (!c) {
			v->stats.refused++;
			close(fd);
			continue;
		}
		set_deadline(v, c);
	}
}

static void conn_event(struct virtio_vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	if (c->state == C_HANDSHAKE) {
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			read_handshake(v, c);
		return;
	}
	if (events & EPOLLERR) {
		conn_reset(v, c);
		return;
	}
	if ((events & EPOLLOUT) && c->ring_len && drain_ring(v, c) < 0) {
		conn_reset(v, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		c->hup |= (events & EPOLLHUP) != 0; /* closed, not half-closed */
		c->readable = true;
		work_add(v, c);
	}
}

static void poll_locked(struct virtio_vsock *v)
{
	struct epoll_event evs[64];
	int n;

	do {
		n = epoll_wait(v->epfd, evs, 64, 0);
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				accept_all(v);
			else
				conn_event(v, evs[i].data.ptr, evs[i].events);
		}
	} while (n == 64);
}

/* After a restore: tell the guest its connections are gone (§5.10.6.7). */
static void send_reset_event(struct virtio_vsock *v)
{
	struct virtio_vsock_event ev = { .id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET };

	if (!v->reset_event || pop(v, EVQ, true) != 1)
		return;
	v->reset_event = false;
	if (v->chain.writable < sizeof(ev) || chain_copy(v, &ev, sizeof(ev), true) < 0) {
		push(v, EVQ, v->chain.head, 0);
	} else {
		push(v, EVQ, v->chain.head, sizeof(ev));
		v->reset_wait = true;
		v->reset_evq_avail = virtq_avail_idx(&v->transport.queues[EVQ]);
		/* The driver refills the event queue once it has handled the
		 * reset: have that refill notify us. */
		virtq_notify_on_next(&v->transport.queues[EVQ]);
	}
	virtio_mmio_signal_used(&v->transport, EVQ);
}

static void run(struct virtio_vsock *v, void (*fn)(struct virtio_vsock *))
{
	pthread_mutex_lock(&v->transport.lock);
	if (fn)
		fn(v);
	if (v->transport.active) {
		send_reset_event(v);
		rx_process(v);
	}
	reap(v);
	pthread_mutex_unlock(&v->transport.lock);
}

void virtio_vsock_poll(struct virtio_vsock *v)
{
	run(v, poll_locked);
}

static void expire(struct virtio_vsock *v)
{
	uint64_t now = now_ms(), ticks;
	bool pending = false;

	if (read(v->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn("vsock: reading the timer: %s", strerror(errno));
	for (struct vsock_conn *c = v->all, *next; c; c = next) {
		next = c->anext;
		if (!c->deadline_ms)
			continue;
		if (now < c->deadline_ms) {
			pending = true;
			continue;
		}
		if (c->state == C_HANDSHAKE)
			v->stats.refused++;
		conn_reset(v, c); /* no answer in time: the guest gets an RST */
	}
	if (!pending) {
		struct itimerspec off = { 0 };

		timerfd_settime(v->timer_fd, 0, &off, NULL);
		v->timer_armed = false;
	}
}

void virtio_vsock_timer(struct virtio_vsock *v)
{
	run(v, expire);
}

/* The device ops. */

static void vsock_notify(void *dev, unsigned q)
{
	struct virtio_vsock *v = dev;

	/* An event queue kick ends reset_wait in rx_process, which sees the new
	 * buffer: a kick replayed after a restore (virtio-mmio) must not. */
	if (q == TXQ)
		tx_process(v);
	send_reset_event(v);
	rx_process(v); /* after tx (replies) and rx kicks (new buffers) alike */
	reap(v);
}

static uint64_t vsock_features(void *dev)
{
	(void)dev;
	return 0; /* stream sockets only, which needs no feature bit */
}

static void vsock_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *v = dev;
	uint8_t cfg[8];

	for (int i = 0; i < 8; i++)
		cfg[i] = (uint8_t)(v->guest_cid >> (8 * i));
	memcpy(data, cfg + off, len);
}

static int vsock_activate(void *dev, uint64_t features, struct ember_err *err)
{
	(void)dev;
	(void)features;
	(void)err;
	return 0;
}

static void close_all(struct virtio_vsock *v)
{
	while (v->all)
		conn_close(v, v->all);
	v->rst_len = 0;
	reap(v);
}

/* A driver reset forgets every connection: the host sides see them close. */
static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	close_all(v);
	v->reset_wait = false;
}

static void vsock_save(void *dev, struct state_writer *w)
{
	struct virtio_vsock *v = dev;

	state_put_u64(w, v->guest_cid);
	state_put_u32(w, v->next_local_port);
}

/* Connections do not survive a snapshot (as in Firecracker): they are
 * closed and the guest is told with a TRANSPORT_RESET event. */
static int vsock_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct virtio_vsock *v = dev;
	uint64_t cid = state_get_u64(r);
	uint32_t port = state_get_u32(r);

	if (r->failed)
		return err_set(err, EINVAL, "truncated vsock state");
	if (cid != v->guest_cid)
		return err_set(err, EINVAL,
			       "vsock: guest_cid %" PRIu64 " differs from the snapshot's %" PRIu64,
			       v->guest_cid, cid);
	close_all(v);
	v->next_local_port = port >= PORT_FIRST && port < 2 * PORT_FIRST ? port : PORT_FIRST;
	v->reset_event = true;
	/* Now, before the guest runs: a connection made after the restore must
	 * not be torn down by a reset the guest reads later. (The transport's
	 * lock is held and its queues are restored.) */
	if (v->transport.active)
		send_reset_event(v);
	return 0;
}

const struct virtio_dev_ops virtio_vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = 256,
	.config_len = 8,
	.features = vsock_features,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.notify = vsock_notify,
	.save = vsock_save,
	.restore = vsock_restore,
};

static int listen_on(struct virtio_vsock *v, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memcpy(sa.sun_path, v->uds_path, strlen(v->uds_path) + 1);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0)
		return err_errno(err, "vsock: socket");
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_errno(err, "vsock: cannot listen on %s", v->uds_path);
	v->bound = true; /* ours to remove when we stop */
	if (listen(v->listen_fd, 128) < 0)
		return err_errno(err, "vsock: listen on %s", v->uds_path);
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0)
		return err_errno(err, "vsock: epoll_ctl");
	return 0;
}

int virtio_vsock_open(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      const struct guest_mem *mem, uint64_t base, uint32_t irq,
		      struct ember_err *err)
{
	int ret;

	memset(v, 0, offsetof(struct virtio_vsock, chain));
	v->listen_fd = v->epfd = v->timer_fd = -1;
	v->mem = mem;
	v->guest_cid = guest_cid;
	v->next_local_port = PORT_FIRST;
	if (strlen(uds_path) >= sizeof(v->uds_path) - 12) /* room for "_<port>" */
		return err_set(err, ENAMETOOLONG, "vsock: uds_path %s is too long", uds_path);
	memcpy(v->uds_path, uds_path, strlen(uds_path) + 1);
	ret = virtio_mmio_init(&v->transport, &virtio_vsock_ops, v, mem, base, irq, err);
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!ret && (v->epfd < 0 || v->timer_fd < 0))
		ret = err_errno(err, "vsock: epoll/timerfd");
	if (!ret)
		ret = listen_on(v, err);
	if (ret)
		virtio_vsock_close(v);
	return ret;
}

void virtio_vsock_close(struct virtio_vsock *v)
{
	close_all(v);
	if (v->listen_fd >= 0)
		close(v->listen_fd);
	if (v->bound)
		unlink(v->uds_path);
	v->bound = false;
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	virtio_mmio_destroy(&v->transport);
	v->listen_fd = v->epfd = v->timer_fd = -1;
}
