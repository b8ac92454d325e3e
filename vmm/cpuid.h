/* SPDX-License-Identifier: Apache-2.0 */
/* Guest CPUID: KVM_GET_SUPPORTED_CPUID, normalised per vCPU. */
#ifndef EMBER_CPUID_H
#define EMBER_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CPUID_MAX_ENTRIES 256

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

struct cpuid_topology {
	unsigned vcpu_index; /* also the APIC id */
	unsigned vcpu_count;
	bool smt;          /* two threads per core */
	bool tsc_deadline; /* in-kernel LAPIC supports the TSC deadline timer */
};

/* Fixed-size, so a vCPU's CPUID lives in its struct (and a snapshot). */
struct cpuid_table {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 entries[CPUID_MAX_ENTRIES];
};

int cpuid_get_supported(int kvm_fd, struct cpuid_table *out, struct ember_err *err);
struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t leaf, uint32_t subleaf);
/* Rewrite topology, APIC ids and hypervisor leaves for one vCPU (after a
 * CPU template has been applied to the table). Pure: unit-tested on
 * made-up tables. */
void cpuid_normalize(struct cpuid_table *t, const struct cpuid_topology *topo);

#endif
