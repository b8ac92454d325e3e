/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal i8042 keyboard controller: the guest's reset line and Ctrl-Alt-Del. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "bus.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64
#define I8042_PORT_LEN  5 /* 0x60..0x64; 0x61 is the in-kernel PIT's */
#define I8042_IRQ       1
#define I8042_BUF       16

struct i8042 {
	pthread_mutex_t lock;
	uint8_t status;
	uint8_t ctr;         /* controller command byte */
	uint8_t pending_cmd; /* command waiting for its data byte */
	uint8_t outp;        /* output port */
	uint8_t buf[I8042_BUF];
	uint32_t head, len;
	int irq_fd;
	void (*on_reset)(void *ctx); /* the guest pulsed the CPU reset line */
	void *reset_ctx;
	uint64_t resets;
};

extern const struct device_ops i8042_ops;

void i8042_init(struct i8042 *k, int irq_fd, void (*on_reset)(void *), void *ctx);
void i8042_destroy(struct i8042 *k);
/* Queue the scancodes of Ctrl+Alt+Del (set 2, as the guest's atkbd expects). */
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
