/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember processes for the programs that drive VMs through ember's API
 * (ember-fn, ember-oci): start one with its output in a log, wait for its
 * API socket, end it, and quote its last words in errors.
 */
#ifndef EMBER_PROC_H
#define EMBER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Start argv (searched in PATH) with stdin /dev/null and stdout and stderr
 * in `log`. `tied`: the child is killed when its parent dies
 * (PR_SET_PDEATHSIG), through fork; else posix_spawn, safe from threads. */
int ember_proc_spawn(const char *const argv[], const char *log, bool tied, pid_t *pid,
		     struct ember_err *err);
/* Wait for ember's API socket to accept, or the process to die. */
int ember_proc_wait_api(const char *sock, pid_t pid, unsigned timeout_ms, struct ember_err *err);
/* SIGKILL and reap (a process stuck in the kernel is reported and left). */
void ember_proc_kill(pid_t pid);
/* The last lines of a log file, for error messages. */
void ember_proc_log_tail(const char *log, char *out, size_t size);

#endif
