// SPDX-License-Identifier: Apache-2.0
/*
 * VM templates: a guest booted to its agent and snapshotted, one per
 * kernel, initramfs, ember binary, vCPU count, memory size and NIC, built
 * on first use under --template-dir and kept. A container's VM restores one
 * (oci/vm.c) instead of booting. The template's drive is a 1 MiB
 * placeholder beside it, which each clone swaps for its container's root
 * image. The build runs in a child of its own (in a network namespace of
 * its own when the template has a NIC, whose TAP it makes there), under a
 * lock, so concurrent creates build it once.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_client.h"
#include "ember_proc.h"
#include "oci.h"
#include "oci_vm.h"

#define READY        "ready"
#define BOOT_WAIT_MS 120000
#define PLACEHOLDER  (1u << 20)

/* FNV-1a over what identifies a file: its real path, size and mtime. */
static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static int hash_file(uint64_t *h, const char *path, struct ember_err *err)
{
	char real[PATH_MAX], buf[64];
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return err_errno(err, "%s", path);
	snprintf(buf, sizeof(buf), "|%lld|%lld.%09ld|", (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	*h = hash_str(hash_str(*h, real), buf);
	return 0;
}

static int template_key(const struct oci_globals *g, const struct oci_vm_shape *shape, bool nic,
			char *key, size_t size, struct ember_err *err)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[64];

	if (hash_file(&h, g->ember, err) < 0 || hash_file(&h, g->kernel, err) < 0 ||
	    hash_file(&h, g->initrd, err) < 0)
		return -err->code;
	snprintf(buf, sizeof(buf), "%u|%u|%d", shape->vcpus, shape->mem_mib, nic);
	h = hash_str(h, buf);
	snprintf(key, size, "%uc-%um%s-%016llx", shape->vcpus, shape->mem_mib, nic ? "-net" : "",
		 (unsigned long long)h);
	return 0;
}

static void path_in(const char *dir, const char *file, char *out, size_t size)
{
	if (snprintf(out, size, "%s/%s", dir, file) >= (int)size)
		out[0] = '\0'; /* the directories are checked to leave room */
}

static int placeholder(const char *dir, struct ember_err *err)
{
	char path[PATH_MAX];
	int fd;

	path_in(dir, OCI_TEMPLATE_DRIVE, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, PLACEHOLDER) < 0) {
		if (fd >= 0)
			close(fd);
		return err_errno(err, "creating %s", path);
	}
	close(fd);
	return 0;
}

/* Boot, wait for the agent to answer, pause, snapshot: the template's
 * files in `dir`, ember's sockets and log in `work` (a local directory:
 * the templates may sit on a file system that holds no sockets). */
static int boot_and_snapshot(const char *dir, const char *work, const struct oci_globals *g,
			     const struct oci_vm_shape *shape, bool nic, struct ember_err *err)
{
	char drive[PATH_MAX], vsock[PATH_MAX], state[PATH_MAX], mem[PATH_MAX];
	struct agent_result res = { 0 };
	struct agent_conn c = { .fd = -1 };
	pid_t pid = 0;
	int ret;

	path_in(dir, OCI_TEMPLATE_DRIVE, drive, sizeof(drive));
	path_in(work, "v.sock", vsock, sizeof(vsock));
	path_in(dir, OCI_TEMPLATE_STATE, state, sizeof(state));
	path_in(dir, OCI_TEMPLATE_MEM, mem, sizeof(mem));
	ret = oci_vm_spawn(g->ember, work, &pid, err);
	if (!ret)
		ret = oci_vm_boot(work, g, shape, drive, nic, err);
	if (!ret)
		ret = agent_connect(&c, vsock, AGENT_PORT, BOOT_WAIT_MS, err);
	if (!ret)
		ret = agent_invoke(&c, "echo", "warm", 4, &res, err);
	agent_result_free(&res);
	agent_close(&c);
	if (!ret)
		ret = oci_vm_api(work, "PATCH", "/vm", json_pack("{s:s}", "state", "Paused"), err);
	if (!ret)
		ret = oci_vm_api(work, "PUT", "/snapshot/create",
				 json_pack("{s:s, s:s, s:s}", "snapshot_path", state,
					   "mem_file_path", mem, "snapshot_type", "Full"),
				 err);
	if (pid > 0)
		ember_proc_kill(pid);
	if (ret) { /* ember's last words */
		char log[PATH_MAX], tail[400];
		size_t len = strlen(err->msg);

		path_in(work, "ember.log", log, sizeof(log));
		ember_proc_log_tail(log, tail, sizeof(tail));
		if (tail[0] &&
		    snprintf(err->msg + len, sizeof(err->msg) - len, " (ember: %s)", tail) < 0)
			err->msg[len] = '\0';
	}
	return ret;
}

