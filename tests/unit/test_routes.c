// SPDX-License-Identifier: Apache-2.0
/* The API's path table: every route, its id, its pre/post-boot rule, and the
 * requests that name no route. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"

static struct ember_err err;

static int route(enum http_verb verb, const char *path, const char *body, struct api_call *c)
{
	struct http_request req = { .verb = verb,
				    .body = (char *)body,
				    .body_len = body ? strlen(body) : 0 };

	snprintf(req.path, sizeof(req.path), "%s", path);
	return api_route(&req, c, &err);
}

struct expect {
	enum http_verb verb;
	const char *path;
	enum api_op op;
	const char *id;
	unsigned when;
};

/* Firecracker's table (../shared/reference/firecracker.md §1) for these routes. */
static const struct expect table[] = {
	{ HTTP_VERB_GET, "/", API_GET_INFO, "", API_PRE | API_POST },
	{ HTTP_VERB_GET, "/version", API_GET_VERSION, "", API_PRE | API_POST },
	{ HTTP_VERB_GET, "/vm/config", API_GET_VM_CONFIG, "", API_PRE | API_POST },
	{ HTTP_VERB_GET, "/machine-config", API_GET_MACHINE, "", API_PRE | API_POST },
	{ HTTP_VERB_PUT, "/actions", API_PUT_ACTIONS, "", API_PRE | API_POST },
	{ HTTP_VERB_PUT, "/boot-source", API_PUT_BOOT_SOURCE, "", API_PRE },
	{ HTTP_VERB_PUT, "/machine-config", API_PUT_MACHINE, "", API_PRE },
	{ HTTP_VERB_PATCH, "/machine-config", API_PATCH_MACHINE, "", API_PRE },
	{ HTTP_VERB_PUT, "/drives/rootfs", API_PUT_DRIVE, "rootfs", API_PRE },
	{ HTTP_VERB_PATCH, "/drives/scratch", API_PATCH_DRIVE, "scratch", API_POST },
	{ HTTP_VERB_PUT, "/network-interfaces/eth0", API_PUT_NET, "eth0", API_PRE },
	{ HTTP_VERB_PATCH, "/network-interfaces/eth0", API_PATCH_NET, "eth0", API_POST },
	{ HTTP_VERB_PUT, "/vsock", API_PUT_VSOCK, "", API_PRE },
	{ HTTP_VERB_PUT, "/entropy", API_PUT_ENTROPY, "", API_PRE },
	{ HTTP_VERB_PUT, "/logger", API_PUT_LOGGER, "", API_PRE },
	{ HTTP_VERB_PUT, "/metrics", API_PUT_METRICS, "", API_PRE },
	{ HTTP_VERB_PATCH, "/vm", API_PATCH_VM, "", API_POST },
};

Test(routes, every_route_resolves_with_its_id_and_rule)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct expect *e = &table[i];
		struct api_call c;
		const char *body = e->verb == HTTP_VERB_GET ? NULL : "{}";

		cr_assert_eq(route(e->verb, e->path, body, &c), 0, "%s %s: %s",
			     http_verb_name(e->verb), e->path, err.msg);
		cr_assert_eq(c.op, e->op, "%s %s", http_verb_name(e->verb), e->path);
		cr_assert_str_eq(c.id, e->id, "%s", e->path);
		cr_assert_eq(api_op_when(c.op), e->when, "%s %s", http_verb_name(e->verb), e->path);
		cr_assert_eq(c.body, body);
	}
}

Test(routes, every_op_is_routed_once)
{
	for (int op = 0; op < API_NR_OPS; op++)
		cr_assert_neq(api_op_when((enum api_op)op), 0, "op %d has no route", op);
}

Test(routes, a_trailing_slash_is_ignored)
{
	struct api_call c;

	cr_assert_eq(route(HTTP_VERB_PUT, "/drives/rootfs/", "{}", &c), 0, "%s", err.msg);
	cr_assert_str_eq(c.id, "rootfs");
	cr_assert_eq(route(HTTP_VERB_GET, "/machine-config/", NULL, &c), 0, "%s", err.msg);
}

