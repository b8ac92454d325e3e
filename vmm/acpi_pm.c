// SPDX-License-Identifier: Apache-2.0
/* ACPI power-off and reset for a hardware-reduced guest (acpi_pm.h). */
#include "acpi_pm.h"

#include <string.h>

#include "acpi.h"

void acpi_pm_init(struct acpi_pm *pm, void (*event)(void *ctx, enum acpi_pm_event e), void *ctx)
{
	pm->event = event;
	pm->ctx = ctx;
}

/* SLEEP_STATUS_REG reads 0 (WAK_STS clear): the guest that polls it after
 * asking for S5 is being stopped. The other ports read 0 too. */
static void pm_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len);
}

/* Linux writes SLP_TYP << 2 | SLP_EN (0x34 for _S5_'s 5) to SLEEP_CONTROL
 * and RESET_VALUE to RESET_REG. Other values (the WAK_STS clearing write to
 * SLEEP_STATUS, other sleep states) change nothing. */
static void pm_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = dev;

	if (len != 1)
		return;
	if (off == ACPI_PM_REG_SLEEP_CTL && (data[0] & ACPI_SLP_EN) &&
	    ((data[0] >> 2) & 7) == ACPI_S5_TYPE)
		pm->event(pm->ctx, ACPI_PM_EVENT_POWER_OFF);
	else if (off == ACPI_PM_REG_RESET && data[0] == ACPI_RESET_VALUE)
		pm->event(pm->ctx, ACPI_PM_EVENT_RESET);
}

/* No state: a snapshot holds nothing for these ports, and the hooks keep
 * the device list's save and restore order. */
static void pm_save(void *dev, struct state_writer *w)
{
	(void)dev;
	(void)w;
}

static int pm_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	(void)dev;
	(void)r;
	(void)err;
	return 0;
}

const struct device_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.read = pm_read,
	.write = pm_write,
	.save = pm_save,
	.restore = pm_restore,
};
