// SPDX-License-Identifier: Apache-2.0
/* The virtio-pmem device over fake guest memory: the file mapped shared
 * and padded to 2 MiB, config space, flush requests (fsync) and their
 * status, requests of another shape, the rate limiter, save and restore. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_driver.h"
#include "pmem.h"

#define MEM   0x40000
#define REQ   0x20000
#define RESP  0x20010
#define FSIZE 12345

static uint8_t *ram;
static struct fake_drv drv;
static struct virtio_pmem pm;
static char path[] = "/tmp/ember-pmem-XXXXXX";

static void open_pmem(bool read_only, uint64_t ops_size)
{
	struct token_bucket bw, ops;
	struct ember_err err;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, FSIZE), 0);
	cr_assert_eq(pwrite(fd, "pmem!", 5, 0), 5);
	close(fd);
	tb_init(&bw, 0, 0, 0, 0);
	tb_init(&ops, ops_size, 0, ops_size ? 100000 : 0, ratelimit_now_ns());
	ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fake_drv_init(&drv, ram, MEM, 16);
	cr_assert_eq(
	    virtio_pmem_open(&pm, path, read_only, &bw, &ops, &drv.mem, 0xd0000000, 5, &err), 0,
	    "%s", err.msg);
	virtio_pmem_place(&pm, 0x100000000ull);
	fake_drv_bring_up(&drv, &pm.transport, 1, 0);
}

static void teardown(void)
{
	virtio_pmem_close(&pm);
	munmap(ram, MEM);
	unlink(path);
}

TestSuite(pmem_dev, .fini = teardown);

static void put32(uint64_t at, uint32_t v)
{
	memcpy(ram + at, &v, 4);
}

static uint32_t get32(uint64_t at)
{
	uint32_t v;

	memcpy(&v, ram + at, 4);
	return v;
}

/* A request: type, then the status the device writes. */
static void flush(uint16_t d, uint32_t type)
{
	put32(REQ + 16u * d, type);
	put32(RESP + 16u * d, 0xdead);
	fake_drv_desc(&drv, 0, (uint16_t)(2 * d), REQ + 16u * d, 4, VRING_DESC_F_NEXT,
		      (uint16_t)(2 * d + 1));
	fake_drv_desc(&drv, 0, (uint16_t)(2 * d + 1), RESP + 16u * d, 4, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, (uint16_t)(2 * d));
	virtio_mmio_kick(&pm.transport, 0);
}

Test(pmem_dev, the_file_is_mapped_shared_padded_to_2_mib_and_shown_in_config_space)
{
	open_pmem(false, 0);
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_PMEM);
	cr_assert_eq(pm.map_len, 2u << 20);
	cr_assert_eq(memcmp(pm.map, "pmem!", 5), 0, "the file's bytes");
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG), 0, "start, low");
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG + 4), 1, "start, high: 4 GiB");
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG + 8), 2u << 20, "size");
	memcpy(pm.map, "guest", 5);
	cr_assert_eq(msync(pm.map, 4096, MS_SYNC), 0);
	{
		char buf[5];
		int fd = open(path, O_RDONLY);

		cr_assert_eq(pread(fd, buf, 5, 0), 5);
		close(fd);
		cr_assert_eq(memcmp(buf, "guest", 5), 0, "a guest write reaches the file");
	}
}

Test(pmem_dev, a_flush_answers_zero_and_an_unknown_type_fails)
{
	open_pmem(false, 0);
	flush(0, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(get32(RESP), 0);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 4);
	cr_assert_eq(pm.stats.flushes, 1);
	flush(1, 7);
	cr_assert_eq(get32(RESP + 16), 0xffffffffu, "-1: the driver reports EIO");
	cr_assert_eq(pm.stats.fails, 1);
}

Test(pmem_dev, a_request_of_another_shape_is_returned_empty)
{
	open_pmem(false, 0);
	put32(REQ, 0);
	fake_drv_desc(&drv, 0, 0, REQ, 8, 0, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&pm.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 0);
	cr_assert_eq(pm.stats.fails, 1);
}

Test(pmem_dev, the_rate_limiter_holds_flushes_back)
{
	open_pmem(false, 1);
	flush(0, 0);
	flush(1, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1, "one op in the bucket");
	cr_assert_eq(pm.stats.throttled, 1);
}

Test(pmem_dev, restore_checks_the_size_and_place)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	open_pmem(true, 0);
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&pm.transport, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&pm.transport, &r, &err), 0, "%s", err.msg);
	pm.gpa += 2u << 20;
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&pm.transport, &r, &err), 0);
	cr_assert(strstr(err.msg, "moved"), "%s", err.msg);
	pm.gpa -= 2u << 20;
	pm.map_len *= 2;
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&pm.transport, &r, &err), 0);
	cr_assert(strstr(err.msg, "size"), "%s", err.msg);
	pm.map_len /= 2;
	state_writer_free(&w);
}

Test(pmem_dev, an_empty_or_missing_file_is_refused)
{
	struct token_bucket none;
	struct virtio_pmem p;
	struct ember_err err;
	char empty[] = "/tmp/ember-pmem-empty-XXXXXX";
	int fd = mkstemp(empty);

	close(fd);
	tb_init(&none, 0, 0, 0, 0);
	ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fake_drv_init(&drv, ram, MEM, 16);
	cr_assert_lt(
	    virtio_pmem_open(&p, empty, false, &none, &none, &drv.mem, 0xd0000000, 5, &err), 0);
	cr_assert(strstr(err.msg, "not a regular file with data"), "%s", err.msg);
	cr_assert_lt(virtio_pmem_open(&p, "/nonexistent", false, &none, &none, &drv.mem, 0xd0000000,
				      5, &err),
		     0);
	unlink(empty);
	/* the suite's teardown closes `pm`: give it a device to close */
	open_pmem(false, 0);
}
