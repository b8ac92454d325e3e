/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hardware-reduced ACPI power-management ports the FADT names (ACPI
 * 6.5, 4.8.3.7 and 4.8.3.6): SLEEP_CONTROL_REG, SLEEP_STATUS_REG and
 * RESET_REG, one byte each from ACPI_PM_PORT. Entering S5 powers the VM
 * off; the reset value reboots it; ember stops with status 0 either way,
 * as for the i8042 reset.
 */
#ifndef EMBER_ACPI_PM_H
#define EMBER_ACPI_PM_H

#include "bus.h"

enum acpi_pm_event { ACPI_PM_EVENT_POWER_OFF, ACPI_PM_EVENT_RESET };

struct acpi_pm {
	void (*event)(void *ctx, enum acpi_pm_event e);
	void *ctx;
};

extern const struct device_ops acpi_pm_ops;

void acpi_pm_init(struct acpi_pm *pm, void (*event)(void *ctx, enum acpi_pm_event e), void *ctx);

#endif
