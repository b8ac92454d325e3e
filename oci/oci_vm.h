/* SPDX-License-Identifier: Apache-2.0 */
/* Between vm.c and template.c: ember driven through its API socket. */
#ifndef EMBER_OCI_VM_H
#define EMBER_OCI_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "oci.h"

#define OCI_TEMPLATE_STATE "vm.state"
#define OCI_TEMPLATE_MEM   "vm.mem"
#define OCI_TEMPLATE_DRIVE "drive.img"

/* ember with its API at dir/api.sock and its output in dir/ember.log,
 * killed if the caller dies. */
int oci_vm_spawn(const char *ember, const char *dir, pid_t *pid, struct ember_err *err);
/* One API call; `body` (may be NULL) is consumed. */
int oci_vm_api(const char *dir, const char *method, const char *path, json_t *body,
	       struct ember_err *err);
/* Configure and boot the guest to its agent: kernel, initramfs, shape, the
 * drive "ctr" on `drive`, vsock at dir/v.sock, a NIC on OCI_TAP_NAME. */
int oci_vm_boot(const char *dir, const struct oci_globals *g, const struct oci_vm_shape *shape,
		const char *drive, bool nic, struct ember_err *err);

#endif
