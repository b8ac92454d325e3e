/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API's router: an HTTP request to a resource of the control plane
 * (vmm/resources/), with Firecracker's path rules and messages: the path's
 * first segment names the resource, the second its id (or a fixed name:
 * /vm/config, /snapshot/load); ids are letters, digits and '_'; a GET has
 * no body, a PUT or PATCH has one.
 */
#ifndef EMBER_API_ROUTES_H
#define EMBER_API_ROUTES_H

#include "http.h"
#include "resource.h"
#include "server.h"

/* Fill call from req (its body still to be parsed): 0, or -EINVAL with
 * Firecracker's message for the path, the id or a missing body. */
int api_route(const struct http_request *req, struct res_call *call, char *id, size_t id_size,
	      struct ember_err *err);
/* An api_handler (ctx = the instance), run on the VMM thread: route, run,
 * answer (and log the request as Firecracker does). */
void api_routes_handle(void *ctx, const struct http_request *req, struct api_reply *reply);

#endif
