// SPDX-License-Identifier: Apache-2.0
/*
 * A container's microVM: an ember process (killed with the monitor that
 * starts it), driven through its API socket in the state directory. The
 * guest either comes from the template of its shape, restored (File
 * backend: clones share the memory file's clean pages) with the
 * container's root image swapped in for the template's placeholder drive
 * (PATCH /drives), or, with --boot, is booted.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "ember_proc.h"
#include "oci.h"
#include "oci_vm.h"

#define API_MS 10000

static void path_in(const char *dir, const char *file, char *out, size_t size)
{
	if (snprintf(out, size, "%s/%s", dir, file) >= (int)size)
		out[0] = '\0'; /* the directories are checked to leave room */
}

int oci_vm_spawn(const char *ember, const char *dir, pid_t *pid, struct ember_err *err)
{
	char sock[PATH_MAX], log[PATH_MAX];
	const char *argv[] = { ember,       "--api-sock", sock,      "--id",
			       "ember-oci", "--level",    "Warning", NULL };

	path_in(dir, "api.sock", sock, sizeof(sock));
	path_in(dir, "ember.log", log, sizeof(log));
	unlink(sock);
	if (ember_proc_spawn(argv, log, true, pid, err) < 0)
		return -err->code;
	if (ember_proc_wait_api(sock, *pid, API_MS, err) < 0) {
		ember_proc_kill(*pid);
		*pid = 0;
		return -err->code;
	}
	return 0;
}

int oci_vm_api(const char *dir, const char *method, const char *path, json_t *body,
	       struct ember_err *err)
{
	char sock[PATH_MAX], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int ret;

	json_decref(body);
	if (body && !text)
		return err_set(err, ENOMEM, "out of memory");
	path_in(dir, "api.sock", sock, sizeof(sock));
	ret = api_client_expect(sock, method, path, text, API_MS, err);
	free(text);
	return ret;
}

int oci_vm_boot(const char *dir, const struct oci_globals *g, const struct oci_vm_shape *shape,
		const char *drive, bool nic, struct ember_err *err)
{
	char vsock[PATH_MAX];
	int ret;

	path_in(dir, "v.sock", vsock, sizeof(vsock));
	unlink(vsock);
	ret = oci_vm_api(dir, "PUT", "/boot-source",
			 json_pack("{s:s, s:s, s:s}", "kernel_image_path", g->kernel, "initrd_path",
				   g->initrd, "boot_args",
				   "console=ttyS0 reboot=k panic=1 quiet ember.agent=1"),
			 err);
	if (!ret)
		ret = oci_vm_api(dir, "PUT", "/machine-config",
				 json_pack("{s:i, s:i}", "vcpu_count", shape->vcpus, "mem_size_mib",
					   shape->mem_mib),
				 err);
	if (!ret)
		ret =
		    oci_vm_api(dir, "PUT", "/drives/ctr",
			       json_pack("{s:s, s:s, s:b, s:b}", "drive_id", "ctr", "path_on_host",
					 drive, "is_root_device", 0, "is_read_only", 0),
			       err);
	if (!ret)
		ret = oci_vm_api(dir, "PUT", "/vsock",
				 json_pack("{s:i, s:s}", "guest_cid", 3, "uds_path", vsock), err);
	if (!ret && nic)
		ret = oci_vm_api(
		    dir, "PUT", "/network-interfaces/eth0",
		    json_pack("{s:s, s:s}", "iface_id", "eth0", "host_dev_name", OCI_TAP_NAME),
		    err);
	if (!ret)
		ret = oci_vm_api(dir, "PUT", "/actions",
				 json_pack("{s:s}", "action_type", "InstanceStart"), err);
	return ret;
}

/* Restore the template, paused; swap the root image in; resume. */
static int restore(struct oci_vm *vm, const char *tdir, const char *image, struct ember_err *err)
{
	char state[PATH_MAX], mem[PATH_MAX], vsock[PATH_MAX];
	int ret;

	path_in(tdir, OCI_TEMPLATE_STATE, state, sizeof(state));
	path_in(tdir, OCI_TEMPLATE_MEM, mem, sizeof(mem));
	path_in(vm->dir, "v.sock", vsock, sizeof(vsock));
	unlink(vsock);
	ret = oci_vm_api(vm->dir, "PUT", "/snapshot/load",
			 json_pack("{s:s, s:{s:s, s:s}, s:b, s:{s:s}}", "snapshot_path", state,
				   "mem_backend", "backend_type", "File", "backend_path", mem,
				   "resume_vm", 0, "vsock_override", "uds_path", vsock),
			 err);
	if (!ret)
		ret = oci_vm_api(vm->dir, "PATCH", "/drives/ctr",
				 json_pack("{s:s, s:s}", "drive_id", "ctr", "path_on_host", image),
				 err);
	if (!ret)
		ret = oci_vm_api(vm->dir, "PATCH", "/vm", json_pack("{s:s}", "state", "Resumed"),
				 err);
	return ret;
}

/* Name the step that failed and add ember's last words. */
static int explain(const struct oci_vm *vm, const char *step, struct ember_err *err)
{
	char log[PATH_MAX], tail[600];
	size_t len;

	path_in(vm->dir, "ember.log", log, sizeof(log));
	ember_proc_log_tail(log, tail, sizeof(tail));
	err_prefix(err, "%s", step);
	len = strlen(err->msg);
	if (tail[0])
		snprintf(err->msg + len, sizeof(err->msg) - len, " (ember: %s)", tail);
	return -err->code;
}

int oci_vm_start(struct oci_vm *vm, const struct oci_globals *g, const char *image,
		 struct ember_err *err)
{
	char tdir[PATH_MAX];

	if (!g->boot && oci_template_get(g, &vm->shape, vm->nic, tdir, sizeof(tdir), err) < 0)
		return err_prefix(err, "the VM template");
	if (oci_vm_spawn(g->ember, vm->dir, &vm->pid, err) < 0)
		return explain(vm, "starting ember", err);
	if (g->boot ? oci_vm_boot(vm->dir, g, &vm->shape, image, vm->nic, err) < 0
		    : restore(vm, tdir, image, err) < 0)
		return explain(vm, g->boot ? "booting the VM" : "restoring the VM template", err);
	return 0;
}

int oci_vm_pause(const char *dir, bool pause, struct ember_err *err)
{
	return oci_vm_api(dir, "PATCH", "/vm",
			  json_pack("{s:s}", "state", pause ? "Paused" : "Resumed"), err);
}

void oci_vm_stop(struct oci_vm *vm)
{
	ember_proc_kill(vm->pid);
	vm->pid = 0;
}
