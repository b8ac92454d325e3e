// SPDX-License-Identifier: Apache-2.0
/* The MMDS data store: replace, merge patch, size limit, and the guest's
 * IMDS view of it. Objects are kept and shown with sorted keys, as
 * Firecracker's serde_json maps are. */
#include "mmds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mmds_store_init(struct mmds_store *s, size_t limit)
{
	memset(s, 0, sizeof(*s));
	s->limit = limit;
}

void mmds_store_free(struct mmds_store *s)
{
	json_decref(s->data);
	s->data = NULL;
	s->size = 0;
}

bool mmds_initialized(const struct mmds_store *s)
{
	return s->data != NULL;
}

static int count(const char *buf, size_t size, void *data)
{
	(void)buf;
	*(size_t *)data += size;
	return 0;
}

size_t mmds_json_size(const json_t *value)
{
	size_t n = 0;

	json_dump_callback(value, count, &n, JSON_COMPACT | JSON_ENCODE_ANY);
	return n;
}

static int too_large(struct ember_err *err)
{
	return err_set(err, EFBIG, "The MMDS patch request doesn't fit.");
}

int mmds_put(struct mmds_store *s, json_t *data, struct ember_err *err)
{
	size_t n = mmds_json_size(data);

	if (n > s->limit) {
		json_decref(data);
		return too_large(err);
	}
	json_decref(s->data);
	s->data = data;
	s->size = n;
	return 0;
}

/* RFC 7386 into *target (replaced when it is not an object, or NULL):
 * null members remove, objects merge, anything else replaces. */
static int merge(json_t **target, const json_t *patch)
{
	const char *key;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(*target);
		*target = json_deep_copy(patch);
		return *target ? 0 : -ENOMEM;
	}
	if (!json_is_object(*target)) {
		json_decref(*target);
		if (!(*target = json_object()))
			return -ENOMEM;
	}
	json_object_foreach((json_t *)patch, key, v)
	{
		json_t *old;

		if (json_is_null(v)) {
			json_object_del(*target, key);
			continue;
		}
		old = json_incref(json_object_get(*target, key));
		if (merge(&old, v) < 0 || json_object_set_new(*target, key, old) < 0)
			return -ENOMEM;
	}
	return 0;
}

int mmds_patch(struct mmds_store *s, const json_t *patch, struct ember_err *err)
{
	json_t *next;
	size_t n;

	if (!s->data)
		return err_set(err, ENOENT, "The MMDS data store is not initialized.");
	next = json_deep_copy(s->data);
	if (!next || merge(&next, patch) < 0) {
		json_decref(next);
		return err_set(err, ENOMEM, "out of memory");
	}
	n = mmds_json_size(next);
	if (n > s->limit) {
		json_decref(next);
		return too_large(err);
	}
	json_decref(s->data);
	s->data = next;
	s->size = n;
	return 0;
}

json_t *mmds_value(const struct mmds_store *s)
{
	return s->data ? json_incref(s->data) : json_object();
}

/* One JSON pointer token (RFC 6901: ~1 is '/', ~0 is '~') into buf. */
static void unescape(const char *tok, size_t len, char *buf)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '~' && i + 1 < len && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
			buf[o++] = tok[++i] == '0' ? '~' : '/';
			continue;
		}
		buf[o++] = tok[i];
	}
	buf[o] = '\0';
}

static json_t *array_at(json_t *a, const char *tok)
{
	char *end;
	unsigned long i;

	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] < '0' || tok[0] > '9')
		return NULL;
	i = strtoul(tok, &end, 10);
	return *end ? NULL : json_array_get(a, i);
}

/* The value at a JSON pointer; "" is the whole document. */
static json_t *pointer(json_t *doc, const char *path)
{
	char tok[256];

	if (*path && *path != '/')
		return NULL;
	while (doc && *path == '/') {
		size_t len = strcspn(path + 1, "/");

		if (len >= sizeof(tok))
			return NULL;
		unescape(path + 1, len, tok);
		doc = json_is_object(doc)  ? json_object_get(doc, tok)
		      : json_is_array(doc) ? array_at(doc, tok)
					   : NULL;
		path += 1 + len;
	}
	return doc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted, one per line, objects marked with '/'. */
static char *list_keys(json_t *o)
{
	size_t n = json_object_size(o), len = 1, i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	const char *key;
	json_t *v;
	char *out, *p;

	if (!keys)
		return NULL;
	json_object_foreach(o, key, v)
	{
		keys[i++] = key;
		len += strlen(key) + 2;
	}
	qsort(keys, n, sizeof(*keys), cmp_keys);
	out = p = malloc(len);
	for (i = 0; out && i < n; i++) {
		size_t k = strlen(keys[i]);

		memcpy(p, keys[i], k);
		p += k;
		if (json_is_object(json_object_get(o, keys[i])))
			*p++ = '/';
		if (i + 1 < n)
			*p++ = '\n';
	}
	if (out)
		*p = '\0';
	free(keys);
	return out;
}

/* Firecracker's path clean-up: "//" runs become "/", and a trailing '/'
 * names the object itself. */
static char *clean_path(const char *path)
{
	size_t len = strlen(path), o = 0;
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!(path[i] == '/' && o && p[o - 1] == '/'))
			p[o++] = path[i];
	if (o && p[o - 1] == '/')
		o--;
	p[o] = '\0';
	return p;
}

char *mmds_lookup(const struct mmds_store *s, const char *path, bool json, int *errnum)
{
	char *clean = clean_path(path), *out = NULL;
	json_t *v = clean && s->data ? pointer(s->data, clean) : NULL;

	*errnum = clean ? ENOENT : ENOMEM;
	if (v && json)
		out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	else if (v && json_is_object(v))
		out = list_keys(v);
	else if (v && json_is_string(v))
		out = strdup(json_string_value(v));
	else if (v)
		*errnum = EPROTO;
	if (v && !out && *errnum != EPROTO)
		*errnum = ENOMEM;
	free(clean);
	return out;
}
