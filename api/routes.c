// SPDX-License-Identifier: Apache-2.0
/* The API's path table: method + path -> operation, with Firecracker's rules. */
#include "routes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct route {
	enum http_verb verb;
	const char *path; /* first path segment, with its leading '/' */
	bool has_id;      /* takes one more segment: /drives/{id} */
	const char *sub;  /* or a fixed second segment: /vm/config */
	enum api_op op;
	unsigned when;      /* API_PRE | API_POST */
	const char *metric; /* key prefix in its group */
};

static const struct route routes[] = {
	{ HTTP_VERB_GET, "/", false, NULL, API_GET_INFO, API_PRE | API_POST, "instance_info" },
	{ HTTP_VERB_GET, "/version", false, NULL, API_GET_VERSION, API_PRE | API_POST,
	  "vmm_version" },
	{ HTTP_VERB_GET, "/vm", false, "config", API_GET_VM_CONFIG, API_PRE | API_POST,
	  "vm_config" },
	{ HTTP_VERB_GET, "/machine-config", false, NULL, API_GET_MACHINE, API_PRE | API_POST,
	  "machine_cfg" },
	{ HTTP_VERB_PUT, "/actions", false, NULL, API_PUT_ACTIONS, API_PRE | API_POST, "actions" },
	{ HTTP_VERB_PUT, "/boot-source", false, NULL, API_PUT_BOOT_SOURCE, API_PRE, "boot_source" },
	{ HTTP_VERB_PUT, "/machine-config", false, NULL, API_PUT_MACHINE, API_PRE, "machine_cfg" },
	{ HTTP_VERB_PATCH, "/machine-config", false, NULL, API_PATCH_MACHINE, API_PRE,
	  "machine_cfg" },
	{ HTTP_VERB_PUT, "/drives", true, NULL, API_PUT_DRIVE, API_PRE, "drive" },
	{ HTTP_VERB_PATCH, "/drives", true, NULL, API_PATCH_DRIVE, API_POST, "drive" },
	{ HTTP_VERB_PUT, "/network-interfaces", true, NULL, API_PUT_NET, API_PRE, "network" },
	{ HTTP_VERB_PATCH, "/network-interfaces", true, NULL, API_PATCH_NET, API_POST, "network" },
	{ HTTP_VERB_PUT, "/vsock", false, NULL, API_PUT_VSOCK, API_PRE, "vsock" },
	{ HTTP_VERB_PUT, "/entropy", false, NULL, API_PUT_ENTROPY, API_PRE, "entropy" },
	{ HTTP_VERB_PUT, "/logger", false, NULL, API_PUT_LOGGER, API_PRE, "logger" },
	{ HTTP_VERB_PUT, "/metrics", false, NULL, API_PUT_METRICS, API_PRE, "metrics" },
	{ HTTP_VERB_PATCH, "/vm", false, NULL, API_PATCH_VM, API_POST, "vm" },
	{ HTTP_VERB_PUT, "/snapshot", false, "create", API_PUT_SNAPSHOT_CREATE, API_POST,
	  "create_snapshot" },
	{ HTTP_VERB_PUT, "/snapshot", false, "load", API_PUT_SNAPSHOT_LOAD, API_PRE,
	  "load_snapshot" },
};

#define NR_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const struct route *route_of(enum api_op op)
{
	for (size_t i = 0; i < NR_ROUTES; i++)
		if (routes[i].op == op)
			return &routes[i];
	return NULL;
}

/* Split "/drives/rootfs" into "/drives" and "rootfs"; a trailing '/' is
 * ignored as Firecracker does. false when there are more segments. */
static bool split_path(const char *path, char *first, size_t first_size, const char **rest,
		       size_t *rest_len)
{
	const char *slash = strchr(path + 1, '/');
	size_t len = slash ? (size_t)(slash - path) : strlen(path);

	if (len >= first_size)
		len = first_size - 1; /* cannot match any route */
	memcpy(first, path, len);
	first[len] = '\0';
	*rest = slash ? slash + 1 : "";
	*rest_len = strlen(*rest);
	if (*rest_len && (*rest)[*rest_len - 1] == '/')
		(*rest_len)--;
	return !memchr(*rest, '/', *rest_len);
}

static int bad_path(const struct http_request *req, struct ember_err *err)
{
	return err_set(err, EINVAL, "Invalid request method and/or path: %s %s.",
		       http_verb_name(req->verb), req->path);
}

static int take_id(const struct route *r, const char *rest, size_t len, struct api_call *call,
		   struct ember_err *err)
{
	if (!r->has_id)
		return 0;
	if (len == 0)
		return err_set(err, EINVAL, "Required path parameter id is missing in %s/{id}.",
			       r->path);
	if (len >= API_ID_MAX)
		return err_set(err, EINVAL, "The id in %s/ is longer than %d characters.", r->path,
			       API_ID_MAX - 1);
	memcpy(call->id, rest, len);
	call->id[len] = '\0';
	return 0;
}

static bool matches(const struct route *r, const char *first, const char *rest, size_t rest_len)
{
	if (strcmp(r->path, first))
		return false;
	if (r->sub)
		return rest_len == strlen(r->sub) && !strncmp(rest, r->sub, rest_len);
	/* /drives with nothing after it reaches take_id(), which names the missing id */
	return r->has_id || rest_len == 0;
}

int api_route(const struct http_request *req, struct api_call *call, struct ember_err *err)
{
	char first[32];
	const char *rest;
	size_t rest_len;

	memset(call, 0, sizeof(*call));
	if (req->path[0] != '/' || !split_path(req->path, first, sizeof(first), &rest, &rest_len))
		return bad_path(req, err);
	for (size_t i = 0; i < NR_ROUTES; i++) {
		const struct route *r = &routes[i];

		if (r->verb != req->verb || !matches(r, first, rest, rest_len))
			continue;
		call->op = r->op;
		call->body = req->body;
		if (req->verb == HTTP_VERB_GET && req->body_len)
			return err_set(err, EINVAL, "GET request cannot have a body.");
		if (req->verb != HTTP_VERB_GET && !req->body_len)
			return err_set(err, ENODATA, "The body of the %s request is empty.",
				       http_verb_name(req->verb));
		return take_id(r, rest, rest_len, call, err);
	}
	return bad_path(req, err);
}

unsigned api_op_when(enum api_op op)
{
	const struct route *r = route_of(op);

	return r ? r->when : 0;
}

const char *api_op_metric_group(enum api_op op)
{
	const struct route *r = route_of(op);

	if (!r)
		return "unknown_api_requests";
	return r->verb == HTTP_VERB_GET   ? "get_api_requests"
	       : r->verb == HTTP_VERB_PUT ? "put_api_requests"
					  : "patch_api_requests";
}

const char *api_op_metric_name(enum api_op op)
{
	const struct route *r = route_of(op);

	return r ? r->metric : "unknown";
}

int api_op_check_state(enum api_op op, bool started, struct ember_err *err)
{
	unsigned when = api_op_when(op);

	if (started && !(when & API_POST))
		return err_set(err, EPERM,
			       "The requested operation is not supported after starting the "
			       "microVM.");
	if (!started && !(when & API_PRE))
		return err_set(err, EPERM,
			       "The requested operation is not supported before starting the "
			       "microVM.");
	return 0;
}
