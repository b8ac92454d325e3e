// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's static CPU templates as modifier tables, and how any
 * template (static or custom) is checked against the host and applied.
 * Each row: leaf, subleaf, KVM flags, register, filter, value. The bits
 * follow the EC2 instance types the templates are named after; the masks
 * are Firecracker's (src/vmm/src/cpu_config/x86_64/static_cpu_templates).
 */
#include "cpu_template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIG                        KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define MSR_IA32_ARCH_CAPABILITIES 0x10a

/* Leaf 1 EAX without the processor-type bits (13:12): the CPU model. */
#define FMS_MASK     0x0fff3fffu
#define SKYLAKE      0x00050654u
#define CASCADE_LAKE 0x00050657u
#define ICE_LAKE     0x000606a6u
#define MILAN        0x00a00f11u

/* T2 (and the base of T2S, T2CL, T2A): an Intel Xeon E5-2676 v3 (Haswell),
 * family 6 model 0x3f; no AVX-512, TSX, MPX, PKU, SGX or later extensions. */
#define T2_BASE                                                   \
	{ 0x1, 0x0, 0, CPUID_EAX, 0x0fff3fff, 0x000306f2 },       \
	    { 0x1, 0x0, 0, CPUID_ECX, 0x0004cdfc, 0x00000000 },   \
	    { 0x1, 0x0, 0, CPUID_EDX, 0xe8641080, 0x00001080 },   \
	    { 0x7, 0x0, SIG, CPUID_EBX, 0xffefda14, 0x00000200 }, \
	    { 0x7, 0x0, SIG, CPUID_ECX, 0x40415f5e, 0x00000000 }, \
	    { 0x7, 0x0, SIG, CPUID_EDX, 0x0000011c, 0x00000000 }, \
	    { 0xd, 0x0, SIG, CPUID_EAX, 0x000002f8, 0x00000000 }, \
	{                                                         \
		0xd, 0x1, SIG, CPUID_EAX, 0x0000000e, 0x00000000  \
	}

static const struct cpu_cpuid_mod t2_cpuid[] = {
	T2_BASE,
	{ 0x80000001, 0x0, 0, CPUID_ECX, 0x20000100, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPUID_EDX, 0x04000000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPUID_EBX, 0x00000200, 0x00000000 },
};

/* T2S: T2's CPUID, and IA32_ARCH_CAPABILITIES as a T2 host reports it. */
static const struct cpu_msr_mod t2s_msrs[] = {
	{ MSR_IA32_ARCH_CAPABILITIES, ~0ull, 0x000000000c0a0c4cull },
};

/* C3: an Intel Xeon E5-2680 v2 (Ivy Bridge), family 6 model 0x3e. */
static const struct cpu_cpuid_mod c3_cpuid[] = {
	{ 0x1, 0x0, 0, CPUID_EAX, 0x0fff3fff, 0x000306e4 },
	{ 0x1, 0x0, 0, CPUID_ECX, 0x0040dd3c, 0x00000000 },
	{ 0x1, 0x0, 0, CPUID_EDX, 0xa8641080, 0x00001080 },
	{ 0x7, 0x0, SIG, CPUID_EBX, 0xffafdd3c, 0x00000000 },
	{ 0x7, 0x0, SIG, CPUID_ECX, 0x4041481e, 0x00000000 },
	{ 0x7, 0x0, SIG, CPUID_EDX, 0x0000000c, 0x00000000 },
	{ 0xd, 0x0, SIG, CPUID_EAX, 0x000002f8, 0x00000000 },
	{ 0xd, 0x1, SIG, CPUID_EAX, 0x0000000e, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPUID_ECX, 0x00000120, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPUID_EDX, 0x04000000, 0x00000000 },
};

/* T2CL: T2 for Cascade Lake and Ice Lake hosts, with their speculation
 * fixes (ARCH_CAPABILITIES bits the host reports) passed through. */
static const struct cpu_cpuid_mod t2cl_cpuid[] = {
	T2_BASE,
	{ 0x80000001, 0x0, 0, CPUID_ECX, 0x200001c0, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPUID_EDX, 0x07c00000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPUID_EBX, 0x00000200, 0x00000000 },
};

static const struct cpu_msr_mod t2cl_msrs[] = {
	{ MSR_IA32_ARCH_CAPABILITIES, 0xffffffffe2f51e00ull, 0 },
};

/* T2A: T2's feature set on AMD Milan hosts. */
static const struct cpu_cpuid_mod t2a_cpuid[] = {
	T2_BASE,
	{ 0x80000001, 0x0, 0, CPUID_ECX, 0x200001c4, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPUID_EDX, 0x06400000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPUID_EBX, 0x001c0205, 0x001c0004 },
};

#define N(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

