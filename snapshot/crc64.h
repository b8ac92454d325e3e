/* SPDX-License-Identifier: Apache-2.0 */
/* CRC-64/XZ (ECMA-182 polynomial, reflected): the snapshot state file's check. */
#ifndef EMBER_CRC64_H
#define EMBER_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue crc (0 to start) over buf. crc64("123456789") = 0x995dc9bbdf1939fa. */
uint64_t crc64_update(uint64_t crc, const void *buf, size_t len);

#endif
