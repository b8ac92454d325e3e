// SPDX-License-Identifier: Apache-2.0
/* Guest memory: mmap'ed regions and the bounds-checked accessor. */
#include "guest_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

#include "layout.h"

static int map_region(struct guest_region *r, bool hugepages, struct ember_err *err)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p;

	if (hugepages)
		flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return err_errno(err, "cannot map %" PRIu64 " MiB of guest memory%s", r->size >> 20,
				 hugepages ? " in 2 MiB huge pages" : "");
	/* Guest RAM never belongs in a core dump of ember. */
	madvise(p, r->size, MADV_DONTDUMP);
	r->host = p;
	return 0;
}

int guest_mem_init(struct guest_mem *mem, uint64_t size, bool hugepages, struct ember_err *err)
{
	uint64_t low = size < LAYOUT_MMIO_START ? size : LAYOUT_MMIO_START;
	int ret;

	memset(mem, 0, sizeof(*mem));
	if (size == 0 || size % LAYOUT_PAGE)
		return err_set(err, EINVAL,
			       "guest memory size %" PRIu64 " is not a positive multiple of 4 KiB",
			       size);
	if (hugepages && size % (2ULL << 20))
		return err_set(err, EINVAL,
			       "guest memory must be a multiple of 2 MiB with huge pages");
	mem->size = size;
	mem->hugepages = hugepages;
	mem->regions[0] = (struct guest_region){ .gpa = 0, .size = low };
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] =
		    (struct guest_region){ .gpa = LAYOUT_MMIO_END, .size = size - low };
		mem->nr_regions = 2;
	}
	for (int i = 0; i < mem->nr_regions; i++) {
		ret = map_region(&mem->regions[i], hugepages, err);
		if (ret < 0) {
			guest_mem_free(mem);
			return ret;
		}
	}
	return 0;
}

void guest_mem_init_static(struct guest_mem *mem, const struct guest_region *regions, int nr)
{
	memset(mem, 0, sizeof(*mem));
	for (int i = 0; i < nr && i < GUEST_MEM_MAX_REGIONS; i++) {
		mem->regions[i] = regions[i];
		mem->size += regions[i].size;
		mem->nr_regions++;
	}
}

void guest_mem_free(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		if (mem->regions[i].host)
			munmap(mem->regions[i].host, mem->regions[i].size);
		mem->regions[i].host = NULL;
	}
	mem->nr_regions = 0;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written so that no sum can wrap: off and len each fit in size. */
		if (len == 0 || off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len,
		    struct ember_err *err)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return err_set(err, EFAULT,
			       "guest range 0x%" PRIx64 "+0x%" PRIx64 " is not in guest memory",
			       gpa, len);
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len,
		   struct ember_err *err)
{
	const void *src = guest_mem_ptr(mem, gpa, len);

	if (!src)
		return err_set(err, EFAULT,
			       "guest range 0x%" PRIx64 "+0x%" PRIx64 " is not in guest memory",
			       gpa, len);
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->nr_regions ? mem->regions[0].gpa + mem->regions[0].size : 0;
}
