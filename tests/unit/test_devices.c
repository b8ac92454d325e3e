// SPDX-License-Identifier: Apache-2.0
/* Legacy devices through their ops tables: UART, i8042, boot timer; buses. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "boottimer.h"
#include "bus.h"
#include "i8042.h"
#include "serial.h"

static void wr(const struct device_ops *ops, void *dev, uint64_t off, uint8_t v)
{
	ops->write(dev, off, &v, 1);
}

static uint8_t rd(const struct device_ops *ops, void *dev, uint64_t off)
{
	uint8_t v;

	ops->read(dev, off, &v, 1);
	return v;
}

static uint64_t irqs(int efd)
{
	uint64_t n = 0;

	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

Test(serial, output_reaches_the_fd)
{
	int out = memfd_create("out", 0);
	struct serial s;
	char buf[8] = { 0 };

	serial_init(&s, out, -1);
	wr(&serial_ops, &s, 0, 'h');
	wr(&serial_ops, &s, 0, 'i');
	cr_assert_eq(pread(out, buf, sizeof(buf), 0), 2);
	cr_assert_str_eq(buf, "hi");
	cr_assert_eq(rd(&serial_ops, &s, 5) & 0x60, 0x60, "THR empty and idle");
	serial_destroy(&s);
}

/* PUT /serial's rate_limiter: a bucket of 4 bytes refilled over an hour
 * lets 4 through; the rest is dropped and counted, never waited for. */
Test(serial, output_beyond_the_rate_limit_is_dropped_and_counted)
{
	int out = memfd_create("out", 0);
	struct token_bucket tb;
	struct serial s;
	char buf[16] = { 0 };

	serial_init(&s, out, -1);
	tb_init(&tb, 4, 0, 3600 * 1000, ratelimit_now_ns());
	serial_set_limit(&s, &tb);
	for (const char *p = "ember-console"; *p; p++)
		wr(&serial_ops, &s, 0, (uint8_t)*p);
	cr_assert_eq(pread(out, buf, sizeof(buf), 0), 4);
	cr_assert_str_eq(buf, "embe");
	cr_assert_eq(s.out_bytes, 4);
	cr_assert_eq(s.out_limited, 9, "uart.rate_limiter_dropped_bytes");
	cr_assert_eq(rd(&serial_ops, &s, 5) & 0x60, 0x60, "the guest never waits");
	serial_destroy(&s);
}

static int pm_events[2];

static void on_pm(void *ctx, enum acpi_pm_event e)
{
	(void)ctx;
	pm_events[e]++;
}

/* Linux's S5 sequence (ACPICA acpi_hw_extended_sleep): WAK_STS cleared in
 * SLEEP_STATUS, then SLP_TYP 5 with SLP_EN in SLEEP_CONTROL; and the reset. */
Test(acpi_pm, power_off_and_reset_as_linux_writes_them)
{
	struct acpi_pm pm;

	memset(pm_events, 0, sizeof(pm_events));
	acpi_pm_init(&pm, on_pm, NULL);
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_SLEEP_STS, 0x80);
	cr_assert_eq(pm_events[ACPI_PM_EVENT_POWER_OFF], 0, "clearing WAK_STS is no request");
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_SLEEP_CTL, 0x14); /* S5 without SLP_EN */
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_SLEEP_CTL, (3 << 2) | ACPI_SLP_EN); /* S3 */
	cr_assert_eq(pm_events[ACPI_PM_EVENT_POWER_OFF], 0, "only S5 powers off");
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_SLEEP_CTL, 0x34);
	cr_assert_eq(pm_events[ACPI_PM_EVENT_POWER_OFF], 1);
	cr_assert_eq(rd(&acpi_pm_ops, &pm, ACPI_PM_REG_SLEEP_STS), 0, "WAK_STS never set");
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_RESET, 2);
	cr_assert_eq(pm_events[ACPI_PM_EVENT_RESET], 0, "not the FADT's RESET_VALUE");
	wr(&acpi_pm_ops, &pm, ACPI_PM_REG_RESET, ACPI_RESET_VALUE);
	cr_assert_eq(pm_events[ACPI_PM_EVENT_RESET], 1);
}

Test(serial, thr_empty_interrupt_is_raised_and_acknowledged)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct serial s;

	serial_init(&s, -1, efd);
	wr(&serial_ops, &s, 1, 0x02); /* IER: THRI */
	cr_assert_eq(irqs(efd), 1, "enabling THRI interrupts at once");
	cr_assert_eq(rd(&serial_ops, &s, 2) & 0x0f, 0x02, "IIR: THR empty");
	cr_assert_eq(rd(&serial_ops, &s, 2) & 0x0f, 0x01, "IIR read acknowledged it");
	wr(&serial_ops, &s, 0, 'x');
	cr_assert_eq(irqs(efd), 1);
	serial_destroy(&s);
	close(efd);
}

