// SPDX-License-Identifier: Apache-2.0
/* CPUID normalisation: topology, APIC ids, hypervisor leaves. */
#include "cpuid.h"

#include <asm/kvm_para.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"

#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_ECX_HYPERVISOR   (1u << 31)
#define LEAF1_EDX_HTT          (1u << 28)
#define AMD_ECX_CMP_LEGACY     (1u << 1)

int cpuid_get_supported(int kvm_fd, struct cpuid_table *out, struct ember_err *err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->hdr.nent = CPUID_MAX_ENTRIES;
	ret = KVM_IOCTL(kvm_fd, KVM_GET_SUPPORTED_CPUID, out, err);
	return ret < 0 ? ret : 0;
}

struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t leaf, uint32_t subleaf)
{
	for (uint32_t i = 0; i < t->hdr.nent && i < CPUID_MAX_ENTRIES; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		if (e->function != leaf)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e->index == subleaf)
			return e;
	}
	return NULL;
}

/* Smallest shift s with (1 << s) >= n. */
static uint32_t order_of(unsigned n)
{
	uint32_t s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static bool is_amd(struct cpuid_table *t)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 0, 0);

	/* "AuthenticAMD" / "HygonGenuine": EBX "Auth" / "Hygo" */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

static void fix_leaf1(struct kvm_cpuid_entry2 *e, const struct cpuid_topology *topo)
{
	e->ebx &= 0x0000ffff;
	e->ebx |= (uint32_t)topo->vcpu_index << 24;
	e->ebx |= (uint32_t)(topo->vcpu_count > 1 ? topo->vcpu_count : 1) << 16;
	e->ecx |= LEAF1_ECX_HYPERVISOR;
	if (topo->tsc_deadline)
		e->ecx |= LEAF1_ECX_TSC_DEADLINE;
	if (topo->vcpu_count > 1)
		e->edx |= LEAF1_EDX_HTT;
	else
		e->edx &= ~LEAF1_EDX_HTT;
}

static unsigned threads_per_core(const struct cpuid_topology *topo)
{
	return topo->smt && topo->vcpu_count > 1 ? 2 : 1;
}

/* Leaf 4 (Intel) and 0x8000001d (AMD): who shares each cache level. */
static void fix_cache_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_topology *topo,
			   bool intel)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned sharing = level >= 3 ? topo->vcpu_count : threads_per_core(topo);
	unsigned cores = topo->vcpu_count / threads_per_core(topo);

	if (!(e->eax & 0x1f))
		return;
	e->eax &= ~(0xfffu << 14);
	e->eax |= (uint32_t)(sharing - 1) << 14;
	if (intel) {
		e->eax &= ~(0x3fu << 26);
		e->eax |= (uint32_t)(cores - 1) << 26;
	}
}

/* Leaves 0xb and 0x1f: x2APIC topology, SMT level then core level. */
static void fix_ext_topology(struct kvm_cpuid_entry2 *e, const struct cpuid_topology *topo)
{
	unsigned tpc = threads_per_core(topo);

	e->edx = topo->vcpu_index;
	if (e->index == 0) {
		e->eax = order_of(tpc);
		e->ebx = tpc;
		e->ecx = (1u << 8) | 0;
	} else if (e->index == 1) {
		e->eax = order_of(topo->vcpu_count);
		e->ebx = topo->vcpu_count;
		e->ecx = (2u << 8) | 1;
	} else {
		e->eax = e->ebx = 0;
		e->ecx = e->index;
	}
}

static void fix_amd_leaves(struct kvm_cpuid_entry2 *e, const struct cpuid_topology *topo)
{
	unsigned tpc = threads_per_core(topo);

	switch (e->function) {
	case 0x80000001:
		if (topo->vcpu_count > 1)
			e->ecx |= AMD_ECX_CMP_LEGACY;
		else
			e->ecx &= ~AMD_ECX_CMP_LEGACY;
		break;
	case 0x80000008:
		e->ecx &= ~0xf0ffu;
		e->ecx |= (order_of(topo->vcpu_count) << 12) | (topo->vcpu_count - 1);
		break;
	case 0x8000001e:
		e->eax = topo->vcpu_index;
		e->ebx = ((uint32_t)(tpc - 1) << 8) | (topo->vcpu_index / tpc);
		e->ecx = 0;
		break;
	default: break;
	}
}

/* No asynchronous page faults: with them a guest task that touches memory
 * the host must read from disk (a snapshot's file, pages the host evicted)
 * sleeps on a token until KVM says the page is ready. A restored guest
 * holds the sleepers and tokens of the VM it was saved from, which the new
 * VM never completes, and in the test host clones under memory pressure
 * hung or died in that path (Firecracker's issues 3020 and 5322 show the
 * same). A function VM has one task to run: the vCPU waiting for the page
 * costs it nothing. */
static void hide_async_pf(struct kvm_cpuid_entry2 *e)
{
	e->eax &= ~((1u << KVM_FEATURE_ASYNC_PF) | (1u << KVM_FEATURE_ASYNC_PF_VMEXIT) |
		    (1u << KVM_FEATURE_ASYNC_PF_INT));
}

void cpuid_normalize(struct cpuid_table *t, const struct cpuid_topology *topo)
{
	bool amd = is_amd(t);

	for (uint32_t i = 0; i < t->hdr.nent && i < CPUID_MAX_ENTRIES; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		switch (e->function) {
		case 1: fix_leaf1(e, topo); break;
		case 4: fix_cache_leaf(e, topo, true); break;
		case 0xa: /* no PMU: counters do not survive snapshots */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			break;
		case 0xb:
		case 0x1f: fix_ext_topology(e, topo); break;
		case 0x8000001d: fix_cache_leaf(e, topo, false); break;
		case KVM_CPUID_FEATURES: hide_async_pf(e); break;
		default:
			if (amd)
				fix_amd_leaves(e, topo);
			break;
		}
	}
}
