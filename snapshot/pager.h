/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The page server behind the Uffd backend: it takes one VM's userfaultfd
 * and region list (Firecracker's handshake message, sent by ember's
 * snapshot_uffd_connect) and serves the VM's missing pages from a memory
 * file. Used by ember-uffd and by ember-fn, which also records each VM's
 * working set (the file pages it touched) and prefetches a recorded set in
 * one pass (REAP, ASPLOS'21). The prefetch and the fault service may run on
 * two threads at once: each keeps its own counters.
 */
#ifndef EMBER_SNAPSHOT_PAGER_H
#define EMBER_SNAPSHOT_PAGER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define PAGER_PAGE        4096u
#define PAGER_MAX_REGIONS 8

/* A read-only mapping of a snapshot's memory file. */
struct pager_memfile {
	const uint8_t *data;
	uint64_t size;
};

struct pager_region {
	uint64_t base, size, offset; /* host address in the VM, bytes, file offset */
};

struct pager_vm {
	int sock, uffd; /* the VM's connection and its userfaultfd */
	pid_t pid;
	struct pager_region regions[PAGER_MAX_REGIONS];
	unsigned nr;
	const struct pager_memfile *mem;
	/* the fault service's: */
	uint8_t *touched;                /* if set: a bit per file page, set as it is served */
	uint64_t copied, zeroed, errors; /* pages served on faults; failed ioctls */
	/* the prefetch's: */
	uint64_t prefetched;       /* pages copied ahead */
	atomic_bool prefetch_stop; /* set from another thread: the prefetch ends at its next run */
};

int pager_memfile_open(struct pager_memfile *m, const char *path, struct ember_err *err);
void pager_memfile_close(struct pager_memfile *m);

/* Take the VM's handshake from `sock` (which the pager_vm then owns). */
int pager_vm_accept(struct pager_vm *vm, int sock, const struct pager_memfile *mem,
		    struct ember_err *err);
/* Copy the listed file pages (sorted page indexes) into the VM, runs of
 * adjacent pages in one UFFDIO_COPY each, until done, prefetch_stop or the
 * VM's process ends (not an error: it needs no more pages). It
 * reads no fault: pager_vm_serve, on another thread, serves them meanwhile,
 * so that the VM never waits behind a run of the set. */
int pager_vm_prefetch(struct pager_vm *vm, const uint32_t *pages, size_t n, struct ember_err *err);
/* Serve faults until the VM's connection closes or `stop_fd` is readable. */
void pager_vm_serve(struct pager_vm *vm, int stop_fd);
void pager_vm_close(struct pager_vm *vm);

/* Working-set files: magic, count, then sorted u32 page indexes. */
int pager_ws_write(const char *path, const uint8_t *touched, uint64_t nr_pages,
		   struct ember_err *err);
/* The list in a malloc'ed array; each index is checked against nr_pages. */
int pager_ws_read(const char *path, uint64_t nr_pages, uint32_t **pages, size_t *n,
		  struct ember_err *err);

#endif
