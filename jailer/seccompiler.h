/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-seccompiler's core: Firecracker's seccompiler JSON (one object per
 * thread kind "vmm", "api", "vcpu", each with default_action, filter_action
 * and a filter list of {syscall, args, comment}) compiled with libseccomp
 * into ember's filter file (vmm/seccomp.h). Argument values may also be
 * names such as "KVM_RUN" or "SOCK_STREAM|SOCK_CLOEXEC".
 */
#ifndef EMBER_SECCOMPILER_H
#define EMBER_SECCOMPILER_H

#include <stddef.h>

#include "err.h"

/* Compile JSON text; *out (malloc'd, *out_len bytes) is the filter file. */
int seccompiler_compile(const char *json, size_t len, void **out, size_t *out_len,
			struct ember_err *err);
/* The value of a named constant ("KVM_RUN", "A|B"); -ENOENT if unknown. */
int seccompiler_constant(const char *name, unsigned long long *out);

#endif
