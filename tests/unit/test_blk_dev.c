// SPDX-License-Identifier: Apache-2.0
/* The virtio-blk device end to end over fake guest memory and a temp file. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk.h"
#include "fake_driver.h"

#define MEM     0x20000
#define QSIZE   16
#define HDR     0x4000 /* request headers, 16 bytes apart */
#define STATUS  0x5000 /* status bytes, 1 apart */
#define DATA    0x8000
#define SECTORS 128

static uint8_t ram[MEM];
static struct fake_drv drv;
static struct virtio_blk blk;
static char path[64];

static uint32_t rd32(uint64_t off)
{
	return fake_drv_rd32(&drv, off);
}

static void open_blk(bool read_only, uint64_t ops_size)
{
	struct virtio_blk_params p = { .drive_id = "test", .path = path, .read_only = read_only };
	struct ember_err err;
	uint8_t buf[SECTORS * 512];
	int fd;

	fake_drv_init(&drv, ram, sizeof(ram), QSIZE);
	snprintf(path, sizeof(path), "/tmp/ember-blk-test.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + i / 512);
	cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	tb_init(&p.ops, ops_size, 0, ops_size ? 1000 : 0, ratelimit_now_ns());
	cr_assert_eq(virtio_blk_open(&blk, &p, &drv.mem, 0xc0001000, 5, &err), 0, "%s", err.msg);
	fake_drv_bring_up(&drv, &blk.transport, 1, 0);
}

static void setup(void)
{
	open_blk(false, 0);
}

static void teardown(void)
{
	virtio_blk_close(&blk);
	unlink(path);
}

TestSuite(blk_dev, .init = setup, .fini = teardown);

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	fake_drv_desc(&drv, 0, i, addr, len, flags, next);
}

static void publish(uint16_t head)
{
	fake_drv_publish(&drv, 0, head);
}

/* A three-descriptor request at descriptors 3n..3n+2: header, data, status. */
static uint16_t request(int n, uint32_t type, uint64_t sector, uint64_t data, uint32_t len)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint16_t d = (uint16_t)(3 * n);
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	memcpy(ram + HDR + 16 * n, &h, sizeof(h));
	ram[STATUS + n] = 0xee;
	desc(d, HDR + 16 * n, sizeof(h), VRING_DESC_F_NEXT, d + 1);
	desc(d + 1, data, len, VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0), d + 2);
	desc(d + 2, STATUS + n, 1, VRING_DESC_F_WRITE, 0);
	publish(d);
	return d;
}

static void kick(void)
{
	virtio_mmio_kick(&blk.transport, 0);
}

static uint16_t used_idx(void)
{
	return fake_drv_used_idx(&drv, 0);
}

static struct vring_used_elem used(int i)
{
	return fake_drv_used(&drv, 0, (uint16_t)i);
}

static void file_read(void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

Test(blk_dev, config_space_has_capacity_and_seg_max)
{
	cr_assert_eq(rd32(VIRTIO_MMIO_DEVICE_ID), 2);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG), SECTORS);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG + 4), 0);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG + 12), VIRTQ_MAX_CHAIN - 2);
	cr_assert(virtio_mmio_offered(&blk.transport) & (1ULL << VIRTIO_BLK_F_SEG_MAX));
	cr_assert_not(virtio_mmio_offered(&blk.transport) & (1ULL << VIRTIO_BLK_F_RO));
}

