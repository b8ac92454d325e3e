// SPDX-License-Identifier: Apache-2.0
/* The virtio-mem device over fake guest memory: config space, plug,
 * unplug, unplug-all and state requests with the spec's answers, slots
 * mapped and unmapped with their blocks, unplugged memory out of the
 * guest's and the devices' reach and given back, save and restore. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mem.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_driver.h"
#include "mem.h"

#define MEM    0x40000
#define REQ    0x20000
#define RESP   0x20100
#define REGION 0x100000000ull
#define MIB    (1ull << 20)
#define BLOCK  (2 * MIB)
#define SLOT   (128 * MIB)
#define TOTAL  (2 * SLOT)

static uint8_t *ram;
static struct fake_drv drv;
static struct virtio_mem vm;
static bool slot_present[TOTAL / SLOT];
static unsigned slot_calls;

static int set_slot(void *ctx, unsigned slot, bool present, struct ember_err *err)
{
	(void)ctx, (void)err;
	cr_assert_lt(slot, TOTAL / SLOT);
	cr_assert_neq(slot_present[slot], present, "slot %u set twice to %d", slot, present);
	slot_present[slot] = present;
	slot_calls++;
	return 0;
}

static void setup(void)
{
	struct ember_err err;

	ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fake_drv_init(&drv, ram, MEM, 16);
	cr_assert_eq(virtio_mem_open(&vm, &drv.mem, REGION, TOTAL, BLOCK, SLOT, set_slot, NULL,
				     0xd0000000, 5, &err),
		     0, "%s", err.msg);
	fake_drv_bring_up(&drv, &vm.transport, 1,
			  (1ull << VIRTIO_F_VERSION_1) |
			      (1ull << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE));
	memset(slot_present, 0, sizeof(slot_present));
	slot_calls = 0;
}

static void teardown(void)
{
	virtio_mem_close(&vm);
	munmap(ram, MEM);
}

TestSuite(mem_dev, .init = setup, .fini = teardown);

static uint64_t cfg64(unsigned off)
{
	return (uint64_t)fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)fake_drv_rd32(&drv, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

/* One request; the response's type (and state in *st). */
static uint16_t request(uint16_t type, uint64_t addr, uint16_t nb, uint16_t *st)
{
	static uint16_t d;
	struct virtio_mem_req q = { .type = type };
	struct virtio_mem_resp r;

	q.u.plug.addr = addr;
	q.u.plug.nb_blocks = nb;
	memcpy(ram + REQ, &q, sizeof(q));
	memset(ram + RESP, 0xee, sizeof(r));
	fake_drv_desc(&drv, 0, 0, REQ, sizeof(q), VRING_DESC_F_NEXT, 1);
	fake_drv_desc(&drv, 0, 1, RESP, sizeof(r), VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&vm.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), ++d);
	memcpy(&r, ram + RESP, sizeof(r));
	if (st)
		*st = r.u.state.state;
	return r.type;
}

