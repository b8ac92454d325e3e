// SPDX-License-Identifier: Apache-2.0
/*
 * ember-blkbench: the guest half of perf/blk. O_DIRECT reads on a block
 * device, timed inside the guest, so both VMMs are measured the same way.
 *   ember-blkbench DEVICE seq [MiB]     1 MiB sequential reads (default 64 MiB)
 *   ember-blkbench DEVICE rand [COUNT]  4 KiB reads at random offsets (default 4000)
 * Prints one line: "blkbench seq-read-MiB/s VALUE" or "blkbench rand-read-4k-IOPS VALUE".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n != (ssize_t)len) {
		fprintf(stderr, "blkbench: read of %zu at %llu: %s\n", len, (unsigned long long)off,
			n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

static int seq(int fd, void *buf, uint64_t size, long mib)
{
	double t0 = now_s(), dt;

	if ((uint64_t)mib * MIB > size)
		mib = (long)(size / MIB);
	for (long i = 0; i < mib; i++)
		if (read_at(fd, buf, MIB, (uint64_t)i * MIB) < 0)
			return 1;
	dt = now_s() - t0;
	printf("blkbench seq-read-MiB/s %.1f\n", (double)mib / dt);
	return 0;
}

static int rand_reads(int fd, void *buf, uint64_t size, long count)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL, blocks = size / 4096;
	double t0 = now_s(), dt;

	for (long i = 0; i < count; i++) {
		x ^= x << 13; /* xorshift64: the same offsets on every run */
		x ^= x >> 7;
		x ^= x << 17;
		if (read_at(fd, buf, 4096, (x % blocks) * 4096) < 0)
			return 1;
	}
	dt = now_s() - t0;
	printf("blkbench rand-read-4k-IOPS %.0f\n", (double)count / dt);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size = 0;
	void *buf;
	long n;
	int fd;

	if (argc < 3 || (strcmp(argv[2], "seq") && strcmp(argv[2], "rand"))) {
		fprintf(stderr, "usage: %s DEVICE seq|rand [MiB|COUNT]\n", argv[0]);
		return 2;
	}
	n = argc > 3 ? strtol(argv[3], NULL, 10) : (argv[2][0] == 's' ? 64 : 4000);
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 || size < MIB) {
		fprintf(stderr, "blkbench: %s: %s\n", argv[1],
			fd < 0 ? strerror(errno) : "too small");
		return 1;
	}
	if (posix_memalign(&buf, 4096, MIB))
		return 1;
	return argv[2][0] == 's' ? seq(fd, buf, size, n) : rand_reads(fd, buf, size, n);
}