Test(serial, input_fifo_and_receive_interrupt)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint8_t many[100];
	struct serial s;

	serial_init(&s, -1, efd);
	wr(&serial_ops, &s, 1, 0x01); /* IER: RDI */
	cr_assert_eq(serial_input(&s, (const uint8_t *)"ab", 2), 2);
	cr_assert_geq(irqs(efd), 1);
	cr_assert_eq(rd(&serial_ops, &s, 2) & 0x0f, 0x04, "IIR: data available");
	cr_assert(rd(&serial_ops, &s, 5) & 0x01, "LSR: DR");
	cr_assert_eq(rd(&serial_ops, &s, 0), 'a');
	cr_assert_eq(rd(&serial_ops, &s, 0), 'b');
	cr_assert_eq(rd(&serial_ops, &s, 5) & 0x01, 0, "FIFO drained");
	memset(many, 'z', sizeof(many));
	cr_assert_eq(serial_input(&s, many, sizeof(many)), SERIAL_IN_FIFO, "FIFO bounds input");
	cr_assert_eq(serial_input_room(&s), 0);
	serial_destroy(&s);
	close(efd);
}

Test(serial, loopback_and_divisor_latch)
{
	int out = memfd_create("out", 0);
	struct serial s;

	serial_init(&s, out, -1);
	wr(&serial_ops, &s, 4, 0x10 | 0x0a); /* MCR: loop, RTS, OUT2 */
	wr(&serial_ops, &s, 0, 0x5a);
	cr_assert_eq(rd(&serial_ops, &s, 0), 0x5a, "loopback returns the byte");
	cr_assert_eq(lseek(out, 0, SEEK_END), 0, "nothing leaves in loopback");
	cr_assert_eq(rd(&serial_ops, &s, 6) & 0xf0, 0x90, "MSR mirrors RTS->CTS, OUT2->DCD");
	wr(&serial_ops, &s, 3, 0x80); /* DLAB */
	wr(&serial_ops, &s, 0, 0x01);
	wr(&serial_ops, &s, 1, 0x00);
	cr_assert_eq(rd(&serial_ops, &s, 0), 0x01);
	wr(&serial_ops, &s, 3, 0x03);
	serial_destroy(&s);
}

Test(serial, save_restore_round_trip_and_hostile_state)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err = { 0 };
	struct serial a, b;
	uint8_t bad[16];

	serial_init(&a, -1, -1);
	serial_init(&b, -1, -1);
	wr(&serial_ops, &a, 1, 0x01);
	wr(&serial_ops, &a, 7, 0x42);
	serial_input(&a, (const uint8_t *)"xyz", 3);
	state_writer_init(&w);
	serial_ops.save(&a, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(serial_ops.restore(&b, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(rd(&serial_ops, &b, 7), 0x42);
	cr_assert_eq(rd(&serial_ops, &b, 1), 0x01);
	cr_assert_eq(rd(&serial_ops, &b, 0), 'x');
	cr_assert_eq(rd(&serial_ops, &b, 0), 'y');
	/* truncated, and a FIFO length beyond the FIFO */
	state_reader_init(&r, w.buf, w.len - 2);
	cr_assert_lt(serial_ops.restore(&b, &r, &err), 0);
	memset(bad, 0xff, sizeof(bad));
	state_reader_init(&r, bad, sizeof(bad));
	cr_assert_lt(serial_ops.restore(&b, &r, &err), 0);
	cr_assert(strstr(err.msg, "serial"));
	state_writer_free(&w);
	serial_destroy(&a);
	serial_destroy(&b);
}

static int resets;

static void count_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

Test(i8042, self_test_and_command_byte)
{
	struct i8042 k;

	i8042_init(&k, -1, count_reset, NULL);
	wr(&i8042_ops, &k, 4, 0xaa);
	cr_assert(rd(&i8042_ops, &k, 4) & 0x01, "output buffer full");
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0x55);
	cr_assert_eq(rd(&i8042_ops, &k, 4) & 0x01, 0);
	wr(&i8042_ops, &k, 4, 0x60);
	wr(&i8042_ops, &k, 0, 0x47);
	wr(&i8042_ops, &k, 4, 0x20);
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0x47);
	cr_assert_eq(rd(&i8042_ops, &k, 2), 0xff, "unused port in the range");
	/* The guest's driver checks that disabling the AUX port shows in the CTR. */
	wr(&i8042_ops, &k, 4, 0xa7);
	wr(&i8042_ops, &k, 4, 0x20);
	cr_assert_eq(rd(&i8042_ops, &k, 0) & 0x20, 0x20);
	wr(&i8042_ops, &k, 4, 0xa8);
	wr(&i8042_ops, &k, 4, 0x20);
	cr_assert_eq(rd(&i8042_ops, &k, 0) & 0x20, 0);
	i8042_destroy(&k);
}

