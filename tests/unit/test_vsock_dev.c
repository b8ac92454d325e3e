// SPDX-License-Identifier: Apache-2.0
/* The virtio-vsock device over fake guest memory, with real Unix sockets on
 * the host side: the CONNECT handshake, data both ways, guest-initiated
 * connections, RSTs, and what a misbehaving guest or host client gets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_driver.h"
#include "vsock.h"

#define MEM    0x80000
#define QSIZE  16
#define RXQ    0
#define TXQ    1
#define HDR    sizeof(struct virtio_vsock_hdr)
#define RX_BUF (FAKE_DRV_BUF) /* rx buffers, RX_LEN apart */
#define RX_LEN 0x1000
#define TX_BUF (FAKE_DRV_BUF + 0x20000) /* tx packets, 0x2000 apart */
#define CID    3
#define G_PORT 1234 /* the guest's side of guest-initiated connections */

static uint8_t ram[MEM];
static struct fake_drv drv;
static struct virtio_vsock vs;
static char dir[] = "/tmp/ember-vsock-test.XXXXXX";
static char uds[VSOCK_PATH_MAX];
static uint16_t rx_seen, tx_slot;

static void setup(void)
{
	struct ember_err err;

	fake_drv_init(&drv, ram, sizeof(ram), QSIZE);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	cr_assert_eq(virtio_vsock_open(&vs, CID, uds, &drv.mem, 0xc0003000, 7, &err), 0, "%s",
		     err.msg);
	fake_drv_bring_up(&drv, &vs.transport, 3, 0);
	rx_seen = tx_slot = 0;
}

static void teardown(void)
{
	char cmd[128];

	virtio_vsock_close(&vs);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(vsock_dev, .init = setup, .fini = teardown);

/* Offer `n` rx buffers (descriptors 0..n-1), one descriptor each. */
static void rx_buffers(int n)
{
	for (int i = 0; i < n; i++) {
		fake_drv_desc(&drv, RXQ, (uint16_t)i, RX_BUF + (uint64_t)i * RX_LEN, RX_LEN,
			      VRING_DESC_F_WRITE, 0);
		fake_drv_publish(&drv, RXQ, (uint16_t)i);
	}
	virtio_mmio_kick(&vs.transport, RXQ);
}

/* The next packet the device put on the rx queue, whose buffer is then
 * offered again; false if there is none. */
static bool rx_next(struct virtio_vsock_hdr *h, char *payload, size_t size)
{
	struct vring_used_elem e;
	const uint8_t *buf;

	if (fake_drv_used_idx(&drv, RXQ) == rx_seen)
		return false;
	e = fake_drv_used(&drv, RXQ, rx_seen++);
	cr_assert_geq(e.len, HDR);
	buf = ram + RX_BUF + (uint64_t)e.id * RX_LEN;
	memcpy(h, buf, HDR);
	cr_assert_eq(h->len, e.len - HDR, "the used length is the header and its payload");
	if (payload) {
		cr_assert_lt(h->len, size);
		memcpy(payload, buf + HDR, h->len);
		payload[h->len] = '\0';
	}
	fake_drv_publish(&drv, RXQ, (uint16_t)e.id); /* read: the buffer goes back */
	return true;
}

/* A guest packet as Linux 6.1 sends it: header and payload in two descriptors. */
static void guest_packet(struct virtio_vsock_hdr h, const void *data, uint32_t len)
{
	uint16_t d = (uint16_t)(2 * (tx_slot % (QSIZE / 2)));
	uint64_t at = TX_BUF + (uint64_t)(tx_slot % (QSIZE / 2)) * 0x2000;

	tx_slot++;
	memcpy(ram + at, &h, HDR);
	if (len)
		memcpy(ram + at + HDR, data, len);
	fake_drv_desc(&drv, TXQ, d, at, HDR, len ? VRING_DESC_F_NEXT : 0, (uint16_t)(d + 1));
	fake_drv_desc(&drv, TXQ, (uint16_t)(d + 1), at + HDR, len, 0, 0);
	fake_drv_publish(&drv, TXQ, d);
	virtio_mmio_kick(&vs.transport, TXQ);
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len)
{
	return (struct virtio_vsock_hdr){ .src_cid = CID,
					  .dst_cid = VSOCK_HOST_CID,
					  .src_port = src_port,
					  .dst_port = dst_port,
					  .len = len,
					  .type = VIRTIO_VSOCK_TYPE_STREAM,
					  .op = op,
					  .buf_alloc = 65536 };
}

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

/* Read what the device sent to a host socket, waiting up to a second:
 * the bytes read, 0 at end of stream, -1 with errno, -2 if nothing came. */
static ssize_t host_read(int fd, char *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 1000) != 1)
		return -2;
	n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Let the device see what host sockets did. */
