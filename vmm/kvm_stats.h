/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vCPU's KVM binary statistics (KVM_GET_STATS_FD, Linux 5.14): what the
 * guest made KVM do, counted by KVM itself. Every exit the guest takes is
 * there, the ones KVM handles without ember (nested page faults, halts,
 * interrupt windows) as well as the I/O that reaches ember.
 */
#ifndef EMBER_KVM_STATS_H
#define EMBER_KVM_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum kvm_stat {
	KVM_STAT_EXITS,      /* every exit from the guest */
	KVM_STAT_PF_TAKEN,   /* page faults KVM handled (EPT/NPT violations) */
	KVM_STAT_PF_FIXED,   /* of those, the ones that mapped a page */
	KVM_STAT_IO_EXITS,   /* port I/O to user space */
	KVM_STAT_MMIO_EXITS, /* MMIO to user space */
	KVM_STAT_HALT_EXITS, /* HLT */
	KVM_STAT_NR
};

extern const char *const kvm_stat_names[KVM_STAT_NR];

struct kvm_stats {
	int fd;                     /* -1: none (an older kernel) */
	int64_t where[KVM_STAT_NR]; /* offset of the value in fd; -1: KVM has no such counter */
};

/* Where each counter is, from the descriptors KVM gives (`descs`, `n` of
 * them, each `desc_size` bytes) and the data's offset in the fd. A bad or
 * short table leaves counters at -1, never reads outside it. */
void kvm_stats_index(struct kvm_stats *s, const uint8_t *descs, size_t len, uint32_t n,
		     uint32_t desc_size, uint64_t data_offset);
/* -EOPNOTSUPP when the kernel has no binary statistics. */
int kvm_stats_open(struct kvm_stats *s, int vcpu_fd, struct ember_err *err);
/* The counters now; 0 for one KVM does not have. */
void kvm_stats_read(const struct kvm_stats *s, uint64_t out[KVM_STAT_NR]);
void kvm_stats_close(struct kvm_stats *s);

#endif
