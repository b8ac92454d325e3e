// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's API, row by row (tests/api/conformance.json): each pre-boot
 * row sent through the API's router to a fresh instance, in order, with
 * the status, fault_message, body and Deprecation header Firecracker gives.
 * Rows that need a TAP run in tests/e2e/api_conformance.sh, with the rest.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "routes.h"

#define TABLE "tests/api/conformance.json"

static char dir[] = "/tmp/ember-conformance-XXXXXX";
static char vars[16][2][256];
static int nr_vars;

static void var(const char *name, const char *value)
{
	snprintf(vars[nr_vars][0], sizeof(vars[0][0]), "%s", name);
	snprintf(vars[nr_vars][1], sizeof(vars[0][1]), "%s", value);
	nr_vars++;
}

static void file_var(const char *name, const char *file, size_t size)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	if (size)
		cr_assert_eq(ftruncate(fileno(f), (off_t)size), 0);
	fclose(f);
	var(name, path);
}

/* s with every placeholder replaced: malloc'ed. */
static char *subst(const char *s)
{
	size_t cap = strlen(s) * 4 + 4096, n = 0;
	char *out = malloc(cap);

	cr_assert_not_null(out);
	while (*s) {
		int i;

		for (i = 0; i < nr_vars; i++)
			if (!strncmp(s, vars[i][0], strlen(vars[i][0])))
				break;
		if (i < nr_vars) {
			n += (size_t)snprintf(out + n, cap - n, "%s", vars[i][1]);
			s += strlen(vars[i][0]);
		} else {
			out[n++] = *s++;
		}
		cr_assert_lt(n, cap - 256);
	}
	out[n] = '\0';
	return out;
}

static bool wants(json_t *row, const char *phase)
{
	json_t *w, *need;
	size_t i;
	bool in = false;

	json_array_foreach(json_object_get(row, "when"), i, w) in |=
	    !strcmp(json_string_value(w), phase);
	json_array_foreach(json_object_get(row, "needs"), i, need) in =
	    false; /* a TAP: only in the test host's network namespace */
	return in;
}

static enum http_verb verb_of(const char *m)
{
	return !strcmp(m, "GET")     ? HTTP_VERB_GET
	       : !strcmp(m, "PUT")   ? HTTP_VERB_PUT
	       : !strcmp(m, "PATCH") ? HTTP_VERB_PATCH
				     : HTTP_VERB_DELETE;
}

/* Expected JSON with placeholders filled, compared whole. */
static bool same_json(json_t *want, const char *got)
{
	char *text = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY), *filled = subst(text);
	json_t *w = json_loads(filled, JSON_DECODE_ANY, NULL), *g = json_loads(got, 0, NULL);
	bool same = w && g && json_equal(w, g);

	json_decref(w);
	json_decref(g);
	free(text);
	free(filled);
	return same;
}

static bool has_keys(json_t *keys, json_t *has, const char *got)
{
	json_t *g = json_loads(got, 0, NULL), *k, *v;
	const char *key;
	size_t i;
	bool ok = json_is_object(g);

	json_array_foreach(keys, i, k) ok &= json_object_get(g, json_string_value(k)) != NULL;
	if (keys && ok)
		ok = json_object_size(g) == json_array_size(keys);
	json_object_foreach(has, key, v) ok &= json_equal(v, json_object_get(g, key));
	json_decref(g);
	return ok;
}

