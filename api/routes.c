// SPDX-License-Identifier: Apache-2.0
/* HTTP requests to the control plane's resources, with Firecracker's
 * routing rules and messages (src/firecracker/src/api_server/parsed_request.rs). */
#include "routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"

static const enum res_verb verbs[] = {
	[HTTP_VERB_GET] = RES_GET,       [HTTP_VERB_PUT] = RES_PUT,
	[HTTP_VERB_PATCH] = RES_PATCH,   [HTTP_VERB_POST] = RES_NR_VERBS,
	[HTTP_VERB_DELETE] = RES_DELETE,
};

/* The first three segments of the path, as Firecracker splits it ("/drives/x/"
 * -> "drives", "x", ""); `n` is how many there are. Firecracker ignores
 * segments past those a resource names, and takes a query as part of its
 * segment (it names no resource). */
struct segments {
	char seg[3][HTTP_PATH_MAX];
	unsigned n;
};

static void split_path(const char *path, struct segments *s)
{
	const char *p = path;

	while (*p == '/')
		p++;
	memset(s, 0, sizeof(*s));
	for (s->n = 0; s->n < 3 && *p;) {
		size_t len = strcspn(p, "/");
		size_t n = len < HTTP_PATH_MAX ? len : HTTP_PATH_MAX - 1;

		memcpy(s->seg[s->n++], p, n);
		p += len;
		p += *p == '/';
	}
}

static int bad_path(const struct http_request *req, const char *first, struct ember_err *err)
{
	return err_set(err, EINVAL, "Invalid request method and/or path: %s %s.",
		       http_verb_name(req->verb), first);
}

/* Firecracker's arms for a body where there should be none, and none where
 * there should be one: they apply to every path, known or not, but for a
 * PATCH that may come without one (the hinting run's). */
static int body_rules(const struct http_request *req, const struct res_def *d,
		      struct ember_err *err)
{
	bool body = req->body_len > 0;

	if (req->verb == HTTP_VERB_GET && body)
		return err_set(err, EINVAL, "GET request cannot have a body.");
	if (req->verb == HTTP_VERB_PUT && !body)
		return err_set(err, EINVAL, "Empty PUT request.");
	if (req->verb == HTTP_VERB_PATCH && !body && !(d && d->patch_no_body))
		return err_set(err, EINVAL, "Empty PATCH request.");
	if (req->verb == HTTP_VERB_DELETE && body)
		return err_set(err, EINVAL, "Empty Delete request.");
	return 0;
}

static int take_id(const char *second, bool has_second, char *id, size_t id_size,
		   struct ember_err *err)
{
	if (!has_second || !*second)
		return err_set(err, EINVAL, "The ID cannot be empty.");
	if (!res_id_valid(second) || strlen(second) >= id_size)
		return err_set(err, EINVAL,
			       "API Resource IDs can only contain alphanumeric characters and "
			       "underscores.");
	snprintf(id, id_size, "%s", second);
	return 0;
}

int api_route(const struct http_request *req, struct res_call *call, char *id, size_t id_size,
	      struct ember_err *err)
{
	const char *first, *second;
	const struct res_def *d;
	struct segments s;
	int ret;

	memset(call, 0, sizeof(*call));
	split_path(req->path, &s);
	first = s.seg[0];
	second = s.seg[1];
	d = res_find(first, s.n > 1 ? second : NULL);
	ret = body_rules(req, d, err);
	if (ret)
		return ret;
	if (!d && !strcmp(first, "snapshot") && req->verb == HTTP_VERB_PUT)
		return s.n > 1 ? err_set(err, EINVAL,
					 "Invalid request method and/or path: PUT /snapshot/%s.",
					 second)
			       : err_set(err, EINVAL, "Missing snapshot operation type.");
	if (!d || verbs[req->verb] == RES_NR_VERBS || !d->ops[verbs[req->verb]].when)
		return bad_path(req, first, err);
	call->res = d;
	call->verb = verbs[req->verb];
	call->body.text = req->body_len ? req->body : NULL;
	if (d->has_id) {
		ret = take_id(second, s.n > 1, id, id_size, err);
		call->id = id;
	}
	if (d->has_action) {
		snprintf(id, id_size, "%s", s.seg[2]);
		call->id = id;
	}
	return ret;
}

static void log_request(const struct http_request *req)
{
	if (!log_enabled(LOG_INFO))
		return;
	if (req->body && strcmp(req->path, "/cpu-config"))
		log_info("The API server received a %s request on \"%s\" with body \"%.512s\".",
			 http_verb_name(req->verb), req->path, req->body);
	else
		log_info("The API server received a %s request on \"%s\".",
			 http_verb_name(req->verb), req->path);
}

void api_routes_handle(void *ctx, const struct http_request *req, struct api_reply *reply)
{
	struct instance *in = ctx;
	struct ember_err err = { 0 };
	char id[INSTANCE_ID_MAX];
	struct res_call call;
	int ret;

	log_request(req);
	ret = api_route(req, &call, id, sizeof(id), &err);
	if (!ret)
		ret = res_call_run(in, &call, &err);
	reply->deprecated = call.deprecated;
	if (ret) {
		reply->status = call.status >= 400 ? call.status : 400;
		reply->body = http_fault_body(err.msg);
		log_warn("API request %s %s failed: %s", http_verb_name(req->verb), req->path,
			 err.msg);
	} else {
		reply->status = call.status;
		reply->body = call.reply;
		call.reply = NULL;
	}
	res_call_free(&call);
}
