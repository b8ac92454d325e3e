// SPDX-License-Identifier: Apache-2.0
/* The virtio-rng device over fake guest memory: buffers filled, bad chains
 * returned empty, the rate limiter, and a swapped backing drive's capacity. */
#include <criterion/criterion.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <string.h>

#include "fake_driver.h"
#include "rng.h"

#define MEM   0x40000
#define QSIZE 16
#define DATA  0x20000

static uint8_t ram[MEM];
static struct fake_drv drv;
static struct virtio_rng rng;

static void open_rng(uint64_t bytes_size)
{
	struct token_bucket bw = { 0 }, ops = { 0 };
	struct ember_err err;

	fake_drv_init(&drv, ram, sizeof(ram), QSIZE);
	tb_init(&bw, bytes_size, 0, bytes_size ? 1000 : 0, ratelimit_now_ns());
	cr_assert_eq(virtio_rng_open(&rng, &bw, &ops, &drv.mem, 0xc0001000, 5, &err), 0, "%s",
		     err.msg);
	fake_drv_bring_up(&drv, &rng.transport, 1, 0);
}

static void teardown(void)
{
	virtio_rng_close(&rng);
}

TestSuite(rng_dev, .fini = teardown);

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

Test(rng_dev, is_an_entropy_device_with_one_queue)
{
	open_rng(0);
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	fake_drv_wr32(&drv, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "no second queue");
}

Test(rng_dev, fills_every_writable_buffer_of_a_chain)
{
	open_rng(0);
	fake_drv_desc(&drv, 0, 0, DATA, 100, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	fake_drv_desc(&drv, 0, 1, DATA + 0x1000, 28, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 128);
	cr_assert_not(all_zero(ram + DATA, 100), "random bytes in the first buffer");
	cr_assert_not(all_zero(ram + DATA + 0x1000, 28), "and in the second");
	cr_assert(all_zero(ram + DATA + 100, 0x1000 - 100), "nothing beyond the buffer");
	cr_assert_eq(rng.stats.bytes, 128);
	cr_assert_eq(rng.stats.requests, 1);
}

Test(rng_dev, a_request_gets_at_most_64_kib)
{
	open_rng(0);
	fake_drv_desc(&drv, 0, 0, DATA, 0x18000, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, VIRTIO_RNG_REQ_MAX);
	cr_assert(all_zero(ram + DATA + VIRTIO_RNG_REQ_MAX, 0x18000 - VIRTIO_RNG_REQ_MAX));
}

Test(rng_dev, a_device_readable_buffer_is_returned_untouched)
{
	open_rng(0);
	memset(ram + DATA, 0, 64);
	fake_drv_desc(&drv, 0, 0, DATA, 64, 0, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1, "returned, not stuck");
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 0);
	cr_assert(all_zero(ram + DATA, 64), "a buffer the guest gave to be read is not written");
	cr_assert_eq(rng.stats.invalid, 1);
}

Test(rng_dev, a_buffer_outside_guest_memory_is_refused)
{
	open_rng(0);
	fake_drv_desc(&drv, 0, 0, MEM - 16, 64, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 0);
	cr_assert_eq(rng.stats.bytes, 0);
}

Test(rng_dev, the_rate_limiter_holds_requests_until_its_timer)
{
	open_rng(256); /* 256 bytes per second */
	for (uint16_t i = 0; i < 3; i++) {
		fake_drv_desc(&drv, 0, i, DATA + i * 0x1000u, 200, VRING_DESC_F_WRITE, 0);
		fake_drv_publish(&drv, 0, i);
	}
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1, "one 200-byte request fits in 256");
	cr_assert(rng.rl.blocked);
	cr_assert_eq(rng.stats.throttled, 1);
	virtio_mmio_kick(&rng.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1, "a kick does not bypass the limiter");
}
