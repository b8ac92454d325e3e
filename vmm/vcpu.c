// SPDX-License-Identifier: Apache-2.0
/* vCPU set-up and run loop. Exits are dispatched to the VM's PIO/MMIO buses. */
#include "vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpu_template.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "seccomp_filter.h"
#include "vm.h"

#define GDT_CODE32 0x00cf9b000000ffffULL
#define GDT_CODE64 0x00af9b000000ffffULL
#define GDT_DATA   0x00cf93000000ffffULL
#define GDT_TSS    0x008f8b000000ffffULL
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18
#define SEL_TSS    0x20

#define CR0_PE         0x1ULL
#define CR0_ET         0x10ULL
#define CR0_NE         0x20ULL
#define CR0_PG         0x80000000ULL
#define CR4_PAE        0x20ULL
#define EFER_LME       0x100ULL
#define EFER_LMA       0x400ULL
#define PTE_PRESENT_RW 0x3ULL
#define PTE_HUGE       0x80ULL

#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE_WB          ((1u << 11) | 6)

#define INSN_MAX 15

static const uint64_t gdt_table[] = { 0, GDT_CODE32, GDT_CODE64, GDT_DATA, GDT_TSS };

static int kick_signal(void)
{
	return SIGRTMIN + 1;
}

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct ember_err *err)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->index = index;
	v->fd = -1;
	ret = KVM_IOCTL(vm->kvm.vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index, err);
	if (ret < 0)
		return err_prefix(err, "vCPU %u", index);
	v->fd = ret;
	v->run_size = vm->kvm.run_size;
	v->run = mmap(NULL, (size_t)v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return err_errno(err, "vCPU %u: mmap kvm_run", index);
	}
	return 0;
}

static int set_cpuid(struct vcpu *v, const struct cpuid_table *cpuid, struct ember_err *err)
{
	const struct config_machine *m = &v->vm->cfg->machine;
	struct cpuid_topology topo = {
		.vcpu_index = v->index,
		.vcpu_count = m->vcpu_count,
		.smt = m->smt,
		.tsc_deadline = kvm_check_cap(&v->vm->kvm, KVM_CAP_TSC_DEADLINE_TIMER) > 0,
	};
	int ret;

	v->cpuid = *cpuid;
	cpuid_normalize(&v->cpuid, &topo);
	ret = KVM_IOCTL(v->fd, KVM_SET_CPUID2, &v->cpuid, err);
	return ret < 0 ? ret : 0;
}

static int set_boot_msrs(struct vcpu *v, struct ember_err *err)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[sizeof(boot) / sizeof(boot[0])];
	} msrs;
	uint32_t n = 0;
	int ret;

	memset(&msrs, 0, sizeof(msrs));
	for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++) {
		if (!kvm_msr_supported(&v->vm->kvm, boot[i].index))
			continue;
		msrs.entries[n].index = boot[i].index;
		msrs.entries[n++].data = boot[i].value;
	}
	msrs.hdr.nmsrs = n;
	ret = KVM_IOCTL(v->fd, KVM_SET_MSRS, &msrs, err);
	if (ret >= 0 && (uint32_t)ret != n)
		return err_set(err, EINVAL, "KVM_SET_MSRS set %d of %u MSRs (stopped at 0x%x)", ret,
			       n, msrs.entries[ret].index);
	return ret < 0 ? ret : 0;
}

/* A template's MSRs: each one's current value, modified, written back. */
static int set_template_msrs(struct vcpu *v, const struct cpu_template *tmpl, struct ember_err *err)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;
	int ret;

	for (unsigned i = 0; tmpl && i < tmpl->nr_msrs; i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 1;
		m.e.index = tmpl->msrs[i].addr;
		if (!kvm_msr_supported(&v->vm->kvm, m.e.index) ||
		    KVM_IOCTL(v->fd, KVM_GET_MSRS, &m, NULL) != 1)
			return err_set(err, ENOTSUP,
				       "Failed to create guest config: Template changes an MSR "
				       "entry not supported by KVM: Register Address: %x",
				       m.e.index);
		uint64_t val;

		cpu_template_msr(tmpl, m.e.index, m.e.data, &val);
		m.e.data = val;
		ret = KVM_IOCTL(v->fd, KVM_SET_MSRS, &m, err);
		if (ret < 0)
			return ret;
		if (ret != 1)
			return err_set(err, EINVAL, "KVM_SET_MSRS refused MSR 0x%x = 0x%llx",
				       m.e.index, (unsigned long long)m.e.data);
	}
	return 0;
}

