// SPDX-License-Identifier: Apache-2.0
/* A diff snapshot's memory merged onto its base: the diff's data ranges
 * (found with SEEK_DATA/SEEK_HOLE; its holes are pages that did not change)
 * copied over the base at the same offsets. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"

#define CHUNK (1 << 20)

static int copy_range(int from, int to, off_t start, off_t end, char *buf)
{
	while (start < end) {
		size_t want = (size_t)(end - start) < CHUNK ? (size_t)(end - start) : CHUNK;
		ssize_t n = pread(from, buf, want, start);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (ssize_t done = 0, w; done < n; done += w) {
			w = pwrite(to, buf + done, (size_t)(n - done), start + done);
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
		}
		start += n;
	}
	return 0;
}

static int merge(int diff, int base, off_t size, struct ember_err *err)
{
	char *buf = malloc(CHUNK);
	off_t data = 0, hole;
	int ret = 0;

	if (!buf)
		return err_set(err, ENOMEM, "no memory");
	while (!ret && data < size) {
		data = lseek(diff, data, SEEK_DATA);
		if (data < 0) {
			ret = errno == ENXIO ? 0 : err_errno(err, "SEEK_DATA in the diff");
			break;
		}
		hole = lseek(diff, data, SEEK_HOLE);
		if (hole < 0)
			ret = err_errno(err, "SEEK_HOLE in the diff");
		else if ((ret = copy_range(diff, base, data, hole, buf)) < 0)
			err_set(err, -ret, "copying the diff's pages: %s", strerror(-ret));
		data = hole;
	}
	free(buf);
	return ret;
}

int snapshot_rebase(const char *base_path, const char *diff_path, struct ember_err *err)
{
	int diff = open(diff_path, O_RDONLY | O_CLOEXEC);
	int base = open(base_path, O_RDWR | O_CLOEXEC);
	struct stat ds, bs;
	int ret;

	if (diff < 0 || base < 0)
		ret = err_errno(err, "cannot open %s", diff < 0 ? diff_path : base_path);
	else if (fstat(diff, &ds) < 0 || fstat(base, &bs) < 0)
		ret = err_errno(err, "fstat");
	else if (ds.st_size != bs.st_size)
		ret = err_set(err, EINVAL,
			      "the diff (%lld bytes) and the base (%lld bytes) are not "
			      "snapshots of one VM",
			      (long long)ds.st_size, (long long)bs.st_size);
	else
		ret = merge(diff, base, ds.st_size, err);
	if (diff >= 0)
		close(diff);
	if (base >= 0)
		close(base);
	return ret;
}
