// SPDX-License-Identifier: Apache-2.0
/* CRC-64/XZ, one table lookup per byte. */
#include <pthread.h>

#include "crc64.h"

#define CRC64_POLY 0xc96c5795d7870f42ULL /* ECMA-182, reflected */

static uint64_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC64_POLY : c >> 1;
		table[i] = c;
	}
}

uint64_t crc64_update(uint64_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&table_once, build_table);
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
