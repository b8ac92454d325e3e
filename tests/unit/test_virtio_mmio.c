// SPDX-License-Identifier: Apache-2.0
/* virtio-mmio transport registers against a fake device and fake guest memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "mmio.h"

#define MEM       0x10000
#define DESC      0x1000
#define AVAIL     0x2000
#define USED      0x3000
#define QMAX      8
#define DEV_FEAT  (1ULL << 5)
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)

struct fake {
	int notified[2];
	int activated;
	uint64_t features;
	int resets;
	uint8_t config[8];
	int fail_activate;
	uint32_t saved_word;
};

static uint8_t ram[MEM];
static struct guest_mem mem;
static struct virtio_mmio t;
static struct fake fake;

static uint64_t fake_features(void *dev)
{
	(void)dev;
	return DEV_FEAT;
}

static void fake_config_read(void *dev, uint32_t off, uint8_t *data, uint32_t len)
{
	memcpy(data, ((struct fake *)dev)->config + off, len);
}

static int fake_activate(void *dev, uint64_t features, struct ember_err *err)
{
	struct fake *f = dev;

	if (f->fail_activate)
		return err_set(err, EIO, "fake activation failure");
	f->activated++;
	f->features = features;
	return 0;
}

static void fake_reset(void *dev)
{
	((struct fake *)dev)->resets++;
}

static void fake_notify(void *dev, unsigned q)
{
	((struct fake *)dev)->notified[q]++;
}

static void fake_save(void *dev, struct state_writer *w)
{
	state_put_u32(w, ((struct fake *)dev)->saved_word);
}

static int fake_restore(void *dev, struct state_reader *r, struct ember_err *err)
{
	((struct fake *)dev)->saved_word = state_get_u32(r);
	return r->failed ? err_set(err, EINVAL, "truncated fake state") : 0;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.num_queues = 2,
	.queue_max = QMAX,
	.config_len = sizeof(fake.config),
	.features = fake_features,
	.config_read = fake_config_read,
	.activate = fake_activate,
	.reset = fake_reset,
	.notify = fake_notify,
	.save = fake_save,
	.restore = fake_restore,
};

static void setup(void)
{
	struct guest_region r = { .gpa = 0, .size = sizeof(ram), .host = ram };
	struct ember_err err;

	memset(ram, 0, sizeof(ram));
	memset(&fake, 0, sizeof(fake));
	memcpy(fake.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	guest_mem_init_static(&mem, &r, 1);
	cr_assert_eq(virtio_mmio_init(&t, &fake_ops, &fake, &mem, 0xc0001000, 5, &err), 0);
}

static void teardown(void)
{
	virtio_mmio_destroy(&t);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_bus_ops.read(&t, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	virtio_mmio_bus_ops.write(&t, off, b, 4);
}

static uint64_t device_features(void)
{
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void driver_features(uint64_t f)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static void status_add(uint32_t bits)
{
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | bits);
}

/* The Linux driver's sequence up to FEATURES_OK, accepting `f`. */
static void negotiate(uint64_t f)
{
	status_add(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	status_add(VIRTIO_CONFIG_S_DRIVER);
	driver_features(f);
	status_add(VIRTIO_CONFIG_S_FEATURES_OK);
}

static void setup_queue(uint32_t q, uint32_t num, uint64_t desc)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL + q * 0x400);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED + q * 0x400);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void bring_up(void)
{
	negotiate(device_features());
	setup_queue(0, QMAX, DESC);
	setup_queue(1, 4, DESC + 0x400);
	status_add(VIRTIO_CONFIG_S_DRIVER_OK);
}

static bool needs_reset(void)
{
	return rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

Test(virtio_mmio, identifies_as_a_modern_device)
{
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), 42);
	cr_assert_eq(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
}