Test(blk_dev, read_returns_the_file_contents)
{
	uint8_t want[1024];

	request(0, VIRTIO_BLK_T_IN, 5, DATA, 1024);
	kick();
	file_read(want, sizeof(want), 5 * 512);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used(0).id, 0);
	cr_assert_eq(used(0).len, 1025);
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(ram + DATA, want, sizeof(want));
	cr_assert(rd32(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
}

Test(blk_dev, write_reaches_the_file)
{
	uint8_t got[512];

	memset(ram + DATA, 0x5a, 512);
	request(0, VIRTIO_BLK_T_OUT, SECTORS - 1, DATA, 512);
	kick();
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
	cr_assert_eq(used(0).len, 1);
	file_read(got, sizeof(got), (SECTORS - 1) * 512);
	cr_assert_arr_eq(got, ram + DATA, 512);
}

Test(blk_dev, requests_beyond_the_end_fail)
{
	uint8_t before[512], after[512];

	file_read(before, 512, (SECTORS - 1) * 512);
	memset(ram + DATA, 0x5a, 1024);
	request(0, VIRTIO_BLK_T_OUT, SECTORS - 1, DATA, 1024);
	request(1, VIRTIO_BLK_T_IN, SECTORS, DATA, 512);
	request(2, VIRTIO_BLK_T_IN, UINT64_MAX, DATA, 512);
	kick();
	cr_assert_eq(used_idx(), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(ram[STATUS + i], VIRTIO_BLK_S_IOERR, "request %d", i);
	file_read(after, 512, (SECTORS - 1) * 512);
	cr_assert_arr_eq(before, after, 512);
}

Test(blk_dev, read_only_drive_refuses_writes)
{
	uint8_t before[512], after[512];

	teardown();
	open_blk(true, 0);
	cr_assert(virtio_mmio_offered(&blk.transport) & (1ULL << VIRTIO_BLK_F_RO));
	file_read(before, 512, 0);
	memset(ram + DATA, 0x5a, 512);
	request(0, VIRTIO_BLK_T_OUT, 0, DATA, 512);
	kick();
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_IOERR);
	file_read(after, 512, 0);
	cr_assert_arr_eq(before, after, 512);
}

Test(blk_dev, get_id_flush_and_unsupported)
{
	struct virtio_blk_outhdr flush = { .type = VIRTIO_BLK_T_FLUSH };

	request(0, VIRTIO_BLK_T_GET_ID, 0, DATA, VIRTIO_BLK_ID_BYTES);
	/* FLUSH as Linux sends it: header and status, no data */
	memcpy(ram + HDR + 16, &flush, sizeof(flush));
	desc(3, HDR + 16, sizeof(flush), VRING_DESC_F_NEXT, 4);
	desc(4, STATUS + 1, 1, VRING_DESC_F_WRITE, 0);
	publish(3);
	request(2, 99, 0, DATA + 1024, 512);
	kick();
	cr_assert_eq(used_idx(), 3);
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
	cr_assert_eq(used(0).len, VIRTIO_BLK_ID_BYTES + 1);
	cr_assert_arr_eq(ram + DATA, blk.id, VIRTIO_BLK_ID_BYTES);
	cr_assert_neq(ram[DATA], 0);
	cr_assert_eq(ram[STATUS + 1], VIRTIO_BLK_S_OK);
	cr_assert_eq(used(1).len, 1);
	cr_assert_eq(blk.stats.flushes, 1);
	cr_assert_eq(ram[STATUS + 2], VIRTIO_BLK_S_UNSUPP);
}

Test(blk_dev, request_without_status_byte_is_returned_empty)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };

	memcpy(ram + HDR, &h, sizeof(h));
	desc(0, HDR, sizeof(h), 0, 0);
	publish(0);
	request(1, VIRTIO_BLK_T_IN, 0, DATA, 512);
	kick();
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(used(0).id, 0);
	cr_assert_eq(used(0).len, 0);
	cr_assert_eq(ram[STATUS + 1], VIRTIO_BLK_S_OK, "the next request is still served");
}

