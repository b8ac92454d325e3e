// SPDX-License-Identifier: Apache-2.0
/* Guest memory: mmap'ed regions and the bounds-checked accessor. */
#include "guest_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "layout.h"

/* Anonymous memory, or (fd >= 0) the file at offset, copy-on-write:
 * clean pages come from the page cache, shared by every VM mapping it. */
static int map_region(struct guest_region *r, enum guest_mem_pages pages, int fd, uint64_t offset,
		      struct ember_err *err)
{
	int flags = MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0);
	void *p;

	if (pages == GUEST_MEM_2M)
		flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);
	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, flags, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return err_errno(err, "Cannot create mmap region of %" PRIu64 " MiB%s",
				 r->size >> 20,
				 pages == GUEST_MEM_2M ? " in 2 MiB huge pages" : "");
	/* Guest RAM never belongs in a core dump of ember. */
	madvise(p, r->size, MADV_DONTDUMP);
	/* A hint: where THP is off or the mapping cannot use it, 4 KiB pages. */
	if (pages == GUEST_MEM_THP)
		madvise(p, r->size, MADV_HUGEPAGE);
	r->host = p;
	return 0;
}

static int layout(struct guest_mem *mem, uint64_t size, enum guest_mem_pages pages,
		  struct ember_err *err)
{
	uint64_t low = size < LAYOUT_MMIO_START ? size : LAYOUT_MMIO_START;

	memset(mem, 0, sizeof(*mem));
	if (size == 0 || size % LAYOUT_PAGE)
		return err_set(err, EINVAL,
			       "guest memory size %" PRIu64 " is not a positive multiple of 4 KiB",
			       size);
	if (pages != GUEST_MEM_4K && size % (2ULL << 20))
		return err_set(err, EINVAL,
			       "guest memory must be a multiple of 2 MiB with huge pages");
	mem->size = size;
	mem->pages = pages;
	mem->regions[0] = (struct guest_region){ .gpa = 0, .size = low };
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] =
		    (struct guest_region){ .gpa = LAYOUT_MMIO_END, .size = size - low };
		mem->nr_regions = 2;
	}
	return 0;
}

static int map_all(struct guest_mem *mem, int fd, struct ember_err *err)
{
	uint64_t offset = 0;

	for (int i = 0; i < mem->nr_regions; offset += mem->regions[i++].size) {
		int ret = map_region(&mem->regions[i], mem->pages, fd, offset, err);

		if (ret < 0) {
			guest_mem_free(mem);
			return ret;
		}
	}
	return 0;
}

int guest_mem_init(struct guest_mem *mem, uint64_t size, enum guest_mem_pages pages,
		   struct ember_err *err)
{
	int ret = layout(mem, size, pages, err);

	return ret ? ret : map_all(mem, -1, err);
}

int guest_mem_init_file(struct guest_mem *mem, uint64_t size, int fd, enum guest_mem_pages pages,
			struct ember_err *err)
{
	struct stat st;
	int ret;

	if (pages == GUEST_MEM_2M)
		return err_set(err, EINVAL, "2M huge pages cannot back a File memory backend");
	ret = layout(mem, size, pages, err);
	if (ret)
		return ret;
	if (fstat(fd, &st) < 0)
		return err_errno(err, "the memory file");
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
		return err_set(err, EINVAL,
			       "the memory file holds %lld bytes; the VM has %" PRIu64
			       " bytes of memory",
			       (long long)st.st_size, size);
	return map_all(mem, fd, err);
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

int guest_mem_resident(const struct guest_mem *mem, int i, uint64_t *bitmap, struct ember_err *err)
{
	const struct guest_region *r = &mem->regions[i];
	uint64_t pages = r->size / LAYOUT_PAGE, chunk = 1 << 16;
	unsigned char *vec = malloc((size_t)chunk);

	if (!vec)
		return err_set(err, ENOMEM, "no memory for the residency map");
	for (uint64_t p0 = 0; p0 < pages; p0 += chunk) {
		uint64_t n = pages - p0 < chunk ? pages - p0 : chunk;

		if (mincore(r->host + p0 * LAYOUT_PAGE, n * LAYOUT_PAGE, vec) < 0) {
			free(vec);
			return err_errno(err, "mincore on guest memory");
		}
		for (uint64_t k = 0; k < n; k++)
			if (vec[k] & 1)
				bitmap[(p0 + k) / 64] |= 1ULL << ((p0 + k) % 64);
	}
	free(vec);
	return 0;
}

void guest_mem_free(struct guest_mem *mem)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		if (mem->regions[i].host)
			munmap(mem->regions[i].host, mem->regions[i].size);
		mem->regions[i].host = NULL;
		free(mem->regions[i].dirty);
		mem->regions[i].dirty = NULL;
	}
	mem->nr_regions = 0;
}

