// SPDX-License-Identifier: Apache-2.0
/* Address dispatch for port I/O and MMIO exits. */
#include "bus.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_add(struct bus *bus, uint64_t base, uint64_t len, const struct device_ops *ops, void *dev,
	    struct ember_err *err)
{
	if (len == 0 || base + len < base)
		return err_set(err, EINVAL, "%s: bad range for %s", bus->name, ops->name);
	if (bus->nr == BUS_MAX_RANGES)
		return err_set(err, ENOSPC, "%s: no room for %s", bus->name, ops->name);
	for (int i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len)
			return err_set(err, EEXIST, "%s: %s at 0x%" PRIx64 " overlaps %s",
				       bus->name, ops->name, base, r->ops->name);
	}
	bus->ranges[bus->nr++] = (struct bus_range){ base, len, ops, dev };
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t len)
{
	for (int i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base))
			return r;
	}
	return NULL;
}

bool bus_read(const struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->dev, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r = bus_find(bus, addr, len);

	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->dev, addr - r->base, data, len);
	return true;
}
