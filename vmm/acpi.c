// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI tables (ACPI 6.5: 5.2.5 RSDP, 5.2.8 XSDT, 5.2.9 FADT, 5.2.12
 * MADT, 5.2.11.1 DSDT), packed from ACPI_TABLES_GPA in the order the
 * pointers need them: DSDT, FADT, MADT, XSDT; the RSDP last, at 0xE0000.
 */
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "layout.h"

#define HDR_LEN        36
#define FADT_LEN       276 /* revision 6 */
#define FADT_REV       6
#define FADT_MINOR     5
#define MADT_REV       6
#define MADT_LAPIC     0
#define MADT_IOAPIC    1
#define MADT_ISO       2
#define MADT_LAPIC_NMI 4
/* header, IOAPIC, a local APIC per vCPU, the override, the NMI */
#define MADT_LEN(n) (44 + 12 + 8 * (n) + 10 + 6)
#define DSDT_REV    2 /* 64-bit AML integers */
#define XSDT_REV    1
#define OEM_ID      "EMBER "
#define CREATOR_ID  "EMBR"
#define CREATOR_REV 1
#define TABLES_MAX  (ACPI_TABLES_END - ACPI_TABLES_GPA)
#define VIRTIO_HID  "LNRO0005"
#define SERIAL_PORT 0x3f8
#define SERIAL_IRQ  4
#define I8042_IRQ   1

/* FADT flags (5.2.9, table 5.10): no fixed power or sleep button, the
 * reset register, hardware-reduced ACPI. */
#define FADT_PWR_BUTTON    (1u << 4)
#define FADT_SLP_BUTTON    (1u << 5)
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED    (1u << 20)
/* IA-PC boot architecture flags: an 8042, no VGA, no CMOS RTC. */
#define BOOT_ARCH_8042   (1u << 1)
#define BOOT_ARCH_NO_VGA (1u << 2)
#define BOOT_ARCH_NO_RTC (1u << 5)

#define GAS_SYSTEM_IO 1
#define GAS_BYTE      1

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

/* The common header (5.2.6); the checksum is set by finish(). */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev, const char *table)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, table, 8);
	put32(t + 24, 1);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, CREATOR_REV);
}

static void finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = acpi_checksum(t, len);
}

/* A Generic Address Structure: one byte at an I/O port. */
static void gas_port(uint8_t *p, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8;
	p[2] = 0;
	p[3] = GAS_BYTE;
	put64(p + 4, port);
}

/* Name (_CRS, ResourceTemplate () { ... }) from descriptors in res. */
static void crs(struct aml *dev, struct aml *res)
{
	struct aml buf;

	aml_res_end(res);
	aml_init(&buf);
	aml_buffer(&buf, res);
	aml_name(dev, "_CRS", &buf);
	aml_free(&buf);
	aml_free(res);
}

static void name_int(struct aml *a, const char *name, uint64_t v, bool dword)
{
	struct aml x;

	aml_init(&x);
	if (dword)
		aml_dword(&x, (uint32_t)v);
	else
		aml_integer(&x, v);
	aml_name(a, name, &x);
	aml_free(&x);
}

static void name_str(struct aml *a, const char *name, const char *s, bool eisaid)
{
	struct aml x;

	aml_init(&x);
	if (eisaid)
		aml_eisaid(&x, s);
	else
		aml_string(&x, s);
	aml_name(a, name, &x);
	aml_free(&x);
}

/* Device (Vnnn): a virtio-mmio window and its edge-triggered GSI, as
 * Linux's virtio_mmio driver matches it (LNRO0005). */
static void virtio_device(struct aml *dsdt, unsigned i, const struct acpi_mmio_device *d)
{
	struct aml dev, res;
	char name[8];

	aml_init(&dev);
	aml_init(&res);
	snprintf(name, sizeof(name), "V%03u", i % 1000);
	name_str(&dev, "_HID", VIRTIO_HID, false);
	name_int(&dev, "_UID", i, true);
	name_int(&dev, "_CCA", 1, false);
	aml_res_memory32_fixed(&res, true, (uint32_t)d->base, d->size);
	aml_res_irq_edge(&res, d->gsi);
	crs(&dev, &res);
	aml_device(dsdt, name, &dev);
	aml_free(&dev);
}

