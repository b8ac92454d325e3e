/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPU templates with Firecracker's semantics: CPUID and MSR modifiers, each
 * a (filter, value) bitmap applied as (reg & ~filter) | value, and KVM
 * capabilities added to or removed from the set checked at start. The
 * static templates (C3, T2, T2S, T2CL, T2A) are tables here; a custom one
 * (PUT /cpu-config) is the same structure, parsed by the control plane.
 */
#ifndef EMBER_CPU_TEMPLATE_H
#define EMBER_CPU_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "cpuid.h"
#include "err.h"

struct cpu_cpuid_mod {
	uint32_t leaf, subleaf;
	uint32_t flags; /* KVM_CPUID_FLAG_*: written into the entry */
	enum cpuid_reg reg;
	uint32_t filter, value;
};

struct cpu_msr_mod {
	uint32_t addr;
	uint64_t filter, value;
};

struct cpu_kvm_cap {
	uint32_t cap;
	bool remove; /* "!N": no longer required */
};

struct cpu_template {
	const char *name;
	const char *vendor; /* "GenuineIntel"...: the host must match; NULL: any */
	const struct cpu_cpuid_mod *cpuid;
	unsigned nr_cpuid;
	const struct cpu_msr_mod *msrs;
	unsigned nr_msrs;
	const struct cpu_kvm_cap *caps;
	unsigned nr_caps;
	bool owned; /* parsed: cpu_template_free releases it and its arrays */
};

/* A static template by its enum; NULL for CONFIG_TEMPLATE_NONE. */
const struct cpu_template *cpu_template_static(enum config_cpu_template t);
/* Name <-> enum for the API's strings ("None", "C3", ...): -1 if unknown. */
int cpu_template_parse(const char *name);
const char *cpu_template_name(enum config_cpu_template t);

/* The template a VM uses: the custom one if set, else the static one, after
 * Firecracker's host checks (vendor, then CPU model). NULL: none. -EINVAL
 * with Firecracker's message when the host may not use it. */
int cpu_template_select(const struct vm_config *cfg, const struct cpu_template **out,
			struct ember_err *err);
/* Modifiers onto a CPUID table (KVM's supported one, before it is
 * normalised per vCPU). -ENOENT when a modified leaf is not in the table. */
int cpu_template_apply_cpuid(const struct cpu_template *t, struct cpuid_table *table,
			     struct ember_err *err);
/* One MSR's value under the template's modifiers; false if it has none. */
bool cpu_template_msr(const struct cpu_template *t, uint32_t addr, uint64_t in, uint64_t *out);
/* Whether KVM capability cap must be present, given ember's own need. */
bool cpu_template_wants_cap(const struct cpu_template *t, uint32_t cap, bool default_need);
void cpu_template_free(struct cpu_template *t);

/* The host CPU's vendor string and family/model/stepping (CPUID leaf 1 EAX
 * without the reserved bits), as the process itself sees them. */
void cpu_template_host(char vendor[13], uint32_t *fms);

#endif
