// SPDX-License-Identifier: Apache-2.0
/* CPUID normalisation over made-up KVM_GET_SUPPORTED_CPUID tables. */
#include <criterion/criterion.h>

#include "cpuid.h"

static void add(struct cpuid_table *t, uint32_t leaf, uint32_t sub, bool indexed, uint32_t a,
		uint32_t b, uint32_t c, uint32_t d)
{
	struct kvm_cpuid_entry2 *e = &t->entries[t->hdr.nent++];

	*e = (struct kvm_cpuid_entry2){ .function = leaf,
					.index = sub,
					.eax = a,
					.ebx = b,
					.ecx = c,
					.edx = d,
					.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0 };
}

static void intel_table(struct cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	add(t, 0, 0, false, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	add(t, 1, 0, false, 0x50654, 0xff0800, 0x7ffafbff, 0xbfebfbff);
	add(t, 4, 0, true, 0x1c004121, 0, 0, 0); /* L1d */
	add(t, 4, 3, true, 0x1c03c163, 0, 0, 0); /* L3 */
	add(t, 7, 0, true, 0, 0xdc3fffff, 0x5c5e, 0xc);
	add(t, 0xa, 0, false, 0x7300404, 0, 0, 0x603);
	add(t, 0xb, 0, true, 1, 2, 0x100, 0x11);
	add(t, 0xb, 1, true, 4, 16, 0x201, 0x11);
	add(t, 0xb, 2, true, 0, 0, 2, 0x11);
	add(t, 0xd, 0, true, 0x2ff, 0, 0, 0);
	add(t, 0x40000000, 0, false, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
}

static const struct cpuid_topology four = { .vcpu_index = 3, .vcpu_count = 4 };

Test(cpuid, leaf1_apic_id_count_and_hypervisor_bit)
{
	struct cpuid_table t;
	struct kvm_cpuid_entry2 *e;

	intel_table(&t);
	cpuid_normalize(
	    &t, &(struct cpuid_topology){ .vcpu_index = 3, .vcpu_count = 4, .tsc_deadline = true });
	e = cpuid_find(&t, 1, 0);
	cr_assert_eq(e->ebx >> 24, 3, "APIC id");
	cr_assert_eq((e->ebx >> 16) & 0xff, 4, "logical processor count");
	cr_assert_eq((e->ebx >> 8) & 0xff, 8, "CLFLUSH size kept");
	cr_assert(e->ecx & (1u << 31), "hypervisor bit");
	cr_assert(e->ecx & (1u << 24), "TSC deadline");
	cr_assert(e->edx & (1u << 28), "HTT with several CPUs");
}

Test(cpuid, single_cpu_has_no_htt)
{
	struct cpuid_table t;

	intel_table(&t);
	cpuid_normalize(&t, &(struct cpuid_topology){ .vcpu_index = 0, .vcpu_count = 1 });
	cr_assert_eq(cpuid_find(&t, 1, 0)->edx & (1u << 28), 0);
	cr_assert_eq(cpuid_find(&t, 1, 0)->ebx >> 24, 0);
}

Test(cpuid, extended_topology_leaf)
{
	struct cpuid_table t;
	struct kvm_cpuid_entry2 *smt, *core, *inv;

	intel_table(&t);
	cpuid_normalize(&t, &four);
	smt = cpuid_find(&t, 0xb, 0);
	core = cpuid_find(&t, 0xb, 1);
	inv = cpuid_find(&t, 0xb, 2);
	cr_assert_eq(smt->ebx, 1, "one thread per core without smt");
	cr_assert_eq(smt->edx, 3, "x2APIC id");
	cr_assert_eq(core->eax, 2, "shift for 4 CPUs");
	cr_assert_eq(core->ebx, 4);
	cr_assert_eq(core->ecx, 0x201);
	cr_assert_eq(inv->ecx & 0xff00, 0, "level type invalid");
}

Test(cpuid, cache_sharing_and_cores)
{
	struct cpuid_table t;

	intel_table(&t);
	cpuid_normalize(&t,
			&(struct cpuid_topology){ .vcpu_index = 0, .vcpu_count = 4, .smt = true });
	cr_assert_eq((cpuid_find(&t, 4, 0)->eax >> 14) & 0xfff, 1, "L1 shared by 2 threads");
	cr_assert_eq((cpuid_find(&t, 4, 3)->eax >> 14) & 0xfff, 3, "L3 shared by all 4");
	cr_assert_eq(cpuid_find(&t, 4, 0)->eax >> 26, 1, "2 cores");
}

Test(cpuid, pmu_leaf_is_cleared)
{
	struct cpuid_table t;
	struct kvm_cpuid_entry2 *e;

	intel_table(&t);
	cpuid_normalize(&t, &four);
	e = cpuid_find(&t, 0xa, 0);
	cr_assert_eq(e->eax | e->ebx | e->ecx | e->edx, 0);
}

Test(cpuid, amd_core_count_leaves)
{
	struct cpuid_table t;

	memset(&t, 0, sizeof(t));
	add(&t, 0, 0, false, 0x10, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	add(&t, 1, 0, false, 0, 0, 0, 0);
	add(&t, 0x80000001, 0, false, 0, 0, 0, 0);
	add(&t, 0x80000008, 0, false, 0x3030, 0, 0xffff, 0);
	add(&t, 0x8000001e, 0, false, 0, 0, 0, 0);
	cpuid_normalize(&t, &(struct cpuid_topology){ .vcpu_index = 2, .vcpu_count = 4 });
	cr_assert(cpuid_find(&t, 0x80000001, 0)->ecx & 2, "CmpLegacy");
	cr_assert_eq(cpuid_find(&t, 0x80000008, 0)->ecx & 0xff, 3, "NC = cores - 1");
	cr_assert_eq((cpuid_find(&t, 0x80000008, 0)->ecx >> 12) & 0xf, 2, "ApicIdSize");
	cr_assert_eq(cpuid_find(&t, 0x8000001e, 0)->eax, 2, "extended APIC id");
}

Test(cpuid, find_respects_subleaf_only_when_indexed)
{
	struct cpuid_table t;

	intel_table(&t);
	cr_assert_not_null(cpuid_find(&t, 1, 7), "leaf 1 ignores the subleaf");
	cr_assert_null(cpuid_find(&t, 4, 1), "leaf 4 subleaf 1 absent");
	cr_assert_null(cpuid_find(&t, 0x12, 0));
}

/* KVM's paravirtual features stay, but for asynchronous page faults, whose
 * sleeping tasks a restored guest carries over into a VM that never wakes
 * them. */
Test(cpuid, kvm_features_without_async_page_faults)
{
	struct cpuid_table t;
	struct kvm_cpuid_entry2 *e;
	uint32_t apf = (1u << 4) | (1u << 10) | (1u << 14), clock = (1u << 3) | (1u << 24);

	intel_table(&t);
	add(&t, 0x40000001, 0, false, apf | clock | (1u << 6), 0, 0, 0);
	cpuid_normalize(&t, &four);
	e = cpuid_find(&t, 0x40000001, 0);
	cr_assert_not_null(e);
	cr_assert_eq(e->eax & apf, 0, "async PF, its VM-exit and interrupt delivery hidden");
	cr_assert_eq(e->eax & (clock | (1u << 6)), clock | (1u << 6),
		     "kvmclock, its stable bit and PV EOI kept");
}
