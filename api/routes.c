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

/* The first two segments of the path: "/drives/x/" -> "drives", "x".
 * Firecracker ignores segments after the second, and takes a query as part
 * of its segment (it names no resource). */
static void segments(const char *path, char *first, size_t fsize, char *second, size_t ssize,
		     bool *has_second)
{
	const char *p = path, *end;
	size_t n;

	while (*p == '/')
		p++;
	end = p + strcspn(p, "/");
	n = (size_t)(end - p) < fsize ? (size_t)(end - p) : fsize - 1;
	memcpy(first, p, n);
	first[n] = '\0';
	*has_second = *end == '/' && end[1];
	p = *end == '/' ? end + 1 : end;
	end = p + strcspn(p, "/");
	n = (size_t)(end - p) < ssize ? (size_t)(end - p) : ssize - 1;
	memcpy(second, p, n);
	second[n] = '\0';
}

static int bad_path(const struct http_request *req, const char *first, struct ember_err *err)
{
	return err_set(err, EINVAL, "Invalid request method and/or path: %s %s.",
		       http_verb_name(req->verb), first);
}

/* Firecracker's arms for a body where there should be none, and none where
 * there should be one: they apply to every path, known or not. */
static int body_rules(const struct http_request *req, struct ember_err *err)
{
	bool body = req->body_len > 0;

	if (req->verb == HTTP_VERB_GET && body)
		return err_set(err, EINVAL, "GET request cannot have a body.");
	if (req->verb == HTTP_VERB_PUT && !body)
		return err_set(err, EINVAL, "Empty PUT request.");
	if (req->verb == HTTP_VERB_PATCH && !body)
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
	char first[HTTP_PATH_MAX], second[HTTP_PATH_MAX];
	const struct res_def *d;
	bool has_second;
	int ret;

	memset(call, 0, sizeof(*call));
	segments(req->path, first, sizeof(first), second, sizeof(second), &has_second);
	ret = body_rules(req, err);
	if (ret)
		return ret;
	d = res_find(first, has_second ? second : NULL);
	if (!d && !strcmp(first, "snapshot") && req->verb == HTTP_VERB_PUT)
		return has_second ? err_set(err, EINVAL,
					    "Invalid request method and/or path: PUT /snapshot/%s.",
					    second)
				  : err_set(err, EINVAL, "Missing snapshot operation type.");
	if (!d || verbs[req->verb] == RES_NR_VERBS || !d->ops[verbs[req->verb]].when)
		return bad_path(req, first, err);
	call->res = d;
	call->verb = verbs[req->verb];
	call->body.text = req->body_len ? req->body : NULL;
	if (d->has_id) {
		ret = take_id(second, has_second, id, id_size, err);
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
		reply->status = 400;
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