Test(virtio_mmio, offers_device_and_transport_features)
{
	uint64_t f = device_features();

	cr_assert(f & DEV_FEAT);
	cr_assert(f & VERSION_1);
	cr_assert(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	cr_assert(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	cr_assert_not(f & (1ULL << VIRTIO_F_RING_PACKED));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

Test(virtio_mmio, full_initialisation_activates_the_device)
{
	bring_up();
	cr_assert_eq(fake.activated, 1);
	cr_assert_eq(fake.features, device_features());
	cr_assert(t.active);
	cr_assert(t.queues[0].event_idx);
	cr_assert_eq(t.queues[1].size, 4);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0xf);
}

Test(virtio_mmio, features_not_offered_are_refused)
{
	negotiate(VERSION_1 | (1ULL << 3));
	cr_assert_not(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_mmio, a_legacy_driver_is_refused)
{
	negotiate(DEV_FEAT);
	cr_assert_not(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_mmio, driver_ok_without_features_ok_needs_reset)
{
	status_add(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	status_add(VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert(needs_reset());
	cr_assert_eq(fake.activated, 0);
}

Test(virtio_mmio, clearing_status_bits_needs_reset)
{
	negotiate(VERSION_1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cr_assert(needs_reset());
}

Test(virtio_mmio, features_written_after_features_ok_need_reset)
{
	negotiate(VERSION_1);
	driver_features(VERSION_1 | DEV_FEAT);
	cr_assert(needs_reset());
}

Test(virtio_mmio, failed_activation_needs_reset)
{
	fake.fail_activate = 1;
	bring_up();
	cr_assert(needs_reset());
	cr_assert_not(t.active);
}

Test(virtio_mmio, writing_zero_resets_everything)
{
	bring_up();
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(fake.resets, 1);
	cr_assert_not(t.active);
	cr_assert_eq(t.driver_features, 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* and the device can be brought up again */
	bring_up();
	cr_assert_eq(fake.activated, 2);
	cr_assert_not(needs_reset());
}

Test(virtio_mmio, reset_clears_needs_reset)
{
	status_add(VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert(needs_reset());
	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
}

Test(virtio_mmio, queue_num_max_is_zero_for_missing_queues)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

Test(virtio_mmio, rings_outside_guest_memory_need_reset)
{
	negotiate(VERSION_1);
	setup_queue(0, QMAX, MEM - 16);
	cr_assert(needs_reset());
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, queue_size_above_the_maximum_needs_reset)
{
	negotiate(VERSION_1);
	setup_queue(0, QMAX * 2, DESC);
	cr_assert(needs_reset());
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, queue_size_not_a_power_of_two_needs_reset)
{
	negotiate(VERSION_1);
	setup_queue(0, 6, DESC);
	cr_assert(needs_reset());
}

Test(virtio_mmio, a_live_queue_cannot_be_moved)
{
	bring_up();
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	cr_assert(needs_reset());
	cr_assert_eq(t.queues[0].desc_gpa, DESC);
}

Test(virtio_mmio, queues_are_configured_only_after_features_ok)
{
	status_add(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	cr_assert(needs_reset());
	cr_assert_eq(t.queues[0].size, QMAX);
}

Test(virtio_mmio, narrow_register_accesses_are_ignored)
{
	uint8_t b[2] = { 0x0f, 0 };

	virtio_mmio_bus_ops.write(&t, VIRTIO_MMIO_STATUS, b, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_MAGIC_VALUE, b, 2);
	cr_assert_eq(b[0], 0xff);
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_MAGIC_VALUE + 2, b, 2);
	cr_assert_eq(b[1], 0xff);
}

Test(virtio_mmio, config_space_is_bounds_checked)
{
	uint8_t b[8];

	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_CONFIG + 2, b, 4);
	cr_assert_arr_eq(b, "\x03\x04\x05\x06", 4);
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_CONFIG + 6, b, 4);
	cr_assert_arr_eq(b, "\0\0\0\0", 4);
	virtio_mmio_bus_ops.read(&t, VIRTIO_MMIO_CONFIG + 0xefc, b, 4);
	cr_assert_arr_eq(b, "\0\0\0\0", 4);
	/* a device without a config_write hook ignores writes */
	virtio_mmio_bus_ops.write(&t, VIRTIO_MMIO_CONFIG, b, 4);
	cr_assert_eq(fake.config[0], 1);
}

Test(virtio_mmio, notify_reaches_an_active_device_only)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(fake.notified[0], 0);
	bring_up();
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	cr_assert_eq(fake.notified[1], 2);
	cr_assert_eq(fake.notified[0], 0);
}

/* Linux's balloon makes its statistics buffer available and kicks before
 * DRIVER_OK: the device takes it when it becomes active. */
Test(virtio_mmio, buffers_made_available_before_driver_ok_are_taken_at_activation)
{
	uint16_t one = 1;

	negotiate(device_features());
	setup_queue(0, QMAX, DESC);
	setup_queue(1, 4, DESC + 0x400);
	memcpy(ram + AVAIL + 0x400 + 2, &one, 2); /* queue 1: avail idx 1 */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	cr_assert_eq(fake.notified[1], 0, "not active yet: the notify is dropped");
	status_add(VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(fake.notified[1], 1, "taken when the device becomes active");
	cr_assert_eq(fake.notified[0], 0, "a queue with nothing available is left alone");
}

Test(virtio_mmio, a_device_needing_reset_gets_no_notifications)
{
	bring_up();
	virtio_mmio_needs_reset(&t, "test");
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(fake.notified[0], 0);
}

Test(virtio_mmio, interrupts_are_raised_and_acknowledged)
{
	bring_up();
	virtq_push(&t.queues[0], 0, 0, &(struct ember_err){ 0 });
	virtio_mmio_signal_used(&t, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_mmio_needs_reset(&t, "test");
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS),
		     VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG_GENERATION), 1);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

Test(virtio_mmio, no_shared_memory_regions)
{
	wr(VIRTIO_MMIO_SHM_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	cr_assert_eq(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
}

Test(virtio_mmio, save_and_restore_round_trip)
{
	struct virtio_mmio t2;
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	bring_up();
	fake.saved_word = 0xfeedf00d;
	t.queues[0].last_avail = 3;
	t.queues[0].used_idx = 2;
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&t, &w);
	cr_assert_not(w.failed);

	fake.saved_word = 0;
	cr_assert_eq(virtio_mmio_init(&t2, &fake_ops, &fake, &mem, 0xc0001000, 5, &err), 0);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&t2, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(t2.status, 0xf);
	cr_assert(t2.active);
	cr_assert_eq(t2.driver_features, t.driver_features);
	cr_assert_eq(t2.queues[0].last_avail, 3);
	cr_assert_eq(t2.queues[0].used_idx, 2);
	cr_assert_eq(t2.queues[1].size, 4);
	cr_assert_eq(t2.queues[1].desc_gpa, DESC + 0x400);
	cr_assert(t2.queues[1].ready);
	cr_assert_eq(fake.saved_word, 0xfeedf00d);
	cr_assert_eq(fake.activated, 2);

	/* a truncated state is an error and leaves a reset device */
	state_reader_init(&r, w.buf, w.len / 2);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&t2, &r, &err), 0);
	cr_assert_str_neq(err.msg, "");
	cr_assert_eq(t2.status, 0);
	cr_assert_not(t2.active);
	virtio_mmio_destroy(&t2);
	state_writer_free(&w);
}

Test(virtio_mmio, restore_rejects_rings_outside_memory)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	bring_up();
	t.queues[1].used_gpa = MEM * 4; /* as if the file was edited */
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&t, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&t, &r, &err), 0);
	cr_assert(strstr(err.msg, "queue 1"), "%s", err.msg);
	state_writer_free(&w);
}

static unsigned count_lines(const char *path, const char *what)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

Test(virtio_mmio, a_flood_of_driver_errors_is_logged_a_few_times)
{
	char path[] = "/tmp/ember-mmio-log-XXXXXX";
	struct ember_err err;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(log_set_path(path, &err), 0, "%s", err.msg);
	for (int i = 0; i < 1000; i++)
		wr(VIRTIO_MMIO_MAGIC_VALUE, (uint32_t)i);
	log_set_path("/dev/stderr", &err);
	cr_assert_eq(t.warnings, 1000);
	/* a burst of LOG_RL_BURST, plus at most one per 500 ms while the loop ran */
	cr_assert_geq(count_lines(path, "read-only or unknown register"), LOG_RL_BURST);
	cr_assert_leq(count_lines(path, "read-only or unknown register"), LOG_RL_BURST + 2);
	unlink(path);
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
}

/* /proc/self/pagemap's bit 61: a file page (not yet this process's copy). */
static bool file_page(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / 4096 * sizeof(e))),
		     (ssize_t)sizeof(e));
	close(fd);
	return (e >> 61) & 1;
}