static void bad(enum http_verb verb, const char *path, const char *body, int code,
		const char *words)
{
	struct api_call c;

	cr_assert_eq(route(verb, path, body, &c), -code, "%s %s routed", http_verb_name(verb),
		     path);
	cr_assert(strstr(err.msg, words), "%s %s: \"%s\" lacks \"%s\"", http_verb_name(verb), path,
		  err.msg, words);
}

Test(routes, unknown_paths_and_methods_are_firecrackers_400)
{
	bad(HTTP_VERB_PUT, "/foo", "{}", EINVAL, "Invalid request method and/or path: PUT /foo.");
	bad(HTTP_VERB_GET, "/drives/rootfs", NULL, EINVAL, "GET /drives/rootfs");
	bad(HTTP_VERB_PATCH, "/boot-source", "{}", EINVAL, "PATCH /boot-source");
	bad(HTTP_VERB_PUT, "/vm", "{}", EINVAL, "PUT /vm");
	bad(HTTP_VERB_GET, "/vm/state", NULL, EINVAL, "GET /vm/state");
	bad(HTTP_VERB_PUT, "/drives/a/b", "{}", EINVAL, "/drives/a/b");
	bad(HTTP_VERB_PUT, "/vsock/x", "{}", EINVAL, "/vsock/x");
	bad(HTTP_VERB_GET, "version", NULL, EINVAL, "Invalid request");
	bad(HTTP_VERB_GET, "/?a=b", NULL, EINVAL, "Invalid request");
	bad(HTTP_VERB_GET, "/a-very-long-first-segment-that-matches-nothing-at-all", NULL, EINVAL,
	    "Invalid request");
}

Test(routes, ids_must_be_present_and_short)
{
	char path[128];

	bad(HTTP_VERB_PUT, "/drives", "{}", EINVAL, "missing");
	bad(HTTP_VERB_PUT, "/drives/", "{}", EINVAL, "missing");
	bad(HTTP_VERB_PATCH, "/network-interfaces/", "{}", EINVAL, "missing");
	snprintf(path, sizeof(path), "/drives/%065d", 0);
	bad(HTTP_VERB_PUT, path, "{}", EINVAL, "longer than 64");
}

Test(routes, bodies_where_firecracker_wants_them)
{
	bad(HTTP_VERB_GET, "/", "{}", EINVAL, "GET request cannot have a body.");
	bad(HTTP_VERB_PUT, "/actions", NULL, ENODATA, "empty");
	bad(HTTP_VERB_PATCH, "/vm", NULL, ENODATA, "empty");
}

Test(routes, state_rules_give_firecrackers_messages)
{
	cr_assert_eq(api_op_check_state(API_PUT_BOOT_SOURCE, false, &err), 0);
	cr_assert_eq(api_op_check_state(API_PUT_BOOT_SOURCE, true, &err), -EPERM);
	cr_assert_str_eq(err.msg,
			 "The requested operation is not supported after starting the microVM.");
	cr_assert_eq(api_op_check_state(API_PATCH_VM, false, &err), -EPERM);
	cr_assert_str_eq(err.msg,
			 "The requested operation is not supported before starting the microVM.");
	cr_assert_eq(api_op_check_state(API_PATCH_VM, true, &err), 0);
	cr_assert_eq(api_op_check_state(API_GET_INFO, true, &err), 0);
	cr_assert_eq(api_op_check_state(API_GET_INFO, false, &err), 0);
}

Test(routes, metric_names_follow_firecracker)
{
	cr_assert_str_eq(api_op_metric_group(API_GET_INFO), "get_api_requests");
	cr_assert_str_eq(api_op_metric_name(API_GET_INFO), "instance_info");
	cr_assert_str_eq(api_op_metric_group(API_PUT_DRIVE), "put_api_requests");
	cr_assert_str_eq(api_op_metric_name(API_PUT_DRIVE), "drive");
	cr_assert_str_eq(api_op_metric_group(API_PATCH_NET), "patch_api_requests");
	cr_assert_str_eq(api_op_metric_name(API_PATCH_NET), "network");
	cr_assert_str_eq(api_op_metric_name(API_PUT_MACHINE), "machine_cfg");
}
