// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's static CPU templates, each against the leaf values it must
 * produce: applied to a table where every bit is set (what a template clears
 * shows as 0) and to one where none is (what it sets shows as 1). The
 * expectations are written as the features each EC2 type lacks or has.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cpu_template.h"

#define BIT(n) (1u << (n))

static void fill(struct cpuid_table *t, uint32_t v)
{
	static const uint32_t leaves[][2] = { { 0, 0 },         { 1, 0 },   { 7, 0 },
					      { 0xd, 0 },       { 0xd, 1 }, { 0x80000001, 0 },
					      { 0x80000008, 0 } };

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		t->entries[t->hdr.nent++] = (struct kvm_cpuid_entry2){ .function = leaves[i][0],
								       .index = leaves[i][1],
								       .eax = v,
								       .ebx = v,
								       .ecx = v,
								       .edx = v };
}

static struct kvm_cpuid_entry2 *leaf(struct cpuid_table *t, uint32_t l, uint32_t s)
{
	for (uint32_t i = 0; i < t->hdr.nent; i++)
		if (t->entries[i].function == l && t->entries[i].index == s)
			return &t->entries[i];
	cr_assert_fail("leaf 0x%x.%u missing", l, s);
	return NULL;
}

static void apply(enum config_cpu_template which, uint32_t v, struct cpuid_table *t)
{
	fill(t, v);
	cr_assert_eq(cpu_template_apply_cpuid(cpu_template_static(which), t, NULL), 0);
}

/* What T2, T2S, T2CL and T2A share: a Haswell-era Xeon's feature set. */
static void t2_base(enum config_cpu_template which)
{
	struct cpuid_table t;

	apply(which, ~0u, &t);
	cr_assert_eq(leaf(&t, 1, 0)->eax & 0x0fff3fff, 0x000306f2, "family 6, model 0x3f, step 2");
	cr_assert_eq(leaf(&t, 1, 0)->ecx & (BIT(3) | BIT(5) | BIT(6) | BIT(7) | BIT(18)), 0,
		     "no MONITOR, VMX, SMX, EIST, DCA");
	cr_assert(leaf(&t, 1, 0)->ecx & BIT(28), "AVX stays");
	cr_assert_eq(leaf(&t, 7, 0)->ebx & (BIT(4) | BIT(11) | BIT(14) | BIT(16) | BIT(30)), 0,
		     "no HLE, RTM, MPX, AVX512F, AVX512BW");
	cr_assert(leaf(&t, 7, 0)->ebx & BIT(5), "AVX2 stays");
	cr_assert_eq(leaf(&t, 7, 0)->ecx & (BIT(1) | BIT(3)), 0, "no AVX512_VBMI, PKU");
	cr_assert_eq(leaf(&t, 7, 0)->edx & (BIT(2) | BIT(3) | BIT(4) | BIT(8)), 0,
		     "no AVX512_4VNNIW/4FMAPS, FSRM, VP2INTERSECT");
	cr_assert_eq(leaf(&t, 0xd, 0)->eax & 0x2f8, 0, "XSAVE: no MPX, AVX-512 or PKRU state");
	cr_assert_eq(leaf(&t, 0xd, 0)->eax & 0x7, 0x7, "x87, SSE and AVX state stay");
	cr_assert_eq(leaf(&t, 0xd, 1)->eax & 0xe, 0, "no XSAVEC, XGETBV1, XSAVES");
	cr_assert_eq(leaf(&t, 0x80000001, 0)->edx & BIT(26), 0, "no 1 GiB pages");
	apply(which, 0, &t);
	cr_assert_eq(leaf(&t, 1, 0)->edx & (BIT(7) | BIT(12)), BIT(7) | BIT(12), "MCE, MTRR set");
	cr_assert_eq(leaf(&t, 7, 0)->ebx, BIT(9), "ERMS set, nothing else");
	cr_assert_eq(leaf(&t, 7, 0)->ecx, 0);
}

Test(cpu_template, t2)
{
	struct cpuid_table t;

	t2_base(CONFIG_TEMPLATE_T2);
	apply(CONFIG_TEMPLATE_T2, ~0u, &t);
	cr_assert_eq(leaf(&t, 0x80000001, 0)->ecx & (BIT(8) | BIT(29)), 0,
		     "no PREFETCHW, MONITORX");
	cr_assert_eq(leaf(&t, 0x80000008, 0)->ebx & BIT(9), 0, "no WBNOINVD");
	cr_assert_eq(cpu_template_static(CONFIG_TEMPLATE_T2)->nr_msrs, 0);
}

Test(cpu_template, t2s_reports_t2_arch_capabilities)
{
	const struct cpu_template *t = cpu_template_static(CONFIG_TEMPLATE_T2S);
	uint64_t v;

	t2_base(CONFIG_TEMPLATE_T2S);
	cr_assert(cpu_template_msr(t, 0x10a, ~0ull, &v));
	cr_assert_eq(v, 0xc0a0c4cull, "RDCL_NO, IBRS_ALL, SKIP_L1DFL, MDS_NO... of a T2 host");
	cr_assert(cpu_template_msr(t, 0x10a, 0, &v));
	cr_assert_eq(v, 0xc0a0c4cull, "the whole register is set");
	cr_assert_not(cpu_template_msr(t, 0x10b, 5, &v));
	cr_assert_eq(v, 5, "other MSRs pass through");
}

