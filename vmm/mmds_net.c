// SPDX-License-Identifier: Apache-2.0
/*
 * MMDS's network side on lwIP's raw API (see mmds_net.h).
 *
 * Why lwIP: a real TCP (retransmission, windows, out-of-order segments,
 * RST and TIME_WAIT handling) that Debian packages, whose raw API is
 * callbacks on one thread with no threads of its own: it runs on ember's
 * VMM thread, from frames the net device hands over and from one timerfd.
 * Debian builds it as a shared library only, which is why ember is linked
 * dynamically (and ember-jailer copies its libraries into the jail).
 *
 * Each named interface is an lwIP netif with the MMDS address and MAC and
 * its own listening PCB bound to it (tcp_bind_netif), so a connection's
 * segments leave through the interface it came in on. The netmask is
 * 0.0.0.0: whatever address the guest's interface has, it is on the link.
 *
 * What bounds a guest: MMDS_NET_MAX_CONNS connections per interface
 * (counting half-open ones; a new SYN evicts the oldest half-open one, and
 * is dropped when all are established), MMDS_NET_MAX_TIME_WAIT, an idle
 * timeout, HTTP's limits (vmm/http.c) with MMDS_NET_BODY_MAX, and one
 * response in flight per connection: while it is being sent, lwIP keeps
 * the connection's further input unacknowledged, which closes its window.
 */
#include "mmds_net.h"

#include <errno.h>
#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/tcp.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

#define ETH_HLEN      14
#define ETH_P_IPV4    0x0800
#define ETH_P_ARP     0x0806
#define ARP_TPA_OFF   (ETH_HLEN + 24)
#define IPV4_DST_OFF  (ETH_HLEN + 16)
#define FRAME_OUT_MAX 1600 /* lwIP's frames: MTU 1500 plus the Ethernet header */
#define POLL_TICKS    2    /* tcp_poll interval: 2 x 500 ms */

struct conn;

struct mmds_net_if {
	struct netif netif;
	struct mmds_net *m;
	struct tcp_pcb *listener;
	void *dev;
	mmds_net_output_fn output;
	struct conn *conns; /* accepted connections, for teardown */
};

struct conn {
	struct conn *next, **prev;
	struct mmds_net_if *nif;
	struct tcp_pcb *pcb;
	struct http_conn http;
	char *out; /* the response being sent */
	size_t out_len, out_off;
	bool close_after; /* close once out is sent */
	bool closing;     /* to be closed when lwIP returns */
	unsigned idle;    /* poll ticks without traffic */
};

struct mmds_net {
	const struct mmds_store *store;
	struct mmds_guest guest;
	uint32_t ipv4; /* host byte order */
	int timer_fd;
	struct mmds_net_if ifs[MMDS_NET_MAX_IFS];
	unsigned nr_ifs;
	bool close_pending; /* a connection is closing */
	struct mmds_net_stats stats;
	uint8_t frame[FRAME_OUT_MAX];
};

static struct mmds_net *the_stack; /* lwIP's state is the process's: one stack */

static void close_pending(struct mmds_net *m);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- timers ------------------------------------------------------------- */

/* lwIP's TCP timer runs only while TCP has connections; the 1 s ones (ARP,
 * reassembly) run late otherwise, caught up on the next frame. An idle VM
 * with MMDS costs no wake-ups. */