Test(blk_dev, a_looping_chain_ends_that_request_only)
{
	desc(0, HDR, 16, VRING_DESC_F_NEXT, 1);
	desc(1, STATUS + 8, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	ram[STATUS + 8] = 0xee;
	publish(0);
	request(1, VIRTIO_BLK_T_IN, 0, DATA, 512);
	kick();
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(used(0).len, 1);
	cr_assert_eq(ram[STATUS + 8], VIRTIO_BLK_S_IOERR, "the looping request fails visibly");
	cr_assert_eq(ram[STATUS + 1], VIRTIO_BLK_S_OK);
	cr_assert_not(rd32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

Test(blk_dev, a_zero_length_buffer_fails_the_request)
{
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };

	memcpy(ram + HDR, &h, sizeof(h));
	ram[STATUS] = 0xee;
	desc(0, HDR, sizeof(h), VRING_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(2, DATA, 0, VRING_DESC_F_WRITE, 0);
	publish(0);
	kick();
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_IOERR);
}

Test(blk_dev, data_outside_guest_memory_fails_the_request)
{
	request(0, VIRTIO_BLK_T_IN, 0, MEM - 256, 512);
	kick();
	cr_assert_eq(used_idx(), 1);
	cr_assert_neq(ram[STATUS], VIRTIO_BLK_S_OK);
	cr_assert_lt(used(0).len, 2);
}

Test(blk_dev, a_corrupt_ring_needs_reset)
{
	uint16_t bogus = drv.avail_idx[0] + QSIZE + 1;

	memcpy(ram + FAKE_DRV_AVAIL(0) + 2, &bogus, 2);
	kick();
	cr_assert_eq(used_idx(), 0);
	cr_assert(rd32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(rd32(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* after a reset the device works again */
	fake_drv_wr32(&drv, VIRTIO_MMIO_STATUS, 0);
	memset(ram + FAKE_DRV_AVAIL(0), 0, 0x100);
	memset(ram + FAKE_DRV_USED(0), 0, 0x100);
	drv.avail_idx[0] = 0;
	fake_drv_bring_up(&drv, &blk.transport, 1, 0);
	request(0, VIRTIO_BLK_T_IN, 0, DATA, 512);
	kick();
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
}

Test(blk_dev, the_ops_limit_stalls_the_queue)
{
	teardown();
	open_blk(false, 1); /* one op per second */
	request(0, VIRTIO_BLK_T_IN, 0, DATA, 512);
	request(1, VIRTIO_BLK_T_IN, 1, DATA + 512, 512);
	kick();
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(ram[STATUS + 1], 0xee, "the second request waits");
	cr_assert(blk.rl.blocked);
	cr_assert_eq(blk.transport.queues[0].last_avail, 1, "and stays on the ring");
	cr_assert_eq(blk.stats.throttled, 1);
	kick();
	cr_assert_eq(used_idx(), 1, "a kick does not bypass the limiter");
}

Test(blk_dev, save_and_restore_checks_the_drive)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	request(0, VIRTIO_BLK_T_IN, 0, DATA, 512);
	kick();
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&blk.transport, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&blk.transport, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(blk.transport.queues[0].used_idx, 1);
	request(1, VIRTIO_BLK_T_IN, 1, DATA, 512);
	kick();
	cr_assert_eq(used_idx(), 2);

	blk.capacity--; /* as if the file changed size */
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&blk.transport, &r, &err), 0);
	cr_assert(strstr(err.msg, "drive test changed"), "%s", err.msg);
	state_writer_free(&w);
}

Test(blk_dev, a_swapped_file_shows_its_capacity_after_a_config_interrupt)
{
	char other[] = "/tmp/ember-blk-swap.XXXXXX";
	struct ember_err err;
	uint32_t gen = rd32(VIRTIO_MMIO_CONFIG_GENERATION);
	int fd = mkstemp(other);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG), SECTORS);
	cr_assert_lt(virtio_blk_swap(&blk, "/nonexistent/disk.img", &err), 0);
	cr_assert(strstr(err.msg, "/nonexistent/disk.img"), "%s", err.msg);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG), SECTORS, "a failed swap keeps the old file");
	cr_assert_eq(virtio_blk_swap(&blk, other, &err), 0, "%s", err.msg);
	unlink(other);
	cr_assert_eq(rd32(VIRTIO_MMIO_CONFIG), 2048, "1 MiB: 2048 sectors");
	cr_assert_neq(rd32(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert(rd32(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}