Test(cpu_template, t2cl_passes_speculation_fixes_through)
{
	const struct cpu_template *t = cpu_template_static(CONFIG_TEMPLATE_T2CL);
	struct cpuid_table c;
	uint64_t v;

	t2_base(CONFIG_TEMPLATE_T2CL);
	apply(CONFIG_TEMPLATE_T2CL, ~0u, &c);
	cr_assert_eq(leaf(&c, 0x80000001, 0)->edx & (BIT(22) | BIT(26)), 0, "no MmxExt, 1 GiB");
	cr_assert(cpu_template_msr(t, 0x10a, ~0ull, &v));
	cr_assert_eq(v, 0x1d0ae1ffull, "the host's fix bits stay, the rest is cleared");
	cr_assert(cpu_template_msr(t, 0x10a, 0, &v));
	cr_assert_eq(v, 0, "nothing is claimed the host lacks");
}

Test(cpu_template, t2a_for_milan)
{
	struct cpuid_table t;

	t2_base(CONFIG_TEMPLATE_T2A);
	apply(CONFIG_TEMPLATE_T2A, ~0u, &t);
	cr_assert_eq(leaf(&t, 0x80000008, 0)->ebx & 0x1c0205, 0x1c0004,
		     "Milan's extended feature bits: three set, CLZERO and WBNOINVD clear");
	cr_assert_eq(leaf(&t, 0x80000001, 0)->ecx & (BIT(2) | BIT(8)), 0, "no SVM, PREFETCHW");
	cr_assert_str_eq(cpu_template_static(CONFIG_TEMPLATE_T2A)->vendor, "AuthenticAMD");
}

Test(cpu_template, c3_is_ivy_bridge)
{
	struct cpuid_table t;

	apply(CONFIG_TEMPLATE_C3, ~0u, &t);
	cr_assert_eq(leaf(&t, 1, 0)->eax & 0x0fff3fff, 0x000306e4, "family 6, model 0x3e, step 4");
	cr_assert_eq(leaf(&t, 7, 0)->ebx & (BIT(3) | BIT(5) | BIT(8)), 0, "no BMI1, AVX2, BMI2");
	cr_assert_eq(leaf(&t, 1, 0)->ecx & BIT(12), 0, "no FMA");
	cr_assert_eq(leaf(&t, 0xd, 0)->eax & 0x2f8, 0);
	cr_assert_str_eq(cpu_template_static(CONFIG_TEMPLATE_C3)->vendor, "GenuineIntel");
}

Test(cpu_template, none_and_names)
{
	cr_assert_null(cpu_template_static(CONFIG_TEMPLATE_NONE));
	cr_assert_eq(cpu_template_parse("T2CL"), CONFIG_TEMPLATE_T2CL);
	cr_assert_eq(cpu_template_parse("t2"), -1, "names are exact, as serde's");
	cr_assert_str_eq(cpu_template_name(CONFIG_TEMPLATE_T2S), "T2S");
}

Test(cpu_template, a_leaf_kvm_lacks_is_refused)
{
	struct ember_err err = { 0 };
	struct cpuid_table t;

	fill(&t, 0);
	t.hdr.nent = 2; /* leaves 0 and 1 only */
	cr_assert_lt(cpu_template_apply_cpuid(cpu_template_static(CONFIG_TEMPLATE_T2), &t, &err),
		     0);
	cr_assert(strstr(err.msg, "Template changes a CPUID entry not supported by KVM: Leaf: 7, "
				  "Subleaf: 0"),
		  "%s", err.msg);
}

/* The host's vendor, from the kernel's view of the CPU, not ember's. */
static void proc_vendor(char *out, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "vendor_id : %63s", out) == 1)
			break;
	if (f)
		fclose(f);
	(void)size;
}

Test(cpu_template, the_host_vendor_decides_as_in_firecracker)
{
	struct vm_config cfg;
	struct ember_err err = { 0 };
	const struct cpu_template *t;
	char vendor[64];
	int ret;

	proc_vendor(vendor, sizeof(vendor));
	config_init(&cfg);
	cfg.machine.cpu_template = CONFIG_TEMPLATE_T2;
	ret = cpu_template_select(&cfg, &t, &err);
	if (strcmp(vendor, "GenuineIntel")) {
		cr_assert_lt(ret, 0);
		cr_assert_str_eq(err.msg,
				 "Failed to get CPU template: CPU vendor mismatched between "
				 "actual CPU and CPU template.");
	} else {
		cr_assert(ret == 0 || strstr(err.msg, "CPU model is not permitted"), "%s", err.msg);
	}
	cfg.machine.cpu_template = CONFIG_TEMPLATE_NONE;
	cr_assert_eq(cpu_template_select(&cfg, &t, &err), 0);
	cr_assert_null(t, "no template");
	config_free(&cfg);
}
