/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables for a hardware-reduced microVM (ACPI 6.5), built per VM:
 * RSDP, XSDT, FADT (no fixed buttons; sleep control and status registers
 * and a reset register on ember's PM ports), MADT (an IOAPIC and a local
 * APIC per vCPU) and a DSDT with each virtio-mmio device (LNRO0005), COM1,
 * the i8042 and _S5. A kernel finds every CPU and device from them, with
 * no MP table and no command-line devices, and powers off through them.
 */
#ifndef EMBER_ACPI_H
#define EMBER_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"

/* Where the tables go: after the EBDA's MP table, up to the BIOS area
 * where the RSDP sits (the guest's E820 map names the first ACPI data). */
#define ACPI_TABLES_GPA 0xa0000ULL
#define ACPI_TABLES_END 0xe0000ULL
#define ACPI_RSDP_GPA   0xe0000ULL
#define ACPI_RSDP_LEN   36

/* The PM ports: SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG. */
#define ACPI_PM_PORT          0x600
#define ACPI_PM_LEN           3
#define ACPI_PM_REG_SLEEP_CTL 0
#define ACPI_PM_REG_SLEEP_STS 1
#define ACPI_PM_REG_RESET     2
#define ACPI_RESET_VALUE      1
#define ACPI_S5_TYPE          5    /* _S5_'s SLP_TYP */
#define ACPI_SLP_EN           0x20 /* bit 5 of SLEEP_CONTROL_REG */

#define ACPI_MAX_MMIO_DEVICES 32

struct acpi_mmio_device {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

/* What the tables describe. */
struct acpi_machine {
	unsigned nr_vcpus;
	struct acpi_mmio_device virtio[ACPI_MAX_MMIO_DEVICES];
	unsigned nr_virtio;
};

/* The tables as they sit from ACPI_TABLES_GPA on (*len bytes of out, at
 * most ACPI_TABLES_END - ACPI_TABLES_GPA), and the RSDP pointing at them. */
int acpi_build(const struct acpi_machine *m, uint8_t *out, size_t *len, uint8_t rsdp[ACPI_RSDP_LEN],
	       struct ember_err *err);
/* Build and write them into guest memory. */
int acpi_write(const struct guest_mem *mem, const struct acpi_machine *m, struct ember_err *err);

/* The 8-bit checksum that makes bytes sum to zero. */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
