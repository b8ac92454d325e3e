// SPDX-License-Identifier: Apache-2.0
/* MMDS's network side: the frames a guest's stack would send (ARP, a TCP
 * handshake, HTTP requests), built here byte by byte, and the frames MMDS
 * answers with, read back the same way. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds_net.h"

#define GUEST_IP 0xc0a80002u /* 192.168.0.2 */
#define MMDS_IP  0xa9fea9feu
#define MAX_OUT  128

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mmds_mac[6] = MMDS_NET_MAC;

struct captured {
	uint8_t f[1600];
	size_t len;
};

static struct captured out[MAX_OUT];
static unsigned nr_out;
static struct mmds_store store;
static struct mmds_net *m;
static struct mmds_net_if *nif;
static uint32_t server_seq;

static int capture(void *dev, const uint8_t *frame, size_t len)
{
	(void)dev;
	cr_assert_leq(len, sizeof(out[0].f));
	if (nr_out < MAX_OUT) {
		memcpy(out[nr_out].f, frame, len);
		out[nr_out++].len = len;
	}
	return 0;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void eth(uint8_t *f, const uint8_t *dst, unsigned type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
}

static size_t arp_request(uint8_t *f, uint32_t target)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memset(f, 0, 42);
	eth(f, bcast, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, guest_mac, 6);
	put32(f + 28, GUEST_IP);
	put32(f + 38, target);
	return 42;
}

/* An IPv4 TCP segment from the guest's port sport to MMDS's port 80. */
static size_t tcp(uint8_t *f, unsigned sport, unsigned flags, uint32_t seq, uint32_t ack,
		  const char *data)
{
	size_t dlen = data ? strlen(data) : 0, tot = 20 + 20 + dlen;
	uint8_t *ip = f + 14, *th = ip + 20, pseudo[12];
	uint32_t sum = 0;

	memset(f, 0, 14 + tot);
	eth(f, mmds_mac, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)tot);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, GUEST_IP);
	put32(ip + 16, MMDS_IP);
	put16(ip + 10, csum(0, ip, 20));
	put16(th, sport);
	put16(th + 2, 80);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = 5 << 4;
	th[13] = (uint8_t)flags;
	put16(th + 14, 65535);
	memcpy(th + 20, data ? data : "", dlen);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (unsigned)(20 + dlen));
	for (int i = 0; i < 12; i += 2)
		sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	put16(th + 16, csum(sum, th, 20 + dlen));
	return 14 + tot;
}

static void send_frame(const uint8_t *f, size_t len)
{
	cr_assert(mmds_net_claims(nif, f, len));
	mmds_net_input(nif, f, len);
}

static void setup_stack(bool v2)
{
	struct ember_err err = { 0 };
	uint8_t f[64];

	mmds_store_init(&store, MMDS_DEFAULT_LIMIT);
	cr_assert_eq(mmds_put(&store,
			      json_pack("{s{s{ss}}}", "latest", "meta-data", "ami-id", "ami-12345"),
			      &err),
		     0);
	cr_assert_eq(mmds_net_new(&m, &store, MMDS_IP, v2, false, &err), 0, "%s", err.msg);
	nif = mmds_net_attach(m, NULL, capture, &err);
	cr_assert_not_null(nif, "%s", err.msg);
	cr_assert_eq(nr_out, 0, "no gratuitous ARP: MMDS speaks when spoken to");
	send_frame(f, arp_request(f, MMDS_IP));
	cr_assert_eq(nr_out, 1);
}

static void teardown(void)
{
	mmds_net_free(m);
	mmds_store_free(&store);
	nr_out = 0;
}

static const uint8_t *tcp_of(const struct captured *c)
{
	cr_assert_geq(c->len, 54);
	cr_assert_eq(c->f[12] << 8 | c->f[13], 0x0800);
	cr_assert_eq(c->f[23], 6, "TCP");
	return c->f + 14 + (c->f[14] & 0xf) * 4;
}

/* SYN, SYN-ACK, ACK from sport; the server's next sequence number. */
static void connect_from(unsigned sport)
{
	uint8_t f[128];
	const uint8_t *th;

	nr_out = 0;
	send_frame(f, tcp(f, sport, 0x02, 1000, 0, NULL));
	cr_assert_eq(nr_out, 1, "a SYN-ACK");
	th = tcp_of(&out[0]);
	cr_assert_eq(th[13] & 0x12, 0x12);
	cr_assert_eq(get32(th + 8), 1001);
	server_seq = get32(th + 4) + 1;
	send_frame(f, tcp(f, sport, 0x10, 1001, server_seq, NULL));
}

