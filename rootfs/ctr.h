/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's containers: what the host sends (a process of an OCI
 * config.json, the container's mounts and files; ember-oci builds it, see
 * rootfs/README.md), how the guest sets the container up (ctr_setup.c) and
 * how one process is relayed over its connection (ctr_run.c).
 */
#ifndef EMBER_ROOTFS_CTR_H
#define EMBER_ROOTFS_CTR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CTR_DIR "/tmp/ember-ctr" /* the agent's own files: init pid, staged files */

/* One request: the parsed JSON and what the relay needs from it. */
struct ctr_req {
	json_t *root;
	const char *id;
	bool exec;     /* EXEC: join the container; PROC: create it */
	bool terminal; /* process.terminal */
	unsigned rows, cols;
};

/* Parse and check a request's JSON; on failure a message in `msg`. */
int ctr_req_parse(struct ctr_req *r, bool exec, const char *json, size_t len, char *msg,
		  size_t size);
void ctr_req_free(struct ctr_req *r);

/* In the child that becomes the process, first (PROC) the container: new
 * namespaces, network, root, mounts, devices, files, masked and read-only
 * paths, hostname, sysctls, the root entered; nothing for EXEC, which has
 * joined it (ctr_join). On failure, a message in `msg` and -1. */
int ctr_enter(const struct ctr_req *r, char *msg, size_t size);
/* The terminal's slave becomes the container's /dev/console too. */
void ctr_console(const char *tty);
/* Then the process: rlimits, cwd, user, capabilities, no_new_privs, and
 * the program resolved into `path` (PATH of the process's env). */
int ctr_process(const struct ctr_req *r, char *path, size_t path_size, char *msg, size_t size);
/* execve the process (never returns on success). */
void ctr_exec(const struct ctr_req *r, const char *path);
/* Before forking the process of an EXEC: join the container's namespaces
 * (the pid namespace counts for the child). */
int ctr_join(const struct ctr_req *r, char *msg, size_t size);
/* PROC, in the agent before forking: the network of the VM (run with the
 * VM's root), the files to stage. */
int ctr_prepare(const struct ctr_req *r, char *msg, size_t size);

/* Serve one PROC or EXEC connection (its request line already read). */
void ctr_serve(int conn, bool exec, unsigned long len);

#endif
