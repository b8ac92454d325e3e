/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots: a paused VM saved to a state file and a memory file, and a
 * fresh process's VM built from them (Firecracker's PUT /snapshot/create
 * and /snapshot/load).
 *
 * State file (little-endian, bounds-checked on read):
 *   u64 magic SNAPSHOT_MAGIC, u32 major, u32 minor
 *   u32 length + the VM's configuration (the control plane's, opaque here:
 *   GET /vm/config's JSON)
 *   u32 regions, then per region: u64 gpa, u64 size, u64 offset in the memory file
 *   the VM's KVM state (snapshot_vm_save), u32 vCPUs + each vCPU's state
 *   every device's state through its save hook, in the VM's device order
 *   u64 CRC-64/XZ of everything before it
 * The memory file holds the regions one after another; pages that are all
 * zero are holes (the file is sparse). A diff's memory file holds only the
 * pages dirtied since the last snapshot; the rest are holes.
 */
#ifndef EMBER_SNAPSHOT_H
#define EMBER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

#define SNAPSHOT_MAGIC         0x50414e5352424d45ULL /* "EMBRSNAP" */
#define SNAPSHOT_VERSION_MAJOR 1
#define SNAPSHOT_VERSION_MINOR 1        /* 1.1: the host wall clock beside kvmclock */
#define SNAPSHOT_FILE_MAX      10000000 /* bytes of state file, as Firecracker */
#define SNAPSHOT_MAX_REGIONS   2

struct kvm;
struct vcpu;
struct vm;

struct snapshot_region {
	uint64_t gpa, size, offset;
};

/* A state file read and checked (size, magic, version, CRC), its header parsed. */
struct snapshot_file {
	uint8_t *buf;
	size_t len;
	uint32_t major, minor;
	char *config_json; /* NUL-terminated copy */
	struct snapshot_region regions[SNAPSHOT_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t mem_size;
	struct state_reader rest; /* the VM, vCPU and device states */
};

/* Write the paused vm to state_path, with config_json (its configuration,
 * as the control plane will want it back), and its memory to mem_path: all
 * of it, or (diff) only the pages written since the last snapshot, the VM's
 * start or its load (KVM's dirty log with track_dirty_pages; otherwise the
 * pages resident in memory, found with mincore). */
int snapshot_create(struct vm *vm, const char *config_json, const char *state_path,
		    const char *mem_path, bool diff, struct ember_err *err);
/* Firecracker's "snapshot-editor edit-memory rebase": the diff's written
 * pages copied onto its base, which then equals a full snapshot's memory. */
int snapshot_rebase(const char *base_path, const char *diff_path, struct ember_err *err);
/* Check a state file from memory (fuzzing, tests) or from path. */
int snapshot_parse(struct snapshot_file *f, const void *data, size_t len, struct ember_err *err);
int snapshot_read(struct snapshot_file *f, const char *path, struct ember_err *err);
void snapshot_file_free(struct snapshot_file *f);
/* Onto a VM created from the file's configuration (memory mapped from its
 * memory file): the VM's, every vCPU's and every device's state. With
 * clock_realtime, kvmclock moves on by the wall time since the snapshot. */
int snapshot_restore(struct vm *vm, struct snapshot_file *f, bool clock_realtime,
		     struct ember_err *err);

/* uffd.c: register guest memory with a new userfaultfd and hand it, with
 * the region list, to the page-fault handler at path (Firecracker's
 * protocol). *sock_out ends (EOF) when the handler goes away. */
struct guest_mem;
int snapshot_uffd_connect(const struct guest_mem *mem, const char *path, int *sock_out,
			  int *uffd_out, struct ember_err *err);

/* vm_state.c, vcpu_state.c: the KVM state of the VM and of one vCPU. */
int snapshot_vm_save(const struct kvm *kvm, struct state_writer *w, struct ember_err *err);
int snapshot_vm_restore(const struct kvm *kvm, struct state_reader *r, unsigned minor,
			bool clock_realtime, struct ember_err *err);
int snapshot_vcpu_save(struct vcpu *v, const struct kvm *kvm, struct state_writer *w,
		       struct ember_err *err);
int snapshot_vcpu_restore(struct vcpu *v, struct state_reader *r, struct ember_err *err);

#endif