static void settle(void)
{
	for (int i = 0; i < 3; i++) {
		usleep(2000);
		virtio_vsock_poll(&vs);
	}
}

/* A host client through CONNECT <port>, accepted by the guest; its local port. */
static uint32_t host_client(int *fd, uint32_t port)
{
	struct virtio_vsock_hdr h;
	char line[64], want[64];

	*fd = uds_connect(uds);
	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	cr_assert_eq(write(*fd, line, strlen(line)), (ssize_t)strlen(line));
	settle();
	cr_assert(rx_next(&h, NULL, 0), "the guest gets a connection request");
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(h.dst_port, port);
	cr_assert_eq(h.dst_cid, CID);
	cr_assert_eq(h.src_cid, VSOCK_HOST_CID);
	cr_assert_geq(h.src_port, 1u << 30);
	guest_packet(hdr(VIRTIO_VSOCK_OP_RESPONSE, port, h.src_port, 0), NULL, 0);
	snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	cr_assert_eq(host_read(*fd, line, sizeof(line)), (ssize_t)strlen(want));
	cr_assert_str_eq(line, want);
	return h.src_port;
}

Test(vsock_dev, config_space_holds_the_guest_cid)
{
	cr_assert_eq(fake_drv_rd32(&drv, 0x008), 19, "device id: socket");
	cr_assert_eq(fake_drv_rd32(&drv, 0x100), CID);
	cr_assert_eq(fake_drv_rd32(&drv, 0x104), 0);
}

Test(vsock_dev, host_connect_handshake_then_data_both_ways)
{
	struct virtio_vsock_hdr h;
	char buf[128];
	uint32_t local;
	int fd;

	rx_buffers(8);
	local = host_client(&fd, 5000);
	cr_assert_eq(write(fd, "hello", 5), 5);
	settle();
	cr_assert(rx_next(&h, buf, sizeof(buf)));
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(h.src_port, local);
	cr_assert_eq(h.dst_port, 5000);
	cr_assert_str_eq(buf, "hello");
	guest_packet(hdr(VIRTIO_VSOCK_OP_RW, 5000, local, 5), "world", 5);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "world");
	cr_assert_eq(vs.stats.invalid, 0);
	close(fd);
}

Test(vsock_dev, host_data_waits_for_the_guests_credit)
{
	struct virtio_vsock_hdr h;
	struct virtio_vsock_hdr no_credit;
	char buf[128];
	uint32_t local;
	int fd;

	rx_buffers(8);
	local = host_client(&fd, 5000);
	no_credit = hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, local, 0);
	no_credit.buf_alloc = 0;
	guest_packet(no_credit, NULL, 0);
	cr_assert_eq(write(fd, "held", 4), 4);
	settle();
	cr_assert_not(rx_next(&h, NULL, 0), "nothing goes past a zero credit");
	guest_packet(hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 5000, local, 0), NULL, 0);
	settle();
	cr_assert(rx_next(&h, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "held");
	close(fd);
}

Test(vsock_dev, malformed_handshakes_are_refused_and_closed)
{
	static const char *const bad[] = { "CONNECT abc\n", "HELLO 5000\n", "CONNECT 99999999999\n",
					   "CONNECT 5000 extra\n",
					   "CONNECT 5000 and far too long without a newline" };
	struct virtio_vsock_hdr h;
	char buf[64];

	rx_buffers(8);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = uds_connect(uds);

		cr_assert_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		settle();
		ssize_t got = host_read(fd, buf, sizeof(buf));

		/* closed: a reset when the refused line was left unread */
		cr_assert(got == 0 || (got == -1 && errno == ECONNRESET),
			  "closed after \"%s\" (read %zd: %s)", bad[i], got, got > 0 ? buf : "");
		close(fd);
	}
	cr_assert_eq(vs.stats.refused, 5);
	cr_assert_not(rx_next(&h, NULL, 0), "the guest hears of none of them");
}