/* The request on a fresh connection; MMDS's answer's bytes, NUL-terminated. */
static char *request(unsigned sport, const char *req)
{
	static char text[8192];
	size_t n = 0;
	uint8_t f[2048];

	connect_from(sport);
	nr_out = 0;
	send_frame(f, tcp(f, sport, 0x18, 1001, server_seq, req));
	for (unsigned i = 0; i < nr_out; i++) {
		const uint8_t *th = tcp_of(&out[i]);
		size_t ip_len = (size_t)(out[i].f[16] << 8 | out[i].f[17]);
		size_t hl = (size_t)(th[12] >> 4) * 4, dlen = ip_len - 20 - hl;

		cr_assert_lt(n + dlen, sizeof(text));
		memcpy(text + n, th + hl, dlen);
		n += dlen;
	}
	text[n] = '\0';
	return text;
}

Test(mmds_net, arp_for_the_mmds_address_is_answered_with_its_mac, .fini = teardown)
{
	setup_stack(false);
	cr_assert_eq(out[0].f[12] << 8 | out[0].f[13], 0x0806);
	cr_assert_eq(out[0].f[21], 2, "an ARP reply");
	cr_assert_arr_eq(out[0].f + 22, mmds_mac, 6);
	cr_assert_eq(get32(out[0].f + 28), MMDS_IP);
	cr_assert_arr_eq(out[0].f, guest_mac, 6, "to the guest that asked");
}

Test(mmds_net, only_arp_and_ipv4_for_the_mmds_address_are_claimed, .fini = teardown)
{
	uint8_t f[128];

	setup_stack(false);
	cr_assert_not(mmds_net_claims(nif, f, arp_request(f, 0xc0a80001u)));
	tcp(f, 40000, 0x02, 1, 0, NULL);
	put32(f + 30, 0x08080808u);
	cr_assert_not(mmds_net_claims(nif, f, 54));
	tcp(f, 40000, 0x02, 1, 0, NULL);
	cr_assert(mmds_net_claims(nif, f, 34), "the destination address is enough");
	cr_assert_not(mmds_net_claims(nif, f, 33));
	put16(f + 12, 0x86dd);
	cr_assert_not(mmds_net_claims(nif, f, 54));
}

Test(mmds_net, v1_answers_a_get_over_tcp_in_imds_text, .fini = teardown)
{
	const char *r;

	setup_stack(false);
	r = request(40000,
		    "GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n");
	cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n"), "%s", r);
	cr_assert(strstr(r, "Content-Type: text/plain\r\n"), "%s", r);
	cr_assert(strstr(r, "\r\n\r\nami-12345"), "%s", r);
	r = request(40001, "GET /latest/meta-data HTTP/1.1\r\nAccept: application/json\r\n\r\n");
	cr_assert(strstr(r, "\r\n\r\n{\"ami-id\":\"ami-12345\"}"), "%s", r);
	cr_assert_eq(mmds_net_stats(m)->rx_count, 2);
	cr_assert_eq(mmds_net_stats(m)->connections_created, 2);
}

