// SPDX-License-Identifier: Apache-2.0
/* A restored VM's working set faulted in before it runs (see prefault.h). */
#include "prefault.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vm.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#ifndef KVM_CAP_PRE_FAULT_MEMORY /* Linux 6.10 */
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

#define PAGE 4096ull

/* The region holding file offset `off` (regions follow each other in the
 * file), and where it starts in the file; NULL past RAM. */
static const struct guest_region *region_at(const struct guest_mem *mem, uint64_t off,
					    uint64_t *start)
{
	uint64_t base = 0;

	for (int i = 0; i < mem->nr_regions; base += mem->regions[i++].size)
		if (off - base < mem->regions[i].size) {
			*start = base;
			return &mem->regions[i];
		}
	return NULL;
}

#define PREFAULT_RETRIES 16 /* EINTR or EAGAIN without progress, in a row */

/* KVM maps [gpa, gpa + len) as the vCPU would on its first touch; it may
 * stop early (a signal, a race): it is asked again for the rest, but not
 * for ever when it makes no progress. */
static bool kvm_prefault(int vcpu_fd, uint64_t gpa, uint64_t len, uint64_t *mapped)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = len };
	unsigned stuck = 0;

	while (r.size) {
		uint64_t before = r.size;

		if (ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, &r) < 0 &&
		    ((errno != EINTR && errno != EAGAIN) || ++stuck > PREFAULT_RETRIES))
			return false;
		if (r.size < before)
			stuck = 0;
		*mapped += (before - r.size) / PAGE;
	}
	return true;
}

/* One run of adjacent pages inside one region, reached through the guest
 * memory accessor like every other host access to guest memory. */
static void prefault_run(struct vm *vm, const struct guest_region *g, uint64_t at, uint64_t len,
			 struct vm_prefault *out)
{
	void *host = guest_mem_ptr(&vm->mem, g->gpa + at, len);

	if (!host)
		return;
	if (!madvise(host, len, MADV_POPULATE_READ))
		out->populated += len / PAGE;
	if (out->kvm && !kvm_prefault(vm->vcpus[0].fd, g->gpa + at, len, &out->kvm_mapped))
		out->kvm = false; /* refused once: not again for every run */
}

int vm_prefault(struct vm *vm, const uint32_t *pages, size_t n, struct vm_prefault *out,
		struct ember_err *err)
{
	*out = (struct vm_prefault){ .kvm = vm->nr_vcpus &&
					    kvm_check_cap(&vm->kvm, KVM_CAP_PRE_FAULT_MEMORY) > 0 };
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t start = 0, off = (uint64_t)pages[i] * PAGE;
		const struct guest_region *g = region_at(&vm->mem, off, &start);

		if (i && pages[i] <= pages[i - 1])
			return err_set(err, EINVAL, "the working set is not a sorted page list");
		/* the run: adjacent pages in the same region */
		for (j = i + 1; j < n && pages[j] == pages[j - 1] + 1 &&
				(uint64_t)pages[j] * PAGE - start < (g ? g->size : 0);
		     j++)
			;
		if (!g)
			continue;
		out->pages += j - i;
		prefault_run(vm, g, off - start, (uint64_t)(j - i) * PAGE, out);
	}
	return 0;
}
