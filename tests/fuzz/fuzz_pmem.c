// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target: virtio-pmem's requests over hostile guest memory. The
 * first 6 bytes place the queue's rings; the rest is guest memory. Whatever
 * the chains hold, each is returned (with a status when it has the request's
 * shape), nothing outside guest memory is touched (ASan), and the backing
 * file is never written by the device. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmem.h"
#include "fuzz_guest.h"

#define HDR 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *backing(void)
{
	static char path[] = "/tmp/ember-fuzz-pmem-XXXXXX";
	static bool made;
	int fd;

	if (!made) {
		fd = mkstemp(path);
		if (fd < 0 || ftruncate(fd, 4096) < 0)
			abort();
		close(fd);
		made = true;
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_region r;
	struct token_bucket none;
	struct virtio_pmem p;
	struct ember_err err;
	struct guest_mem mem;

	if (size < HDR)
		return 0;
	fuzz_guest_mem(&mem, &r, data, size, HDR);
	tb_init(&none, 0, 0, 0, 0);
	if (virtio_pmem_open(&p, backing(), data[0] & 1, &none, &none, &mem, 0xd0000000, 5, &err) <
	    0)
		abort();
	p.transport.active = true;
	if (fuzz_queue(&p.transport.queues[0], data))
		virtio_mmio_kick(&p.transport, 0);
	for (unsigned i = 0; i < 4096; i++)
		if (p.map[i])
			abort(); /* the device wrote into the file */
	virtio_pmem_close(&p);
	return 0;
}
