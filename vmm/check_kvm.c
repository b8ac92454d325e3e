// SPDX-License-Identifier: Apache-2.0
/* Host check in the spirit of kvm-ok, with a tiny guest that looks at its own
 * CPUID and runs a feature-gated instruction at CPL0. */
#include "check_kvm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kvm.h"
#include "layout.h"
#include "vm.h"

#define PROBE_PORT       0x500
#define PROBE_SLOTS      8
#define PROBE_DONE       7
#define CHECK_SIG_EBX    0x72626d45 /* "Embr" */
#define CHECK_SIG_ECX    0x436b6843 /* "ChkC" */
#define CHECK_SIG_EDX    0x44495550 /* "PUID" */
#define LEAF1_ECX_POPCNT (1u << 23)
#define POPCNT_INPUT     0xf0f0
#define POPCNT_EXPECT    8

/* The guest, 64-bit and position-independent: CPUID 0x40000000 and 1, then
 * popcnt, each result written to a probe port; slot 7 says it is done. */
__asm__(".pushsection .rodata\n"
	".globl check_kvm_guest_start\n"
	"check_kvm_guest_start:\n"
	".code64\n"
	"mov $0x40000000, %eax\n xor %ecx, %ecx\n cpuid\n mov %edx, %esi\n"
	"mov %ebx, %eax\n mov $0x500, %dx\n out %eax, (%dx)\n"
	"mov %ecx, %eax\n mov $0x504, %dx\n out %eax, (%dx)\n"
	"mov %esi, %eax\n mov $0x508, %dx\n out %eax, (%dx)\n"
	"mov $1, %eax\n xor %ecx, %ecx\n cpuid\n"
	"mov %ecx, %eax\n mov $0x50c, %dx\n out %eax, (%dx)\n"
	"mov $0xf0f0, %ebx\n popcnt %ebx, %eax\n mov $0x510, %dx\n out %eax, (%dx)\n"
	"mov $0x51c, %dx\n out %eax, (%dx)\n"
	"1: jmp 1b\n"
	".globl check_kvm_guest_end\n"
	"check_kvm_guest_end:\n"
	".popsection\n");
extern const uint8_t check_kvm_guest_start[], check_kvm_guest_end[];

struct probe {
	struct vm *vm;
	uint32_t slots[PROBE_SLOTS];
	uint32_t written; /* bitmap of slots the guest wrote */
};

static void probe_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct probe *p = dev;
	uint32_t v = 0;
	unsigned slot = (unsigned)(off / 4);

	memcpy(&v, data, len < 4 ? len : 4);
	p->slots[slot] = v;
	p->written |= 1u << slot;
	if (slot == PROBE_DONE)
		vm_request_exit(p->vm, VM_EXIT_HALT, 0, "check guest finished");
}

static const struct device_ops probe_ops = { .name = "check-probe", .write = probe_write };

struct report {
	FILE *out;
	bool quiet;
	bool ok;
};

