/* SPDX-License-Identifier: Apache-2.0 */
/* Firecracker's boot-timer device: the guest writes 123 at 0xC0000000. */
#ifndef EMBER_BOOTTIMER_H
#define EMBER_BOOTTIMER_H

#include <stdint.h>

#include "bus.h"

#define BOOTTIMER_MAGIC 123
#define BOOTTIMER_LEN   0x1000

struct boottimer {
	uint64_t start_wall_us; /* CLOCK_MONOTONIC at process start */
	uint64_t start_cpu_us;  /* process CPU time at process start */
	uint64_t boot_wall_us;  /* measured boot time, 0 until the guest signals */
	uint64_t boot_cpu_us;
};

extern const struct device_ops boottimer_ops;

void boottimer_init(struct boottimer *t, uint64_t start_wall_us, uint64_t start_cpu_us);
uint64_t boottimer_now_us(int clock);

#endif
