// SPDX-License-Identifier: Apache-2.0
/* The virtio-net device over fake guest memory, with a SOCK_SEQPACKET
 * socket standing in for the TAP (it keeps frame boundaries as a TAP does). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_driver.h"
#include "net.h"

#define MEM   0x40000
#define QSIZE 16
#define RXQ   0
#define TXQ   1
#define HDR   sizeof(struct virtio_net_hdr_v1)

#define BUF FAKE_DRV_BUF

static uint8_t ram[MEM];
static struct fake_drv drv;
static struct virtio_net net;
static int peer; /* the "wire" side of the fake TAP */

static uint32_t rd32(uint64_t off)
{
	return fake_drv_rd32(&drv, off);
}

static void open_net(uint64_t features)
{
	struct virtio_net_params p = { .iface_id = "eth0",
				       .tap_name = "fake0",
				       .has_mac = true,
				       .mac = { 6, 0, 0xac, 0x10, 0, 2 } };
	struct ember_err err;
	int sv[2];

	fake_drv_init(&drv, ram, sizeof(ram), QSIZE);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	peer = sv[1];
	cr_assert_eq(virtio_net_open_fd(&net, &p, sv[0], &drv.mem, 0xc0002000, 6, &err), 0, "%s",
		     err.msg);
	fake_drv_bring_up(&drv, &net.transport, 2, features);
}

static void setup(void)
{
	open_net((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
		 (1ULL << VIRTIO_NET_F_MAC));
}

static void teardown(void)
{
	virtio_net_close(&net);
	close(peer);
}

TestSuite(net_dev, .init = setup, .fini = teardown);

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* Offer `n` rx buffers of `len` bytes, one descriptor each. */
static void rx_buffers(int n, uint32_t len)
{
	for (int i = 0; i < n; i++) {
		fake_drv_desc(&drv, RXQ, (uint16_t)i, BUF + (uint64_t)i * 0x2000, len,
			      VRING_DESC_F_WRITE, 0);
		fake_drv_publish(&drv, RXQ, (uint16_t)i);
	}
}

Test(net_dev, config_space_holds_the_mac)
{
	cr_assert_eq(rd32(VIRTIO_MMIO_DEVICE_ID), 1);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG), 0x10ac0006);
	cr_assert(virtio_mmio_offered(&net.transport) & (1ULL << VIRTIO_NET_F_MAC));
	cr_assert(virtio_mmio_offered(&net.transport) & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
}

Test(net_dev, tx_sends_one_frame_per_chain)
{
	uint8_t frame[HDR + 1000], got[2000];

	fill(frame, sizeof(frame), 1);
	memcpy(ram + BUF, frame, HDR + 100);
	memcpy(ram + BUF + 0x1000, frame + HDR + 100, 900);
	fake_drv_desc(&drv, TXQ, 0, BUF, HDR + 100, VRING_DESC_F_NEXT, 1);
	fake_drv_desc(&drv, TXQ, 1, BUF + 0x1000, 900, 0, 0);
	fake_drv_publish(&drv, TXQ, 0);
	virtio_mmio_kick(&net.transport, TXQ);
	cr_assert_eq(recv(peer, got, sizeof(got), 0), (ssize_t)sizeof(frame));
	cr_assert_arr_eq(got, frame, sizeof(frame));
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 1);
	cr_assert_eq(fake_drv_used(&drv, TXQ, 0).len, 0);
	cr_assert_eq(net.stats.tx_frames, 1);
	cr_assert_eq(net.stats.tx_bytes, 1000);
}

Test(net_dev, bad_tx_chains_are_returned_unsent)
{
	uint8_t got[2000];

	fake_drv_desc(&drv, TXQ, 0, BUF, 64, VRING_DESC_F_WRITE, 0); /* device-writable tx buffer */
	fake_drv_publish(&drv, TXQ, 0);
	fake_drv_desc(&drv, TXQ, 1, BUF, 4, 0, 0); /* shorter than the vnet header */
	fake_drv_publish(&drv, TXQ, 1);
	fake_drv_desc(&drv, TXQ, 2, MEM - 8, 64, 0, 0); /* beyond guest memory */
	fake_drv_publish(&drv, TXQ, 2);
	fill(ram + BUF + 0x100, HDR + 60, 7);
	fake_drv_desc(&drv, TXQ, 3, BUF + 0x100, HDR + 60, 0, 0);
	fake_drv_publish(&drv, TXQ, 3);
	virtio_mmio_kick(&net.transport, TXQ);
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 4);
	cr_assert_eq(recv(peer, got, sizeof(got), 0), (ssize_t)(HDR + 60), "only the good one");
	cr_assert_arr_eq(got, ram + BUF + 0x100, HDR + 60);
	cr_assert_eq(recv(peer, got, sizeof(got), 0), -1);
}

