// SPDX-License-Identifier: Apache-2.0
/*
 * Request bodies and config sections checked field by field, with the
 * messages serde_json gives for Firecracker's structs: "missing field
 * `vcpu_count` at line 1 column 21", "unknown variant `foo`, expected `V1`
 * or `V2`"... Clients and tests match on them. Values come from jansson;
 * positions come from a small scan of the text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resource.h"

enum pos_kind { POS_KEY, POS_VALUE, POS_OBJ_END };

struct scan {
	const char *s;
	size_t pos, len;
};

static void ws(struct scan *sc)
{
	while (sc->pos < sc->len && strchr(" \t\r\n", sc->s[sc->pos]))
		sc->pos++;
}

static bool skip_string(struct scan *sc)
{
	if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
		return false;
	for (sc->pos++; sc->pos < sc->len; sc->pos++) {
		if (sc->s[sc->pos] == '\\')
			sc->pos++;
		else if (sc->s[sc->pos] == '"')
			return ++sc->pos, true;
	}
	return false;
}

static bool skip_nested(struct scan *sc)
{
	int depth = 0;

	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];

		if (c == '"') {
			if (!skip_string(sc))
				return false;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return ++sc->pos, true;
		sc->pos++;
	}
	return false;
}

/* Any value; the text already parsed, so only its extent matters. */
static bool skip_value(struct scan *sc)
{
	ws(sc);
	if (sc->pos >= sc->len)
		return false;
	if (sc->s[sc->pos] == '"')
		return skip_string(sc);
	if (sc->s[sc->pos] == '{' || sc->s[sc->pos] == '[')
		return skip_nested(sc);
	while (sc->pos < sc->len && !strchr(",}] \t\r\n", sc->s[sc->pos]))
		sc->pos++; /* a number, true, false or null */
	return true;
}

static bool key_is(const struct scan *sc, size_t start, const char *key)
{
	size_t n = strlen(key);

	return sc->pos - start == n + 2 && !memcmp(sc->s + start + 1, key, n);
}

static bool find(struct scan *sc, const struct body_step *path, int depth, enum pos_kind kind,
		 size_t *out);

/* In an object at sc: the member `key`. */
static bool find_member(struct scan *sc, const struct body_step *path, int depth,
			enum pos_kind kind, size_t *out)
{
	if (sc->s[sc->pos] != '{')
		return false;
	sc->pos++;
	for (ws(sc); sc->pos < sc->len && sc->s[sc->pos] == '"';) {
		size_t start = sc->pos;

		if (!skip_string(sc))
			return false;
		if (key_is(sc, start, path->key)) {
			if (depth == 1 && kind == POS_KEY)
				return *out = sc->pos - 1, true;
			ws(sc);
			sc->pos++; /* ':' */
			return find(sc, path + 1, depth - 1, kind, out);
		}
		ws(sc);
		sc->pos++;
		if (!skip_value(sc))
			return false;
		ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == ',')
			sc->pos++;
		ws(sc);
	}
	return false;
}

static bool find_item(struct scan *sc, const struct body_step *path, int depth, enum pos_kind kind,
		      size_t *out)
{
	if (sc->s[sc->pos] != '[')
		return false;
	sc->pos++;
	for (size_t i = 0;; i++) {
		ws(sc);
		if (sc->pos >= sc->len || sc->s[sc->pos] == ']')
			return false;
		if (i == path->index)
			return find(sc, path + 1, depth - 1, kind, out);
		if (!skip_value(sc))
			return false;
		ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == ',')
			sc->pos++;
	}
}

static bool find(struct scan *sc, const struct body_step *path, int depth, enum pos_kind kind,
		 size_t *out)
{
	ws(sc);
	if (sc->pos >= sc->len)
		return false;
	if (depth == 0) {
		if (!skip_value(sc))
			return false;
		*out = sc->pos - 1; /* serde reports the last byte it read */
		return true;
	}
	return path->key ? find_member(sc, path, depth, kind, out)
			 : find_item(sc, path, depth, kind, out);
}

/* " at line L column C" for a position in b's text, or "". */
static void where(const struct body *b, const char *key, enum pos_kind kind, char *buf, size_t size)
{
	struct body_step path[BODY_MAX_DEPTH + 1];
	struct scan sc = { b->text, 0, b->text ? strlen(b->text) : 0 };
	int depth = b->depth;
	size_t at = 0, line = 1, col;

	buf[0] = '\0';
	if (!b->text)
		return;
	memcpy(path, b->path, sizeof(b->path[0]) * (size_t)depth);
	if (key)
		path[depth++] = (struct body_step){ key, 0 };
	if (!find(&sc, path, depth, kind, &at))
		return;
	col = at + 1;
	for (size_t i = 0; i < at; i++)
		if (b->text[i] == '\n') {
			line++;
			col = at - i;
		}
	snprintf(buf, size, " at line %zu column %zu", line, col);
}

