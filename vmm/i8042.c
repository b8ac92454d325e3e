// SPDX-License-Identifier: Apache-2.0
/* i8042: status/command at 0x64, data at 0x60; 0xFE on 0x64 resets the VM. */
#include "i8042.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SB_OUT_FULL     0x01
#define SB_SYS          0x04
#define SB_CMD          0x08
#define SB_UNLOCKED     0x10
#define CTR_KBD_INT     0x01
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20

#define CMD_READ_CTR    0x20
#define CMD_WRITE_CTR   0x60
#define CMD_DISABLE_AUX 0xa7
#define CMD_ENABLE_AUX  0xa8
#define CMD_TEST_AUX    0xa9
#define CMD_SELF_TEST   0xaa
#define CMD_TEST_KBD    0xab
#define CMD_DISABLE_KBD 0xad
#define CMD_ENABLE_KBD  0xae
#define CMD_READ_OUTP   0xd0
#define CMD_WRITE_OUTP  0xd1
#define CMD_PULSE_RESET 0xfe

#define KBD_ACK    0xfa
#define KBD_RESET  0xff
#define KBD_GET_ID 0xf2

void i8042_init(struct i8042 *k, int irq_fd, void (*on_reset)(void *), void *ctx)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->status = SB_UNLOCKED;
	k->ctr = CTR_KBD_INT;
	k->outp = 0x01;
	k->irq_fd = irq_fd;
	k->on_reset = on_reset;
	k->reset_ctx = ctx;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void raise_irq(struct i8042 *k)
{
	uint64_t one = 1;

	if ((k->ctr & CTR_KBD_INT) && k->irq_fd >= 0 && write(k->irq_fd, &one, sizeof(one)) < 0) {
		/* eventfd saturated: an interrupt is already pending */
	}
}

/* Like the controller, one byte is presented at a time: an interrupt when
 * the output buffer fills, and another after each read that leaves more. */
static void push(struct i8042 *k, uint8_t byte)
{
	if (k->len == I8042_BUF)
		return;
	k->buf[(k->head + k->len) % I8042_BUF] = byte;
	k->len++;
	k->status |= SB_OUT_FULL;
	if (k->len == 1)
		raise_irq(k);
}

static uint8_t pop(struct i8042 *k)
{
	uint8_t v;

	if (!k->len)
		return 0;
	v = k->buf[k->head];
	k->head = (k->head + 1) % I8042_BUF;
	if (--k->len == 0)
		k->status &= (uint8_t)~SB_OUT_FULL;
	else
		raise_irq(k);
	return v;
}

/* Returns true when the reset line was pulsed. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->status |= SB_CMD;
	switch (cmd) {
	case CMD_READ_CTR: push(k, k->ctr); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP: k->pending_cmd = cmd; break;
	case CMD_SELF_TEST:
		k->status |= SB_SYS;
		push(k, 0x55);
		break;
	case CMD_TEST_KBD:
	case CMD_TEST_AUX: push(k, 0x00); break;
	case CMD_DISABLE_KBD: k->ctr |= CTR_KBD_DISABLE; break;
	case CMD_ENABLE_KBD: k->ctr &= (uint8_t)~CTR_KBD_DISABLE; break;
	case CMD_DISABLE_AUX: k->ctr |= CTR_AUX_DISABLE; break;
	case CMD_ENABLE_AUX: k->ctr &= (uint8_t)~CTR_AUX_DISABLE; break;
	case CMD_READ_OUTP: push(k, k->outp); break;
	case CMD_PULSE_RESET: k->resets++; return true;
	default: /* the rest: accepted, no effect */ break;
	}
	return false;
}

/* A byte for the keyboard itself: answer as a plain AT keyboard would. */
static void keyboard_byte(struct i8042 *k, uint8_t v)
{
	push(k, KBD_ACK);
	if (v == KBD_RESET) {
		push(k, 0xaa);
	} else if (v == KBD_GET_ID) {
		push(k, 0xab);
		push(k, 0x83);
	}
}

/* Returns true when the reset line was pulsed. */
static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->status &= (uint8_t)~SB_CMD;
	k->pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR) {
		k->ctr = v;
	} else if (cmd == CMD_WRITE_OUTP) {
		k->outp = v;
		if (!(v & 0x01)) { /* bit 0 low holds the CPU in reset */
			k->resets++;
			return true;
		}
	} else {
		keyboard_byte(k, v);
	}
	return false;
}

static void i8042_read(void *dev, uint64_t off, uint8_t *out, uint32_t len)
{
	struct i8042 *k = dev;

	memset(out, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 0)
		out[0] = pop(k);
	else if (off == I8042_CMD_PORT - I8042_DATA_PORT)
		out[0] = k->status;
	else
		out[0] = 0xff;
	pthread_mutex_unlock(&k->lock);
}

static void i8042_write(void *dev, uint64_t off, const uint8_t *in, uint32_t len)
{
	struct i8042 *k = dev;
	bool reset;

	(void)len;
	pthread_mutex_lock(&k->lock);
	if (off == 0)
		reset = data(k, in[0]);
	else if (off == I8042_CMD_PORT - I8042_DATA_PORT)
		reset = command(k, in[0]);
	else
		reset = false;
	pthread_mutex_unlock(&k->lock);
	if (reset && k->on_reset)
		k->on_reset(k->reset_ctx);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Set 2: Ctrl 14, Alt 11, Del E0 71; releases are F0-prefixed. */
	static const uint8_t seq[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14 };
	int ret = 0;

	pthread_mutex_lock(&k->lock);
	if (I8042_BUF - k->len < sizeof(seq))
		ret = -EAGAIN;
	for (size_t i = 0; !ret && i < sizeof(seq); i++)
		push(k, seq[i]);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

static void i8042_save(void *dev, struct state_writer *w)
{
	struct i8042 *k = dev;

	pthread_mutex_lock(&k->lock);
	state_put_u8(w, k->status);
	state_put_u8(w, k->ctr);
	state_put_u8(w, k->pending_cmd);
	state_put_u8(w, k->outp);
	state_put_u32(w, k->len);
	for (uint32_t i = 0; i < k->len; i++)
		state_put_u8(w, k->buf[(k->head + i) % I8042_BUF]);
	pthread_mutex_unlock(&k->lock);
}

static int i8042_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct i8042 *k = dev;
	uint8_t st = state_get_u8(r), ctr = state_get_u8(r), cmd = state_get_u8(r);
	uint8_t outp = state_get_u8(r);
	uint32_t n = state_get_u32(r);

	if (r->failed || n > I8042_BUF)
		return err_set(err, EINVAL, "i8042: bad saved state");
	pthread_mutex_lock(&k->lock);
	k->status = st;
	k->ctr = ctr;
	k->pending_cmd = cmd;
	k->outp = outp;
	k->head = 0;
	k->len = n;
	state_get(r, k->buf, n);
	pthread_mutex_unlock(&k->lock);
	return r->failed ? err_set(err, EINVAL, "i8042: truncated saved state") : 0;
}

const struct device_ops i8042_ops = {
	.name = "i8042",
	.read = i8042_read,
	.write = i8042_write,
	.save = i8042_save,
	.restore = i8042_restore,
};
