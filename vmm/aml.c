// SPDX-License-Identifier: Apache-2.0
/* AML encoding: opcodes and layouts from ACPI 6.5 chapter 20 (AML grammar)
 * and section 6.4 (resource data types). */
#include "aml.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ZERO_OP        0x00
#define ONE_OP         0x01
#define NAME_OP        0x08
#define BYTE_PREFIX    0x0a
#define WORD_PREFIX    0x0b
#define DWORD_PREFIX   0x0c
#define STRING_PREFIX  0x0d
#define QWORD_PREFIX   0x0e
#define BUFFER_OP      0x11
#define PACKAGE_OP     0x12
#define METHOD_OP      0x14
#define DUAL_NAME      0x2e
#define MULTI_NAME     0x2f
#define EXT_OP         0x5b
#define DEVICE_OP      0x82
#define ROOT_CHAR      '\\'
#define PARENT_CHAR    '^'
#define RETURN_OP      0xa4
#define PKG_LENGTH_MAX ((1u << 28) - 1)
#define NAME_SEGS_MAX  16

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

void aml_free(struct aml *a)
{
	free(a->buf);
	aml_init(a);
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->failed)
		return;
	if (a->len + n > a->cap) {
		size_t cap = (a->len + n) * 2 + 64;
		uint8_t *b = realloc(a->buf, cap);

		if (!b) {
			a->failed = true;
			return;
		}
		a->buf = b;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		byte(a, (uint8_t)(v >> (8 * i)));
}

/* Append a child term; its failure is the parent's. */
static void append(struct aml *a, const struct aml *child)
{
	if (child->failed)
		a->failed = true;
	else
		aml_bytes(a, child->buf, child->len);
}

/* The lead byte's bits 7:6 give the bytes that follow; with one byte, bits
 * 5:0 are the length, otherwise bits 3:0 are its low nibble. */
void aml_pkg_length(struct aml *a, size_t body)
{
	size_t total;
	unsigned extra;

	if (body + 1 <= 63) {
		byte(a, (uint8_t)(body + 1));
		return;
	}
	extra = body + 2 < (1u << 12) ? 1 : body + 3 < (1u << 20) ? 2 : 3;
	total = body + 1 + extra;
	if (total > PKG_LENGTH_MAX) {
		a->failed = true;
		return;
	}
	byte(a, (uint8_t)((extra << 6) | (total & 0xf)));
	for (unsigned i = 0; i < extra; i++)
		byte(a, (uint8_t)(total >> (4 + 8 * i)));
}

static bool seg_char(char c, bool lead)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (!lead && c >= '0' && c <= '9');
}

/* "V000", "PS2" -> "PS2_": one NameSeg, or false. */
static bool name_seg(const char *s, size_t n, char out[4])
{
	if (n == 0 || n > 4 || !seg_char(s[0], true))
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (i < n && !seg_char(s[i], false))
			return false;
		out[i] = i < n ? s[i] : '_';
	}
	return true;
}

