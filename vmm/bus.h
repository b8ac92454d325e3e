/* SPDX-License-Identifier: Apache-2.0 */
/* Devices as state structs plus ops tables, on a PIO or MMIO bus. */
#ifndef EMBER_BUS_H
#define EMBER_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

struct device_ops {
	const char *name;
	/* offset is relative to the range's base; len is 1..8 */
	void (*read)(void *dev, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *dev, uint64_t offset, const uint8_t *data, uint32_t len);
	void (*save)(void *dev, struct state_writer *w);
	int (*restore)(void *dev, struct state_reader *r, struct ember_err *err);
};

#define BUS_MAX_RANGES 32

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct device_ops *ops;
	void *dev;
};

/* Filled before the vCPUs start, read-only afterwards: lookups take no lock. */
struct bus {
	const char *name;
	struct bus_range ranges[BUS_MAX_RANGES];
	int nr;
};

void bus_init(struct bus *bus, const char *name);
int bus_add(struct bus *bus, uint64_t base, uint64_t len, const struct device_ops *ops, void *dev,
	    struct ember_err *err);
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len);
/* False when nothing claims the access; reads then return all ones. */
bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len);

#endif
