/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A restored VM's working set brought in before its vCPUs run: the host's
 * page tables for it (MADV_POPULATE_READ over each run of the memory
 * file's pages, which File's mapping then shares with the page cache), and,
 * where KVM has KVM_PRE_FAULT_MEMORY (Linux 6.10), the guest's nested page
 * tables too, so that the guest takes no fault on those pages at all.
 * Without either (older kernels), nothing is done and nothing fails.
 */
#ifndef EMBER_PREFAULT_H
#define EMBER_PREFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct vm;

struct vm_prefault {
	uint64_t pages;      /* listed and inside guest RAM */
	uint64_t populated;  /* host page tables filled (MADV_POPULATE_READ) */
	uint64_t kvm_mapped; /* nested page tables filled (KVM_PRE_FAULT_MEMORY) */
	bool kvm;            /* KVM has KVM_PRE_FAULT_MEMORY */
};

/* `pages`: sorted indexes of 4 KiB pages of the memory file, whose layout
 * is guest RAM's regions one after the other. Pages past RAM are skipped. */
int vm_prefault(struct vm *vm, const uint32_t *pages, size_t n, struct vm_prefault *out,
		struct ember_err *err);

#endif
