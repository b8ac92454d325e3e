/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a restored guest does in its first RESUME_PROBE_MS once it runs:
 * the exits and page faults KVM counts for its vCPUs (kvm_stats.h), and the
 * faults the host took on ember's side (its mapping of guest memory, the
 * pages KVM faults in for the guest count there too). A restore's cost
 * does not end with the load: this is the part that comes after.
 */
#ifndef EMBER_RESUME_PROBE_H
#define EMBER_RESUME_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "kvm_stats.h"

#define RESUME_PROBE_MS 100

struct vm;

struct resume_probe {
	struct kvm_stats vcpu[CONFIG_MAX_VCPUS];
	unsigned nr_vcpus;
	int timer_fd; /* -1: not set up */
	bool armed, done;
	uint64_t base[KVM_STAT_NR], count[KVM_STAT_NR];
	uint64_t minflt0, majflt0, minflt, majflt;
};

/* Open each vCPU's statistics and a timer on the VM's loop (before the VMM
 * thread's seccomp filter: KVM_GET_STATS_FD is not in it). */
int resume_probe_init(struct resume_probe *p, struct vm *vm, struct ember_err *err);
/* The vCPUs run from now: count until RESUME_PROBE_MS later. */
void resume_probe_arm(struct resume_probe *p);
void resume_probe_free(struct resume_probe *p);

#endif