static void rm_work(const char *work)
{
	static const char *const files[] = { "api.sock", "v.sock", "ember.log" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_in(work, files[i], path, sizeof(path));
		unlink(path);
	}
	rmdir(work);
}

/* The child that builds: its own network namespace and TAP for a NIC. */
static void build_child(int report, const char *dir, const struct oci_globals *g,
			const struct oci_vm_shape *shape, bool nic)
{
	struct ember_err err = { 0 };
	int ret = 0;

	if (nic && (unshare(CLONE_NEWNET) < 0 ? err_errno(&err, "unshare(CLONE_NEWNET)") < 0
					      : oci_net_tap_create(OCI_TAP_NAME, 0, &err) < 0))
		ret = -1;
	if (!ret && placeholder(dir, &err) < 0)
		ret = -1;
	if (!ret) {
		char work[PATH_MAX + 32];

		snprintf(work, sizeof(work), "%s/.template.XXXXXX", g->root);
		if (oci_mkdir_p(g->root, 0711) < 0 || !mkdtemp(work))
			ret = err_errno(&err, "creating a directory in %s", g->root);
		else if (boot_and_snapshot(dir, work, g, shape, nic, &err) < 0)
			ret = -1;
		if (work[strlen(work) - 1] != 'X')
			rm_work(work);
	}
	if (ret && write(report, err.msg, strlen(err.msg)) < 0)
		_exit(2);
	_exit(ret ? 1 : 0);
}

static int build(const char *dir, const struct oci_globals *g, const struct oci_vm_shape *shape,
		 bool nic, struct ember_err *err)
{
	char msg[ERR_MSG_MAX] = "";
	int pipefd[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_errno(err, "pipe");
	pid = fork();
	if (pid < 0)
		return err_errno(err, "fork");
	if (pid == 0) {
		close(pipefd[0]);
		build_child(pipefd[1], dir, g, shape, nic);
	}
	close(pipefd[1]);
	n = read(pipefd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return err_set(err, EIO, "building %s: %s", dir, msg[0] ? msg : "the builder failed");
}

static void clear_dir(const char *dir)
{
	static const char *const files[] = { OCI_TEMPLATE_STATE, OCI_TEMPLATE_MEM,
					     OCI_TEMPLATE_DRIVE, READY };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_in(dir, files[i], path, sizeof(path));
		unlink(path);
	}
}

static int lock_and_build(const char *dir, const char *lock, const struct oci_globals *g,
			  const struct oci_vm_shape *shape, bool nic, struct ember_err *err)
{
	char ready[PATH_MAX];
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600), ret = 0;

	if (fd < 0)
		return err_errno(err, "opening %s", lock);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return err_errno(err, "locking %s", lock);
		}
	path_in(dir, READY, ready, sizeof(ready));
	if (access(ready, F_OK) < 0) { /* nobody built it while we waited */
		clear_dir(dir);
		if ((mkdir(dir, 0700) < 0 && errno != EEXIST))
			ret = err_errno(err, "creating %s", dir);
		if (!ret)
			ret = build(dir, g, shape, nic, err);
		if (!ret && close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
			ret = err_errno(err, "marking %s ready", dir);
		if (ret)
			clear_dir(dir);
	}
	close(fd);
	return ret;
}

int oci_template_get(const struct oci_globals *g, const struct oci_vm_shape *shape, bool nic,
		     char *dir, size_t size, struct ember_err *err)
{
	char key[96], ready[PATH_MAX], lock[PATH_MAX];

	if (template_key(g, shape, nic, key, sizeof(key), err) < 0)
		return -err->code;
	if (snprintf(dir, size, "%s/%s", g->templates, key) >= (int)size)
		return err_set(err, ENAMETOOLONG, "the template directory %s is too long",
			       g->templates);
	path_in(dir, READY, ready, sizeof(ready));
	if (access(ready, F_OK) == 0)
		return 0;
	if (oci_mkdir_p(g->templates, 0700) < 0)
		return err_errno(err, "creating the template directory %s", g->templates);
	snprintf(lock, sizeof(lock), "%s.lock", dir);
	return lock_and_build(dir, lock, g, shape, nic, err);
}
