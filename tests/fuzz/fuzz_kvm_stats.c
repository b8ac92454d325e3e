// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the descriptor table of KVM's binary statistics
 * (kvm_stats_index). The first bytes choose the count, the descriptor size
 * and the data offset the header would give; the rest is the table. Every
 * counter found must lie past the data offset, and nothing may be read
 * outside the table (AddressSanitizer).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm_stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvm_stats s;
	uint32_t n, desc_size;
	uint64_t data_offset;
	uint8_t *table;

	if (size < 10)
		return 0;
	n = (uint32_t)data[0] | (uint32_t)data[1] << 8;
	desc_size = (uint32_t)data[2] | (uint32_t)data[3] << 8;
	memcpy(&data_offset, data + 2, 8);
	data_offset >>= 16;
	/* an exact-size copy, so that a read past the table is caught */
	table = malloc(size - 10 ? size - 10 : 1);
	if (!table)
		return 0;
	memcpy(table, data + 10, size - 10);
	kvm_stats_index(&s, table, size - 10, n, desc_size, data_offset);
	for (int i = 0; i < KVM_STAT_NR; i++)
		assert(s.where[i] == -1 || (uint64_t)s.where[i] >= data_offset);
	free(table);
	return 0;
}
