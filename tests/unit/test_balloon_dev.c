// SPDX-License-Identifier: Apache-2.0
/* The virtio-balloon device over page-aligned fake guest memory: queues by
 * feature, the target and `actual` in config space, inflated and reported
 * pages given back (they read as zeros), deflate, the statistics protocol,
 * free page hinting runs, and its state across save and restore. */
#include <criterion/criterion.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "balloon.h"
#include "fake_driver.h"

#define MEM    0x100000
#define QSIZE  16
#define PFNS   0x20000 /* the driver's page-frame arrays */
#define PAGE_A 0x80    /* frames given to the balloon */
#define STATQ  2
#define REPQ   3

static uint8_t *ram;
static struct fake_drv drv;
static struct virtio_balloon bal;

static void open_with(bool stats, bool hinting, bool reporting)
{
	struct virtio_balloon_params p = {
		.num_pages = 64,
		.deflate_on_oom = true,
		.stats_interval_s = stats ? 1 : 0,
		.free_page_hinting = hinting,
		.free_page_reporting = reporting,
	};
	struct ember_err err;

	ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	fake_drv_init(&drv, ram, MEM, QSIZE);
	cr_assert_eq(virtio_balloon_open(&bal, &p, &drv.mem, 0xd0000000, 5, &err), 0, "%s",
		     err.msg);
	fake_drv_bring_up(&drv, &bal.transport, bal.ops.num_queues, 0);
}

static void open_balloon(bool stats, bool reporting)
{
	open_with(stats, false, reporting);
}

static void teardown(void)
{
	virtio_balloon_close(&bal);
	munmap(ram, MEM);
}

TestSuite(balloon_dev, .fini = teardown);

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t config32(unsigned off)
{
	return fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG + off);
}

/* A readable buffer of frame numbers on queue q, kicked. */
static void give_pfns(unsigned q, uint16_t desc, const uint32_t *pfns, unsigned n)
{
	uint64_t at = PFNS + (uint64_t)desc * 0x1000;

	for (unsigned i = 0; i < n; i++)
		put_le32(ram + at + 4 * i, pfns[i]);
	fake_drv_desc(&drv, q, desc, at, 4 * n, 0, 0);
	fake_drv_publish(&drv, q, desc);
	virtio_mmio_kick(&bal.transport, q);
}

static void fill_pages(uint32_t pfn, unsigned n)
{
	memset(ram + ((uint64_t)pfn << 12), 0xa5, (size_t)n << 12);
}

static bool zeros(uint32_t pfn, unsigned n)
{
	const uint8_t *p = ram + ((uint64_t)pfn << 12);

	for (size_t i = 0; i < (size_t)n << 12; i++)
		if (p[i])
			return false;
	return true;
}