Test(i8042, reset_command_and_output_port)
{
	struct i8042 k;

	resets = 0;
	i8042_init(&k, -1, count_reset, NULL);
	wr(&i8042_ops, &k, 4, 0xfe);
	cr_assert_eq(resets, 1, "0xFE pulses reset");
	wr(&i8042_ops, &k, 4, 0xd1);
	wr(&i8042_ops, &k, 0, 0x00);
	cr_assert_eq(resets, 2, "output port bit 0 low holds the CPU in reset");
	wr(&i8042_ops, &k, 4, 0xd1);
	wr(&i8042_ops, &k, 0, 0x01);
	cr_assert_eq(resets, 2);
	i8042_destroy(&k);
}

Test(i8042, keyboard_commands_and_ctrl_alt_del)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	struct i8042 k;

	i8042_init(&k, efd, NULL, NULL);
	wr(&i8042_ops, &k, 0, 0xf2); /* identify */
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0xfa);
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0xab);
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0x83);
	cr_assert_geq(irqs(efd), 1);
	cr_assert_eq(i8042_send_ctrl_alt_del(&k), 0);
	cr_assert_eq(irqs(efd), 1, "one interrupt when the output buffer fills");
	cr_assert_eq(rd(&i8042_ops, &k, 0), 0x14, "Ctrl make code first");
	/* Linux reads one byte per interrupt: each read that leaves more raises another. */
	for (int i = 1; i < 11; i++) {
		cr_assert_eq(irqs(efd), 1, "an interrupt for byte %d", i);
		rd(&i8042_ops, &k, 0);
	}
	cr_assert_eq(irqs(efd), 0, "none once the buffer is empty");
	cr_assert_eq(rd(&i8042_ops, &k, 4) & 1, 0, "output buffer empty");
	i8042_destroy(&k);
	close(efd);
}

Test(i8042, restore_rejects_bad_state)
{
	uint8_t bad[] = { 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
	struct ember_err err = { 0 };
	struct state_reader r;
	struct i8042 k;

	i8042_init(&k, -1, NULL, NULL);
	state_reader_init(&r, bad, sizeof(bad));
	cr_assert_lt(i8042_ops.restore(&k, &r, &err), 0);
	state_reader_init(&r, bad, 3);
	cr_assert_lt(i8042_ops.restore(&k, &r, &err), 0);
	i8042_destroy(&k);
}

Test(boottimer, only_the_magic_at_offset_zero_counts)
{
	struct boottimer t;
	uint8_t v = 123, other = 7;

	boottimer_init(&t, boottimer_now_us(1), 0);
	boottimer_ops.write(&t, 1, &v, 1);
	boottimer_ops.write(&t, 0, &other, 1);
	cr_assert_eq(t.boot_wall_us, 0);
	usleep(2000);
	boottimer_ops.write(&t, 0, &v, 1);
	cr_assert_geq(t.boot_wall_us, 2000);
}

static void dummy_write(void *dev, uint64_t off, const uint8_t *d, uint32_t len)
{
	uint64_t *seen = dev;

	(void)d;
	(void)len;
	*seen = off;
}

static const struct device_ops dummy_ops = { .name = "dummy", .write = dummy_write };

Test(bus, dispatch_offsets_overlaps_and_unclaimed_reads)
{
	struct ember_err err = { 0 };
	uint64_t seen = 0;
	uint8_t data[4] = { 0 };
	struct bus bus;

	bus_init(&bus, "test bus");
	cr_assert_eq(bus_add(&bus, 0x100, 0x10, &dummy_ops, &seen, &err), 0);
	cr_assert_lt(bus_add(&bus, 0x10f, 1, &dummy_ops, &seen, &err), 0);
	cr_assert(strstr(err.msg, "overlaps"));
	cr_assert_lt(bus_add(&bus, UINT64_MAX - 1, 4, &dummy_ops, &seen, &err), 0);
	cr_assert(bus_write(&bus, 0x10c, data, 4));
	cr_assert_eq(seen, 0xc);
	cr_assert_not(bus_write(&bus, 0x10e, data, 4), "access crossing the end");
	cr_assert_not(bus_read(&bus, 0x200, data, 4));
	cr_assert_eq(data[0], 0xff);
	cr_assert_eq(data[3], 0xff);
}

Test(state, reader_stops_at_the_end)
{
	struct state_writer w;
	struct state_reader r;

	state_writer_init(&w);
	state_put_u64(&w, 0x1122334455667788ULL);
	state_put_u32(&w, 7);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(state_get_u64(&r), 0x1122334455667788ULL);
	cr_assert_eq(state_get_u32(&r), 7);
	cr_assert_not(r.failed);
	cr_assert_eq(state_get_u8(&r), 0);
	cr_assert(r.failed);
	state_writer_free(&w);
}
