/* SPDX-License-Identifier: Apache-2.0 */
/* KVM system and VM file descriptors, and ioctl wrappers that name the ioctl. */
#ifndef EMBER_KVM_H
#define EMBER_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "err.h"
#include "guest_mem.h"

struct kvm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	bool irqchip;
	struct kvm_msr_list *msr_index; /* MSRs KVM can save/restore */
};

/* ioctl() whose failure message names the request: "KVM_RUN failed: ...". */
int kvm_ioctl_named(int fd, unsigned long req, const char *name, void *arg, struct ember_err *err);
#define KVM_IOCTL(fd, req, arg, err) kvm_ioctl_named((fd), (req), #req, (arg), (err))

int kvm_open(struct kvm *kvm, const char *path, struct ember_err *err);
/* Create the VM; with irqchip, also the in-kernel PIC/IOAPIC and PIT. */
int kvm_create_vm(struct kvm *kvm, bool irqchip, struct ember_err *err);
/* Slot i = region i; log_dirty: KVM logs the guest's writes (KVM_GET_DIRTY_LOG). */
/* One more memory slot (a pmem file): read_only makes guest writes MMIO exits. */
int kvm_add_slot(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		 bool read_only, struct ember_err *err);
int kvm_set_memory(struct kvm *kvm, const struct guest_mem *mem, bool log_dirty,
		   struct ember_err *err);
int kvm_check_cap(const struct kvm *kvm, long cap);
/* Register an eventfd that raises GSI `gsi` when written. */
int kvm_irqfd(struct kvm *kvm, int gsi, int *efd_out, struct ember_err *err);
/* An eventfd signalled, without an exit to user space, by a guest write of
 * `datamatch` (len bytes) at MMIO address addr. */
int kvm_ioeventfd(struct kvm *kvm, uint64_t addr, uint32_t len, uint64_t datamatch, int *efd_out,
		  struct ember_err *err);
bool kvm_msr_supported(const struct kvm *kvm, uint32_t index);
void kvm_close(struct kvm *kvm);

#endif
