// SPDX-License-Identifier: Apache-2.0
/* KVM system and VM set-up (Documentation/virt/kvm/api.rst). */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "layout.h"

#define KVM_MAX_MSR_INDICES 1024

int kvm_ioctl_named(int fd, unsigned long req, const char *name, void *arg, struct ember_err *err)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return err_errno(err, "%s failed", name);
	return ret;
}

static int load_msr_index(struct kvm *kvm, struct ember_err *err)
{
	struct kvm_msr_list *list;
	int ret;

	list = calloc(1, sizeof(*list) + KVM_MAX_MSR_INDICES * sizeof(uint32_t));
	if (!list)
		return err_set(err, ENOMEM, "out of memory");
	list->nmsrs = KVM_MAX_MSR_INDICES;
	ret = KVM_IOCTL(kvm->sys_fd, KVM_GET_MSR_INDEX_LIST, list, err);
	if (ret < 0) {
		free(list);
		return ret;
	}
	kvm->msr_index = list;
	return 0;
}

int kvm_open(struct kvm *kvm, const char *path, struct ember_err *err)
{
	int ret;

	memset(kvm, 0, sizeof(*kvm));
	kvm->vm_fd = -1;
	kvm->sys_fd = open(path ? path : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0)
		return err_errno(err, "cannot open %s", path ? path : "/dev/kvm");
	ret = KVM_IOCTL(kvm->sys_fd, KVM_GET_API_VERSION, NULL, err);
	if (ret >= 0 && ret != KVM_API_VERSION)
		ret = err_set(err, ENOTSUP, "KVM API version %d, ember needs %d", ret,
			      KVM_API_VERSION);
	if (ret >= 0)
		ret = KVM_IOCTL(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, err);
	if (ret >= 0) {
		kvm->run_size = ret;
		ret = load_msr_index(kvm, err);
	}
	if (ret < 0) {
		kvm_close(kvm);
		return ret;
	}
	return 0;
}

int kvm_check_cap(const struct kvm *kvm, long cap)
{
	int fd = kvm->vm_fd >= 0 ? kvm->vm_fd : kvm->sys_fd;
	int ret = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

static int create_irqchip(struct kvm *kvm, struct ember_err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = LAYOUT_IDENTITY_MAP;
	int ret;

	ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident, err);
	if (ret >= 0)
		ret = KVM_IOCTL(kvm->vm_fd, KVM_CREATE_IRQCHIP, NULL, err);
	if (ret >= 0)
		ret = KVM_IOCTL(kvm->vm_fd, KVM_CREATE_PIT2, &pit, err);
	if (ret >= 0)
		kvm->irqchip = true;
	return ret < 0 ? ret : 0;
}

int kvm_create_vm(struct kvm *kvm, bool irqchip, struct ember_err *err)
{
	int ret;

	ret = KVM_IOCTL(kvm->sys_fd, KVM_CREATE_VM, 0, err);
	if (ret < 0)
		return ret;
	kvm->vm_fd = ret;
	fcntl(kvm->vm_fd, F_SETFD, FD_CLOEXEC);
	ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)LAYOUT_TSS, err);
	if (ret >= 0 && irqchip)
		ret = create_irqchip(kvm, err);
	return ret < 0 ? ret : 0;
}

int kvm_set_memory(struct kvm *kvm, const struct guest_mem *mem, bool log_dirty,
		   struct ember_err *err)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = (uint32_t)i,
			.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uintptr_t)mem->regions[i].host,
		};
		int ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region, err);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int kvm_add_slot(struct kvm *kvm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		 bool read_only, struct ember_err *err)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = read_only ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	int ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region, err);

	return ret < 0 ? ret : 0;
}

int kvm_irqfd(struct kvm *kvm, int gsi, int *efd_out, struct ember_err *err)
{
	struct kvm_irqfd irqfd = { .gsi = (uint32_t)gsi };
	int efd, ret;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return err_errno(err, "eventfd for GSI %d", gsi);
	irqfd.fd = (uint32_t)efd;
	ret = KVM_IOCTL(kvm->vm_fd, KVM_IRQFD, &irqfd, err);
	if (ret < 0) {
		close(efd);
		return ret;
	}
	*efd_out = efd;
	return 0;
}

bool kvm_msr_supported(const struct kvm *kvm, uint32_t index)
{
	if (!kvm->msr_index)
		return false;
	for (uint32_t i = 0; i < kvm->msr_index->nmsrs; i++)
		if (kvm->msr_index->indices[i] == index)
			return true;
	return false;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	free(kvm->msr_index);
	kvm->msr_index = NULL;
	kvm->vm_fd = kvm->sys_fd = -1;
}

int kvm_ioeventfd(struct kvm *kvm, uint64_t addr, uint32_t len, uint64_t datamatch, int *efd_out,
		  struct ember_err *err)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	int efd, ret;

	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return err_errno(err, "eventfd for MMIO 0x%" PRIx64, addr);
	io.fd = efd;
	ret = KVM_IOCTL(kvm->vm_fd, KVM_IOEVENTFD, &io, err);
	if (ret < 0) {
		close(efd);
		return ret;
	}
	*efd_out = efd;
	return 0;
}
