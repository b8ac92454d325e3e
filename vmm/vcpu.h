/* SPDX-License-Identifier: Apache-2.0 */
/* vCPUs: creation, boot registers, and the KVM_RUN loop on their own threads. */
#ifndef EMBER_VCPU_H
#define EMBER_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "boot.h"
#include "cpuid.h"
#include "err.h"

struct vm;

/* Written by the vCPU's thread only, read by the VMM thread for metrics. */
struct vcpu_stats {
	uint64_t io_in, io_out, mmio_read, mmio_write;
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	int run_size;
	pthread_t thread;
	bool started;
	struct cpuid_table cpuid;
	uint64_t exits;
	struct vcpu_stats stats;
};

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct ember_err *err);
/* CPUID through the template, boot MSRs, LAPIC LINT pins, FPU. */
struct cpu_template;
/* CPUID (the template already applied to `cpuid`; normalised here for this
 * vCPU), boot MSRs and the template's MSRs, LAPIC LINTs, FPU. */
int vcpu_configure(struct vcpu *v, const struct cpuid_table *cpuid, const struct cpu_template *tmpl,
		   struct ember_err *err);
/* GDT, IDT and identity page tables (4 GiB, 2 MiB pages) in guest memory. */
int vcpu_write_boot_tables(const struct guest_mem *mem, struct ember_err *err);
/* Registers for entry: PVH (32-bit, EBX = start info) or 64-bit (RSI = zero page). */
int vcpu_set_boot_regs(struct vcpu *v, enum boot_protocol proto, uint64_t entry,
		       struct ember_err *err);
int vcpu_start(struct vcpu *v, struct ember_err *err);
/* Make KVM_RUN return promptly (immediate_exit + a signal). */
void vcpu_kick(struct vcpu *v);
/* Tell the guest's kvmclock that the host stopped this vCPU (soft-lockup detector). */
void vcpu_clock_paused(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);
/* A consistent-enough copy of v's counters, from another thread. */
void vcpu_stats_read(const struct vcpu *v, struct vcpu_stats *out);

#endif
