// SPDX-License-Identifier: Apache-2.0
/* Little-endian save/restore streams with overflow-safe bounds checks. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

void state_writer_init(struct state_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void state_writer_free(struct state_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static bool grow(struct state_writer *w, size_t len)
{
	size_t cap = w->cap ? w->cap : 256;
	uint8_t *p;

	if (len > SIZE_MAX / 2 - w->len)
		return false;
	while (cap < w->len + len)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p)
		return false;
	w->buf = p;
	w->cap = cap;
	return true;
}

void state_put(struct state_writer *w, const void *data, size_t len)
{
	if (w->failed || !len)
		return;
	if (w->len + len > w->cap && !grow(w, len)) {
		w->failed = true;
		return;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void state_put_u8(struct state_writer *w, uint8_t v)
{
	state_put(w, &v, 1);
}

void state_put_u32(struct state_writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	state_put(w, b, sizeof(b));
}

void state_put_u64(struct state_writer *w, uint64_t v)
{
	state_put_u32(w, (uint32_t)v);
	state_put_u32(w, (uint32_t)(v >> 32));
}

void state_reader_init(struct state_reader *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->pos = 0;
	r->failed = false;
}

bool state_get(struct state_reader *r, void *data, size_t len)
{
	if (r->failed || len > r->len - r->pos) {
		r->failed = true;
		memset(data, 0, len);
		return false;
	}
	memcpy(data, r->buf + r->pos, len);
	r->pos += len;
	return true;
}

uint8_t state_get_u8(struct state_reader *r)
{
	uint8_t v;

	state_get(r, &v, 1);
	return v;
}

uint32_t state_get_u32(struct state_reader *r)
{
	uint8_t b[4];

	state_get(r, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t state_get_u64(struct state_reader *r)
{
	uint64_t lo = state_get_u32(r);

	return lo | (uint64_t)state_get_u32(r) << 32;
}