static void rearm(struct mmds_net *m)
{
	struct itimerspec its = { 0 };
	uint32_t ms;

	if (tcp_active_pcbs || tcp_tw_pcbs) {
		ms = sys_timeouts_sleeptime();
		if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
			ms = 1000;
		ms = ms ? ms : 1;
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	if (timerfd_settime(m->timer_fd, 0, &its, NULL) < 0)
		log_warn_rl("mmds: arming its timer: %s", strerror(errno));
}

int mmds_net_timer_fd(const struct mmds_net *m)
{
	return m->timer_fd;
}

void mmds_net_timer(struct mmds_net *m)
{
	uint64_t n;

	if (read(m->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn_rl("mmds: reading its timer: %s", strerror(errno));
	sys_check_timeouts();
	close_pending(m);
	rearm(m);
}

/* --- HTTP over a connection --------------------------------------------- */

static void conn_free(struct conn *c)
{
	if (c->next)
		c->next->prev = c->prev;
	*c->prev = c->next;
	c->nif->m->stats.connections_destroyed++;
	http_conn_free(&c->http);
	free(c->out);
	free(c);
}

static void conn_detach(struct conn *c)
{
	tcp_arg(c->pcb, NULL);
	tcp_recv(c->pcb, NULL);
	tcp_sent(c->pcb, NULL);
	tcp_err(c->pcb, NULL);
	tcp_poll(c->pcb, NULL, 0);
}

static void conn_close_now(struct conn *c)
{
	conn_detach(c);
	if (tcp_close(c->pcb) != ERR_OK)
		tcp_abort(c->pcb); /* no memory for the FIN: a RST instead */
	conn_free(c);
}

/* Callbacks never close: lwIP 2.1's tcp_input loses the segment's data
 * when a sent callback closes or aborts the PCB it is processing. The
 * connection is closed once lwIP has returned (close_pending). */
static err_t conn_close(struct conn *c)
{
	c->closing = true;
	c->nif->m->close_pending = true;
	return ERR_OK;
}

static void close_pending(struct mmds_net *m)
{
	if (!m->close_pending)
		return;
	m->close_pending = false;
	for (unsigned i = 0; i < m->nr_ifs; i++)
		for (struct conn *c = m->ifs[i].conns, *next; c; c = next) {
			next = c->next;
			if (c->closing)
				conn_close_now(c);
		}
}

/* Send what fits of the response; true once all of it is queued. */
static bool conn_flush(struct conn *c)
{
	size_t n = c->out_len - c->out_off, room = tcp_sndbuf(c->pcb);

	n = n < room ? n : room;
	if (n && tcp_write(c->pcb, c->out + c->out_off, (u16_t)(n > 0xffff ? 0xffff : n),
			   TCP_WRITE_FLAG_COPY) == ERR_OK) {
		c->out_off += n > 0xffff ? 0xffff : n;
		c->nif->m->stats.tx_bytes += n > 0xffff ? 0xffff : n;
	}
	tcp_output(c->pcb);
	if (c->out_off < c->out_len)
		return false;
	free(c->out);
	c->out = NULL;
	return true;
}

static void header(const struct http_request *r, const char *a, const char *b, char *buf, size_t n,
		   const char **val, const char **name)
{
	/* A value too long for buf is kept cut: it is wrong either way (a
	 * token is 64 characters, a TTL a number), and the answer says so. */
	*val = NULL;
	if (http_header_value(r, a, buf, n) != -ENOENT)
		*val = buf, *name = a;
	else if (b && http_header_value(r, b, buf, n) != -ENOENT)
		*val = buf, *name = b;
}

/* The HTTP request as mmds_guest_serve takes it; bufs hold the values. */
static void to_mmds_request(const struct http_request *r, struct mmds_request *q, char bufs[3][256])
{
	const char *ignored;
	char xff[1];

	memset(q, 0, sizeof(*q));
	q->method = r->method;
	q->path = r->path;
	header(r, "Accept", NULL, bufs[0], sizeof(bufs[0]), &q->accept, &ignored);
	header(r, "X-metadata-token", "X-aws-ec2-metadata-token", bufs[1], sizeof(bufs[1]),
	       &q->token, &ignored);
	header(r, "X-metadata-token-ttl-seconds", "X-aws-ec2-metadata-token-ttl-seconds", bufs[2],
	       sizeof(bufs[2]), &q->ttl, &q->ttl_header);
	q->forwarded_for = http_header_value(r, "X-Forwarded-For", xff, sizeof(xff)) != -ENOENT;
}

static int format(struct conn *c, int status, const char *type, const char *extra, const char *body,
		  bool close)
{
	int n = asprintf(&c->out,
			 "HTTP/1.1 %d %s\r\nServer: ember\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\n%s%s%s\r\n%s",
			 status, http_reason(status), type, strlen(body), extra,
			 extra[0] ? "\r\n" : "", close ? "Connection: close\r\n" : "", body);

	if (n < 0) {
		c->out = NULL;
		return -ENOMEM;
	}
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->close_after = close;
	c->nif->m->stats.tx_count++;
	return 0;
}

static int respond(struct conn *c, const struct http_request *r)
{
	struct mmds_net *m = c->nif->m;
	struct mmds_response resp;
	struct mmds_request q;
	char bufs[3][256];
	int ret;

	m->stats.rx_count++;
	to_mmds_request(r, &q, bufs);
	ret = mmds_guest_serve(&m->guest, m->store, &q, now_ms(), &resp);
	if (ret < 0) {
		m->stats.rx_accepted_err++;
		return format(c, 500, "text/plain", "", "Out of memory.", true);
	}
	ret = format(c, resp.status, resp.json ? "application/json" : "text/plain", resp.header,
		     resp.body, !r->keep_alive);
	free(resp.body);
	return ret;
}

/* The next response in c->out: 1, 0 when nothing waits, -ENOMEM. */
static int next_response(struct conn *c)
{
	struct http_request r;
	int ret;

	if (c->http.error_status) {
		c->nif->m->stats.rx_accepted_err++;
		ret = format(c, c->http.error_status, "text/plain", "", c->http.error_msg, true);
		return ret < 0 ? ret : 1;
	}
	if (!http_conn_next(&c->http, &r))
		return 0;
	ret = respond(c, &r);
	http_request_free(&r);
	return ret < 0 ? ret : 1;
}

/* Answer what was parsed, one response at a time; what a callback returns. */
static err_t serve(struct conn *c)
{
	int ret;

	while (!c->out) {
		ret = next_response(c);
		if (ret < 0)
			return conn_close(c);
		if (!ret)
			return ERR_OK;
		if (!conn_flush(c))
			return ERR_OK;
		if (c->close_after)
			return conn_close(c);
	}
	return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct conn *c = arg;

	(void)pcb;
	if (p && c->closing) { /* what comes after the end is dropped */
		tcp_recved(c->pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	if (!p || err != ERR_OK) { /* the guest closed its side */
		if (p)
			pbuf_free(p);
		if (!c->out)
			return conn_close(c);
		c->close_after = true;
		return ERR_OK;
	}
	if (c->out || c->http.error_status)
		return ERR_MEM; /* lwIP keeps it and offers it again: the window closes */
	c->idle = 0;
	for (struct pbuf *q = p; q && !c->http.error_status; q = q->next)
		http_conn_feed(&c->http, q->payload, q->len);
	tcp_recved(c->pcb, p->tot_len);
	pbuf_free(p);
	return serve(c);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct conn *c = arg;

	(void)pcb, (void)len;
	c->idle = 0;
	if (!c->out || c->closing)
		return ERR_OK;
	if (!conn_flush(c))
		return ERR_OK;
	if (c->close_after)
		return conn_close(c);
	return serve(c);
}

static void on_err(void *arg, err_t err)
{
	(void)err;
	if (arg)
		conn_free(arg); /* lwIP has freed the pcb already */
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct conn *c = arg;

	(void)pcb;
	if (++c->idle * POLL_TICKS / 2 >= MMDS_NET_IDLE_S)
		conn_close(c);
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct mmds_net_if *nif = arg;
	struct conn *c;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	c = calloc(1, sizeof(*c));
	if (!c || http_conn_init(&c->http, MMDS_NET_BODY_MAX) < 0) {
		free(c);
		return ERR_MEM; /* lwIP aborts the connection */
	}
	c->http.keep_headers = true;
	c->http.allow_any_method = true; /* MMDS answers 405 itself */
	c->http.allow_delete = c->http.allow_post = true;
	c->nif = nif;
	c->pcb = pcb;
	c->next = nif->conns;
	c->prev = &nif->conns;
	if (nif->conns)
		nif->conns->prev = &c->next;
	nif->conns = c;
	nif->m->stats.connections_created++;
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	tcp_poll(pcb, on_poll, POLL_TICKS);
	return ERR_OK;
}

/* --- frames ------------------------------------------------------------- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A gratuitous ARP (lwIP announces its address when a netif comes up): the
 * guest asked for nothing, so it is not sent, as Firecracker sends none. */
static bool gratuitous_arp(const uint8_t *f, size_t len)
{
	return len >= ETH_HLEN + 28 && be16(f + 12) == ETH_P_ARP &&
	       !memcmp(f + ETH_HLEN + 14, f + ARP_TPA_OFF, 4);
}

static err_t link_output(struct netif *netif, struct pbuf *p)
{
	struct mmds_net_if *nif = netif->state;
	struct mmds_net *m = nif->m;
	u16_t len = p->tot_len;

	if (len > sizeof(m->frame) || pbuf_copy_partial(p, m->frame, len, 0) != len) {
		m->stats.tx_errors++;
		return ERR_IF;
	}
	if (len < ETH_HLEN ||
	    (be16(m->frame + 12) != ETH_P_ARP && be16(m->frame + 12) != ETH_P_IPV4) ||
	    gratuitous_arp(m->frame, len))
		return ERR_OK; /* IPv6 and announcements: MMDS speaks when spoken to */
	if (nif->output(nif->dev, m->frame, len) < 0) {
		m->stats.tx_errors++;
		return ERR_IF;
	}
	m->stats.tx_frames++;
	return ERR_OK;
}

static err_t netif_setup(struct netif *netif)
{
	static const uint8_t mac[6] = MMDS_NET_MAC;

	netif->name[0] = 'm';
	netif->name[1] = 'd';
	netif->output = etharp_output;
	netif->linkoutput = link_output;
	netif->mtu = 1500;
	netif->hwaddr_len = 6;
	memcpy(netif->hwaddr, mac, 6);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
}

bool mmds_net_claims(const struct mmds_net_if *nif, const uint8_t *head, size_t len)
{
	uint32_t ip = nif->m->ipv4;

	if (len < ETH_HLEN)
		return false;
	if (be16(head + 12) == ETH_P_ARP)
		return len >= ARP_TPA_OFF + 4 && be32(head + ARP_TPA_OFF) == ip;
	return be16(head + 12) == ETH_P_IPV4 && len >= IPV4_DST_OFF + 4 &&
	       be32(head + IPV4_DST_OFF) == ip;
}

/* The TCP header of an IPv4 TCP frame, or NULL. */
static const uint8_t *tcp_header(const uint8_t *f, size_t len)
{
	size_t ihl;

	if (len < ETH_HLEN + 20 || be16(f + 12) != ETH_P_IPV4 || f[ETH_HLEN + 9] != 6)
		return NULL;
	ihl = (size_t)(f[ETH_HLEN] & 0xf) * 4;
	if (ihl < 20 || len < ETH_HLEN + ihl + 20)
		return NULL;
	return f + ETH_HLEN + ihl;
}

static bool far_apart(uint32_t a, uint32_t b)
{
	int32_t d = (int32_t)(a - b);

	return d > (1 << 30) || d < -(1 << 30);
}

/* Frames lwIP 2.1 must not see, which no sane peer sends. Fragments: a
 * guest's TCP sends none (it sets DF and sizes its segments by MSS), and
 * reassembly holds memory. A source that
 * is MMDS's own address or loopback makes lwIP answer through its loopback
 * path, which needs the tcpip thread ember does not run (an assertion
 * aborts); a sequence or acknowledgment number near 2^31 away from the
 * connection's makes its comparisons ambiguous ("insane offset!"). */
static bool lwip_would_choke(const struct mmds_net_if *nif, const uint8_t *f, size_t len)
{
	const uint8_t *th = tcp_header(f, len);
	uint32_t src;

	if (be16(f + 12) != ETH_P_IPV4)
		return false;
	src = be32(f + ETH_HLEN + 12);
	if (src == nif->m->ipv4 || (src >> 24) == 127)
		return true;
	if (be16(f + ETH_HLEN + 6) & 0x3fff)
		return true; /* a fragment: TCP to MMDS never needs them (as Firecracker) */
	if (!th)
		return false;
	for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) {
		if (p->remote_port != be16(th) || p->local_port != be16(th + 2) ||
		    lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(&p->remote_ip))) != src ||
		    p->netif_idx != netif_get_index(&nif->netif))
			continue;
		return far_apart(be32(th + 4), p->rcv_nxt) ||
		       ((th[13] & TCP_ACK) && far_apart(be32(th + 8), p->snd_nxt));
	}
	return false;
}

/* PCBs on nif's netif in list, the SYN_RCVD ones in half_open; the last
 * such is the oldest (lwIP puts new PCBs first). */
static unsigned count_pcbs(struct tcp_pcb *list, const struct mmds_net_if *nif,
			   struct tcp_pcb **oldest_half_open, struct tcp_pcb **oldest)
{
	u8_t idx = netif_get_index(&nif->netif);
	unsigned n = 0;

	for (struct tcp_pcb *p = list; p; p = p->next) {
		if (p->netif_idx != idx)
			continue;
		n++;
		*oldest = p;
		if (p->state == SYN_RCVD)
			*oldest_half_open = p;
	}
	return n;
}

/* A new connection may come in: room made by the oldest half-open or
 * TIME_WAIT ones where needed; false when all are established. */
static bool admit_syn(struct mmds_net_if *nif)
{
	struct tcp_pcb *half = NULL, *old = NULL, *ignored = NULL;

	if (count_pcbs(tcp_tw_pcbs, nif, &ignored, &old) >= MMDS_NET_MAX_TIME_WAIT)
		tcp_abort(old);
	if (count_pcbs(tcp_active_pcbs, nif, &half, &ignored) < MMDS_NET_MAX_CONNS)
		return true;
	if (!half)
		return false;
	tcp_abort(half); /* no callbacks of ours yet: lwIP frees it, sends a RST */
	return true;
}

void mmds_net_input(struct mmds_net_if *nif, const uint8_t *frame, size_t len)
{
	struct mmds_net *m = nif->m;
	const uint8_t *th = tcp_header(frame, len);
	struct pbuf *p;

	m->stats.rx_accepted++;
	sys_check_timeouts(); /* those that ran late while nothing was connected */
	if (len < ETH_HLEN + 28 || len > 0xffff) {
		m->stats.rx_bad_eth++;
		return;
	}
	if (lwip_would_choke(nif, frame, len) ||
	    (th && (th[13] & (TCP_SYN | TCP_ACK)) == TCP_SYN && !admit_syn(nif))) {
		m->stats.rx_accepted_unusual++;
		return;
	}
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
	if (!p) {
		m->stats.rx_accepted_err++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	if (nif->netif.input(p, &nif->netif) != ERR_OK)
		pbuf_free(p);
	close_pending(m);
	rearm(m);
}

/* --- the stack ---------------------------------------------------------- */

static err_t listen_on(struct mmds_net_if *nif, struct ember_err *err)
{
	ip_addr_t addr = IPADDR4_INIT(lwip_htonl(nif->m->ipv4));
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4), *l;

	if (!pcb)
		return err_set(err, ENOMEM, "mmds: no memory for a TCP socket");
	tcp_bind_netif(pcb, &nif->netif);
	if (tcp_bind(pcb, &addr, MMDS_NET_PORT) != ERR_OK) {
		tcp_abort(pcb);
		return err_set(err, EADDRINUSE, "mmds: cannot bind port %d", MMDS_NET_PORT);
	}
	l = tcp_listen(pcb);
	if (!l) {
		tcp_abort(pcb);
		return err_set(err, ENOMEM, "mmds: cannot listen");
	}
	tcp_arg(l, nif);
	tcp_accept(l, on_accept);
	nif->listener = l;
	return 0;
}

struct mmds_net_if *mmds_net_attach(struct mmds_net *m, void *dev, mmds_net_output_fn output,
				    struct ember_err *err)
{
	ip4_addr_t ip, any;
	struct mmds_net_if *nif;

	if (m->nr_ifs == MMDS_NET_MAX_IFS) {
		err_set(err, ENOSPC, "mmds: more than %d interfaces", MMDS_NET_MAX_IFS);
		return NULL;
	}
	nif = &m->ifs[m->nr_ifs];
	memset(nif, 0, sizeof(*nif));
	nif->m = m;
	nif->dev = dev;
	nif->output = output;
	ip4_addr_set_u32(&ip, lwip_htonl(m->ipv4));
	ip4_addr_set_zero(&any);
	if (!netif_add(&nif->netif, &ip, &any, &any, nif, netif_setup, ethernet_input)) {
		err_set(err, ENOMEM, "mmds: cannot add an interface");
		return NULL;
	}
	netif_set_up(&nif->netif);
	netif_set_link_up(&nif->netif);
	if (listen_on(nif, err) < 0) {
		netif_remove(&nif->netif);
		return NULL;
	}
	m->nr_ifs++;
	return nif;
}

int mmds_net_new(struct mmds_net **out, const struct mmds_store *store, uint32_t ipv4, bool v2,
		 bool imds_compat, struct ember_err *err)
{
	static bool lwip_ready;
	struct mmds_net *m;

	if (the_stack)
		return err_set(err, EBUSY, "mmds: a network stack exists already");
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(err, ENOMEM, "mmds: out of memory");
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0) {
		free(m);
		return err_errno(err, "mmds: timerfd_create");
	}
	if (!lwip_ready) {
		lwip_init();
		lwip_ready = true;
	}
	m->store = store;
	m->ipv4 = ipv4;
	mmds_guest_init(&m->guest, v2, imds_compat);
	the_stack = m;
	*out = m;
	return 0;
}

/* Every PCB on nif's netif in list aborted: half-open, TIME_WAIT. */
static void abort_all(struct tcp_pcb **list, const struct mmds_net_if *nif)
{
	u8_t idx = netif_get_index(&nif->netif);
	bool again = true;

	while (again) {
		again = false;
		for (struct tcp_pcb *p = *list; p; p = p->next)
			if (p->netif_idx == idx) {
				tcp_abort(p);
				again = true;
				break;
			}
	}
}

void mmds_net_free(struct mmds_net *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nr_ifs; i++) {
		struct mmds_net_if *nif = &m->ifs[i];

		while (nif->conns) {
			struct conn *c = nif->conns;

			conn_detach(c);
			tcp_abort(c->pcb);
			conn_free(c);
		}
		abort_all(&tcp_active_pcbs, nif);
		abort_all(&tcp_tw_pcbs, nif);
		tcp_close(nif->listener);
		netif_remove(&nif->netif);
	}
	close(m->timer_fd);
	the_stack = NULL;
	free(m);
}

const struct mmds_net_stats *mmds_net_stats(const struct mmds_net *m)
{
	return &m->stats;
}

const struct mmds_guest_stats *mmds_net_guest_stats(const struct mmds_net *m)
{
	return &m->guest.stats;
}