Test(mem_dev, config_space_describes_the_region)
{
	cr_assert_eq(fake_drv_rd32(&drv, VIRTIO_MMIO_DEVICE_ID), 24);
	cr_assert_eq(cfg64(0), BLOCK);
	cr_assert_eq(cfg64(16), REGION);
	cr_assert_eq(cfg64(24), TOTAL);
	cr_assert_eq(cfg64(32), TOTAL, "all of it usable");
	cr_assert_eq(cfg64(40), 0, "nothing plugged at start");
	cr_assert_eq(cfg64(48), 0, "nothing requested at start");
	virtio_mem_set_requested(&vm, 64 * MIB);
	cr_assert_eq(cfg64(48), 64 * MIB);
	cr_assert(fake_drv_rd32(&drv, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}

Test(mem_dev, plugging_needs_a_request_from_the_host)
{
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION, 1, NULL), VIRTIO_MEM_RESP_NACK);
	virtio_mem_set_requested(&vm, 4 * BLOCK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION, 4, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(cfg64(40), 4 * BLOCK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + 4 * BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_NACK, "beyond the requested size");
	cr_assert(slot_present[0]);
	cr_assert_not(slot_present[1]);
}

Test(mem_dev, plugged_blocks_are_reachable_and_unplugged_ones_are_not)
{
	uint8_t *p;

	virtio_mem_set_requested(&vm, TOTAL);
	cr_assert_null(guest_mem_ptr(&drv.mem, REGION, 8));
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + SLOT, 2, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert(slot_present[1]);
	p = guest_mem_ptr(&drv.mem, REGION + SLOT + BLOCK, BLOCK);
	cr_assert_not_null(p);
	memset(p, 0x5a, BLOCK);
	cr_assert_null(guest_mem_ptr(&drv.mem, REGION + SLOT + BLOCK, BLOCK + 1),
		       "the next block is not plugged");
	cr_assert_eq(request(VIRTIO_MEM_REQ_UNPLUG, REGION + SLOT + BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_null(guest_mem_ptr(&drv.mem, REGION + SLOT + BLOCK, 8));
	cr_assert(slot_present[1], "one block of the slot is still plugged");
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + SLOT + BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	p = guest_mem_ptr(&drv.mem, REGION + SLOT + BLOCK, 8);
	cr_assert_eq(p[0], 0, "an unplugged block was given back: zeros again");
	cr_assert_eq(request(VIRTIO_MEM_REQ_UNPLUG, REGION + SLOT, 2, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_not(slot_present[1], "the slot's last block went: the slot is unmapped");
	cr_assert_eq(cfg64(40), 0);
}

Test(mem_dev, bad_ranges_and_wrong_states_are_errors)
{
	uint16_t st;

	virtio_mem_set_requested(&vm, TOTAL);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + 4096, 1, NULL), VIRTIO_MEM_RESP_ERROR,
		     "not block-aligned");
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION - BLOCK, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + TOTAL - BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_ERROR, "past the region's end");
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION, 0, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(request(VIRTIO_MEM_REQ_UNPLUG, REGION, 1, NULL), VIRTIO_MEM_RESP_ERROR,
		     "not plugged");
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION, 2, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + BLOCK, 2, NULL), VIRTIO_MEM_RESP_ERROR,
		     "partly plugged");
	cr_assert_eq(request(VIRTIO_MEM_REQ_STATE, REGION, 2, &st), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_PLUGGED);
	cr_assert_eq(request(VIRTIO_MEM_REQ_STATE, REGION + BLOCK, 2, &st), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_MIXED);
	cr_assert_eq(request(VIRTIO_MEM_REQ_STATE, REGION + 2 * BLOCK, 5, &st),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(st, VIRTIO_MEM_STATE_UNPLUGGED);
	cr_assert_eq(request(77, REGION, 1, NULL), VIRTIO_MEM_RESP_ERROR, "an unknown type");
	cr_assert_eq(vm.stats.errors, 7);
}

Test(mem_dev, unplug_all_empties_every_slot)
{
	virtio_mem_set_requested(&vm, TOTAL);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION, 3, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + SLOT + 8 * BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(cfg64(40), 0);
	cr_assert_not(slot_present[0]);
	cr_assert_not(slot_present[1]);
	cr_assert_eq(slot_calls, 4);
}

Test(mem_dev, a_request_of_another_shape_is_returned_empty)
{
	fake_drv_desc(&drv, 0, 0, REQ, 8, VRING_DESC_F_NEXT, 1); /* too short */
	fake_drv_desc(&drv, 0, 1, RESP, 10, VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, 0, 0);
	virtio_mmio_kick(&vm.transport, 0);
	cr_assert_eq(fake_drv_used_idx(&drv, 0), 1);
	cr_assert_eq(fake_drv_used(&drv, 0, 0).len, 0);
	cr_assert_eq(vm.stats.errors, 1);
}

Test(mem_dev, save_and_restore_keep_the_plugged_blocks_and_their_slots)
{
	char path[] = "/tmp/ember-mem-XXXXXX";
	int fd = mkstemp(path);
	struct state_writer w;
	struct state_reader r;
	struct ember_err err;
	uint8_t *p;

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, (off_t)(MIB + TOTAL)), 0);
	cr_assert_eq(pwrite(fd, "plugged!", 8, (off_t)(MIB + SLOT + BLOCK)), 8);
	state_writer_init(&w);
	virtio_mem_set_requested(&vm, 10 * BLOCK);
	cr_assert_eq(request(VIRTIO_MEM_REQ_PLUG, REGION + SLOT, 3, NULL), VIRTIO_MEM_RESP_ACK);
	virtio_mem_ops.save(&vm, &w);
	cr_assert_not(w.failed);
	virtio_mem_close(&vm);
	memset(slot_present, 0, sizeof(slot_present));
	cr_assert_eq(virtio_mem_open(&vm, &drv.mem, REGION, TOTAL, BLOCK, SLOT, set_slot, NULL,
				     0xd0000000, 5, &err),
		     0);
	/* From the memory file the snapshot wrote: RAM (here 1 MiB), then the region. */
	cr_assert_eq(virtio_mem_map_file(&vm, fd, MIB, &err), 0, "%s", err.msg);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mem_ops.restore(&vm, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg64(40), 3 * BLOCK);
	p = guest_mem_ptr(&drv.mem, REGION + SLOT + BLOCK, 8);
	cr_assert_not_null(p);
	cr_assert_eq(memcmp(p, "plugged!", 8), 0, "the block's contents came from the file");
	cr_assert_eq(cfg64(48), 10 * BLOCK);
	cr_assert(slot_present[1]);
	cr_assert_not(slot_present[0]);
	cr_assert_not_null(guest_mem_ptr(&drv.mem, REGION + SLOT + 2 * BLOCK, BLOCK));
	/* Without the snapshot's memory file, plugged blocks cannot come back. */
	virtio_mem_close(&vm);
	memset(slot_present, 0, sizeof(slot_present));
	cr_assert_eq(virtio_mem_open(&vm, &drv.mem, REGION, TOTAL, BLOCK, SLOT, set_slot, NULL,
				     0xd0000000, 5, &err),
		     0);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mem_ops.restore(&vm, &r, &err), -ENOTSUP);
	cr_assert(strstr(err.msg, "File memory backend"), "%s", err.msg);
	/* A truncated state is refused. */
	state_reader_init(&r, w.buf, w.len - 1);
	cr_assert_neq(virtio_mem_ops.restore(&vm, &r, &err), 0);
	state_writer_free(&w);
	close(fd);
}