static const struct cpu_template statics[] = {
	[CONFIG_TEMPLATE_C3] = { "C3", "GenuineIntel", c3_cpuid, N(c3_cpuid), NULL, 0, NULL, 0,
				 false },
	[CONFIG_TEMPLATE_T2] = { "T2", "GenuineIntel", t2_cpuid, N(t2_cpuid), NULL, 0, NULL, 0,
				 false },
	[CONFIG_TEMPLATE_T2S] = { "T2S", "GenuineIntel", t2_cpuid, N(t2_cpuid), t2s_msrs,
				  N(t2s_msrs), NULL, 0, false },
	[CONFIG_TEMPLATE_T2CL] = { "T2CL", "GenuineIntel", t2cl_cpuid, N(t2cl_cpuid), t2cl_msrs,
				   N(t2cl_msrs), NULL, 0, false },
	[CONFIG_TEMPLATE_T2A] = { "T2A", "AuthenticAMD", t2a_cpuid, N(t2a_cpuid), NULL, 0, NULL, 0,
				  false },
};

/* The host CPU models each static template was made for (Firecracker's list). */
static bool model_allowed(enum config_cpu_template t, uint32_t fms)
{
	switch (t) {
	case CONFIG_TEMPLATE_C3:
	case CONFIG_TEMPLATE_T2: return fms == SKYLAKE || fms == CASCADE_LAKE || fms == ICE_LAKE;
	case CONFIG_TEMPLATE_T2S: return fms == SKYLAKE || fms == CASCADE_LAKE;
	case CONFIG_TEMPLATE_T2CL: return fms == CASCADE_LAKE || fms == ICE_LAKE;
	case CONFIG_TEMPLATE_T2A: return fms == MILAN;
	default: return true;
	}
}

static const char *const names[] = { "None", "C3", "T2", "T2S", "T2CL", "T2A" };

const struct cpu_template *cpu_template_static(enum config_cpu_template t)
{
	return t == CONFIG_TEMPLATE_NONE || (unsigned)t >= N(statics) ? NULL : &statics[t];
}

int cpu_template_parse(const char *name)
{
	for (unsigned i = 0; i < N(names); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

const char *cpu_template_name(enum config_cpu_template t)
{
	return (unsigned)t < N(names) ? names[t] : "None";
}

/* CPUID as this process sees it: the host's CPU (Firecracker asks the same). */
static void host_cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

void cpu_template_host(char vendor[13], uint32_t *fms)
{
	uint32_t r[4];

	host_cpuid(0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = '\0';
	host_cpuid(1, r);
	*fms = r[0] & FMS_MASK;
}

int cpu_template_select(const struct vm_config *cfg, const struct cpu_template **out,
			struct ember_err *err)
{
	const struct cpu_template *t = cpu_template_static(cfg->machine.cpu_template);
	char vendor[13];
	uint32_t fms;

	*out = cfg->cpu_custom;
	if (cfg->cpu_custom || !t)
		return 0;
	cpu_template_host(vendor, &fms);
	if (strcmp(vendor, t->vendor))
		return err_set(
		    err, EINVAL,
		    "Failed to get CPU template: CPU vendor mismatched between actual CPU "
		    "and CPU template.");
	if (!model_allowed(cfg->machine.cpu_template, fms))
		return err_set(err, EINVAL,
			       "Failed to get CPU template: The current CPU model is not permitted "
			       "to apply the CPU template.");
	*out = t;
	return 0;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpuid_reg r)
{
	switch (r) {
	case CPUID_EAX: return &e->eax;
	case CPUID_EBX: return &e->ebx;
	case CPUID_ECX: return &e->ecx;
	default: return &e->edx;
	}
}

static struct kvm_cpuid_entry2 *find_exact(struct cpuid_table *t, uint32_t leaf, uint32_t sub)
{
	for (uint32_t i = 0; i < t->hdr.nent && i < CPUID_MAX_ENTRIES; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		if (e->function == leaf && e->index == sub)
			return e;
	}
	return NULL;
}

int cpu_template_apply_cpuid(const struct cpu_template *t, struct cpuid_table *table,
			     struct ember_err *err)
{
	for (unsigned i = 0; t && i < t->nr_cpuid; i++) {
		const struct cpu_cpuid_mod *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *e = find_exact(table, m->leaf, m->subleaf);
		uint32_t *r;

		if (!e)
			return err_set(err, ENOENT,
				       "Failed to create guest config: Template changes a CPUID "
				       "entry not supported by KVM: Leaf: %x, Subleaf: %x",
				       m->leaf, m->subleaf);
		e->flags = m->flags;
		r = reg_of(e, m->reg);
		*r = (*r & ~m->filter) | (m->value & m->filter);
	}
	return 0;
}

bool cpu_template_msr(const struct cpu_template *t, uint32_t addr, uint64_t in, uint64_t *out)
{
	bool found = false;

	*out = in;
	for (unsigned i = 0; t && i < t->nr_msrs; i++)
		if (t->msrs[i].addr == addr) {
			*out = (*out & ~t->msrs[i].filter) | (t->msrs[i].value & t->msrs[i].filter);
			found = true;
		}
	return found;
}

bool cpu_template_wants_cap(const struct cpu_template *t, uint32_t cap, bool default_need)
{
	bool need = default_need;

	for (unsigned i = 0; t && i < t->nr_caps; i++)
		if (t->caps[i].cap == cap)
			need = !t->caps[i].remove;
	return need;
}

void cpu_template_free(struct cpu_template *t)
{
	if (!t || !t->owned)
		return;
	free((void *)t->cpuid);
	free((void *)t->msrs);
	free((void *)t->caps);
	free(t);
}
