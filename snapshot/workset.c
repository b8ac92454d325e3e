// SPDX-License-Identifier: Apache-2.0
/*
 * Working-set files (REAP): the file pages a VM touched after its restore,
 * recorded by the pager and prefetched on later restores. Layout (host
 * byte order, x86_64 only): "EMBRWSET", u32 version, u32 count, u64 pages
 * in the memory file, then count sorted u32 page indexes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pager.h"

#define WS_MAGIC   "EMBRWSET"
#define WS_VERSION 1u
#define WS_MAX     (1u << 26) /* 256 GiB of 4 KiB pages */

struct ws_header {
	char magic[8];
	uint32_t version, count;
	uint64_t nr_pages;
};

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen,
		      struct ember_err *err)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp))
		return err_set(err, ENAMETOOLONG, "working set: path too long");
	f = fopen(tmp, "we");
	if (!f)
		return err_errno(err, "working set: cannot create %s", tmp);
	ok = fwrite(a, 1, alen, f) == alen && (!blen || fwrite(b, 1, blen, f) == blen);
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return err_errno(err, "working set: cannot write %s", path);
	}
	return 0;
}

int pager_ws_write(const char *path, const uint8_t *touched, uint64_t nr_pages,
		   struct ember_err *err)
{
	struct ws_header h = { .version = WS_VERSION };
	uint32_t *pages;
	size_t n = 0;
	int ret;

	if (nr_pages > WS_MAX)
		return err_set(err, EFBIG, "working set: %llu pages is too many",
			       (unsigned long long)nr_pages);
	pages = malloc((size_t)nr_pages * sizeof(*pages) + 1);
	if (!pages)
		return err_set(err, ENOMEM, "working set: out of memory");
	for (uint64_t p = 0; p < nr_pages; p++)
		if (touched[p / 8] & (1u << (p % 8)))
			pages[n++] = (uint32_t)p;
	memcpy(h.magic, WS_MAGIC, sizeof(h.magic));
	h.count = (uint32_t)n;
	h.nr_pages = nr_pages;
	ret = write_file(path, &h, sizeof(h), pages, n * sizeof(*pages), err);
	free(pages);
	return ret;
}

static int check_list(const uint32_t *pages, size_t n, uint64_t nr_pages)
{
	for (size_t i = 0; i < n; i++)
		if (pages[i] >= nr_pages || (i && pages[i] <= pages[i - 1]))
			return -1;
	return 0;
}

static int read_list(FILE *f, const char *path, uint64_t nr_pages, uint32_t **out, size_t *n,
		     struct ember_err *err)
{
	struct ws_header h;
	uint32_t *pages;

	if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, WS_MAGIC, sizeof(h.magic)))
		return err_set(err, EINVAL, "%s is not a working-set file", path);
	if (h.version != WS_VERSION)
		return err_set(err, EINVAL, "%s: working-set format %u, this build reads %u", path,
			       h.version, WS_VERSION);
	if (h.nr_pages != nr_pages || h.count > nr_pages)
		return err_set(err, EINVAL, "%s was recorded for another memory file", path);
	pages = malloc((size_t)h.count * sizeof(*pages) + 1);
	if (!pages)
		return err_set(err, ENOMEM, "working set: out of memory");
	if (fread(pages, sizeof(*pages), h.count, f) != h.count || fgetc(f) != EOF ||
	    check_list(pages, h.count, nr_pages) < 0) {
		free(pages);
		return err_set(err, EINVAL, "%s: truncated or not a sorted page list", path);
	}
	*out = pages;
	*n = h.count;
	return 0;
}

int pager_ws_read(const char *path, uint64_t nr_pages, uint32_t **pages, size_t *n,
		  struct ember_err *err)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f)
		return err_errno(err, "cannot open the working set %s", path);
	ret = read_list(f, path, nr_pages, pages, n, err);
	fclose(f);
	return ret;
}
