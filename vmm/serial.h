/* SPDX-License-Identifier: Apache-2.0 */
/* 16550A UART (COM1): guest output to a file descriptor, input from the host. */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"
#include "ratelimit.h"

#define SERIAL_PORT_BASE 0x3f8
#define SERIAL_PORT_LEN  8
#define SERIAL_IRQ       4
#define SERIAL_IN_FIFO   64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlh, fcr;
	uint8_t thr_pending; /* THR-empty interrupt not yet acknowledged */
	uint8_t in[SERIAL_IN_FIFO];
	uint32_t in_head, in_len;
	int out_fd;                    /* -1: output discarded */
	int irq_fd;                    /* eventfd wired to GSI 4, -1 for none */
	struct token_bucket out_limit; /* bytes; a disabled bucket lets all through */
	uint64_t out_bytes;
	uint64_t out_dropped;
	uint64_t out_limited; /* dropped by out_limit: uart.rate_limiter_dropped_bytes */
};

extern const struct device_ops serial_ops;

void serial_init(struct serial *s, int out_fd, int irq_fd);
/* PUT /serial's rate_limiter: output beyond it is dropped and counted,
 * never waited for (a guest must not stall on its console). */
void serial_set_limit(struct serial *s, const struct token_bucket *tb);
void serial_destroy(struct serial *s);
/* Queue host input for the guest; returns how many bytes fitted. */
uint32_t serial_input(struct serial *s, const uint8_t *data, uint32_t len);
/* Room left in the input FIFO. */
uint32_t serial_input_room(struct serial *s);

#endif
