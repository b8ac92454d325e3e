// SPDX-License-Identifier: Apache-2.0
/* The API's router: every route to its resource, verb and id, and the
 * requests that name no route, with Firecracker's messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "instance.h"
#include "routes.h"

static struct ember_err err;
static char id[INSTANCE_ID_MAX];

static int route(enum http_verb verb, const char *path, const char *body, struct res_call *c)
{
	struct http_request req = { .verb = verb,
				    .body = (char *)body,
				    .body_len = body ? strlen(body) : 0 };

	snprintf(req.path, sizeof(req.path), "%s", path);
	memset(&err, 0, sizeof(err));
	return api_route(&req, c, id, sizeof(id), &err);
}

struct expect {
	enum http_verb verb;
	const char *path;
	const struct res_def *res;
	const char *id;
	unsigned when;
};

/* Firecracker's table (../shared/reference/firecracker.md §1) for these routes. */
static const struct expect table[] = {
	{ HTTP_VERB_GET, "/", &res_instance_info, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_GET, "/version", &res_version, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_GET, "/vm/config", &res_vm_config, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_GET, "/machine-config", &res_machine_config, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PUT, "/actions", &res_actions, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PUT, "/boot-source", &res_boot_source, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/machine-config", &res_machine_config, NULL, RES_PRE },
	{ HTTP_VERB_PATCH, "/machine-config", &res_machine_config, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/cpu-config", &res_cpu_config, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/drives/rootfs", &res_drives, "rootfs", RES_PRE | RES_POST },
	{ HTTP_VERB_PATCH, "/drives/scratch", &res_drives, "scratch", RES_POST },
	{ HTTP_VERB_DELETE, "/drives/scratch", &res_drives, "scratch", RES_POST },
	{ HTTP_VERB_PUT, "/network-interfaces/eth0", &res_network_interfaces, "eth0",
	  RES_PRE | RES_POST },
	{ HTTP_VERB_PATCH, "/network-interfaces/eth0", &res_network_interfaces, "eth0", RES_POST },
	{ HTTP_VERB_PUT, "/vsock", &res_vsock, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/entropy", &res_entropy, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/balloon", &res_balloon, NULL, RES_PRE },
	{ HTTP_VERB_GET, "/balloon", &res_balloon, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PATCH, "/balloon", &res_balloon, NULL, RES_POST },
	{ HTTP_VERB_GET, "/balloon/statistics", &res_balloon_statistics, NULL, RES_POST },
	{ HTTP_VERB_PATCH, "/balloon/statistics", &res_balloon_statistics, NULL, RES_POST },
	{ HTTP_VERB_GET, "/balloon/hinting/status", &res_balloon_hinting, "status", RES_POST },
	{ HTTP_VERB_PATCH, "/balloon/hinting/start", &res_balloon_hinting, "start", RES_POST },
	{ HTTP_VERB_PATCH, "/balloon/hinting/stop", &res_balloon_hinting, "stop", RES_POST },
	{ HTTP_VERB_GET, "/mmds", &res_mmds, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PUT, "/mmds", &res_mmds, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PATCH, "/mmds", &res_mmds, NULL, RES_PRE | RES_POST },
	{ HTTP_VERB_PUT, "/mmds/config", &res_mmds_config, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/pmem/pm0", &res_pmem, "pm0", RES_PRE | RES_POST },
	{ HTTP_VERB_PATCH, "/pmem/pm0", &res_pmem, "pm0", RES_POST },
	{ HTTP_VERB_DELETE, "/pmem/pm0", &res_pmem, "pm0", RES_POST },
	{ HTTP_VERB_PUT, "/hotplug/memory", &res_memory_hotplug, NULL, RES_PRE },
	{ HTTP_VERB_PATCH, "/hotplug/memory", &res_memory_hotplug, NULL, RES_POST },
	{ HTTP_VERB_GET, "/hotplug/memory", &res_memory_hotplug, NULL, RES_POST },
	{ HTTP_VERB_PUT, "/serial", &res_serial, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/logger", &res_logger, NULL, RES_PRE },
	{ HTTP_VERB_PUT, "/metrics", &res_metrics, NULL, RES_PRE },
	{ HTTP_VERB_PATCH, "/vm", &res_vm_state, NULL, RES_POST },
	{ HTTP_VERB_PUT, "/snapshot/create", &res_snapshot_create, NULL, RES_POST },
	{ HTTP_VERB_PUT, "/snapshot/load", &res_snapshot_load, NULL, RES_PRE },
};

static const enum res_verb verbs[] = { [HTTP_VERB_GET] = RES_GET,
				       [HTTP_VERB_PUT] = RES_PUT,
				       [HTTP_VERB_PATCH] = RES_PATCH,
				       [HTTP_VERB_DELETE] = RES_DELETE };

Test(routes, every_route_resolves_with_its_id_and_rule)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct expect *e = &table[i];
		const char *body =
		    e->verb == HTTP_VERB_GET || e->verb == HTTP_VERB_DELETE ? NULL : "{}";
		struct res_call c;

		cr_assert_eq(route(e->verb, e->path, body, &c), 0, "%s %s: %s",
			     http_verb_name(e->verb), e->path, err.msg);
		cr_assert_eq(c.res, e->res, "%s %s", http_verb_name(e->verb), e->path);
		cr_assert_eq(c.verb, verbs[e->verb]);
		if (e->id)
			cr_assert_str_eq(c.id, e->id, "%s", e->path);
		else
			cr_assert_null(c.id, "%s", e->path);
		cr_assert_eq(c.res->ops[c.verb].when, e->when, "%s %s", http_verb_name(e->verb),
			     e->path);
		cr_assert_eq(c.body.text, body);
	}
}

Test(routes, every_operation_in_the_table_is_routed)
{
	for (unsigned i = 0; i < res_count; i++) {
		const struct res_def *d = res_table[i];
		size_t found = 0;

		for (size_t j = 0; j < sizeof(table) / sizeof(table[0]); j++)
			found += table[j].res == d;
		for (int v = 0; v < RES_NR_VERBS; v++)
			if (d->ops[v].when)
				cr_assert(found, "resource %s has operations but no route here",
					  d->path ? d->path : d->key);
	}
}

Test(routes, a_trailing_slash_and_later_segments_are_ignored)
{
	struct res_call c;

	cr_assert_eq(route(HTTP_VERB_PUT, "/drives/rootfs/", "{}", &c), 0, "%s", err.msg);
	cr_assert_str_eq(c.id, "rootfs");
	cr_assert_eq(route(HTTP_VERB_PUT, "/drives/a/b", "{}", &c), 0, "%s", err.msg);
	cr_assert_str_eq(c.id, "a", "Firecracker reads two segments");
	cr_assert_eq(route(HTTP_VERB_GET, "/machine-config/", NULL, &c), 0, "%s", err.msg);
}

static void bad(enum http_verb verb, const char *path, const char *body, const char *msg)
{
	struct res_call c;

	cr_assert_eq(route(verb, path, body, &c), -EINVAL, "%s %s routed", http_verb_name(verb),
		     path);
	cr_assert_str_eq(err.msg, msg, "%s %s", http_verb_name(verb), path);
}

Test(routes, unknown_paths_and_methods_are_firecrackers_400)
{
	bad(HTTP_VERB_PUT, "/foo", "{}", "Invalid request method and/or path: PUT foo.");
	bad(HTTP_VERB_GET, "/drives/rootfs", NULL,
	    "Invalid request method and/or path: GET drives.");
	bad(HTTP_VERB_PATCH, "/boot-source", "{}",
	    "Invalid request method and/or path: PATCH boot-source.");
	bad(HTTP_VERB_PUT, "/vm", "{}", "Invalid request method and/or path: PUT vm.");
	bad(HTTP_VERB_GET, "/vm/state", NULL, "Invalid request method and/or path: GET vm.");
	bad(HTTP_VERB_GET, "/?a=b", NULL, "Invalid request method and/or path: GET ?a=b.");
	bad(HTTP_VERB_DELETE, "/vsock", NULL, "Invalid request method and/or path: DELETE vsock.");
	bad(HTTP_VERB_PUT, "/snapshot/restore", "{}",
	    "Invalid request method and/or path: PUT /snapshot/restore.");
	bad(HTTP_VERB_PUT, "/snapshot", "{}", "Missing snapshot operation type.");
	bad(HTTP_VERB_GET, "/a-very-long-first-segment-that-matches-nothing-at-all-anywhere-here",
	    NULL,
	    "Invalid request method and/or path: GET "
	    "a-very-long-first-segment-that-matches-nothing-at-all-anywhere-here.");
}

Test(routes, ids_are_letters_digits_and_underscores)
{
	char path[128];
	struct res_call c;

	bad(HTTP_VERB_PUT, "/drives", "{}", "The ID cannot be empty.");
	bad(HTTP_VERB_PUT, "/drives/", "{}", "The ID cannot be empty.");
	bad(HTTP_VERB_PATCH, "/network-interfaces/", "{}", "The ID cannot be empty.");
	bad(HTTP_VERB_PUT, "/drives/a-b", "{}",
	    "API Resource IDs can only contain alphanumeric characters and underscores.");
	bad(HTTP_VERB_PUT, "/drives/a%20b", "{}",
	    "API Resource IDs can only contain alphanumeric characters and underscores.");
	snprintf(path, sizeof(path), "/drives/%065d", 0);
	bad(HTTP_VERB_PUT, path, "{}",
	    "API Resource IDs can only contain alphanumeric characters and underscores.");
	cr_assert_eq(route(HTTP_VERB_PUT, "/drives/Root_FS_2", "{}", &c), 0, "%s", err.msg);
}

Test(routes, bodies_where_firecracker_wants_them)
{
	bad(HTTP_VERB_GET, "/", "{}", "GET request cannot have a body.");
	bad(HTTP_VERB_GET, "/nowhere", "{}", "GET request cannot have a body.");
	bad(HTTP_VERB_PUT, "/actions", NULL, "Empty PUT request.");
	bad(HTTP_VERB_PUT, "/nowhere", NULL, "Empty PUT request.");
	bad(HTTP_VERB_PATCH, "/vm", NULL, "Empty PATCH request.");
	bad(HTTP_VERB_DELETE, "/drives/x", "{}", "Empty Delete request.");
}

Test(routes, hinting_takes_a_third_segment_and_a_patch_without_a_body)
{
	struct res_call c;

	cr_assert_eq(route(HTTP_VERB_PATCH, "/balloon/hinting/start", NULL, &c), 0, "%s", err.msg);
	cr_assert_eq(c.res, &res_balloon_hinting);
	cr_assert_str_eq(c.id, "start");
	cr_assert_null(c.body.text);
	cr_assert_eq(route(HTTP_VERB_PATCH, "/balloon/hinting/", NULL, &c), 0, "%s", err.msg);
	cr_assert_str_eq(c.id, "", "the resource says which action is missing");
	cr_assert_eq(route(HTTP_VERB_GET, "/balloon/hinting/status/x", NULL, &c), 0);
	cr_assert_str_eq(c.id, "status");
	bad(HTTP_VERB_PATCH, "/balloon/statistics", NULL, "Empty PATCH request.");
	bad(HTTP_VERB_PATCH, "/balloon", NULL, "Empty PATCH request.");
	bad(HTTP_VERB_GET, "/balloon/hinting/status", "{}", "GET request cannot have a body.");
}

Test(routes, resources_are_found_by_path)
{
	cr_assert_eq(res_find("vm", "config"), &res_vm_config);
	cr_assert_eq(res_find("vm", NULL), &res_vm_state);
	cr_assert_eq(res_find("drives", "x"), &res_drives);
	cr_assert_null(res_find("vsock", "x"));
	cr_assert_null(res_find("snapshot", NULL));
	cr_assert_eq(res_find("", NULL), &res_instance_info);
}
