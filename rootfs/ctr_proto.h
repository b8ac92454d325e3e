/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest agent's container protocol (rootfs/README.md), shared by the
 * agent (rootfs/ctr*.c) and ember-oci (oci/). A connection to the agent
 * starts with a request line, "PROC <len>\n" (the container's first
 * process) or "EXEC <len>\n" (one more process in it), then <len> bytes of
 * JSON; from there on both sides send frames: a type byte, a 32-bit
 * little-endian payload length, the payload. Header only: the guest's
 * agent is a static binary without ember's library.
 */
#ifndef EMBER_CTR_PROTO_H
#define EMBER_CTR_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CTR_SPEC_MAX  (4u << 20) /* the request's JSON, files included */
#define CTR_FRAME_MAX 65536u     /* one frame's payload */
#define CTR_HDR_LEN   5

enum ctr_frame_type {
	/* host to guest */
	CTR_STDIN = 'i',      /* bytes for the process's stdin (or its terminal) */
	CTR_STDIN_EOF = 'e',  /* no more stdin: the pipe is closed (^D on a terminal) */
	CTR_SIGNAL = 's',     /* u32: a signal for the process */
	CTR_SIGNAL_ALL = 'a', /* u32: a signal for every process of the container */
	CTR_RESIZE = 'w',     /* u16 rows, u16 columns: the terminal's size */
	CTR_START = 'g',      /* PROC: run the process now (runtime start) */
	/* guest to host */
	CTR_READY = 'R',   /* u32 pid in the guest: set up, waiting for START (PROC) */
	CTR_ERROR = 'E',   /* the setup failed: a message, then the connection ends */
	CTR_STARTED = 'S', /* the process runs (after START, or at once for EXEC) */
	CTR_STDOUT = 'o',
	CTR_STDERR = 'r',
	CTR_EXIT = 'x', /* i32: exit status, or 128 + the signal that ended it */
};

static inline void ctr_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ctr_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A frame header for `type` with `len` payload bytes. */
static inline void ctr_hdr(uint8_t hdr[CTR_HDR_LEN], uint8_t type, uint32_t len)
{
	hdr[0] = type;
	ctr_put32(hdr + 1, len);
}

/*
 * Incremental decoding of a byte stream into frames, for poll() loops:
 * feed what was read; each complete frame is handed to `on_frame`. Returns
 * -1 on a frame longer than CTR_FRAME_MAX (the stream cannot be trusted),
 * else what the last on_frame returned (0 to go on).
 */
struct ctr_reader {
	uint8_t buf[CTR_HDR_LEN + CTR_FRAME_MAX];
	size_t len;
};

typedef int (*ctr_frame_fn)(void *ctx, uint8_t type, const uint8_t *data, uint32_t len);

static inline int ctr_reader_feed(struct ctr_reader *r, const void *data, size_t n,
				  ctr_frame_fn on_frame, void *ctx)
{
	const uint8_t *in = data;
	int ret = 0;

	while (n > 0 && ret == 0) {
		size_t want = CTR_HDR_LEN, take;

		if (r->len >= CTR_HDR_LEN) {
			uint32_t plen = ctr_get32(r->buf + 1);

			if (plen > CTR_FRAME_MAX)
				return -1;
			want = CTR_HDR_LEN + plen;
		}
		take = want - r->len < n ? want - r->len : n;
		memcpy(r->buf + r->len, in, take);
		r->len += take;
		in += take;
		n -= take;
		if (r->len == CTR_HDR_LEN && ctr_get32(r->buf + 1) > CTR_FRAME_MAX)
			return -1;
		if (r->len >= CTR_HDR_LEN && r->len == CTR_HDR_LEN + ctr_get32(r->buf + 1)) {
			ret = on_frame(ctx, r->buf[0], r->buf + CTR_HDR_LEN, ctr_get32(r->buf + 1));
			r->len = 0;
		}
	}
	return ret;
}

#endif
