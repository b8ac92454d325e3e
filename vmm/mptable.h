/* SPDX-License-Identifier: Apache-2.0 */
/* Intel MultiProcessor Specification 1.4 table: CPUs, IOAPIC, ISA IRQs. */
#ifndef EMBER_MPTABLE_H
#define EMBER_MPTABLE_H

#include "err.h"
#include "guest_mem.h"

#define MPTABLE_IRQS 24

int mptable_write(const struct guest_mem *mem, unsigned nr_cpus, struct ember_err *err);

#endif