int body_error(const struct body *b, const char *key, struct ember_err *err, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX], at[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(b, key, key ? POS_VALUE : POS_OBJ_END, at, sizeof(at));
	return err_set(err, EBADMSG, "%s%s", msg, at);
}

static int error_at(const struct body *b, const char *key, enum pos_kind kind,
		    struct ember_err *err, const char *msg)
{
	char at[64];

	where(b, key, kind, at, sizeof(at));
	return err_set(err, EBADMSG, "%s%s", msg, at);
}

json_t *body_parse(const char *text, struct ember_err *err)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	const char *q;

	if (v)
		return v;
	if (!strncmp(e.text, "duplicate object key near '\"", 29) && (q = strchr(e.text + 29, '"')))
		err_set(err, EBADMSG, "duplicate field `%.*s` at line %d column %d",
			(int)(q - e.text - 29), e.text + 29, e.line, e.column);
	else if (strstr(e.text, "near end of file") || e.position >= (int)strlen(text))
		err_set(err, EBADMSG, "EOF while parsing a value at line %d column %d", e.line,
			e.column);
	else if (strstr(e.text, "end of file expected"))
		err_set(err, EBADMSG, "trailing characters at line %d column %d", e.line, e.column);
	else
		err_set(err, EBADMSG, "%s at line %d column %d", e.text, e.line, e.column);
	return NULL;
}

/* serde's Unexpected: how a value that is not what was asked is named. */
static void describe(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "string \"%.200s\"", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, size, "integer `%" JSON_INTEGER_FORMAT "`", json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "floating point `%g`", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "boolean `%s`", json_is_true(v) ? "true" : "false");
	else if (json_is_null(v))
		snprintf(buf, size, "null");
	else if (json_is_object(v))
		snprintf(buf, size, "map");
	else
		snprintf(buf, size, "sequence");
}

static const char *expected(const struct field *f)
{
	static const char *const names[] = {
		[FT_STRING] = "a string",
		[FT_BOOL] = "a boolean",
		[FT_U8] = "u8",
		[FT_U16] = "u16",
		[FT_U32] = "u32",
		[FT_U64] = "u64",
		[FT_USIZE] = "usize",
		[FT_I32] = "i32",
		[FT_OBJECT] = "a map",
		[FT_ARRAY] = "a sequence",
		[FT_ENUM] = "variant identifier",
		[FT_ANY] = "a value",
	};

	return f->what ? f->what : names[f->type];
}

/* "`a`", "`a` or `b`", "one of `a`, `b`, `c`" (serde's OneOf). */
static void one_of(const char *const *names, size_t stride, char *buf, size_t size)
{
	size_t n = 0, off = 0;

	while (*(const char *const *)((const char *)names + n * stride))
		n++;
	buf[0] = '\0';
	if (n > 2)
		off += (size_t)snprintf(buf, size, "one of ");
	for (size_t i = 0; i < n && off < size; i++) {
		const char *name = *(const char *const *)((const char *)names + i * stride);

		off += (size_t)snprintf(buf + off, size - off, "%s`%s`",
					i == 0   ? ""
					: n == 2 ? " or "
						 : ", ",
					name);
	}
}

static bool int_fits(const struct field *f, json_int_t v)
{
	static const uint64_t max[] = { [FT_U8] = 0xff,
					[FT_U16] = 0xffff,
					[FT_U32] = 0xffffffff,
					[FT_U64] = UINT64_MAX,
					[FT_USIZE] = UINT64_MAX };

	if (f->type == FT_I32)
		return v >= INT32_MIN && v <= INT32_MAX;
	return v >= 0 && (uint64_t)v <= max[f->type];
}

static bool is_int_type(enum field_type t)
{
	return t == FT_U8 || t == FT_U16 || t == FT_U32 || t == FT_U64 || t == FT_USIZE ||
	       t == FT_I32;
}

static int bad_type(const struct body *b, const char *key, json_t *v, const char *kind,
		    const struct field *f, struct ember_err *err)
{
	char msg[400], d[240];

	describe(v, d, sizeof(d));
	snprintf(msg, sizeof(msg), "invalid %s: %s, expected %s", kind, d, expected(f));
	return error_at(b, key, POS_VALUE, err, msg);
}

static int check_value(const struct body *b, const char *key, json_t *v, const struct field *f,
		       struct ember_err *err);

static int check_enum(const struct body *b, const char *key, json_t *v, const struct field *f,
		      struct ember_err *err)
{
	char msg[ERR_MSG_MAX], list[300];

	for (size_t i = 0; f->variants[i]; i++)
		if (!strcmp(json_string_value(v), f->variants[i]))
			return 0;
	one_of(f->variants, sizeof(f->variants[0]), list, sizeof(list));
	snprintf(msg, sizeof(msg), "unknown variant `%.100s`, expected %s", json_string_value(v),
		 list);
	return error_at(b, key, POS_VALUE, err, msg);
}

