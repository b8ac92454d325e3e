/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's paths: which method and path name which operation, whether it is
 * allowed before and after InstanceStart (Firecracker's rules), and the
 * metric it is counted under. Pure functions: the VMM thread carries out
 * the operations (vmm/instance.c).
 */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include <stdbool.h>

#include "err.h"
#include "http.h"

#define API_ID_MAX 65 /* Firecracker's ids: at most 64 characters */

enum api_op {
	API_GET_INFO,
	API_GET_VERSION,
	API_GET_VM_CONFIG,
	API_GET_MACHINE,
	API_PUT_ACTIONS,
	API_PUT_BOOT_SOURCE,
	API_PUT_MACHINE,
	API_PATCH_MACHINE,
	API_PUT_DRIVE,
	API_PATCH_DRIVE,
	API_PUT_NET,
	API_PATCH_NET,
	API_PUT_VSOCK,
	API_PUT_ENTROPY,
	API_PUT_LOGGER,
	API_PUT_METRICS,
	API_PATCH_VM,
	API_PUT_SNAPSHOT_CREATE,
	API_PUT_SNAPSHOT_LOAD,
	API_NR_OPS,
};

/* When an operation is allowed. */
#define API_PRE  0x1 /* before InstanceStart */
#define API_POST 0x2 /* after it */

struct api_call {
	enum api_op op;
	char id[API_ID_MAX]; /* the path's {id}, or "" */
	const char *body;    /* the request's body, or NULL */
};

/* Which operation a request names. -EINVAL with Firecracker's message for an
 * unknown method/path pair, a missing or overlong id, or a GET with a body;
 * -ENODATA when a PUT or PATCH has no body. */
int api_route(const struct http_request *req, struct api_call *call, struct ember_err *err);
/* API_PRE, API_POST or both. */
unsigned api_op_when(enum api_op op);
/* "put_api_requests" and "drive" -> put_api_requests.drive_count/_fails. */
const char *api_op_metric_group(enum api_op op);
const char *api_op_metric_name(enum api_op op);
/* "allowed before and after boot" style check: 0 or -EPERM with the message. */
int api_op_check_state(enum api_op op, bool started, struct ember_err *err);

#endif