/* The row's expectations against the reply; a line for each miss. */
static void check(json_t *row, const struct api_reply *r, char *why, size_t size)
{
	json_t *o = r->body ? json_loads(r->body, 0, NULL) : NULL;
	const char *fault = json_string_value(json_object_get(o, "fault_message"));
	const char *want = json_string_value(json_object_get(row, "fault"));
	const char *part = json_string_value(json_object_get(row, "fault_contains"));
	json_t *json = json_object_get(row, "json"), *dep = json_object_get(row, "deprecation");
	char *w = want ? subst(want) : NULL, *p = part ? subst(part) : NULL;

	why[0] = '\0';
	if (r->status != json_integer_value(json_object_get(row, "status")))
		snprintf(why, size, "status %d", r->status);
	else if (w && (!fault || strcmp(fault, w)))
		snprintf(why, size, "fault \"%s\", want \"%s\"", fault ? fault : "", w);
	else if (p && (!fault || !strstr(fault, p)))
		snprintf(why, size, "fault \"%s\" lacks \"%s\"", fault ? fault : "", p);
	else if (json && !same_json(json, r->body ? r->body : ""))
		snprintf(why, size, "body %s", r->body ? r->body : "(none)");
	else if (!has_keys(json_object_get(row, "json_keys"), json_object_get(row, "json_has"),
			   r->body ? r->body : "{}") &&
		 (json_object_get(row, "json_keys") || json_object_get(row, "json_has")))
		snprintf(why, size, "body %s", r->body ? r->body : "(none)");
	else if (dep && json_is_true(dep) != r->deprecated)
		snprintf(why, size, "Deprecation header %s", r->deprecated ? "sent" : "missing");
	free(w);
	free(p);
	json_decref(o);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	nr_vars = 0;
	file_var("@KERNEL@", "vmlinux", 4096);
	file_var("@INITRD@", "initrd", 4096);
	file_var("@ROOTFS@", "rootfs.ext4", 1 << 20);
	file_var("@SCRATCH@", "scratch1.img", 1 << 20);
	file_var("@SCRATCH2@", "scratch2.img", 2 << 20);
	var("@VSOCK@", "/tmp/ember-conformance.vsock");
	var("@SERIAL@", "/dev/null");
	file_var("@METRICS@", "metrics", 0);
	var("@BOOT_ARGS@", "console=ttyS0 reboot=k panic=1");
	var("@TAP0@", "ember-no-tap0");
	var("@TAP1@", "ember-no-tap1");
	var("@TAP2@", "ember-no-tap2");
	var("@SNAP@", dir);
	var("@PHASE@", "pre");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(conformance, pre_boot_rows_answer_as_firecracker, .init = setup, .fini = teardown)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };
	json_t *table = json_load_file(TABLE, 0, NULL), *row;
	static char report[1 << 16];
	size_t i, off = 0, ran = 0, bad = 0;
	struct instance in;

	cr_assert_not_null(table, "%s must be readable from the top of the tree", TABLE);
	cr_assert_eq(instance_init(&in, "unit", "9.9.9", &opts), 0);
	log_set_level(LOG_OFF);
	json_array_foreach(json_object_get(table, "rows"), i, row)
	{
		struct http_request req = { 0 };
		struct api_reply reply = { 0 };
		const char *body = json_string_value(json_object_get(row, "body"));
		char *path, why[2048];

		if (!wants(row, "pre"))
			continue;
		path = subst(json_string_value(json_object_get(row, "path")));
		req.verb = verb_of(json_string_value(json_object_get(row, "method")));
		snprintf(req.path, sizeof(req.path), "%s", path);
		req.body = body ? subst(body) : NULL;
		req.body_len = req.body ? strlen(req.body) : 0;
		api_routes_handle(&in, &req, &reply);
		check(row, &reply, why, sizeof(why));
		ran++;
		if (why[0] && off < sizeof(report) - 4096) {
			bad++;
			off += (size_t)snprintf(
			    report + off, sizeof(report) - off, "\n  row %zu %s %s %s: %s (%s)", i,
			    http_verb_name(req.verb), path, body ? body : "", why,
			    json_string_value(json_object_get(row, "source")));
		}
		free(path);
		free(req.body);
		free(reply.body);
	}
	instance_free(&in);
	json_decref(table);
	cr_assert_gt(ran, 60, "the table has its pre-boot rows");
	cr_assert_eq(bad, 0, "%zu of %zu rows differ from Firecracker:%s", bad, ran, report);
}