static int check_array(const struct body *b, const char *key, json_t *v, const struct field *f,
		       struct ember_err *err)
{
	struct field item = { .type = f->item, .sub = f->sub, .flags = 0, .what = NULL };
	struct body arr, el;
	size_t i;
	json_t *x;

	body_enter(&arr, b, key, 0);
	json_array_foreach(v, i, x)
	{
		int ret;

		body_enter(&el, &arr, NULL, i);
		ret = check_value(&el, NULL, x, &item, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_value(const struct body *b, const char *key, json_t *v, const struct field *f,
		       struct ember_err *err)
{
	struct body sub;

	if (json_is_null(v) && (f->flags & F_NULLABLE))
		return 0;
	switch (f->type) {
	case FT_ANY: return 0;
	case FT_STRING:
		if (!json_is_string(v))
			return bad_type(b, key, v, "type", f, err);
		if (strlen(json_string_value(v)) != json_string_length(v))
			return error_at(b, key, POS_VALUE, err,
					"invalid value: a string with a NUL character");
		return 0;
	case FT_BOOL: return json_is_boolean(v) ? 0 : bad_type(b, key, v, "type", f, err);
	case FT_ENUM:
		return json_is_string(v) ? check_enum(b, key, v, f, err)
					 : bad_type(b, key, v, "type", f, err);
	case FT_ARRAY:
		return json_is_array(v) ? check_array(b, key, v, f, err)
					: bad_type(b, key, v, "type", f, err);
	case FT_OBJECT:
		if (!json_is_object(v))
			return bad_type(b, key, v, "type", f, err);
		body_enter(&sub, b, key, 0);
		sub.value = v;
		return f->sub ? body_check(&sub, f->sub, f->what, f->flags & F_OPEN, err) : 0;
	default: break;
	}
	if (!is_int_type(f->type) || !json_is_integer(v))
		return bad_type(b, key, v, "type", f, err);
	return int_fits(f, json_integer_value(v)) ? 0 : bad_type(b, key, v, "value", f, err);
}

static const struct field *field_of(const struct field *fields, const char *key)
{
	for (const struct field *f = fields; f->name; f++)
		if (!strcmp(f->name, key))
			return f;
	return NULL;
}

static int unknown_field(const struct body *b, const char *key, const struct field *fields,
			 struct ember_err *err)
{
	char msg[ERR_MSG_MAX + 200], list[ERR_MSG_MAX];

	one_of(&fields->name, sizeof(*fields), list, sizeof(list));
	snprintf(msg, sizeof(msg), "unknown field `%.100s`, expected %s", key,
		 fields->name ? list : "there are no fields");
	if (!fields->name)
		snprintf(msg, sizeof(msg), "unknown field `%.100s`, there are no fields", key);
	return error_at(b, key, POS_KEY, err, msg);
}

int body_check(const struct body *b, const struct field *fields, const char *what, unsigned flags,
	       struct ember_err *err)
{
	struct field self = { .type = FT_OBJECT, .what = what };
	const char *key;
	json_t *v;

	if (!json_is_object(b->value))
		return bad_type(b, NULL, b->value, "type", &self, err);
	json_object_foreach(b->value, key, v)
	{
		const struct field *f = field_of(fields, key);
		int ret;

		if (!f && (flags & F_OPEN))
			continue;
		if (!f)
			ret = unknown_field(b, key, fields, err);
		else
			ret = check_value(b, key, v, f, err);
		if (ret)
			return ret;
	}
	for (const struct field *f = fields; f->name; f++)
		if ((f->flags & F_REQUIRED) && !json_object_get(b->value, f->name))
			return body_error(b, NULL, err, "missing field `%s`", f->name);
	return 0;
}

void body_enter(struct body *sub, const struct body *b, const char *key, size_t index)
{
	*sub = *b;
	sub->value = key ? json_object_get(b->value, key) : json_array_get(b->value, index);
	if (sub->depth < BODY_MAX_DEPTH)
		sub->path[sub->depth++] = (struct body_step){ key, index };
	else
		sub->text = NULL; /* too deep to place: no position */
}

const char *body_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool body_bool(json_t *o, const char *key, bool dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

uint64_t body_u64(json_t *o, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : dflt;
}

int body_enum(json_t *o, const char *key, const char *const *variants, int dflt)
{
	const char *s = body_str(o, key);

	for (int i = 0; s && variants[i]; i++)
		if (!strcmp(s, variants[i]))
			return i;
	return dflt;
}

bool body_has(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v && !json_is_null(v);
}

int body_dup(const char *s, char **out, struct ember_err *err)
{
	*out = NULL;
	if (!s)
		return 0;
	if (!(*out = strdup(s)))
		return err_set(err, ENOMEM, "out of memory");
	return 0;
}