static void serial_device(struct aml *dsdt)
{
	struct aml dev, res;

	aml_init(&dev);
	aml_init(&res);
	name_str(&dev, "_HID", "PNP0501", true);
	name_int(&dev, "_UID", 0, false);
	name_str(&dev, "_DDN", "COM1", false);
	aml_res_irq_edge(&res, SERIAL_IRQ);
	aml_res_io(&res, SERIAL_PORT, SERIAL_PORT, 1, 8);
	crs(&dev, &res);
	aml_device(dsdt, "_SB_.COM1", &dev);
	aml_free(&dev);
}

static void i8042_device(struct aml *dsdt)
{
	struct aml dev, res, ret, sta;

	aml_init(&dev);
	aml_init(&res);
	aml_init(&ret);
	aml_init(&sta);
	name_str(&dev, "_HID", "PNP0303", true);
	aml_integer(&ret, 0x0f); /* present, enabled, shown, working */
	aml_return(&sta, &ret);
	aml_method(&dev, "_STA", 0, &sta);
	aml_res_io(&res, 0x60, 0x60, 1, 1);
	aml_res_io(&res, 0x64, 0x64, 1, 1);
	aml_res_irq_edge(&res, I8042_IRQ);
	crs(&dev, &res);
	aml_device(dsdt, "_SB_.PS2_", &dev);
	aml_free(&dev);
	aml_free(&ret);
	aml_free(&sta);
}

/* _S5_: SLP_TYPa and SLP_TYPb, written to SLEEP_CONTROL_REG at power off. */
static void s5(struct aml *dsdt)
{
	struct aml pkg, elems;

	aml_init(&pkg);
	aml_init(&elems);
	aml_integer(&elems, ACPI_S5_TYPE);
	aml_integer(&elems, ACPI_S5_TYPE);
	aml_integer(&elems, 0);
	aml_integer(&elems, 0);
	aml_package(&pkg, 4, &elems);
	aml_name(dsdt, "_S5_", &pkg);
	aml_free(&pkg);
	aml_free(&elems);
}

/* The DSDT's AML, virtio devices first in attach order (the root drive
 * becomes /dev/vda), then the legacy devices and _S5. */
static int dsdt_aml(const struct acpi_machine *m, struct aml *a, struct ember_err *err)
{
	aml_init(a);
	for (unsigned i = 0; i < m->nr_virtio; i++)
		virtio_device(a, i, &m->virtio[i]);
	serial_device(a);
	i8042_device(a);
	s5(a);
	if (a->failed) {
		aml_free(a);
		return err_set(err, ENOMEM, "ACPI: cannot build the DSDT's AML");
	}
	return 0;
}

static uint32_t fadt(uint8_t *t, uint64_t dsdt)
{
	header(t, "FACP", FADT_LEN, FADT_REV, "EMBRFADT");
	put32(t + 40, (uint32_t)dsdt);
	put16(t + 109, BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_RTC);
	put32(t + 112, FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP | FADT_HW_REDUCED);
	gas_port(t + 116, ACPI_PM_PORT + ACPI_PM_REG_RESET);
	t[128] = ACPI_RESET_VALUE;
	t[131] = FADT_MINOR;
	put64(t + 140, dsdt);
	gas_port(t + 244, ACPI_PM_PORT + ACPI_PM_REG_SLEEP_CTL);
	gas_port(t + 256, ACPI_PM_PORT + ACPI_PM_REG_SLEEP_STS);
	memcpy(t + 268, "EMBERVMM", 8);
	finish(t, FADT_LEN);
	return FADT_LEN;
}

/* An IOAPIC (id 0, GSIs from 0), a local APIC per vCPU, enabled, with ACPI
 * processor UID and APIC ID both the vCPU's index; then what KVM's wiring
 * adds to the ISA defaults: the PIT's IRQ 0 arrives on IOAPIC pin 2 (KVM's
 * default routing, as QEMU describes it), and every local APIC's LINT1 is
 * the NMI, as in the MP table. The other ISA IRQs are identity-mapped, edge,
 * active high, which needs no entry. */