Test(balloon_dev, has_the_optional_queues_only_when_configured)
{
	open_balloon(false, false);
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	fake_drv_wr32(&drv, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "inflate and deflate only");
	cr_assert(virtio_mmio_offered(&bal.transport) & (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	cr_assert_not(virtio_mmio_offered(&bal.transport) & (1ull << VIRTIO_BALLOON_F_STATS_VQ));
}

Test(balloon_dev, statistics_and_reporting_add_queues_in_that_order)
{
	open_balloon(true, true);
	cr_assert_eq(bal.stats_q, STATQ);
	cr_assert_eq(bal.report_q, REPQ);
	fake_drv_wr32(&drv, VIRTIO_MMIO_QUEUE_SEL, REPQ);
	cr_assert_neq(fake_drv_rd32(&drv, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_assert(virtio_mmio_offered(&bal.transport) & (1ull << VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert(virtio_mmio_offered(&bal.transport) & (1ull << VIRTIO_BALLOON_F_REPORTING));
}

Test(balloon_dev, config_space_has_the_target_and_the_drivers_actual)
{
	uint32_t target, actual;
	struct virtio_balloon_stats s;

	open_balloon(false, false);
	cr_assert_eq(config32(0), 64, "num_pages");
	fake_drv_wr32(&drv, VIRTIO_MMIO_CONFIG + 4, 48);
	cr_assert_eq(config32(4), 48, "actual as the driver wrote it");
	fake_drv_wr32(&drv, VIRTIO_MMIO_CONFIG + 0, 9999);
	cr_assert_eq(config32(0), 64, "num_pages is the host's");
	virtio_balloon_set_target(&bal, 512);
	cr_assert_eq(config32(0), 512);
	cr_assert(fake_drv_rd32(&drv, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG,
		  "the driver is told of the new target");
	virtio_balloon_read(&bal, &target, &actual, &s);
	cr_assert_eq(target, 512);
	cr_assert_eq(actual, 48);
}

Test(balloon_dev, inflated_pages_are_given_back_and_read_as_zeros)
{
	const uint32_t pfns[] = { PAGE_A, PAGE_A + 1, PAGE_A + 2, PAGE_A + 7 };

	open_balloon(false, false);
	fill_pages(PAGE_A, 8);
	give_pfns(0, 0, pfns, 4);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 0);
	cr_assert(zeros(PAGE_A, 3), "the run of three frames");
	cr_assert(zeros(PAGE_A + 7, 1), "the frame apart");
	cr_assert_not(zeros(PAGE_A + 3, 4), "the frames not given stay");
	cr_assert_eq(bal.metrics.inflate_count, 1);
	cr_assert_eq(bal.metrics.event_fails, 0);
}

Test(balloon_dev, a_frame_outside_guest_memory_is_counted_and_the_rest_given_back)
{
	const uint32_t pfns[] = { PAGE_A, 0xfffffff, PAGE_A + 1 };

	open_balloon(false, false);
	fill_pages(PAGE_A, 2);
	give_pfns(0, 0, pfns, 3);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1, "returned, not stuck");
	cr_assert_eq(bal.metrics.event_fails, 1);
	cr_assert(zeros(PAGE_A, 2));
}

Test(balloon_dev, a_buffer_of_a_partial_frame_number_is_refused_whole)
{
	open_balloon(false, false);
	fill_pages(PAGE_A, 1);
	put_le32(ram + PFNS, PAGE_A);
	fake_drv_desc(&drv, 0, 0, PFNS, 6, 0, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&bal.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(bal.metrics.event_fails, 1);
	cr_assert_not(zeros(PAGE_A, 1));
}

Test(balloon_dev, deflate_returns_the_buffer_and_touches_nothing)
{
	const uint32_t pfns[] = { PAGE_A };

	open_balloon(false, false);
	fill_pages(PAGE_A, 1);
	give_pfns(1, 0, pfns, 1);
	cr_assert_eq(fake_drv_used_idx(&drv, 1), 1);
	cr_assert_eq(bal.metrics.deflate_count, 1);
	cr_assert_not(zeros(PAGE_A, 1));
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(val >> (8 * i));
}

static void give_stats(uint16_t desc, uint64_t free_bytes)
{
	uint64_t at = PFNS + 0x8000;

	put_stat(ram + at, VIRTIO_BALLOON_S_MEMFREE, free_bytes);
	put_stat(ram + at + 10, VIRTIO_BALLOON_S_MEMTOT, 128 << 20);
	put_stat(ram + at + 20, 999, 1);
	fake_drv_desc(&drv, STATQ, desc, at, 30, 0, 0);
	fake_drv_publish(&drv, STATQ, desc);
	virtio_mmio_kick(&bal.transport, STATQ);
}

Test(balloon_dev, statistics_are_kept_and_the_buffer_returned_when_the_timer_asks)
{
	struct virtio_balloon_stats s;
	uint32_t target, actual;

	open_balloon(true, false);
	give_stats(0, 1000);
	cr_assert_eq(fake_drv_used_idx(&drv, STATQ), 0, "the device holds the buffer");
	virtio_balloon_read(&bal, &target, &actual, &s);
	cr_assert_eq(s.seen, 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << VIRTIO_BALLOON_S_MEMTOT);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 1000);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMTOT], 128 << 20);
	cr_assert_eq(bal.metrics.stats_update_fails, 1, "the unknown tag");
	virtio_balloon_stats_timer(&bal);
	cr_assert_eq(fake_drv_used_idx(&drv, STATQ), 1, "returned for fresh statistics");
	virtio_balloon_stats_timer(&bal);
	cr_assert_eq(fake_drv_used_idx(&drv, STATQ), 1, "nothing held, nothing returned");
	give_stats(1, 2000);
	virtio_balloon_read(&bal, &target, &actual, &s);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 2000);
	cr_assert_eq(bal.metrics.stats_updates_count, 2);
}

Test(balloon_dev, a_second_statistics_buffer_sends_the_first_back)
{
	open_balloon(true, false);
	give_stats(0, 1);
	give_stats(1, 2);
	cr_assert_eq(fake_drv_used_idx(&drv, STATQ), 1);
	cr_assert_eq(fake_drv_used(&drv, STATQ, 0).id, 0, "the older one");
	cr_assert_eq(bal.stats_head, 1);
}

Test(balloon_dev, reported_free_ranges_are_given_back)
{
	open_balloon(false, true);
	fill_pages(PAGE_A, 4);
	fake_drv_desc(&drv, 2, 0, (uint64_t)PAGE_A << 12, 0x4000, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 2, 0);
	virtio_mmio_kick(&bal.transport, 2);
	cr_assert_eq(fake_drv_used_idx(&drv, 2), 1);
	cr_assert(zeros(PAGE_A, 4));
	cr_assert_eq(bal.metrics.free_page_report_count, 1);
	cr_assert_eq(bal.metrics.free_page_report_freed, 0x4000);
}

Test(balloon_dev, a_reported_range_not_in_pages_is_counted_as_failed)
{
	open_balloon(false, true);
	fake_drv_desc(&drv, 2, 0, ((uint64_t)PAGE_A << 12) + 8, 0x1000, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 2, 0);
	virtio_mmio_kick(&bal.transport, 2);
	cr_assert_eq(fake_drv_used_idx(&drv, 2), 1);
	cr_assert_eq(bal.metrics.free_page_report_fails, 1);
}

Test(balloon_dev, the_target_actual_and_held_statistics_survive_a_restore)
{
	struct virtio_balloon_stats s;
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;
	uint32_t target, actual;

	open_balloon(true, false);
	give_stats(0, 4242);
	fake_drv_wr32(&drv, VIRTIO_MMIO_CONFIG + 4, 32);
	virtio_balloon_set_target(&bal, 300);
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&bal.transport, &w);
	memset(&bal.stats, 0, sizeof(bal.stats));
	bal.stats_held = false;
	bal.actual_pages = 0;
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&bal.transport, &r, &err), 0, "%s", err.msg);
	state_writer_free(&w);
	virtio_balloon_read(&bal, &target, &actual, &s);
	cr_assert_eq(target, 300);
	cr_assert_eq(actual, 32);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 4242);
	virtio_balloon_stats_timer(&bal);
	cr_assert_eq(fake_drv_used_idx(&drv, STATQ), 1, "the held buffer is returned after it");
}