Test(vsock_dev, a_port_the_guest_refuses_closes_the_host_socket)
{
	struct virtio_vsock_hdr h;
	char buf[16];
	int fd = uds_connect(uds);

	rx_buffers(8);
	cr_assert_eq(write(fd, "CONNECT 9\n", 10), 10);
	settle();
	cr_assert(rx_next(&h, NULL, 0));
	guest_packet(hdr(VIRTIO_VSOCK_OP_RST, 9, h.src_port, 0), NULL, 0);
	cr_assert_eq(host_read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

Test(vsock_dev, guest_connects_to_a_host_listener)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct virtio_vsock_hdr h;
	char buf[64];
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c;

	cr_assert_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s_7000", uds), 100);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 4), 0);
	rx_buffers(8);
	guest_packet(hdr(VIRTIO_VSOCK_OP_REQUEST, G_PORT, 7000, 0), NULL, 0);
	cr_assert(rx_next(&h, NULL, 0));
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_eq(h.src_port, 7000);
	cr_assert_eq(h.dst_port, G_PORT);
	c = accept(l, NULL, NULL);
	cr_assert_geq(c, 0);
	guest_packet(hdr(VIRTIO_VSOCK_OP_RW, G_PORT, 7000, 3), "abc", 3);
	cr_assert_eq(host_read(c, buf, sizeof(buf)), 3);
	cr_assert_str_eq(buf, "abc");
	close(c);
	settle();
	cr_assert(rx_next(&h, NULL, 0), "the host closing is told to the guest");
	cr_assert(h.op == VIRTIO_VSOCK_OP_SHUTDOWN || h.op == VIRTIO_VSOCK_OP_RST);
	close(l);
}

Test(vsock_dev, guest_connect_without_a_listener_gets_rst)
{
	struct virtio_vsock_hdr h;

	rx_buffers(8);
	guest_packet(hdr(VIRTIO_VSOCK_OP_REQUEST, G_PORT, 7001, 0), NULL, 0);
	cr_assert(rx_next(&h, NULL, 0));
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, 7001);
	cr_assert_eq(h.dst_port, G_PORT);
	cr_assert_eq(vs.nr_conns, 0);
}

Test(vsock_dev, data_for_no_connection_gets_rst)
{
	struct virtio_vsock_hdr h;

	rx_buffers(8);
	guest_packet(hdr(VIRTIO_VSOCK_OP_RW, 40, 41, 2), "hi", 2);
	cr_assert(rx_next(&h, NULL, 0));
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, 41);
	cr_assert_eq(h.dst_port, 40);
}

Test(vsock_dev, bad_guest_packets_are_counted_and_the_device_goes_on)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RW, 40, 41, 2);
	char buf[64];
	int fd;

	rx_buffers(12);
	h.src_cid = 4; /* not the guest's */
	guest_packet(h, "hi", 2);
	h = hdr(VIRTIO_VSOCK_OP_RW, 40, 41, 2);
	h.type = 2; /* seqpacket */
	guest_packet(h, "hi", 2);
	h = hdr(VIRTIO_VSOCK_OP_RW, 40, 41, 4000); /* longer than its buffers */
	guest_packet(h, "hi", 2);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 40, 41, 2); /* control packet with data */
	guest_packet(h, "hi", 2);
	fake_drv_desc(&drv, TXQ, 14, TX_BUF, 10, 0, 0); /* shorter than a header */
	fake_drv_publish(&drv, TXQ, 14);
	fake_drv_desc(&drv, TXQ, 15, MEM - 8, 64, 0, 0); /* beyond guest memory */
	fake_drv_publish(&drv, TXQ, 15);
	virtio_mmio_kick(&vs.transport, TXQ);
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 6, "every tx chain is returned");
	cr_assert_geq(vs.stats.invalid, 5);
	cr_assert_eq(vs.nr_conns, 0);
	while (rx_next(&h, NULL, 0))
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RST, "only RSTs answer bad packets");
	host_client(&fd, 6000);
	cr_assert_eq(write(fd, "still", 5), 5);
	settle();
	cr_assert(rx_next(&h, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "still");
	close(fd);
}

Test(vsock_dev, host_close_shuts_down_the_guest_side_and_rst_finishes)
{
	struct virtio_vsock_hdr h;
	uint32_t local;
	int fd;

	rx_buffers(8);
	local = host_client(&fd, 5000);
	cr_assert_eq(vs.nr_conns, 1);
	close(fd);
	settle();
	cr_assert(rx_next(&h, NULL, 0));
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert_eq(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	guest_packet(hdr(VIRTIO_VSOCK_OP_RST, 5000, local, 0), NULL, 0);
	settle();
	cr_assert_eq(vs.nr_conns, 0, "the connection is gone");
}

Test(vsock_dev, many_connections_opened_and_closed_leave_nothing)
{
	int fd;

	rx_buffers(QSIZE);
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t local = host_client(&fd, 5000 + i);

		guest_packet(hdr(VIRTIO_VSOCK_OP_RST, 5000 + i, local, 0), NULL, 0);
		close(fd);
		settle();
	}
	cr_assert_eq(vs.nr_conns, 0);
	cr_assert_eq(vs.stats.conns_opened, 100);
	cr_assert_eq(vs.stats.conns_closed, 100);
}

