// SPDX-License-Identifier: Apache-2.0
/* Split virtqueue walking over fake guest memory; each hostile chain its own test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <stdint.h>

#include "queue.h"

#define QSIZE 16
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define BUF   0x8000
#define MEM   0x10000

static uint8_t ram[MEM];
static struct guest_mem mem;
static struct virtq q;
static struct virtq_chain chain;
static struct ember_err err;

static void setup(void)
{
	struct guest_region r = { .gpa = 0, .size = sizeof(ram), .host = ram };

	memset(ram, 0, sizeof(ram));
	memset(&err, 0, sizeof(err));
	guest_mem_init_static(&mem, &r, 1);
	virtq_init(&q, &mem);
	q.size = QSIZE;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	cr_assert_eq(virtq_activate(&q, &err), 0, "%s", err.msg);
}

TestSuite(virtq, .init = setup);

static void desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(ram + table + i * sizeof(d), &d, sizeof(d));
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static void wr16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

/* Make head available in the next avail slot. */
static void offer(uint16_t head)
{
	uint16_t idx = rd16(AVAIL + 2);

	wr16(AVAIL + 4 + 2 * (idx % QSIZE), head);
	wr16(AVAIL + 2, (uint16_t)(idx + 1));
}

static void expect_bad_chain(const char *needle)
{
	cr_assert_eq(virtq_pop(&q, &chain, &err), -EINVAL, "hostile chain accepted");
	cr_assert(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg, needle);
	cr_assert_not(q.broken, "a bad chain must not break the queue");
}

Test(virtq, empty_ring_pops_nothing)
{
	cr_assert_eq(virtq_pop(&q, &chain, &err), 0);
}

Test(virtq, readable_then_writable_chain)
{
	desc(DESC, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF + 0x100, 512, VRING_DESC_F_NEXT, 2);
	desc(DESC, 2, BUF + 0x400, 1, VRING_DESC_F_WRITE, 0);
	offer(0);
	cr_assert_eq(virtq_pop(&q, &chain, &err), 1, "%s", err.msg);
	cr_assert_eq(chain.head, 0);
	cr_assert_eq(chain.nbufs, 3);
	cr_assert_eq(chain.readable, 528);
	cr_assert_eq(chain.writable, 1);
	cr_assert(chain.bufs[2].writable);
	cr_assert_eq(chain.bufs[1].gpa, BUF + 0x100);
	cr_assert_eq(virtq_pop(&q, &chain, &err), 0, "one chain only");
}

Test(virtq, push_publishes_used_element)
{
	struct vring_used_elem e;

	desc(DESC, 5, BUF, 8, 0, 0);
	offer(5);
	cr_assert_eq(virtq_pop(&q, &chain, &err), 1);
	cr_assert_eq(virtq_push(&q, chain.head, 42, &err), 0);
	cr_assert_eq(rd16(USED + 2), 1);
	memcpy(&e, ram + USED + 4, sizeof(e));
	cr_assert_eq(e.id, 5);
	cr_assert_eq(e.len, 42);
}

