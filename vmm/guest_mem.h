/* SPDX-License-Identifier: Apache-2.0 */
/* Guest memory and the one bounds-checked accessor that reaches it. */
#ifndef EMBER_GUEST_MEM_H
#define EMBER_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GUEST_MEM_MAX_REGIONS 2

/* How guest RAM is backed (the machine-config's and snapshot load's huge_pages). */
enum guest_mem_pages {
	GUEST_MEM_4K,  /* ordinary pages */
	GUEST_MEM_THP, /* ordinary mapping, madvise(MADV_HUGEPAGE) */
	GUEST_MEM_2M,  /* hugetlbfs 2 MiB pages */
};

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	/* With dirty tracking: a bit per 4 KiB page ember itself may have
	 * written (KVM logs the guest's writes). Set atomically. */
	uint64_t *dirty;
};

/* virtio-mem's region: reached only where its blocks are plugged. */
struct guest_hotplug {
	uint64_t gpa, size, block; /* size 0: none */
	uint8_t *host;
	const uint64_t *plugged; /* a bit per block */
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	int nr_regions;
	struct guest_hotplug hotplug;
	uint64_t size; /* total bytes of RAM */
	enum guest_mem_pages pages;
};

/* Anonymous RAM of `size` bytes, split around the 32-bit MMIO hole. */
int guest_mem_init(struct guest_mem *mem, uint64_t size, enum guest_mem_pages pages,
		   struct ember_err *err);
/* The same layout from a memory file (regions one after another in it),
 * mapped MAP_PRIVATE: a snapshot's memory, loaded on demand. 2M pages
 * cannot back a file mapping. */
int guest_mem_init_file(struct guest_mem *mem, uint64_t size, int fd, enum guest_mem_pages pages,
			struct ember_err *err);
/* Pages of region i resident in ember's mapping (mincore): a bit per 4 KiB
 * page, ORed into bitmap. What a Diff snapshot writes without dirty logging. */
int guest_mem_resident(const struct guest_mem *mem, int i, uint64_t *bitmap, struct ember_err *err);
/* Wrap caller-owned buffers (unit tests, snapshot files). */
void guest_mem_init_static(struct guest_mem *mem, const struct guest_region *regions, int nr);
void guest_mem_free(struct guest_mem *mem);

/* Start tracking the pages ember reaches (for diff snapshots). */
int guest_mem_track_dirty(struct guest_mem *mem, struct ember_err *err);
/* Move region i's tracked pages into bitmap (OR), clearing them. */
void guest_mem_take_dirty(struct guest_mem *mem, int i, uint64_t *bitmap);

/*
 * Host pointer to [gpa, gpa + len) or NULL when any byte of it is outside
 * one RAM region, or the hotplug region's plugged blocks. Overflow-safe for any gpa and len. len 0 is rejected.
 * With dirty tracking on, the pages are marked: whoever asks may write.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len,
		    struct ember_err *err);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len,
		   struct ember_err *err);
/* Give [gpa, gpa + len) back to the host (madvise(MADV_DONTNEED)): the
 * pages read as zeros, or as the memory file's, when next touched. Both
 * ends 4 KiB-aligned, the range within one region; not for 2 MiB pages. */
int guest_mem_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
		      struct ember_err *err);
/* End of RAM below the MMIO hole. */
uint64_t guest_mem_low_end(const struct guest_mem *mem);

#endif
