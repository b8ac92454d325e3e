/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-thread seccomp filters: ember's compiled filter file (built from JSON
 * by ember-seccompiler, see jailer/README.md), installed by each thread just
 * before its loop, and the SIGSYS handler that reports a violation and exits
 * with status 148, as Firecracker does.
 *
 * File format (host byte order, x86_64 only):
 *   char     magic[8]            "EMBRBPF1"
 *   uint32_t version             SECCOMP_FILE_VERSION
 *   uint32_t nr_insns[3]         per thread kind, in enum order; 0 = no filter
 *   struct sock_filter insns[]   the programs, one after another
 */
#ifndef EMBER_SECCOMP_FILTER_H
#define EMBER_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SECCOMP_FILE_MAGIC   "EMBRBPF1"
#define SECCOMP_FILE_VERSION 1
#define SECCOMP_FILE_MAX     100000 /* bytes, as Firecracker's --seccomp-filter */
#define SECCOMP_MAX_INSNS    4096   /* the kernel's BPF_MAXINSNS */
#define SECCOMP_EXIT_STATUS  148    /* Firecracker's exit code for a bad syscall */

enum seccomp_thread {
	SECCOMP_THREAD_VMM,
	SECCOMP_THREAD_API,
	SECCOMP_THREAD_VCPU,
	SECCOMP_NR_THREADS
};

struct seccomp_file_header {
	char magic[8];
	uint32_t version;
	uint32_t nr_insns[SECCOMP_NR_THREADS];
};

/* Validated programs, one per thread kind (len 0: that kind runs unfiltered). */
struct seccomp_filters {
	struct sock_filter *insns[SECCOMP_NR_THREADS];
	unsigned short len[SECCOMP_NR_THREADS];
	void *buf;
};

/* ember's built-in filters (build/gen/seccomp_default.c, from jailer/seccomp-x86_64.json). */
extern const unsigned char seccomp_default_filter[];
extern const size_t seccomp_default_filter_len;

/* "vmm", "api", "vcpu". */
const char *seccomp_thread_name(enum seccomp_thread kind);
/* Check a compiled file's header and every program; copy it into f. */
int seccomp_filters_parse(struct seccomp_filters *f, const void *data, size_t len,
			  struct ember_err *err);
int seccomp_filters_load(struct seccomp_filters *f, const char *path, struct ember_err *err);
void seccomp_filters_free(struct seccomp_filters *f);
/* Is this program one the kernel's classic-BPF seccomp checker accepts? */
int seccomp_program_check(const struct sock_filter *insns, size_t len, struct ember_err *err);

/* Install kind's filter on the calling thread (f NULL: nothing to install). */
int seccomp_thread_apply(const struct seccomp_filters *f, enum seccomp_thread kind,
			 struct ember_err *err);
/* The SIGSYS handler: logs the syscall number and thread to the log, writes
 * a seccomp.num_faults metrics line if a sink is set, and exits with 148. */
int seccomp_handler_install(struct ember_err *err);
void seccomp_handler_metrics_fd(int fd); /* -1: no metrics line */

#endif