Test(net_dev, rx_merges_buffers_and_counts_them)
{
	uint8_t frame[HDR + 3000];
	struct virtio_net_hdr_v1 h;

	fill(frame, sizeof(frame), 3);
	rx_buffers(3, 1536);
	cr_assert_eq(send(peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	virtio_net_tap_readable(&net);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 2);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).len, 1536);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 1).len, sizeof(frame) - 1536);
	memcpy(&h, ram + BUF, sizeof(h));
	cr_assert_eq(h.num_buffers, 2);
	cr_assert_arr_eq(ram + BUF + HDR, frame + HDR, 1536 - HDR);
	cr_assert_arr_eq(ram + BUF + 0x2000, frame + 1536, sizeof(frame) - 1536);
	cr_assert(rd32(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
}

Test(net_dev, rx_waits_for_buffers)
{
	uint8_t frame[HDR + 200];

	fill(frame, sizeof(frame), 5);
	cr_assert_eq(send(peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	virtio_net_tap_readable(&net);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 0);
	cr_assert(net.rx_pending);
	rx_buffers(1, 1536);
	virtio_mmio_kick(&net.transport, RXQ); /* the driver's kick after adding buffers */
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 1);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).len, sizeof(frame));
	cr_assert_arr_eq(ram + BUF + HDR, frame + HDR, 200);
	cr_assert_not(net.rx_pending);
}

Test(net_dev, rx_too_big_for_one_buffer_without_mergeable_is_dropped)
{
	uint8_t frame[HDR + 3000];

	teardown();
	open_net(1ULL << VIRTIO_F_VERSION_1);
	fill(frame, sizeof(frame), 9);
	rx_buffers(2, 1536);
	cr_assert_eq(send(peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	cr_assert_eq(send(peer, frame, 300, 0), 300);
	virtio_net_tap_readable(&net);
	cr_assert_eq(net.stats.rx_dropped, 1);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 2);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).len, 0,
		     "the dropped frame's buffer comes back empty");
	cr_assert_eq(fake_drv_used(&drv, RXQ, 1).len, 300, "the next frame is delivered");
}

Test(net_dev, rx_chain_with_readable_buffer_is_skipped)
{
	uint8_t frame[HDR + 100];

	fill(frame, sizeof(frame), 11);
	fake_drv_desc(&drv, RXQ, 0, BUF, 1536, 0, 0); /* device-readable: wrong for rx */
	fake_drv_publish(&drv, RXQ, 0);
	fake_drv_desc(&drv, RXQ, 1, BUF + 0x2000, 1536, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, RXQ, 1);
	cr_assert_eq(send(peer, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	virtio_net_tap_readable(&net);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 2);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).id, 0);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).len, 0);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 1).id, 1);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 1).len, sizeof(frame));
	cr_assert_eq(ram[BUF], 0, "nothing written into the readable buffer");
}

Test(net_dev, runt_frames_from_the_tap_are_dropped)
{
	uint8_t runt[4] = { 1, 2, 3, 4 };

	rx_buffers(1, 1536);
	cr_assert_eq(send(peer, runt, sizeof(runt), 0), 4);
	virtio_net_tap_readable(&net);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 0);
	cr_assert_eq(net.stats.rx_dropped, 1);
}

/* --- the detour (MMDS) ------------------------------------------------- */

static uint8_t detoured[2048];
static size_t detoured_len;

static bool claims_ipv4(void *ctx, const uint8_t *head, size_t len)
{
	(void)ctx;
	return len >= 34 && head[12] == 0x08 && head[13] == 0x00;
}

static void take(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	cr_assert_leq(len, sizeof(detoured));
	memcpy(detoured, frame, len);
	detoured_len = len;
}

