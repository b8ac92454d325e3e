// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: the frames a guest sends MMDS (ARP, IPv4, TCP, HTTP),
 * through lwIP to MMDS's server and back. The input is records: a flags
 * byte, a length byte pair, then the frame. Flags help the fuzzer past what
 * it cannot guess: bit 0 makes the frame IPv4 (or ARP, with bit 3) for the
 * MMDS address, bit 1 completes its IPv4 and TCP checksums, bit 2 sets its
 * TCP acknowledgment to what MMDS sent last. Each input is one fresh
 * stack; whatever the frames, ember must neither crash nor send a frame
 * larger than an Ethernet frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds_net.h"

#define MMDS_IP 0xa9fea9feu

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next_ack;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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

static int capture(void *dev, const uint8_t *f, size_t len)
{
	size_t ihl;

	(void)dev;
	if (len > 1514)
		abort();
	if (len < 54 || f[12] != 0x08 || f[13] != 0 || f[23] != 6)
		return 0;
	ihl = (size_t)(f[14] & 0xf) * 4;
	if (len < 14 + ihl + 20)
		return 0;
	/* seq + data + SYN + FIN: what the guest acknowledges next */
	next_ack = get32(f + 14 + ihl + 4) +
		   (uint32_t)((f[16] << 8 | f[17]) - ihl - (f[14 + ihl + 12] >> 4) * 4) +
		   ((f[14 + ihl + 13] & 0x02) != 0) + ((f[14 + ihl + 13] & 0x01) != 0);
	return 0;
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

static void fix(uint8_t *f, size_t len, unsigned flags)
{
	size_t ihl, tot;
	uint32_t sum = 0;

	if ((flags & 1) && (flags & 8) && len >= 42) {
		put16(f + 12, 0x0806);
		put32(f + 38, MMDS_IP);
		return;
	}
	if ((flags & 1) && len >= 34) {
		put16(f + 12, 0x0800);
		put32(f + 30, MMDS_IP);
	}
	if (len < 34 || f[12] != 0x08 || f[13] != 0)
		return;
	ihl = (size_t)(f[14] & 0xf) * 4;
	if ((flags & 2) && ihl >= 20 && len >= 14 + ihl) {
		put16(f + 14 + 2, (unsigned)(len - 14));
		put16(f + 24, 0);
		put16(f + 24, csum(0, f + 14, ihl));
	}
	tot = len - 14;
	if (ihl < 20 || f[23] != 6 || tot < ihl + 20)
		return;
	if (flags & 4)
		put32(f + 14 + ihl + 8, next_ack);
	if (flags & 2) {
		for (int i = 0; i < 8; i += 2)
			sum += (uint32_t)(f[26 + i] << 8 | f[27 + i]);
		sum += 6 + (uint32_t)(tot - ihl);
		put16(f + 14 + ihl + 16, 0);
		put16(f + 14 + ihl + 16, csum(sum, f + 14 + ihl, tot - ihl));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mmds_store store;
	static uint8_t frame[0x10000];
	struct ember_err err;
	struct mmds_net *m;
	struct mmds_net_if *nif;

	if (!store.limit) {
		mmds_store_init(&store, 4096);
		mmds_put(&store, json_pack("{s{s{ss}}}", "latest", "meta-data", "ami-id", "a"),
			 &err);
	}
	if (mmds_net_new(&m, &store, MMDS_IP, size && (data[0] & 0x80), false, &err) < 0)
		abort();
	nif = mmds_net_attach(m, NULL, capture, &err);
	if (!nif)
		abort();
	next_ack = 0;
	while (size >= 3) {
		unsigned flags = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);

		data += 3, size -= 3;
		len = len < size ? len : size;
		memcpy(frame, data, len);
		fix(frame, len, flags);
		if (mmds_net_claims(nif, frame, len))
			mmds_net_input(nif, frame, len);
		data += len, size -= len;
	}
	mmds_net_free(m);
	return 0;
}