Test(virtq, indirect_chain)
{
	uint64_t table = BUF + 0x1000;

	desc(table, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(table, 1, BUF + 0x100, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(table, 2, BUF + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	desc(DESC, 3, table, 3 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	offer(3);
	cr_assert_eq(virtq_pop(&q, &chain, &err), 1, "%s", err.msg);
	cr_assert_eq(chain.head, 3);
	cr_assert_eq(chain.nbufs, 3);
	cr_assert_eq(chain.writable, 4097);
}

Test(virtq, loop_is_refused)
{
	desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	offer(0);
	expect_bad_chain("loops");
}

Test(virtq, self_loop_is_refused)
{
	desc(DESC, 7, BUF, 8, VRING_DESC_F_NEXT, 7);
	offer(7);
	expect_bad_chain("loops");
}

Test(virtq, chain_longer_than_queue_is_refused)
{
	for (uint16_t i = 0; i < QSIZE; i++)
		desc(DESC, i, BUF, 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
	offer(0);
	expect_bad_chain("loops or is longer");
}

Test(virtq, next_index_out_of_range)
{
	desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, QSIZE + 3);
	offer(0);
	expect_bad_chain("out of range");
}

Test(virtq, zero_length_buffer)
{
	desc(DESC, 0, BUF, 0, 0, 0);
	offer(0);
	expect_bad_chain("zero-length");
}

Test(virtq, buffer_outside_memory)
{
	desc(DESC, 0, MEM - 4, 8, 0, 0);
	offer(0);
	expect_bad_chain("outside guest memory");
}

Test(virtq, buffer_address_wraps)
{
	desc(DESC, 0, UINT64_MAX - 3, 64, 0, 0);
	offer(0);
	expect_bad_chain("outside guest memory");
}

Test(virtq, readable_after_writable)
{
	desc(DESC, 0, BUF, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF, 8, 0, 0);
	offer(0);
	expect_bad_chain("readable buffer after a writable");
}

Test(virtq, indirect_with_next)
{
	desc(BUF + 0x1000, 0, BUF, 8, 0, 0);
	desc(DESC, 0, BUF + 0x1000, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	offer(0);
	expect_bad_chain("misplaced indirect");
}

Test(virtq, nested_indirect)
{
	uint64_t t1 = BUF + 0x1000, t2 = BUF + 0x2000;

	desc(t2, 0, BUF, 8, 0, 0);
	desc(t1, 0, t2, 16, VRING_DESC_F_INDIRECT, 0);
	desc(DESC, 0, t1, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("misplaced indirect");
}

Test(virtq, indirect_after_direct_buffers)
{
	desc(BUF + 0x1000, 0, BUF, 8, 0, 0);
	desc(DESC, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF + 0x1000, 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("misplaced indirect");
}

Test(virtq, indirect_table_bad_length)
{
	desc(DESC, 0, BUF + 0x1000, 24, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("indirect table of 24 bytes");
}

Test(virtq, indirect_table_empty)
{
	desc(DESC, 0, BUF + 0x1000, 0, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("indirect table of 0 bytes");
}

Test(virtq, indirect_table_too_long)
{
	desc(DESC, 0, 0, (VIRTQ_MAX_CHAIN + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("indirect table");
}

Test(virtq, indirect_table_outside_memory)
{
	desc(DESC, 0, MEM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("outside guest memory");
}

Test(virtq, indirect_loop)
{
	uint64_t t = BUF + 0x1000;

	desc(t, 0, BUF, 8, VRING_DESC_F_NEXT, 1);
	desc(t, 1, BUF, 8, VRING_DESC_F_NEXT, 0);
	desc(DESC, 0, t, 32, VRING_DESC_F_INDIRECT, 0);
	offer(0);
	expect_bad_chain("loops");
}

Test(virtq, queue_recovers_after_a_bad_chain)
{
	desc(DESC, 0, BUF, 0, 0, 0);
	desc(DESC, 1, BUF, 8, 0, 0);
	offer(0);
	offer(1);
	cr_assert_eq(virtq_pop(&q, &chain, &err), -EINVAL);
	cr_assert_eq(chain.head, 0, "the bad chain's head is known, to complete it");
	cr_assert_eq(virtq_pop(&q, &chain, &err), 1);
	cr_assert_eq(chain.head, 1);
}

Test(virtq, head_beyond_table_breaks_the_queue)
{
	offer(QSIZE);
	cr_assert_eq(virtq_pop(&q, &chain, &err), -EPROTO);
	cr_assert(q.broken);
	memset(&err, 0, sizeof(err));
	cr_assert_eq(virtq_pop(&q, &chain, &err), -EPROTO, "stays broken until reset");
	cr_assert(strstr(err.msg, "reset"), "a fresh message each time: \"%s\"", err.msg);
	virtq_reset(&q);
	cr_assert_not(q.broken);
}

Test(virtq, avail_index_jump_breaks_the_queue)
{
	wr16(AVAIL + 2, QSIZE + 1);
	cr_assert_eq(virtq_pop(&q, &chain, &err), -EPROTO);
	cr_assert(strstr(err.msg, "more buffers"), "%s", err.msg);
}

Test(virtq, activate_checks_rings)
{
	q.size = 12;
	cr_assert_lt(virtq_activate(&q, &err), 0);
	q.size = QSIZE;
	q.used_gpa = USED + 2;
	cr_assert_lt(virtq_activate(&q, &err), 0);
	cr_assert(strstr(err.msg, "misaligned"));
	q.used_gpa = MEM - 16;
	cr_assert_lt(virtq_activate(&q, &err), 0);
	cr_assert(strstr(err.msg, "outside guest memory"));
	q.used_gpa = UINT64_MAX - 3;
	cr_assert_lt(virtq_activate(&q, &err), 0);
}

Test(virtq, notify_respects_no_interrupt_flag)
{
	desc(DESC, 0, BUF, 8, 0, 0);
	offer(0);
	virtq_pop(&q, &chain, &err);
	virtq_push(&q, 0, 0, &err);
	cr_assert(virtq_needs_notify(&q));
	wr16(AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	offer(0);
	virtq_pop(&q, &chain, &err);
	virtq_push(&q, 0, 0, &err);
	cr_assert_not(virtq_needs_notify(&q));
}

Test(virtq, event_idx_notifies_only_when_crossing_used_event)
{
	q.event_idx = true;
	desc(DESC, 0, BUF, 8, 0, 0);
	wr16(AVAIL + 4 + 2 * QSIZE, 1); /* used_event: interrupt after used idx passes 1 */
	for (int i = 0; i < 3; i++) {
		offer(0);
		cr_assert_eq(virtq_pop(&q, &chain, &err), 1);
	}
	cr_assert_eq(rd16(USED + 4 + 8 * QSIZE), 3, "avail_event tracks what we consumed");
	virtq_push(&q, 0, 0, &err); /* used 0 -> 1 */
	cr_assert(virtq_needs_notify(&q), "first push always notifies");
	virtq_push(&q, 0, 0, &err); /* used 1 -> 2: crosses used_event 1 */
	cr_assert(virtq_needs_notify(&q));
	virtq_push(&q, 0, 0, &err); /* 2 -> 3: driver did not ask */
	cr_assert_not(virtq_needs_notify(&q));
}
