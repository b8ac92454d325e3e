/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of ember's REST API over its Unix socket: one request per
 * connection, the answer parsed by libhttp-parser. Used by ember-fn.
 */
#ifndef EMBER_API_CLIENT_H
#define EMBER_API_CLIENT_H

#include <stddef.h>

#include "err.h"

#define API_CLIENT_BODY_MAX (1u << 20)

struct api_reply {
	int status; /* HTTP status */
	char *body; /* NUL-terminated, possibly empty */
	size_t body_len;
};

/* METHOD PATH with an optional JSON body; fails on no answer in timeout_ms. */
int api_client_call(const char *sock, const char *method, const char *path, const char *body,
		    unsigned timeout_ms, struct api_reply *reply, struct ember_err *err);
/* As api_client_call, and any status but 2xx becomes an error naming the
 * request and carrying ember's fault_message. */
int api_client_expect(const char *sock, const char *method, const char *path, const char *body,
		      unsigned timeout_ms, struct ember_err *err);
void api_reply_free(struct api_reply *reply);

#endif
