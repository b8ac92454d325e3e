// SPDX-License-Identifier: Apache-2.0
/* MP table: signatures, checksums, one processor entry per vCPU. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "layout.h"
#include "mptable.h"

static uint8_t ram[0x100000];

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void check(unsigned cpus)
{
	struct guest_region r = { .gpa = 0, .size = sizeof(ram), .host = ram };
	struct ember_err err = { 0 };
	struct guest_mem mem;
	const uint8_t *mpf = ram + LAYOUT_EBDA, *tbl, *e;
	uint32_t physptr;
	uint16_t len;
	unsigned n = 0, bsp = 0;

	guest_mem_init_static(&mem, &r, 1);
	memset(ram, 0, sizeof(ram));
	cr_assert_eq(mptable_write(&mem, cpus, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(mpf, "_MP_", 4), 0);
	cr_assert_eq(sum(mpf, 16), 0, "floating pointer checksum");
	memcpy(&physptr, mpf + 4, 4);
	tbl = ram + physptr;
	cr_assert_eq(memcmp(tbl, "PCMP", 4), 0);
	memcpy(&len, tbl + 4, 2);
	cr_assert_eq(sum(tbl, len), 0, "table checksum");
	cr_assert_leq(physptr + len, 0xa0000, "inside the EBDA");
	for (e = tbl + 44; e < tbl + len;) {
		if (e[0] == 0) {
			n++;
			cr_assert_eq(e[1], n - 1, "APIC ids in order");
			bsp += (e[3] & 2) != 0;
			e += 20;
		} else {
			e += 8;
		}
	}
	cr_assert_eq(e, tbl + len, "entries end exactly at the table length");
	cr_assert_eq(n, cpus);
	cr_assert_eq(bsp, 1, "exactly one BSP");
}

Test(mptable, one_cpu)
{
	check(1);
}

Test(mptable, thirty_two_cpus)
{
	check(32);
}

Test(mptable, rejects_bad_counts)
{
	struct guest_region r = { .gpa = 0, .size = sizeof(ram), .host = ram };
	struct ember_err err = { 0 };
	struct guest_mem mem;

	guest_mem_init_static(&mem, &r, 1);
	cr_assert_lt(mptable_write(&mem, 0, &err), 0);
	cr_assert_lt(mptable_write(&mem, 33, &err), 0);
}