Test(balloon_dev, a_snapshot_whose_statistics_differ_is_refused)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	open_balloon(false, false);
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&bal.transport, &w);
	bal.stats_q = STATQ; /* as if this VM's config asked for statistics */
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&bal.transport, &r, &err), 0);
	cr_assert(strstr(err.msg, "statistics"), "%s", err.msg);
	bal.stats_q = -1;
	state_writer_free(&w);
}

/* --- free page hinting -------------------------------------------------- */

#define HINTQ 3 /* after statistics */
#define CMD   (PFNS + 0x9000)

static bool config_irq(void)
{
	uint32_t st = fake_drv_rd32(&drv, VIRTIO_MMIO_INTERRUPT_STATUS);

	fake_drv_wr32(&drv, VIRTIO_MMIO_INTERRUPT_ACK, st);
	return st & VIRTIO_MMIO_INT_CONFIG;
}

/* On the hinting queue, as Linux's driver sends them: the run's id (device-readable, 4 bytes),
 * then free blocks it holds (device-writable), each chain on its own. */
static void send_cmd(uint16_t desc, uint32_t cmd)
{
	put_le32(ram + CMD + 4 * desc, cmd);
	fake_drv_desc(&drv, (unsigned)bal.hint_q, desc, CMD + 4 * desc, 4, 0, 0);
	fake_drv_publish(&drv, (unsigned)bal.hint_q, desc);
	virtio_mmio_kick(&bal.transport, (unsigned)bal.hint_q);
}

