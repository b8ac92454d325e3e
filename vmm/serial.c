// SPDX-License-Identifier: Apache-2.0
/* 16550A UART emulation: enough for Linux's 8250 driver, including loopback. */
#include "serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define IER_RDI      0x01
#define IER_THRI     0x02
#define IER_MASK     0x0f
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_FIFO     0xc0
#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB     0x80
#define LSR_DR       0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MCR_LOOP     0x10
#define MSR_DEFAULT  0xb0 /* DCD, DSR, CTS */

enum { REG_DATA, REG_IER, REG_IIR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

void serial_init(struct serial *s, int out_fd, int irq_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_DEFAULT;
	s->mcr = 0x08; /* OUT2 */
	s->dll = 0x0c; /* 9600 baud, as after reset */
	s->out_fd = out_fd;
	s->irq_fd = irq_fd;
}

void serial_set_limit(struct serial *s, const struct token_bucket *tb)
{
	s->out_limit = *tb;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static void raise_irq(struct serial *s)
{
	uint64_t one = 1;

	if (s->irq_fd >= 0 && write(s->irq_fd, &one, sizeof(one)) < 0) {
		/* Counter saturated: an interrupt is already pending. */
	}
}

static void push_rx(struct serial *s, uint8_t byte)
{
	if (s->in_len == SERIAL_IN_FIFO)
		return;
	s->in[(s->in_head + s->in_len) % SERIAL_IN_FIFO] = byte;
	s->in_len++;
	s->lsr |= LSR_DR;
	if (s->ier & IER_RDI)
		raise_irq(s);
}

static void emit(struct serial *s, uint8_t byte)
{
	uint64_t wait;
	ssize_t n;

	if (s->out_fd < 0)
		return;
	if (tb_enabled(&s->out_limit) &&
	    tb_reduce(&s->out_limit, 1, ratelimit_now_ns(), &wait) == TB_EMPTY) {
		s->out_limited++;
		return;
	}
	do
		n = write(s->out_fd, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		s->out_bytes++;
	else
		s->out_dropped++; /* a full pipe must not stall the vCPU */
}

static void write_data(struct serial *s, uint8_t v)
{
	if (s->lcr & LCR_DLAB) {
		s->dll = v;
		return;
	}
	if (s->mcr & MCR_LOOP) {
		push_rx(s, v);
	} else {
		emit(s, v);
	}
	if (s->ier & IER_THRI) {
		s->thr_pending = 1;
		raise_irq(s);
	}
}

static void write_reg(struct serial *s, uint64_t off, uint8_t v)
{
	switch (off) {
	case REG_DATA: write_data(s, v); break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlh = v;
			break;
		}
		s->ier = v & IER_MASK;
		/* THR is always empty: enabling THRI raises it at once. */
		if (s->ier & IER_THRI)
			s->thr_pending = 1;
		if ((s->ier & IER_THRI) || ((s->ier & IER_RDI) && s->in_len))
			raise_irq(s);
		break;
	case REG_IIR:
		s->fcr = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX) {
			s->in_len = 0;
			s->lsr &= (uint8_t)~LSR_DR;
		}
		break;
	case REG_LCR: s->lcr = v; break;
	case REG_MCR: s->mcr = v & 0x1f; break;
	case REG_SCR: s->scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t fifo = s->fcr & FCR_ENABLE ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->in_len)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thr_pending) {
		s->thr_pending = 0; /* reading IIR acknowledges THRE */
		return IIR_THRI | fifo;
	}
	return IIR_NONE | fifo;
}

static uint8_t read_data(struct serial *s)
{
	uint8_t v;

	if (s->lcr & LCR_DLAB)
		return s->dll;
	if (!s->in_len)
		return 0;
	v = s->in[s->in_head];
	s->in_head = (s->in_head + 1) % SERIAL_IN_FIFO;
	if (--s->in_len == 0)
		s->lsr &= (uint8_t)~LSR_DR;
	return v;
}

/* In loopback, modem inputs mirror the modem outputs (16550 datasheet). */
static uint8_t read_msr(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return s->msr;
	return (uint8_t)(((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) |
			 ((m & 0x08) << 4));
}

static uint8_t read_reg(struct serial *s, uint64_t off)
{
	switch (off) {
	case REG_DATA: return read_data(s);
	case REG_IER: return s->lcr & LCR_DLAB ? s->dlh : s->ier;
	case REG_IIR: return read_iir(s);
	case REG_LCR: return s->lcr;
	case REG_MCR: return s->mcr;
	case REG_LSR: return s->lsr;
	case REG_MSR: return read_msr(s);
	default: return s->scr;
	}
}

static void serial_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct serial *s = dev;

	memset(data, 0, len);
	pthread_mutex_lock(&s->lock);
	data[0] = read_reg(s, off);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct serial *s = dev;

	(void)len;
	pthread_mutex_lock(&s->lock);
	write_reg(s, off, data[0]);
	pthread_mutex_unlock(&s->lock);
}

uint32_t serial_input(struct serial *s, const uint8_t *data, uint32_t len)
{
	uint32_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->in_len < SERIAL_IN_FIFO)
		push_rx(s, data[n++]);
	pthread_mutex_unlock(&s->lock);
	return n;
}

uint32_t serial_input_room(struct serial *s)
{
	uint32_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_IN_FIFO - s->in_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

static void serial_save(void *dev, struct state_writer *w)
{
	struct serial *s = dev;

	pthread_mutex_lock(&s->lock);
	uint8_t regs[] = { s->ier, s->lcr, s->mcr, s->lsr, s->msr,
			   s->scr, s->dll, s->dlh, s->fcr, s->thr_pending };
	state_put(w, regs, sizeof(regs));
	state_put_u32(w, s->in_len);
	for (uint32_t i = 0; i < s->in_len; i++)
		state_put_u8(w, s->in[(s->in_head + i) % SERIAL_IN_FIFO]);
	pthread_mutex_unlock(&s->lock);
}

static int serial_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	struct serial *s = dev;
	uint8_t regs[10];
	uint32_t n;

	state_get(r, regs, sizeof(regs));
	n = state_get_u32(r);
	if (r->failed || n > SERIAL_IN_FIFO)
		return err_set(err, EINVAL, "serial: bad saved state");
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0] & IER_MASK;
	s->lcr = regs[1];
	s->mcr = regs[2] & 0x1f;
	s->lsr = regs[3];
	s->msr = regs[4];
	s->scr = regs[5];
	s->dll = regs[6];
	s->dlh = regs[7];
	s->fcr = regs[8] & FCR_ENABLE;
	s->thr_pending = regs[9] & 1;
	s->in_head = 0;
	s->in_len = n;
	state_get(r, s->in, n);
	pthread_mutex_unlock(&s->lock);
	return r->failed ? err_set(err, EINVAL, "serial: truncated saved state") : 0;
}

const struct device_ops serial_ops = {
	.name = "serial",
	.read = serial_read,
	.write = serial_write,
	.save = serial_save,
	.restore = serial_restore,
};