static void set_lvt_mode(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, sizeof(v));
}

/* LINT0 receives the PIC's ExtINT, LINT1 NMIs, as on a PC. */
static int set_lint(struct vcpu *v, struct ember_err *err)
{
	struct kvm_lapic_state lapic;
	int ret;

	ret = KVM_IOCTL(v->fd, KVM_GET_LAPIC, &lapic, err);
	if (ret < 0)
		return ret;
	set_lvt_mode(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt_mode(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	ret = KVM_IOCTL(v->fd, KVM_SET_LAPIC, &lapic, err);
	return ret < 0 ? ret : 0;
}

int vcpu_configure(struct vcpu *v, const struct cpuid_table *cpuid, const struct cpu_template *tmpl,
		   struct ember_err *err)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	int ret;

	ret = set_cpuid(v, cpuid, err);
	if (!ret)
		ret = set_boot_msrs(v, err);
	if (!ret)
		ret = set_template_msrs(v, tmpl, err);
	if (!ret && v->vm->kvm.irqchip)
		ret = set_lint(v, err);
	if (!ret)
		ret = KVM_IOCTL(v->fd, KVM_SET_FPU, &fpu, err);
	return ret < 0 ? err_prefix(err, "vCPU %u", v->index) : 0;
}

int vcpu_write_boot_tables(const struct guest_mem *mem, struct ember_err *err)
{
	uint64_t pml4 = LAYOUT_PDPT | PTE_PRESENT_RW, pdpt[4], *pd;
	uint64_t idt = 0;

	if (guest_mem_write(mem, LAYOUT_GDT, gdt_table, sizeof(gdt_table), err) < 0 ||
	    guest_mem_write(mem, LAYOUT_IDT, &idt, sizeof(idt), err) < 0 ||
	    guest_mem_write(mem, LAYOUT_PML4, &pml4, sizeof(pml4), err) < 0)
		return -err->code;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PD + (uint64_t)i * LAYOUT_PAGE) | PTE_PRESENT_RW;
	if (guest_mem_write(mem, LAYOUT_PDPT, pdpt, sizeof(pdpt), err) < 0)
		return -err->code;
	pd = guest_mem_ptr(mem, LAYOUT_PD, 4 * LAYOUT_PAGE);
	if (!pd)
		return err_set(err, EFAULT, "no guest memory for page tables");
	for (uint64_t j = 0; j < 4 * 512; j++)
		pd[j] = (j << 21) | PTE_HUGE | PTE_PRESENT_RW;
	return 0;
}

static struct kvm_segment segment(uint64_t e, uint16_t sel)
{
	uint32_t limit = (uint32_t)((e & 0xffff) | ((e >> 32) & 0xf0000));
	struct kvm_segment s = {
		.base = ((e >> 16) & 0xffffff) | (((e >> 56) & 0xff) << 24),
		.selector = sel,
		.type = (e >> 40) & 0xf,
		.s = (e >> 44) & 1,
		.dpl = (e >> 45) & 3,
		.present = (e >> 47) & 1,
		.avl = (e >> 52) & 1,
		.l = (e >> 53) & 1,
		.db = (e >> 54) & 1,
		.g = (e >> 55) & 1,
	};

	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	s.unusable = !s.present;
	return s;
}

static void set_segments(struct kvm_sregs *sr, bool long_mode)
{
	struct kvm_segment data = segment(GDT_DATA, SEL_DATA);

	sr->cs = long_mode ? segment(GDT_CODE64, SEL_CODE64) : segment(GDT_CODE32, SEL_CODE32);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = data;
	sr->tr = segment(GDT_TSS, SEL_TSS);
	sr->gdt.base = LAYOUT_GDT;
	sr->gdt.limit = sizeof(gdt_table) - 1;
	sr->idt.base = LAYOUT_IDT;
	sr->idt.limit = 7;
}

int vcpu_set_boot_regs(struct vcpu *v, enum boot_protocol proto, uint64_t entry,
		       struct ember_err *err)
{
	bool lm = proto == BOOT_LINUX64;
	struct kvm_regs regs = { .rflags = 2, .rip = entry };
	struct kvm_sregs sr;