static void line(struct report *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void line(struct report *r, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (!ok)
		r->ok = false;
	if (r->quiet)
		return;
	fprintf(r->out, "  %-4s ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
}

static void check_caps(struct report *r, const struct kvm *kvm)
{
	static const struct {
		long cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_KVMCLOCK_CTRL, "KVM_CAP_KVMCLOCK_CTRL" },
		{ KVM_CAP_XSAVE, "KVM_CAP_XSAVE" },
		{ KVM_CAP_XCRS, "KVM_CAP_XCRS" },
		{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
		{ KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS" },
		{ KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK" },
	};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		line(r, kvm_check_cap(kvm, caps[i].cap) > 0, "%s", caps[i].name);
}

/* Give the vCPU a CPUID the host cannot have: our signature, no POPCNT. */
static int mark_cpuid(struct vcpu *v, struct ember_err *err)
{
	struct kvm_cpuid_entry2 *sig = cpuid_find(&v->cpuid, 0x40000000, 0);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(&v->cpuid, 1, 0);
	int ret;

	if (!sig || !l1)
		return err_set(err, ENOTSUP, "KVM_GET_SUPPORTED_CPUID lacks leaf 1 or 0x40000000");
	sig->ebx = CHECK_SIG_EBX;
	sig->ecx = CHECK_SIG_ECX;
	sig->edx = CHECK_SIG_EDX;
	l1->ecx &= ~LEAF1_ECX_POPCNT;
	ret = KVM_IOCTL(v->fd, KVM_SET_CPUID2, &v->cpuid, err);
	return ret < 0 ? ret : 0;
}

static void judge(struct report *r, const struct probe *p, const struct vm_exit *ex)
{
	bool sig = p->slots[0] == CHECK_SIG_EBX && p->slots[1] == CHECK_SIG_ECX &&
		   p->slots[2] == CHECK_SIG_EDX && !(p->slots[3] & LEAF1_ECX_POPCNT);
	char seen[13] = { 0 };

	memcpy(seen, p->slots, 12);
	for (int i = 0; i < 12; i++)
		if (seen[i] < 0x20 || seen[i] > 0x7e)
			seen[i] = '.';
	if ((p->written & 0xf) != 0xf)
		line(r, false, "guest CPUID: the guest never reported it (%s)", ex->msg);
	else
		line(r, sig,
		     "guest CPUID is the one the VMM set (guest saw signature \"%s\", "
		     "leaf 1 ECX 0x%08x)",
		     seen, p->slots[3]);
	if (p->written & (1u << 4))
		line(r, p->slots[4] == POPCNT_EXPECT,
		     "guest kernel code runs natively "
		     "(popcnt at CPL0 gave %u, expected %u)",
		     p->slots[4], POPCNT_EXPECT);
	else
		line(r, false, "guest kernel code runs natively: no, %s", ex->msg);
}

static void run_guest(struct report *r, const char *kvm_path)
{
	struct vm_config cfg;
	struct vm_options opts = {
		.kvm_path = kvm_path, .serial_out_fd = -1, .serial_in_fd = -1, .timeout_ms = 5000
	};
	struct ember_err err = { 0 };
	struct vm_exit ex = { 0 };
	struct probe probe = { 0 };
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm) {
		line(r, false, "tiny guest: out of memory");
		return;
	}
	config_init(&cfg);
	cfg.machine.mem_size_mib = 2;
	ret = vm_create(vm, &cfg, &opts, &err);
	probe.vm = vm;
	if (!ret)
		ret = bus_add(&vm->pio, PROBE_PORT, PROBE_SLOTS * 4, &probe_ops, &probe, &err);
	if (!ret)
		ret = mark_cpuid(&vm->vcpus[0], &err);
	if (!ret)
		ret = vm_load_raw(vm, LAYOUT_HIMEM, check_kvm_guest_start,
				  (size_t)(check_kvm_guest_end - check_kvm_guest_start), &err);
	if (!ret)
		ret = vm_run(vm, &ex, &err);
	if (ret)
		line(r, false, "tiny guest: %s", err.msg);
	else
		judge(r, &probe, &ex);
	vm_destroy(vm);
	free(vm);
	config_free(&cfg);
}

int check_kvm_run(const char *kvm_path, FILE *out, bool quiet)
{
	struct report r = { .out = out, .quiet = quiet, .ok = true };
	const char *path = kvm_path ? kvm_path : "/dev/kvm";
	struct ember_err err = { 0 };
	struct kvm kvm;

	if (!quiet)
		fprintf(out, "ember --check-kvm: checking %s\n", path);
	if (kvm_open(&kvm, path, &err) < 0) {
		line(&r, false, "%s", err.msg);
	} else {
		line(&r, true, "KVM API version %d", KVM_API_VERSION);
		check_caps(&r, &kvm);
		kvm_close(&kvm);
		run_guest(&r, kvm_path);
	}
	if (!quiet)
		fprintf(out, "ember --check-kvm: %s\n",
			r.ok ? "this host's KVM can run ember's guests directly"
			     : "this host's KVM cannot run ember's guests directly");
	return r.ok ? 0 : 1;
}