#define EVQ    2
#define EV_BUF (FAKE_DRV_BUF + 0x40000)

/* Rx buffers and two event buffers, then the device saved and restored
 * (which sends the transport reset on the first event buffer). */
static void save_and_restore(void)
{
	struct state_writer w;
	struct state_reader r;
	struct ember_err err = { 0 };

	rx_buffers(8);
	for (uint16_t i = 0; i < 2; i++) {
		fake_drv_desc(&drv, EVQ, i, EV_BUF + 16ULL * i, sizeof(struct virtio_vsock_event),
			      VRING_DESC_F_WRITE, 0);
		fake_drv_publish(&drv, EVQ, i);
	}
	state_writer_init(&w);
	virtio_mmio_bus_ops.save(&vs.transport, &w);
	state_reader_init(&r, w.buf, w.len);
	cr_assert_eq(virtio_mmio_bus_ops.restore(&vs.transport, &r, &err), 0, "%s", err.msg);
	state_writer_free(&w);
}

/* After a restore: the transport reset goes out at once, and nothing else
 * reaches the guest until its driver has taken the reset (it refills the
 * event queue and, asked through avail_event, notifies); a new connection
 * must not be torn down by a reset read after it. */
Test(vsock_dev, after_a_restore_packets_wait_until_the_driver_takes_the_reset)
{
	struct virtio_vsock_event ev;
	struct virtio_vsock_hdr h;
	int fd;

	save_and_restore();
	cr_assert_eq(fake_drv_used_idx(&drv, EVQ), 1, "the reset event is sent at restore");
	memcpy(&ev, ram + EV_BUF, sizeof(ev));
	cr_assert_eq(ev.id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);

	fd = uds_connect(uds);
	cr_assert_eq(write(fd, "CONNECT 5000\n", 13), 13);
	settle();
	cr_assert_not(rx_next(&h, NULL, 0), "no request before the driver has taken the reset");
	fake_drv_desc(&drv, EVQ, 0, EV_BUF, sizeof(ev), VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, EVQ, 0); /* the driver's refill, then its notify */
	virtio_mmio_kick(&vs.transport, EVQ);
	settle();
	cr_assert(rx_next(&h, NULL, 0), "the request goes out after the refill");
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	close(fd);
}

/* The refill is what counts, seen in the avail ring even when its notify
 * is not (yet) here; and no clock ends the wait: a guest slowed by load or
 * by its page faults may take seconds over the reset. */
Test(vsock_dev, after_a_restore_a_refill_without_notify_releases_the_packets)
{
	struct virtio_vsock_event ev;
	struct virtio_vsock_hdr h;
	int fd, fd2;

	save_and_restore();
	cr_assert_eq(fake_drv_used_idx(&drv, EVQ), 1);

	fd = uds_connect(uds);
	cr_assert_eq(write(fd, "CONNECT 5000\n", 13), 13);
	settle();
	cr_assert_not(rx_next(&h, NULL, 0), "held while the reset is not taken");
	/* the second, still available, event buffer is not a refill */
	fd2 = uds_connect(uds);
	cr_assert_eq(write(fd2, "CONNECT 5001\n", 13), 13);
	settle();
	cr_assert_not(rx_next(&h, NULL, 0), "an old event buffer does not end the wait");
	close(fd2);
	settle();
	fake_drv_desc(&drv, EVQ, 0, EV_BUF, sizeof(ev), VRING_DESC_F_WRITE, 0);
	fake_drv_publish(&drv, EVQ, 0); /* refilled, no notify */
	fd2 = uds_connect(uds);
	cr_assert_eq(write(fd2, "CONNECT 5002\n", 13), 13);
	settle();
	cr_assert(rx_next(&h, NULL, 0), "the held request goes out on the next device event");
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(h.dst_port, 5000);
	close(fd);
	close(fd2);
}

/* A packet the guest made available before the snapshot, whose notify the
 * old process never handled: the restore takes it, as if kicked. (With
 * EVENT_IDX the driver, already past avail_event, would not kick again and
 * every later packet would wait for ever.) */
Test(vsock_dev, a_packet_left_in_the_tx_ring_at_the_snapshot_is_taken_at_restore)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, G_PORT, 9999, 0);

	memcpy(ram + TX_BUF, &h, HDR);
	fake_drv_desc(&drv, TXQ, 0, TX_BUF, HDR, 0, 0);
	fake_drv_publish(&drv, TXQ, 0); /* no kick */
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 0);
	save_and_restore();
	cr_assert_eq(fake_drv_used_idx(&drv, TXQ), 1, "the device took the packet at restore");
	cr_assert_eq(fake_drv_used_idx(&drv, EVQ), 1, "and sent the reset");
}