static void send_range(uint16_t desc, uint32_t pfn, unsigned pages)
{
	fake_drv_desc(&drv, (unsigned)bal.hint_q, desc, (uint64_t)pfn << 12, pages << 12,
		      VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, (unsigned)bal.hint_q, desc);
	virtio_mmio_kick(&bal.transport, (unsigned)bal.hint_q);
}

Test(balloon_dev, hinting_adds_its_queue_between_statistics_and_reporting)
{
	open_with(true, true, true);
	cr_assert_eq(bal.stats_q, STATQ);
	cr_assert_eq(bal.hint_q, HINTQ);
	cr_assert_eq(bal.report_q, 4);
	cr_assert(virtio_mmio_offered(&bal.transport) & (1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	cr_assert_eq(config32(8), VIRTIO_BALLOON_CMD_ID_STOP, "no run");
}

Test(balloon_dev, a_run_gives_back_the_ranges_hinted_under_its_id_and_ends_with_done)
{
	struct virtio_balloon_hinting st;
	struct ember_err err;

	open_with(true, true, false);
	fill_pages(PAGE_A, 16);
	config_irq();
	cr_assert_eq(virtio_balloon_hint_start(&bal, true, &err), 0, "%s", err.msg);
	cr_assert_eq(config32(8), 2, "the first run's id");
	cr_assert(config_irq(), "the driver is told");
	send_range(0, PAGE_A + 12, 4); /* before any id: not the run's */
	send_cmd(1, 2);
	send_range(2, PAGE_A, 4);
	send_range(3, PAGE_A + 4, 4);
	cr_assert_eq(fake_drv_used_idx(&drv, HINTQ), 4, "every chain returned");
	cr_assert(zeros(PAGE_A, 8), "the run's ranges are given back");
	cr_assert_not(zeros(PAGE_A + 12, 4), "a range with no id is kept");
	cr_assert_eq(bal.metrics.free_page_hint_count, 2);
	cr_assert_eq(bal.metrics.free_page_hint_freed, 8 << 12);
	cr_assert_eq(virtio_balloon_hint_status(&bal, &st, &err), 0);
	cr_assert_eq(st.host_cmd, 2);
	cr_assert(st.guest_cmd_seen);
	cr_assert_eq(st.guest_cmd, 2);
	send_cmd(4, VIRTIO_BALLOON_CMD_ID_STOP);
	cr_assert_eq(config32(8), VIRTIO_BALLOON_CMD_ID_DONE, "acknowledged on stop");
	cr_assert(config_irq());
	fill_pages(PAGE_A, 4);
	send_range(5, PAGE_A, 4);
	cr_assert_not(zeros(PAGE_A, 4), "after DONE the driver may use its pages again");
}

Test(balloon_dev, ranges_of_an_earlier_run_are_kept_and_a_stop_waits_when_asked)
{
	struct ember_err err;

	open_with(false, true, false);
	cr_assert_eq(bal.hint_q, 2);
	fill_pages(PAGE_A, 8);
	cr_assert_eq(virtio_balloon_hint_start(&bal, false, &err), 0);
	cr_assert_eq(virtio_balloon_hint_start(&bal, false, &err), 0);
	cr_assert_eq(config32(8), 3, "ids grow");
	put_le32(ram + CMD, 2);
	fake_drv_desc(&drv, 2, 0, CMD, 4, VRING_DESC_F_NEXT, 1);
	fake_drv_desc(&drv, 2, 1, (uint64_t)PAGE_A << 12, 4 << 12, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 2, 0);
	virtio_mmio_kick(&bal.transport, 2);
	cr_assert_not(zeros(PAGE_A, 4), "a range of run 2 while run 3 is asked for");
	put_le32(ram + CMD + 4, VIRTIO_BALLOON_CMD_ID_STOP);
	fake_drv_desc(&drv, 2, 2, CMD + 4, 4, 0, 0);
	fake_drv_publish(&drv, 2, 2);
	virtio_mmio_kick(&bal.transport, 2);
	cr_assert_eq(config32(8), 3, "acknowledge_on_stop false: the host says DONE itself");
	cr_assert_eq(virtio_balloon_hint_stop(&bal, &err), 0);
	cr_assert_eq(config32(8), VIRTIO_BALLOON_CMD_ID_DONE);
}

Test(balloon_dev, hinting_is_refused_when_not_configured_and_a_bad_command_counted)
{
	struct virtio_balloon_hinting st;
	struct ember_err err;

	open_with(false, false, false);
	cr_assert_lt(virtio_balloon_hint_start(&bal, true, &err), 0);
	cr_assert_str_eq(err.msg, "Attempting to use hinting when not enabled");
	cr_assert_lt(virtio_balloon_hint_status(&bal, &st, &err), 0);
	virtio_balloon_close(&bal);
	munmap(ram, MEM);
	open_with(false, true, false);
	fake_drv_desc(&drv, 2, 0, CMD, 6, 0, 0);
	fake_drv_publish(&drv, 2, 0);
	virtio_mmio_kick(&bal.transport, 2);
	cr_assert_eq(fake_drv_used_idx(&drv, 2), 1);
	cr_assert_eq(bal.metrics.free_page_hint_fails, 1);
	cr_assert_eq(virtio_balloon_hint_status(&bal, &st, &err), 0);
	cr_assert_not(st.guest_cmd_seen);
}

Test(balloon_dev, a_restore_ends_the_saved_run_with_done)
{
	struct virtio_balloon_hinting st;
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	open_with(false, true, false);
	cr_assert_eq(virtio_balloon_hint_start(&bal, true, &err), 0);
	send_cmd(0, 2);
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&bal.transport, &w);
	memset(&bal.hint, 0, sizeof(bal.hint));
	config_irq();
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&bal.transport, &r, &err), 0, "%s", err.msg);
	state_writer_free(&w);
	cr_assert_eq(virtio_balloon_hint_status(&bal, &st, &err), 0);
	cr_assert_eq(st.host_cmd, VIRTIO_BALLOON_CMD_ID_DONE, "the driver frees what it holds");
	cr_assert_eq(st.last_cmd_id, 2);
	cr_assert_eq(st.guest_cmd, 2);
	cr_assert(config_irq());
	cr_assert_eq(virtio_balloon_hint_start(&bal, true, &err), 0);
	cr_assert_eq(config32(8), 3, "the next run's id follows the saved one");
}

Test(balloon_dev, a_snapshot_whose_hinting_differs_is_refused)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;

	open_with(false, false, false);
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&bal.transport, &w);
	bal.hint_q = 2;
	state_reader_init(&r, w.buf, w.len);
	cr_assert_lt(virtio_mmio_bus_ops.restore(&bal.transport, &r, &err), 0);
	cr_assert(strstr(err.msg, "hinting"), "%s", err.msg);
	bal.hint_q = -1;
	state_writer_free(&w);
}
