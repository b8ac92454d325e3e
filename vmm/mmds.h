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

#endif
