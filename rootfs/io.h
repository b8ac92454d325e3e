/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-buffer reads and writes for the guest tools (static, header only). */
#ifndef EMBER_ROOTFS_IO_H
#define EMBER_ROOTFS_IO_H

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* Write all of buf; -1 on an error. */
static inline int io_write_all(int fd, const void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes; -1 on an error or an early end of stream. */
static inline int io_read_exact(int fd, void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

#endif
