// SPDX-License-Identifier: Apache-2.0
/* The virtio-net device over fake guest memory, with a SOCK_SEQPACKET
 * socket standing in for the TAP (it keeps frame boundaries as a TAP does). */
#include <criterion/criterion.h>
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
