// SPDX-License-Identifier: Apache-2.0
/* MP table in the EBDA: how the guest finds its APs without ACPI (MP spec 1.4). */
#include "mptable.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "layout.h"

#define MP_PROCESSOR   0
#define MP_BUS         1
#define MP_IOAPIC      2
#define MP_INTSRC      3
#define MP_LINTSRC     4
#define MP_INT         0
#define MP_NMI         1
#define MP_EXTINT      3
#define CPU_ENABLED    1
#define CPU_BSP        2
#define APIC_VERSION   0x14
#define MP_IRQ_DEFAULT 0 /* conforms to the bus: ISA is edge, active high */

struct __attribute__((packed)) mpf_intel {
	char signature[4];
	uint32_t physptr;
	uint8_t length;
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
};

struct __attribute__((packed)) mpc_table {
	char signature[4];
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
};

struct __attribute__((packed)) mpc_cpu {
	uint8_t type, apicid, apicver, cpuflag;
	uint32_t cpufeature, featureflag, reserved[2];
};

struct __attribute__((packed)) mpc_bus {
	uint8_t type, busid;
	char bustype[6];
};

struct __attribute__((packed)) mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t apicaddr;
};

struct __attribute__((packed)) mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
};

#define MPTABLE_MAX_SIZE                                                      \
	(sizeof(struct mpf_intel) + sizeof(struct mpc_table) +                \
	 CONFIG_MAX_VCPUS * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) + \
	 sizeof(struct mpc_ioapic) + (MPTABLE_IRQS + 2) * sizeof(struct mpc_intsrc))

_Static_assert(MPTABLE_MAX_SIZE <= 0xa0000 - LAYOUT_EBDA, "MP table must fit in the EBDA");

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)(0 - sum);
}

static size_t put(uint8_t *buf, size_t off, const void *entry, size_t len)
{
	memcpy(buf + off, entry, len);
	return off + len;
}

static size_t put_cpus(uint8_t *buf, size_t off, unsigned nr_cpus)
{
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct mpc_cpu cpu = {
			.type = MP_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BSP : 0),
			.cpufeature = 0x600,  /* family 6 */
			.featureflag = 0x201, /* FPU, APIC */
		};
		off = put(buf, off, &cpu, sizeof(cpu));
	}
	return off;
}

static size_t put_irqs(uint8_t *buf, size_t off, uint8_t ioapic_id)
{
	struct mpc_intsrc lint = { .type = MP_LINTSRC, .irqflag = MP_IRQ_DEFAULT, .dstapic = 0xff };

	for (uint8_t irq = 0; irq < MPTABLE_IRQS; irq++) {
		struct mpc_intsrc src = {
			.type = MP_INTSRC,
			.irqtype = MP_INT,
			.irqflag = MP_IRQ_DEFAULT,
			.srcbus = 0,
			.srcbusirq = irq,
			.dstapic = ioapic_id,
			.dstirq = irq,
		};
		off = put(buf, off, &src, sizeof(src));
	}
	lint.irqtype = MP_EXTINT;
	lint.dstirq = 0; /* LINT0 */
	off = put(buf, off, &lint, sizeof(lint));
	lint.irqtype = MP_NMI;
	lint.dstirq = 1; /* LINT1 */
	return put(buf, off, &lint, sizeof(lint));
}

int mptable_write(const struct guest_mem *mem, unsigned nr_cpus, struct ember_err *err)
{
	uint8_t buf[MPTABLE_MAX_SIZE];
	struct mpf_intel mpf = { .signature = "_MP_", .length = 1, .specification = 4 };
	struct mpc_table hdr = { .signature = "PCMP",
				 .spec = 4,
				 .oem = "EMBER   ",
				 .productid = "MICROVM     ",
				 .lapic = (uint32_t)LAYOUT_LAPIC };
	struct mpc_bus bus = { .type = MP_BUS, .busid = 0, .bustype = "ISA   " };
	struct mpc_ioapic ioapic = { .type = MP_IOAPIC,
				     .apicver = APIC_VERSION,
				     .flags = 1,
				     .apicaddr = (uint32_t)LAYOUT_IOAPIC };
	size_t off, table = sizeof(mpf);

	if (nr_cpus == 0 || nr_cpus > CONFIG_MAX_VCPUS)
		return err_set(err, EINVAL, "MP table: %u vCPUs is out of range", nr_cpus);
	memset(buf, 0, sizeof(buf));
	ioapic.apicid = (uint8_t)(nr_cpus + 1);
	off = put_cpus(buf, table + sizeof(hdr), nr_cpus);
	off = put(buf, off, &bus, sizeof(bus));
	off = put(buf, off, &ioapic, sizeof(ioapic));
	off = put_irqs(buf, off, ioapic.apicid);

	hdr.length = (uint16_t)(off - table);
	hdr.oemcount = (uint16_t)(nr_cpus + 1 + 1 + MPTABLE_IRQS + 2);
	put(buf, table, &hdr, sizeof(hdr));
	buf[table + offsetof(struct mpc_table, checksum)] = checksum(buf + table, off - table);

	mpf.physptr = (uint32_t)(LAYOUT_EBDA + table);
	put(buf, 0, &mpf, sizeof(mpf));
	buf[offsetof(struct mpf_intel, checksum)] = checksum(buf, sizeof(mpf));
	return guest_mem_write(mem, LAYOUT_EBDA, buf, off, err);
}