	if (KVM_IOCTL(v->fd, KVM_GET_SREGS, &sr, err) < 0)
		return -err->code;
	set_segments(&sr, lm);
	sr.cr0 = CR0_PE | CR0_ET | CR0_NE;
	sr.cr4 = 0;
	sr.efer = 0;
	if (lm) {
		sr.cr3 = LAYOUT_PML4;
		sr.cr4 = CR4_PAE;
		sr.cr0 |= CR0_PG;
		sr.efer = EFER_LME | EFER_LMA;
		regs.rsp = regs.rbp = LAYOUT_BOOT_STACK;
		regs.rsi = LAYOUT_ZERO_PAGE;
	} else {
		regs.rbx = LAYOUT_PVH_INFO;
	}
	if (KVM_IOCTL(v->fd, KVM_SET_SREGS, &sr, err) < 0 ||
	    KVM_IOCTL(v->fd, KVM_SET_REGS, &regs, err) < 0)
		return err_prefix(err, "vCPU %u", v->index);
	return 0;
}

/* One writer (this vCPU's thread): no locked instruction needed. */
static void stat_inc(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void vcpu_stats_read(const struct vcpu *v, struct vcpu_stats *out)
{
	out->io_in = __atomic_load_n(&v->stats.io_in, __ATOMIC_RELAXED);
	out->io_out = __atomic_load_n(&v->stats.io_out, __ATOMIC_RELAXED);
	out->mmio_read = __atomic_load_n(&v->stats.mmio_read, __ATOMIC_RELAXED);
	out->mmio_write = __atomic_load_n(&v->stats.mmio_write, __ATOMIC_RELAXED);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	stat_inc(run->io.direction == KVM_EXIT_IO_OUT ? &v->stats.io_out : &v->stats.io_in);
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		bool ok = run->io.direction == KVM_EXIT_IO_OUT
			      ? bus_write(&v->vm->pio, run->io.port, data, run->io.size)
			      : bus_read(&v->vm->pio, run->io.port, data, run->io.size);

		if (!ok && log_enabled(LOG_DEBUG))
			log_debug("unhandled port %s 0x%x size %u",
				  run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
				  run->io.port, run->io.size);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len <= 8 ? run->mmio.len : 8;
	bool ok = run->mmio.is_write
		      ? bus_write(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len)
		      : bus_read(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len);

	stat_inc(run->mmio.is_write ? &v->stats.mmio_write : &v->stats.mmio_read);
	if (!ok && log_enabled(LOG_DEBUG))
		log_debug("unhandled MMIO %s 0x%llx len %u", run->mmio.is_write ? "write" : "read",
			  (unsigned long long)run->mmio.phys_addr, len);
}

/* Up to 15 bytes at the guest's RIP, as hex, for error reports. */
static void format_insn(struct vcpu *v, uint64_t rip, char *out, size_t size)
{
	struct kvm_translation tr = { .linear_address = rip };
	size_t off = 0;
	const uint8_t *p = NULL;
	int len;

	snprintf(out, size, "unavailable");
	if (ioctl(v->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return;
	for (len = INSN_MAX; len > 0 && !p; len--)
		p = guest_mem_ptr(&v->vm->mem, tr.physical_address, (uint64_t)len);
	for (int i = 0; p && i <= len && off + 4 < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%02x", i ? " " : "", p[i]);
}

static void report_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs = { 0 };
	char insn[64], data[160];
	size_t off = 0;

	ioctl(v->fd, KVM_GET_REGS, &regs);
	format_insn(v, regs.rip, insn, sizeof(insn));
	data[0] = '\0';
	for (uint32_t i = 0; i < run->internal.ndata && i < 16 && off + 20 < sizeof(data); i++)
		off += (size_t)snprintf(data + off, sizeof(data) - off, " 0x%llx",
					(unsigned long long)run->internal.data[i]);
	vm_request_exit(
	    v->vm, VM_EXIT_ERROR, 1,
	    "vCPU %u: KVM_EXIT_INTERNAL_ERROR: suberror %u (%s), RIP 0x%llx, "
	    "instruction bytes: %s, data:%s",
	    v->index, run->internal.suberror,
	    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION     ? "emulation failure"
	    : run->internal.suberror == KVM_INTERNAL_ERROR_SIMUL_EX    ? "simultaneous exceptions"
	    : run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV ? "event delivery"
								       : "other",
	    (unsigned long long)regs.rip, insn, data[0] ? data : " none");
}

/* Said at Warning, with where the guest was: a guest that triple-faults
 * has crashed, and a caller logging only warnings should learn why it
 * ended and have what maps the crash to the guest kernel's code. */
static void report_triple_fault(struct vcpu *v)
{
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sr = { 0 };
	char insn[64];

	ioctl(v->fd, KVM_GET_REGS, &regs);
	ioctl(v->fd, KVM_GET_SREGS, &sr);
	format_insn(v, regs.rip, insn, sizeof(insn));
	log_warn("vCPU %u: triple fault: the guest is shut down; RIP 0x%llx RSP 0x%llx CR0 0x%llx "
		 "CR2 0x%llx CR3 0x%llx CR4 0x%llx EFER 0x%llx, instruction bytes: %s%s",
		 v->index, (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		 (unsigned long long)sr.cr0, (unsigned long long)sr.cr2, (unsigned long long)sr.cr3,
		 (unsigned long long)sr.cr4, (unsigned long long)sr.efer, insn,
		 /* AMD's KVM resets the vCPU on the shutdown before it exits */
		 regs.rip == 0xfff0 && sr.cs.base == 0xffff0000
		     ? " (the vCPU's reset state: KVM reset it before reporting, as on AMD "
		       "hosts, so where it faulted is lost)"
		     : "");
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(v->vm, VM_EXIT_SHUTDOWN, 0, "guest shut down");
		break;
	case KVM_SYSTEM_EVENT_RESET: vm_request_exit(v->vm, VM_EXIT_RESET, 0, "guest reset"); break;
	default:
		vm_request_exit(v->vm, VM_EXIT_ERROR, 1, "vCPU %u: guest system event %u (crash)",
				v->index, v->run->system_event.type);
		break;
	}
}

/* One exit; false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: handle_io(v); return true;
	case KVM_EXIT_MMIO: handle_mmio(v); return true;
	case KVM_EXIT_HLT:
		vm_request_exit(v->vm, VM_EXIT_HALT, 0, "vCPU %u halted", v->index);
		return false;
	case KVM_EXIT_SHUTDOWN:
		report_triple_fault(v);
		vm_request_exit(v->vm, VM_EXIT_SHUTDOWN, 0,
				"guest shut down (triple fault on vCPU %u)", v->index);
		return false;
	case KVM_EXIT_SYSTEM_EVENT: handle_system_event(v); return false;
	case KVM_EXIT_INTERNAL_ERROR: report_internal_error(v); return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_exit(
		    v->vm, VM_EXIT_ERROR, 1,
		    "vCPU %u: KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x%llx", v->index,
		    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	default:
		vm_request_exit(v->vm, VM_EXIT_ERROR, 1, "vCPU %u: unexpected KVM exit reason %u",
				v->index, run->exit_reason);
		return false;
	}
}

static void *vcpu_loop(void *arg)
{
	struct vcpu *v = arg;
	struct ember_err err = { 0 };
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu %u", v->index);
	log_thread_name(name);
	snprintf(name, sizeof(name), "ember_vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (seccomp_thread_apply(v->vm->opts.seccomp, SECCOMP_THREAD_VCPU, &err) < 0)
		vm_request_exit(v->vm, VM_EXIT_ERROR, 1, "vCPU %u: %s", v->index, err.msg);
	vm_vcpu_park(v->vm, v); /* a VM restored paused waits here */
	while (!vm_exit_requested(v->vm)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				vm_vcpu_park(v->vm, v);
				continue;
			}
			vm_request_exit(v->vm, VM_EXIT_ERROR, 1, "vCPU %u: KVM_RUN failed: %s",
					v->index, strerror(errno));
			break;
		}
		v->exits++;
		if (!handle_exit(v))
			break;
	}
	vm_vcpu_done(v->vm);
	return NULL;
}

void vcpu_clock_paused(struct vcpu *v)
{
	/* EINVAL: the guest does not use kvmclock, so it has nothing to be told. */
	if (ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL)
		log_warn("vCPU %u: KVM_KVMCLOCK_CTRL: %s", v->index, strerror(errno));
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_start(struct vcpu *v, struct ember_err *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set, old;
	int ret;

	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal(), &sa, NULL) < 0)
		return err_errno(err, "sigaction for the vCPU kick signal");
	/* Start with the kick blocked; the thread unblocks it when ready. */
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ret = pthread_create(&v->thread, NULL, vcpu_loop, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return err_set(err, ret, "cannot start vCPU %u thread", v->index);
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, kick_signal());
}

void vcpu_join(struct vcpu *v)
{
	if (!v->started)
		return;
	pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