/* Memory privately mapped from a file, as a File snapshot load maps it: the
 * restore makes the used rings' pages this process's own before the guest
 * runs, not at the first completion while the guest may map the file's. */
Test(virtio_mmio, a_restore_copies_the_used_rings_of_a_file_mapping_first)
{
	char path[] = "/tmp/ember-mmio-test.XXXXXX";
	int fd = mkstemp(path);
	struct guest_region region;
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;
	uint8_t *fram;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, MEM), 0);
	fram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	cr_assert_neq(fram, MAP_FAILED);
	unlink(path);
	close(fd);
	virtio_mmio_destroy(&t);
	region = (struct guest_region){ .gpa = 0, .size = MEM, .host = fram };
	guest_mem_init_static(&mem, &region, 1);
	cr_assert_eq(virtio_mmio_init(&t, &fake_ops, &fake, &mem, 0xc0001000, 5, &err), 0);
	bring_up();
	/* the file's page again, read as a restored guest's first look does */
	cr_assert_eq(madvise(fram + USED, 0x1000, MADV_DONTNEED), 0);
	cr_assert_eq(*(volatile uint8_t *)(fram + USED), 0);
	cr_assert(file_page(fram + USED));

	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&t, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&t, &r, &err), 0, "%s", err.msg);
	state_writer_free(&w);
	cr_assert_not(file_page(fram + USED), "the used rings' page is the process's copy");
	cr_assert_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_mmio_destroy(&t);
	munmap(fram, MEM);
	/* teardown destroys t again: give it a fresh one over the static memory */
	region = (struct guest_region){ .gpa = 0, .size = sizeof(ram), .host = ram };
	guest_mem_init_static(&mem, &region, 1);
	cr_assert_eq(virtio_mmio_init(&t, &fake_ops, &fake, &mem, 0xc0001000, 5, &err), 0);
}