void aml_name_string(struct aml *a, const char *path)
{
	char segs[NAME_SEGS_MAX][4];
	unsigned n = 0;

	while (*path == ROOT_CHAR || *path == PARENT_CHAR)
		byte(a, (uint8_t)*path++);
	for (const char *p = path; *p; n++) {
		size_t len = strcspn(p, ".");

		if (n == NAME_SEGS_MAX || !name_seg(p, len, segs[n])) {
			a->failed = true;
			return;
		}
		p += len + (p[len] == '.');
	}
	if (n == 0)
		byte(a, 0); /* NullName */
	else if (n == 2)
		byte(a, DUAL_NAME);
	else if (n > 2) {
		byte(a, MULTI_NAME);
		byte(a, (uint8_t)n);
	}
	aml_bytes(a, segs, 4 * n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		byte(a, v ? ONE_OP : ZERO_OP);
	} else if (v <= 0xff) {
		byte(a, BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		byte(a, DWORD_PREFIX);
		le(a, v, 4);
	} else {
		byte(a, QWORD_PREFIX);
		le(a, v, 8);
	}
}

void aml_dword(struct aml *a, uint32_t v)
{
	byte(a, DWORD_PREFIX);
	le(a, v, 4);
}

void aml_string(struct aml *a, const char *s)
{
	byte(a, STRING_PREFIX);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x01 || (unsigned char)*p > 0x7f)
			a->failed = true; /* AsciiCharList: 0x01-0x7F */
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex(char c)
{
	return isdigit((unsigned char)c)    ? c - '0'
	       : isxdigit((unsigned char)c) ? (c | 0x20) - 'a' + 10
					    : -1;
}

/* Three letters in 5 bits each, four hex digits: stored big-endian. */
void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7) {
		a->failed = true;
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			a->failed = true;
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 3; i < 7; i++) {
		if (hex(id[i]) < 0)
			a->failed = true;
		v |= (uint32_t)(hex(id[i]) & 0xf) << (4 * (6 - i));
	}
	aml_dword(a, __builtin_bswap32(v));
}

void aml_name(struct aml *a, const char *name, const struct aml *value)
{
	byte(a, NAME_OP);
	aml_name_string(a, name);
	append(a, value);
}

/* op [ext] PkgLength prefix body, where prefix is part of the body. */
static void wrap(struct aml *a, const uint8_t *op, size_t op_len, const struct aml *prefix,
		 const struct aml *body)
{
	aml_bytes(a, op, op_len);
	aml_pkg_length(a, prefix->len + body->len);
	append(a, prefix);
	append(a, body);
}

void aml_package(struct aml *a, unsigned n, const struct aml *elements)
{
	static const uint8_t op[] = { PACKAGE_OP };
	struct aml count;

	aml_init(&count);
	byte(&count, (uint8_t)n);
	if (n > 255)
		count.failed = true;
	wrap(a, op, sizeof(op), &count, elements);
	aml_free(&count);
}

void aml_buffer(struct aml *a, const struct aml *bytes)
{
	static const uint8_t op[] = { BUFFER_OP };
	struct aml size;

	aml_init(&size);
	aml_integer(&size, bytes->len);
	wrap(a, op, sizeof(op), &size, bytes);
	aml_free(&size);
}

void aml_device(struct aml *a, const char *name, const struct aml *body)
{
	static const uint8_t op[] = { EXT_OP, DEVICE_OP };
	struct aml n;

	aml_init(&n);
	aml_name_string(&n, name);
	wrap(a, op, sizeof(op), &n, body);
	aml_free(&n);
}

void aml_method(struct aml *a, const char *name, unsigned args, const struct aml *body)
{
	static const uint8_t op[] = { METHOD_OP };
	struct aml head;

	aml_init(&head);
	aml_name_string(&head, name);
	byte(&head, (uint8_t)(args & 7)); /* not serialized, SyncLevel 0 */
	if (args > 7)
		head.failed = true;
	wrap(a, op, sizeof(op), &head, body);
	aml_free(&head);
}

void aml_return(struct aml *a, const struct aml *value)
{
	byte(a, RETURN_OP);
	append(a, value);
}

void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len)
{
	byte(a, 0x86); /* large item 0x06 */
	le(a, 9, 2);
	byte(a, rw ? 1 : 0);
	le(a, base, 4);
	le(a, len, 4);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	byte(a, 0x47); /* small item 0x08, 7 bytes */
	byte(a, 1);    /* 16-bit decode */
	le(a, min, 2);
	le(a, max, 2);
	byte(a, align);
	byte(a, len);
}

void aml_res_irq_edge(struct aml *a, uint32_t gsi)
{
	byte(a, 0x89); /* large item 0x09: extended interrupt */
	le(a, 6, 2);
	byte(a, 0x03); /* consumer, edge, active high, exclusive */
	byte(a, 1);
	le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	byte(a, 0x79);
	byte(a, 0); /* checksum 0: "valid" */
}