static uint32_t madt(uint8_t *t, unsigned nr_vcpus)
{
	uint32_t len = 44;

	put32(t + 36, (uint32_t)LAYOUT_LAPIC);
	put32(t + 40, 0); /* no PC-AT 8259s to disable: hardware-reduced */
	t[len] = MADT_IOAPIC;
	t[len + 1] = 12;
	put32(t + len + 4, (uint32_t)LAYOUT_IOAPIC);
	put32(t + len + 8, 0);
	len += 12;
	for (unsigned i = 0; i < nr_vcpus; i++, len += 8) {
		t[len] = MADT_LAPIC;
		t[len + 1] = 8;
		t[len + 2] = (uint8_t)i;
		t[len + 3] = (uint8_t)i;
		put32(t + len + 4, 1);
	}
	t[len] = MADT_ISO;
	t[len + 1] = 10;
	t[len + 2] = 0; /* ISA */
	t[len + 3] = 0; /* IRQ 0 */
	put32(t + len + 4, 2);
	put16(t + len + 8, 0); /* conforming: edge, active high */
	len += 10;
	t[len] = MADT_LAPIC_NMI;
	t[len + 1] = 6;
	t[len + 2] = 0xff; /* all processors */
	put16(t + len + 3, 0);
	t[len + 5] = 1; /* LINT1 */
	len += 6;
	header(t, "APIC", len, MADT_REV, "EMBRMADT");
	finish(t, len);
	return len;
}

static uint32_t xsdt(uint8_t *t, const uint64_t *entries, unsigned n)
{
	uint32_t len = HDR_LEN + 8 * n;

	for (unsigned i = 0; i < n; i++)
		put64(t + HDR_LEN + 8 * i, entries[i]);
	header(t, "XSDT", len, XSDT_REV, "EMBRXSDT");
	finish(t, len);
	return len;
}

static void rsdp(uint8_t r[ACPI_RSDP_LEN], uint64_t xsdt_gpa)
{
	memset(r, 0, ACPI_RSDP_LEN);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2; /* revision 2: the XSDT */
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, xsdt_gpa);
	r[8] = acpi_checksum(r, 20);
	r[32] = acpi_checksum(r, ACPI_RSDP_LEN);
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int acpi_build(const struct acpi_machine *m, uint8_t *out, size_t *len,
	       uint8_t rsdp_out[ACPI_RSDP_LEN], struct ember_err *err)
{
	uint64_t at[2]; /* FADT, MADT: what the XSDT lists */
	struct aml aml;
	size_t off, need;

	if (m->nr_vcpus == 0 || m->nr_vcpus > 254 || m->nr_virtio > ACPI_MAX_MMIO_DEVICES)
		return err_set(err, EINVAL, "ACPI: %u vCPUs, %u devices: out of range", m->nr_vcpus,
			       m->nr_virtio);
	if (dsdt_aml(m, &aml, err) < 0)
		return -err->code;
	need = align8(HDR_LEN + aml.len) + FADT_LEN + align8(MADT_LEN(m->nr_vcpus)) + 64;
	if (need > TABLES_MAX) {
		aml_free(&aml);
		return err_set(err, E2BIG, "ACPI: %zu bytes of tables do not fit", need);
	}
	memset(out, 0, need);
	header(out, "DSDT", (uint32_t)(HDR_LEN + aml.len), DSDT_REV, "EMBRDSDT");
	memcpy(out + HDR_LEN, aml.buf, aml.len);
	finish(out, (uint32_t)(HDR_LEN + aml.len));
	off = align8(HDR_LEN + aml.len);
	aml_free(&aml);
	at[0] = ACPI_TABLES_GPA + off;
	off = align8(off + fadt(out + off, ACPI_TABLES_GPA));
	at[1] = ACPI_TABLES_GPA + off;
	off = align8(off + madt(out + off, m->nr_vcpus));
	rsdp(rsdp_out, ACPI_TABLES_GPA + off);
	*len = off + xsdt(out + off, at, 2);
	return 0;
}

int acpi_write(const struct guest_mem *mem, const struct acpi_machine *m, struct ember_err *err)
{
	uint8_t *tables = malloc(TABLES_MAX), r[ACPI_RSDP_LEN];
	size_t len = 0;
	int ret;

	if (!tables)
		return err_set(err, ENOMEM, "out of memory for the ACPI tables");
	ret = acpi_build(m, tables, &len, r, err);
	if (!ret)
		ret = guest_mem_write(mem, ACPI_TABLES_GPA, tables, len, err);
	if (!ret)
		ret = guest_mem_write(mem, ACPI_RSDP_GPA, r, sizeof(r), err);
	free(tables);
	return ret < 0 ? err_prefix(err, "writing the ACPI tables") : 0;
}
