// SPDX-License-Identifier: Apache-2.0
/* The guest-memory accessor's bounds checks. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "guest_mem.h"
#include "layout.h"

static uint8_t low[0x10000], high[0x1000];

static void two_regions(struct guest_mem *m)
{
	struct guest_region r[2] = {
		{ .gpa = 0, .size = sizeof(low), .host = low },
		{ .gpa = LAYOUT_MMIO_END, .size = sizeof(high), .host = high },
	};

	guest_mem_init_static(m, r, 2);
}

Test(guest_mem, in_range_and_exact_end)
{
	struct guest_mem m;

	two_regions(&m);
	cr_assert_eq(guest_mem_ptr(&m, 0, 1), low);
	cr_assert_eq(guest_mem_ptr(&m, 0x100, 0x10), low + 0x100);
	cr_assert_eq(guest_mem_ptr(&m, 0, sizeof(low)), low);
	cr_assert_eq(guest_mem_ptr(&m, sizeof(low) - 1, 1), low + sizeof(low) - 1);
	cr_assert_eq(guest_mem_ptr(&m, LAYOUT_MMIO_END + 8, 8), high + 8);
}

Test(guest_mem, rejects_past_end_and_zero_length)
{
	struct guest_mem m;

	two_regions(&m);
	cr_assert_null(guest_mem_ptr(&m, sizeof(low), 1));
	cr_assert_null(guest_mem_ptr(&m, sizeof(low) - 1, 2));
	cr_assert_null(guest_mem_ptr(&m, 0, sizeof(low) + 1));
	cr_assert_null(guest_mem_ptr(&m, 0x10, 0));
	cr_assert_null(guest_mem_ptr(&m, LAYOUT_MMIO_END + sizeof(high), 1));
}

Test(guest_mem, rejects_wrapping_ranges)
{
	struct guest_mem m;

	two_regions(&m);
	cr_assert_null(guest_mem_ptr(&m, UINT64_MAX - 1, 4));
	cr_assert_null(guest_mem_ptr(&m, UINT64_MAX, UINT64_MAX));
	cr_assert_null(guest_mem_ptr(&m, 0x100, UINT64_MAX));
	cr_assert_null(guest_mem_ptr(&m, LAYOUT_MMIO_END + 1, UINT64_MAX - LAYOUT_MMIO_END));
}

Test(guest_mem, rejects_the_mmio_hole_and_spanning_regions)
{
	struct guest_mem m;

	two_regions(&m);
	cr_assert_null(guest_mem_ptr(&m, LAYOUT_MMIO_START, 4));
	cr_assert_null(guest_mem_ptr(&m, sizeof(low) - 4, LAYOUT_MMIO_END));
}

Test(guest_mem, read_write_helpers)
{
	struct ember_err err = { 0 };
	struct guest_mem m;
	uint32_t v = 0xdeadbeef, back = 0;

	two_regions(&m);
	cr_assert_eq(guest_mem_write(&m, 0x200, &v, sizeof(v), &err), 0);
	cr_assert_eq(guest_mem_read(&m, 0x200, &back, sizeof(back), &err), 0);
	cr_assert_eq(back, v);
	cr_assert_lt(guest_mem_write(&m, sizeof(low) - 2, &v, sizeof(v), &err), 0);
	cr_assert(strstr(err.msg, "not in guest memory"));
}

Test(guest_mem, anonymous_layout_splits_at_the_mmio_hole)
{
	struct ember_err err = { 0 };
	struct guest_mem m;

	cr_assert_eq(guest_mem_init(&m, 4ULL << 30, GUEST_MEM_4K, &err), 0, "%s", err.msg);
	cr_assert_eq(m.nr_regions, 2);
	cr_assert_eq(m.regions[0].size, LAYOUT_MMIO_START);
	cr_assert_eq(m.regions[1].gpa, LAYOUT_MMIO_END);
	cr_assert_eq(m.regions[1].size, (4ULL << 30) - LAYOUT_MMIO_START);
	cr_assert_eq(guest_mem_low_end(&m), LAYOUT_MMIO_START);
	guest_mem_free(&m);
	cr_assert_lt(guest_mem_init(&m, 0, GUEST_MEM_4K, &err), 0);
	cr_assert_lt(guest_mem_init(&m, 4097, GUEST_MEM_4K, &err), 0);
}
