/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds-checked byte streams for device save/restore hooks. */
#ifndef EMBER_STATE_H
#define EMBER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_writer {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool failed; /* out of memory: nothing more is written */
};

struct state_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool failed; /* a read ran past the end */
};

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
void state_put(struct state_writer *w, const void *data, size_t len);
void state_put_u8(struct state_writer *w, uint8_t v);
void state_put_u32(struct state_writer *w, uint32_t v);
void state_put_u64(struct state_writer *w, uint64_t v);

void state_reader_init(struct state_reader *r, const void *buf, size_t len);
/* False (and zero-filled output) once the stream is exhausted. */
bool state_get(struct state_reader *r, void *data, size_t len);
uint8_t state_get_u8(struct state_reader *r);
uint32_t state_get_u32(struct state_reader *r);
uint64_t state_get_u64(struct state_reader *r);

#endif