static void set_detour(void)
{
	struct virtio_net_detour d = { .ctx = &net, .claims = claims_ipv4, .input = take };
	struct ember_err err;

	cr_assert_eq(virtio_net_set_detour(&net, &d, &err), 0, "%s", err.msg);
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	return len & 1 ? sum + (uint32_t)(p[len - 1] << 8) : sum;
}

Test(net_dev, claimed_tx_frames_skip_the_tap_with_their_checksums_completed)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .csum_start = 34,
				       .csum_offset = 16 };
	uint8_t *f = ram + BUF + HDR, got[256];
	size_t tcp_len = 20 + 11;
	uint32_t pseudo;

	set_detour();
	memcpy(ram + BUF, &h, sizeof(h));
	memset(f, 0, 14 + 20 + tcp_len);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = 0, f[17] = (uint8_t)(20 + tcp_len);
	f[23] = 6;
	memcpy(f + 26, "\xc0\xa8\x00\x02\xa9\xfe\xa9\xfe", 8);
	f[34 + 12] = 5 << 4;
	memcpy(f + 54, "hello mmds!", 11);
	/* What a guest leaves in the field: the pseudo-header's sum. */
	pseudo = fold(sum16(f + 26, 8, 6 + (uint32_t)tcp_len));
	f[34 + 16] = (uint8_t)(pseudo >> 8), f[34 + 17] = (uint8_t)pseudo;
	fake_drv_desc(&drv, TXQ, 0, BUF, (uint32_t)(HDR + 14 + 20 + tcp_len), 0, 0);
	fake_drv_publish(&drv, TXQ, 0);
	virtio_mmio_kick(&net.transport, TXQ);
	cr_assert_eq(detoured_len, 14 + 20 + tcp_len);
	cr_assert_eq(fold(sum16(detoured + 34, tcp_len, sum16(detoured + 26, 8, 6 + tcp_len))),
		     0xffff, "the TCP checksum is whole");
	cr_assert_eq(recv(peer, got, sizeof(got), 0), -1, "nothing reached the TAP");
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 1, "the chain is returned");
	/* A frame the detour does not claim goes to the TAP as before. */
	f[12] = 0x86, f[13] = 0xdd;
	detoured_len = 0;
	fake_drv_publish(&drv, TXQ, 0);
	virtio_mmio_kick(&net.transport, TXQ);
	cr_assert_eq(recv(peer, got, sizeof(got), 0), (ssize_t)(HDR + 14 + 20 + tcp_len));
	cr_assert_eq(detoured_len, 0);
}

Test(net_dev, injected_frames_reach_the_guest_ahead_of_the_taps_and_are_bounded)
{
	uint8_t tap_frame[HDR + 100], mine[60], big[VIRTIO_NET_INJECT_FRAME];
	struct virtio_net_hdr_v1 h;
	int accepted = 0;

	set_detour();
	fill(tap_frame, sizeof(tap_frame), 9);
	fill(mine, sizeof(mine), 4);
	cr_assert_eq(send(peer, tap_frame, sizeof(tap_frame), 0), (ssize_t)sizeof(tap_frame));
	cr_assert_eq(virtio_net_inject(&net, mine, sizeof(mine)), 0);
	rx_buffers(2, 1536);
	virtio_mmio_kick(&net.transport, RXQ);
	virtio_net_tap_readable(&net);
	cr_assert_eq(fake_drv_used_idx(&drv, RXQ), 2);
	cr_assert_eq(fake_drv_used(&drv, RXQ, 0).len, HDR + sizeof(mine));
	memcpy(&h, ram + BUF, sizeof(h));
	cr_assert_eq(h.flags, 0, "whole checksums: no offload flags");
	cr_assert_eq(h.num_buffers, 1);
	cr_assert_arr_eq(ram + BUF + HDR, mine, sizeof(mine));
	cr_assert_arr_eq(ram + BUF + 0x2000 + HDR, tap_frame + HDR, 100, "then the TAP's");
	/* Without buffers they wait, up to a bound. */
	while (virtio_net_inject(&net, mine, sizeof(mine)) == 0 && accepted < 1000)
		accepted++;
	cr_assert_eq(accepted, VIRTIO_NET_INJECT_MAX + 1, "the queue and the frame in hand");
	cr_assert_eq(virtio_net_inject(&net, big, sizeof(big)), -EMSGSIZE);
}
