// SPDX-License-Identifier: Apache-2.0
/* KVM's binary statistics: the descriptor table read by name, bad tables
 * refused piece by piece, and the counters read back from a file laid out
 * as KVM lays out its stats fd. */
#include <criterion/criterion.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_stats.h"

#define NAME_SIZE 48
#define DESC_SIZE (sizeof(struct kvm_stats_desc) + NAME_SIZE)

/* A descriptor named `name` for `size` u64s at data offset `offset`. */
static void put_desc(uint8_t *at, const char *name, uint16_t size, uint32_t offset)
{
	struct kvm_stats_desc d = { .flags = KVM_STATS_TYPE_CUMULATIVE,
				    .size = size,
				    .offset = offset };

	memset(at, 0, DESC_SIZE);
	memcpy(at, &d, sizeof(d));
	memcpy(at + sizeof(d), name, strlen(name));
}

Test(kvm_stats, finds_counters_by_name_whatever_their_order)
{
	uint8_t t[4 * DESC_SIZE];
	struct kvm_stats s;

	put_desc(t, "halt_poll_fail_hist", 32, 0);
	put_desc(t + DESC_SIZE, "pf_taken", 1, 256);
	put_desc(t + 2 * DESC_SIZE, "exits", 1, 264);
	put_desc(t + 3 * DESC_SIZE, "exits_extra", 1, 272); /* a longer name is not "exits" */
	kvm_stats_index(&s, t, sizeof(t), 4, DESC_SIZE, 1000);
	cr_assert_eq(s.where[KVM_STAT_PF_TAKEN], 1256);
	cr_assert_eq(s.where[KVM_STAT_EXITS], 1264);
	cr_assert_eq(s.where[KVM_STAT_IO_EXITS], -1, "absent: -1");
	cr_assert_eq(s.where[KVM_STAT_HALT_EXITS], -1);
}

Test(kvm_stats, refuses_what_is_not_a_single_counter_or_outside_the_table)
{
	uint8_t t[3 * DESC_SIZE];
	struct kvm_stats s;

	put_desc(t, "exits", 4, 0);                     /* a histogram, not a counter */
	put_desc(t + DESC_SIZE, "pf_fixed", 1, 8);      /* fine */
	put_desc(t + 2 * DESC_SIZE, "io_exits", 1, 16); /* beyond the length given */
	kvm_stats_index(&s, t, 2 * DESC_SIZE, 3, DESC_SIZE, 0);
	cr_assert_eq(s.where[KVM_STAT_EXITS], -1);
	cr_assert_eq(s.where[KVM_STAT_PF_FIXED], 8);
	cr_assert_eq(s.where[KVM_STAT_IO_EXITS], -1);
	/* a descriptor too small to hold a name: nothing is read */
	kvm_stats_index(&s, t, sizeof(t), 3, sizeof(struct kvm_stats_desc), 0);
	cr_assert_eq(s.where[KVM_STAT_PF_FIXED], -1);
}

Test(kvm_stats, a_name_filling_its_field_without_a_nul_is_compared_within_it)
{
	uint8_t t[DESC_SIZE + 8];
	struct kvm_stats s;
	char longname[NAME_SIZE];

	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "exits", 5);
	put_desc(t, "", 1, 0);
	memcpy(t + sizeof(struct kvm_stats_desc), longname, NAME_SIZE);
	memset(t + DESC_SIZE, 0xff, 8);
	kvm_stats_index(&s, t, DESC_SIZE, 1, DESC_SIZE, 0);
	cr_assert_eq(s.where[KVM_STAT_EXITS], -1);
}

Test(kvm_stats, reads_the_counters_from_their_offsets)
{
	char path[] = "/tmp/ember-kvm-stats-XXXXXX";
	int fd = mkstemp(path);
	uint64_t data[4] = { 7, 42, 0, 99 }, out[KVM_STAT_NR];
	struct kvm_stats s;
	uint8_t t[2 * DESC_SIZE];

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(pwrite(fd, data, sizeof(data), 64), (ssize_t)sizeof(data));
	put_desc(t, "exits", 1, 8);
	put_desc(t + DESC_SIZE, "halt_exits", 1, 24);
	kvm_stats_index(&s, t, sizeof(t), 2, DESC_SIZE, 64);
	s.fd = fd;
	kvm_stats_read(&s, out);
	cr_assert_eq(out[KVM_STAT_EXITS], 42);
	cr_assert_eq(out[KVM_STAT_HALT_EXITS], 99);
	cr_assert_eq(out[KVM_STAT_PF_TAKEN], 0, "absent counters read as 0");
	kvm_stats_close(&s);
	cr_assert_eq(s.fd, -1);
}
