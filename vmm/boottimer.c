// SPDX-License-Identifier: Apache-2.0
/* Boot timer: logs the time from process start to the guest's signal. */
#include "boottimer.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "log.h"

uint64_t boottimer_now_us(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void boottimer_init(struct boottimer *t, uint64_t start_wall_us, uint64_t start_cpu_us)
{
	memset(t, 0, sizeof(*t));
	t->start_wall_us = start_wall_us;
	t->start_cpu_us = start_cpu_us;
}

static void boottimer_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct boottimer *t = dev;
	uint64_t wall, cpu;

	(void)len;
	if (off != 0 || data[0] != BOOTTIMER_MAGIC)
		return;
	wall = boottimer_now_us(CLOCK_MONOTONIC) - t->start_wall_us;
	cpu = boottimer_now_us(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_us;
	t->boot_wall_us = wall;
	t->boot_cpu_us = cpu;
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)wall, (unsigned long long)(wall / 1000),
		 (unsigned long long)cpu, (unsigned long long)(cpu / 1000));
}

static void boottimer_save(void *dev, struct state_writer *w)
{
	struct boottimer *t = dev;

	state_put_u64(w, t->boot_wall_us);
	state_put_u64(w, t->boot_cpu_us);
}

static int boottimer_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct boottimer *t = dev;

	t->boot_wall_us = state_get_u64(r);
	t->boot_cpu_us = state_get_u64(r);
	return r->failed ? err_set(err, EINVAL, "boot timer: truncated saved state") : 0;
}

const struct device_ops boottimer_ops = {
	.name = "boot-timer",
	.write = boottimer_write,
	.save = boottimer_save,
	.restore = boottimer_restore,
};