static void mark_dirty(uint64_t *bitmap, uint64_t off, uint64_t len)
{
	for (uint64_t page = off / LAYOUT_PAGE; page <= (off + len - 1) / LAYOUT_PAGE; page++)
		__atomic_fetch_or(&bitmap[page / 64], 1ULL << (page % 64), __ATOMIC_RELAXED);
}

int guest_mem_track_dirty(struct guest_mem *mem, struct ember_err *err)
{
	for (int i = 0; i < mem->nr_regions; i++) {
		struct guest_region *r = &mem->regions[i];

		if (!r->dirty && !(r->dirty = calloc((r->size / LAYOUT_PAGE + 63) / 64, 8)))
			return err_set(err, ENOMEM, "no memory for the dirty page bitmap");
	}
	return 0;
}

void guest_mem_take_dirty(struct guest_mem *mem, int i, uint64_t *bitmap)
{
	struct guest_region *r = &mem->regions[i];
	uint64_t words = (r->size / LAYOUT_PAGE + 63) / 64;

	for (uint64_t w = 0; r->dirty && w < words; w++)
		bitmap[w] |= __atomic_exchange_n(&r->dirty[w], 0, __ATOMIC_RELAXED);
}

/* In the hotplug region, every block of [gpa, gpa + len) plugged. */
static void *hotplug_ptr(const struct guest_hotplug *h, uint64_t gpa, uint64_t len)
{
	uint64_t off = gpa - h->gpa;

	if (!h->size || gpa < h->gpa || len == 0 || off >= h->size || len > h->size - off)
		return NULL;
	for (uint64_t b = off / h->block; b <= (off + len - 1) / h->block; b++)
		if (!(h->plugged[b / 64] >> (b % 64) & 1))
			return NULL;
	return h->host + off;
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
		if (r->dirty)
			mark_dirty(r->dirty, off, len);
		return r->host + off;
	}
	return hotplug_ptr(&mem->hotplug, gpa, len);
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

int guest_mem_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
		      struct ember_err *err)
{
	void *p;

	if (gpa % LAYOUT_PAGE || len % LAYOUT_PAGE)
		return err_set(err, EINVAL,
			       "discarding 0x%" PRIx64 "+0x%" PRIx64 ": not 4 KiB pages", gpa, len);
	if (mem->pages == GUEST_MEM_2M)
		return err_set(err, EOPNOTSUPP, "4 KiB pages cannot be discarded from 2 MiB pages");
	/* Through the accessor: the range is checked, and marked for a diff
	 * snapshot, whose copy of these pages must now read as the guest's. */
	p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return err_set(err, EFAULT,
			       "discarding 0x%" PRIx64 "+0x%" PRIx64 ": outside guest memory", gpa,
			       len);
	if (madvise(p, len, MADV_DONTNEED) < 0)
		return err_errno(err, "madvise(MADV_DONTNEED) of 0x%" PRIx64 "+0x%" PRIx64, gpa,
				 len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->nr_regions ? mem->regions[0].gpa + mem->regions[0].size : 0;
}
