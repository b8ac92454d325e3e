// SPDX-License-Identifier: Apache-2.0
/* virtio-blk request parsing: well-formed requests and each malformed one. */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>

#include "blk.h"

#define CAP 2048 /* sectors: 1 MiB disk */

static uint8_t ram[0x20000];
static struct guest_mem mem;
static struct virtq_chain c;
static struct blk_request req;
static struct ember_err err;
static uint8_t status;

static void setup(void)
{
	struct guest_region r = { .gpa = 0, .size = sizeof(ram), .host = ram };

	guest_mem_init_static(&mem, &r, 1);
	memset(&c, 0, sizeof(c));
	memset(&err, 0, sizeof(err));
}

TestSuite(blk, .init = setup);

static void buf(uint64_t gpa, uint32_t len, bool wr)
{
	c.bufs[c.nbufs++] = (struct virtq_buf){ gpa, len, wr };
	if (wr)
		c.writable += len;
	else
		c.readable += len;
}

static void header(uint64_t gpa, uint32_t type, uint64_t sector)
{
	memcpy(ram + gpa, &type, 4);
	memset(ram + gpa + 4, 0, 4);
	memcpy(ram + gpa + 8, &sector, 8);
}

static int parse(bool ro)
{
	return virtio_blk_parse(&mem, &c, CAP, ro, &req, &status, &err);
}

static void expect_status(uint8_t want, const char *needle)
{
	cr_assert_lt(parse(false), 0, "malformed request accepted");
	cr_assert(req.has_status);
	cr_assert_eq(status, want);
	cr_assert(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

Test(blk, read_request)
{
	header(0x100, VIRTIO_BLK_T_IN, 8);
	buf(0x100, 16, false);
	buf(0x1000, 4096, true);
	buf(0x3000, 1, true);
	cr_assert_eq(parse(false), 0, "%s", err.msg);
	cr_assert_eq(req.type, VIRTIO_BLK_T_IN);
	cr_assert_eq(req.sector, 8);
	cr_assert_eq(req.data_len, 4096);
	cr_assert_eq(req.nsegs, 1);
	cr_assert_eq(req.segs[0].gpa, 0x1000);
	cr_assert_eq(req.status_gpa, 0x3000);
}

Test(blk, write_with_header_and_data_in_one_buffer)
{
	header(0x100, VIRTIO_BLK_T_OUT, 0);
	buf(0x100, 16 + 1024, false);
	buf(0x3000, 1, true);
	cr_assert_eq(parse(false), 0, "%s", err.msg);
	cr_assert_eq(req.data_len, 1024);
	cr_assert_eq(req.segs[0].gpa, 0x110, "data starts after the header");
	cr_assert_eq(req.segs[0].len, 1024);
}

Test(blk, header_split_across_buffers)
{
	header(0x100, VIRTIO_BLK_T_OUT, 3);
	memmove(ram + 0x200, ram + 0x105, 11); /* bytes 5..15 elsewhere */
	buf(0x100, 5, false);
	buf(0x200, 11, false);
	buf(0x1000, 512, false);
	buf(0x3000, 1, true);
	cr_assert_eq(parse(false), 0, "%s", err.msg);
	cr_assert_eq(req.sector, 3);
	cr_assert_eq(req.data_len, 512);
}

Test(blk, status_shares_the_last_data_buffer)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 16, false);
	buf(0x1000, 513, true);
	cr_assert_eq(parse(false), 0, "%s", err.msg);
	cr_assert_eq(req.data_len, 512);
	cr_assert_eq(req.status_gpa, 0x1000 + 512);
}

Test(blk, flush_and_get_id)
{
	header(0x100, VIRTIO_BLK_T_FLUSH, 0);
	buf(0x100, 16, false);
	buf(0x3000, 1, true);
	cr_assert_eq(parse(false), 0);
	setup();
	header(0x100, VIRTIO_BLK_T_GET_ID, 0);
	buf(0x100, 16, false);
	buf(0x1000, 64, true);
	buf(0x3000, 1, true);
	cr_assert_eq(parse(false), 0, "%s", err.msg);
	cr_assert_eq(req.data_len, VIRTIO_BLK_ID_BYTES);
}

Test(blk, no_status_byte)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 16, false);
	cr_assert_lt(parse(false), 0);
	cr_assert_not(req.has_status);
}

Test(blk, short_header)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 8, false);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "header shorter");
}

Test(blk, write_to_read_only_drive)
{
	header(0x100, VIRTIO_BLK_T_OUT, 0);
	buf(0x100, 16 + 512, false);
	buf(0x3000, 1, true);
	cr_assert_lt(parse(true), 0);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert(strstr(err.msg, "read-only"));
}

Test(blk, read_beyond_the_end)
{
	header(0x100, VIRTIO_BLK_T_IN, CAP - 1);
	buf(0x100, 16, false);
	buf(0x1000, 1024, true);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "beyond the end");
}

Test(blk, sector_overflow)
{
	header(0x100, VIRTIO_BLK_T_IN, UINT64_MAX);
	buf(0x100, 16, false);
	buf(0x1000, 512, true);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "beyond the end");
}

Test(blk, unaligned_length)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 16, false);
	buf(0x1000, 100, true);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "multiple of 512");
}

Test(blk, zero_length_read)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 16, false);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "multiple of 512");
}

Test(blk, read_with_readable_data)
{
	header(0x100, VIRTIO_BLK_T_IN, 0);
	buf(0x100, 16 + 512, false);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "readable data");
}

Test(blk, write_with_writable_data)
{
	header(0x100, VIRTIO_BLK_T_OUT, 0);
	buf(0x100, 16 + 512, false);
	buf(0x1000, 512, true);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_IOERR, "writable data");
}

Test(blk, unknown_type_is_unsupported)
{
	header(0x100, 99, 0);
	buf(0x100, 16, false);
	buf(0x3000, 1, true);
	expect_status(VIRTIO_BLK_S_UNSUPP, "unsupported request type 99");
}
