/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MMDS data store (Firecracker's mmds/data_store.rs): one JSON value,
 * replaced by PUT /mmds, merged into by PATCH /mmds (RFC 7386 JSON merge
 * patch), bounded by a size limit on its compact serialization. The
 * guest's side (IMDS over the network) reads it through mmds_lookup.
 */
#ifndef EMBER_MMDS_H
#define EMBER_MMDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MMDS_DEFAULT_LIMIT 51200 /* bytes: Firecracker's default, its API body limit */

struct mmds_store {
	json_t *data; /* NULL until the first PUT */
	size_t limit; /* the largest compact serialization taken */
	size_t size;  /* the current one */
};

void mmds_store_init(struct mmds_store *s, size_t limit);
void mmds_store_free(struct mmds_store *s);
bool mmds_initialized(const struct mmds_store *s);
/* Replace the data (takes the reference, also on failure); -EFBIG beyond
 * the limit, the store unchanged. */
int mmds_put(struct mmds_store *s, json_t *data, struct ember_err *err);
/* Merge patch into the data; -ENOENT before any PUT, -EFBIG when the
 * result would be beyond the limit (the store unchanged either way). */
int mmds_patch(struct mmds_store *s, const json_t *patch, struct ember_err *err);
/* A new reference to the data ({} before any PUT), or NULL (ENOMEM). */
json_t *mmds_value(const struct mmds_store *s);
/* The bytes of value's compact serialization. */
size_t mmds_json_size(const json_t *value);

/* What the guest asked for at `path` ("/latest/meta-data/ami-id"): in
 * IMDS's text format (an object lists its keys, one per line, objects
 * with a trailing '/'; a string is itself) unless json, then as JSON.
 * Returns a malloc'ed body, or NULL with -ENOENT (no such path, or no
 * data), -EPROTO (a value IMDS cannot show: numbers, booleans, arrays,
 * null), -ENOMEM. */
char *mmds_lookup(const struct mmds_store *s, const char *path, bool json, int *errnum);

/* --- the guest's side (mmds_guest.c): IMDS requests and V2 tokens -------- */

#define MMDS_TOKEN_TTL_MIN 1u
#define MMDS_TOKEN_TTL_MAX 21600u /* seconds, as Firecracker and EC2 */
#define MMDS_TOKENS_MAX    256    /* live tokens kept; the nearest expiry goes first */
#define MMDS_TOKEN_BYTES   32     /* random bytes in a token */
#define MMDS_TOKEN_LEN     64     /* its text: hex */

struct mmds_token {
	char text[MMDS_TOKEN_LEN + 1];
	uint64_t expiry_ms; /* CLOCK_MONOTONIC; 0: free slot */
};

/* Firecracker's mmds metrics that the request layer counts. */
struct mmds_guest_stats {
	uint64_t rx_no_token;
	uint64_t rx_invalid_token;
};

struct mmds_guest {
	bool v2;          /* tokens required for GET */
	bool imds_compat; /* IMDS text whatever Accept says */
	struct mmds_token tokens[MMDS_TOKENS_MAX];
	struct mmds_guest_stats stats;
};

/* One request as the guest sent it: headers looked up case-insensitively by
 * the caller (NULL when absent). */
struct mmds_request {
	const char *method;
	const char *path; /* the request target, query included */
	const char *accept;
	const char *token;      /* X-metadata-token or X-aws-ec2-metadata-token */
	const char *ttl;        /* X-metadata-token-ttl-seconds or the aws- one */
	const char *ttl_header; /* which of the two it was, to echo it */
	bool forwarded_for;     /* X-Forwarded-For present */
};

struct mmds_response {
	int status;
	bool json;       /* Content-Type: application/json, else text/plain */
	char *body;      /* malloc'ed */
	char header[96]; /* an extra "Name: value" line, or "" */
};

void mmds_guest_init(struct mmds_guest *g, bool v2, bool imds_compat);
/* Firecracker's answer to one request (now_ms: CLOCK_MONOTONIC); -ENOMEM. */
int mmds_guest_serve(struct mmds_guest *g, const struct mmds_store *s,
		     const struct mmds_request *req, uint64_t now_ms, struct mmds_response *out);

#endif