Test(mmds_net, v2_needs_a_token_from_put, .fini = teardown)
{
	char token[65], req[512];
	const char *r, *body;

	setup_stack(true);
	r = request(40000, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n");
	cr_assert(strstr(r, "HTTP/1.1 401 "), "%s", r);
	r = request(40001,
		    "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n");
	cr_assert(strstr(r, "HTTP/1.1 200 OK\r\n"), "%s", r);
	cr_assert(strstr(r, "X-metadata-token-ttl-seconds: 60\r\n"), "%s", r);
	body = strstr(r, "\r\n\r\n");
	cr_assert_not_null(body);
	cr_assert_eq(strlen(body + 4), 64);
	snprintf(token, sizeof(token), "%s", body + 4);
	snprintf(req, sizeof(req),
		 "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n", token);
	r = request(40002, req);
	cr_assert(strstr(r, "\r\n\r\nami-12345"), "%s", r);
	token[0] = token[0] == 'a' ? 'b' : 'a';
	snprintf(req, sizeof(req),
		 "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-aws-ec2-metadata-token: %s\r\n\r\n",
		 token);
	r = request(40003, req);
	cr_assert(strstr(r, "HTTP/1.1 401 "), "%s", r);
	cr_assert_eq(mmds_net_guest_stats(m)->rx_no_token, 1);
	cr_assert_eq(mmds_net_guest_stats(m)->rx_invalid_token, 1);
}

Test(mmds_net, a_malformed_request_gets_400_and_the_connection_closes, .fini = teardown)
{
	const char *r;

	setup_stack(false);
	r = request(40000, "GET /latest HTTP/1.1\r\nBad header line\r\n\r\n");
	cr_assert(strstr(r, "HTTP/1.1 400 "), "%s", r);
	cr_assert(strstr(r, "Connection: close\r\n"), "%s", r);
	cr_assert_eq(mmds_net_stats(m)->connections_destroyed, 1);
}

Test(mmds_net, half_open_connections_are_bounded_and_the_oldest_evicted, .fini = teardown)
{
	uint8_t f[128];

	setup_stack(false);
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS + 5; i++) {
		nr_out = 0;
		send_frame(f, tcp(f, 50000 + i, 0x02, 1000, 0, NULL));
		/* Past the limit, a RST to the oldest comes before the SYN-ACK. */
		cr_assert_eq(nr_out, i < MMDS_NET_MAX_CONNS ? 1 : 2, "SYN %u", i);
		cr_assert_eq(tcp_of(&out[nr_out - 1])[13] & 0x12, 0x12);
	}
	cr_assert_eq(mmds_net_stats(m)->rx_accepted_unusual, 0);
}

Test(mmds_net, established_connections_past_the_limit_refuse_new_ones, .fini = teardown)
{
	uint8_t f[128];

	setup_stack(false);
	for (unsigned i = 0; i < MMDS_NET_MAX_CONNS; i++)
		connect_from(50000 + i);
	nr_out = 0;
	send_frame(f, tcp(f, 60000, 0x02, 1000, 0, NULL));
	cr_assert_eq(nr_out, 0, "dropped");
	cr_assert_eq(mmds_net_stats(m)->rx_accepted_unusual, 1);
	/* The guest closes one: room again. */
	send_frame(f, tcp(f, 50000, 0x04, 1001, 0, NULL));
	send_frame(f, tcp(f, 60000, 0x02, 1000, 0, NULL));
	cr_assert_eq(nr_out, 1);
}

Test(mmds_net, truncated_frames_are_counted_not_parsed, .fini = teardown)
{
	uint8_t f[128];

	setup_stack(false);
	tcp(f, 40000, 0x02, 1, 0, NULL);
	mmds_net_input(nif, f, 40);
	cr_assert_eq(mmds_net_stats(m)->rx_bad_eth, 1);
	/* An IP length beyond the frame: lwIP drops it. */
	nr_out = 0;
	mmds_net_input(nif, f, 50);
	cr_assert_eq(nr_out, 0);
}

Test(mmds_net, one_stack_at_a_time)
{
	struct ember_err err = { 0 };
	struct mmds_net *other;

	setup_stack(false);
	cr_assert_eq(mmds_net_new(&other, &store, MMDS_IP, false, false, &err), -EBUSY);
	teardown();
	cr_assert_eq(mmds_net_new(&other, &store, MMDS_IP, false, false, &err), 0);
	mmds_net_free(other);
}

Test(mmds_net, frames_lwip_would_choke_on_are_refused_and_counted, .fini = teardown)
{
	uint8_t f[128];

	setup_stack(false);
	connect_from(40000);
	nr_out = 0;
	/* MMDS's own address as the source: lwIP would loop its answer back. */
	tcp(f, 40001, 0x02, 1000, 0, NULL);
	put32(f + 26, MMDS_IP);
	send_frame(f, 54);
	/* A fragment. */
	tcp(f, 40002, 0x02, 1000, 0, NULL);
	f[20] = 0x20; /* more fragments */
	send_frame(f, 54);
	/* A sequence number 2^31 away from the connection's. */
	send_frame(f, tcp(f, 40000, 0x11, 1001 + 0x80000000u, server_seq, NULL));
	cr_assert_eq(nr_out, 0);
	cr_assert_eq(mmds_net_stats(m)->rx_accepted_unusual, 3);
	/* The connection still works. */
	send_frame(f, tcp(f, 40000, 0x18, 1001, server_seq,
			  "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n"));
	cr_assert_geq(nr_out, 1);
}
