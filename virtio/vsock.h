/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.2 §5.10) with Firecracker's Unix-socket host side:
 * a host client connects to uds_path and writes "CONNECT <port>\n"; a guest
 * connection to CID 2 port P goes to the Unix socket "<uds_path>_<P>".
 * Connections and the listener live in the device's own epoll set, which
 * the VMM's event loop watches as one fd.
 */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"
#include "mmio.h"
#include "queue.h"

#define VSOCK_HOST_CID      2
#define VSOCK_MAX_CONNS     1023
#define VSOCK_BUF_ALLOC     (64 * 1024) /* per connection, guest to host */
#define VSOCK_HASH          2048
#define VSOCK_RST_QUEUE     128
#define VSOCK_TIMEOUT_MS    2000 /* connection request and shutdown */
#define VSOCK_PATH_MAX      108  /* sun_path */
#define VSOCK_HANDSHAKE_MAX 32

struct vsock_conn;

struct vsock_rst {
	uint32_t src_port; /* ours */
	uint32_t dst_port; /* the guest's */
};

struct virtio_vsock_stats {
	uint64_t conns_opened, conns_closed;
	uint64_t rx_bytes, tx_bytes; /* to and from the guest */
	uint64_t invalid;            /* packets refused because of what the guest sent */
	uint64_t refused;            /* host connections dropped at the limit or handshake */
};

struct virtio_vsock {
	struct virtio_mmio transport;
	const struct guest_mem *mem;
	uint64_t guest_cid;
	char uds_path[VSOCK_PATH_MAX];
	int listen_fd;
	bool bound;   /* uds_path is our socket: removed on close */
	int epfd;     /* the listener and every connection */
	int timer_fd; /* ticks while a connection has a deadline */
	bool timer_armed;
	uint32_t next_local_port; /* round robin in [2^30, 2^31) */
	unsigned nr_conns;
	struct vsock_conn *hash[VSOCK_HASH];
	struct vsock_conn *all;  /* every open connection */
	struct vsock_conn *dead; /* closed, freed at the end of the current event */
	/* connections with something for the guest, in order */
	struct vsock_conn *work_head, *work_tail;
	/* RSTs for packets that match no connection */
	struct vsock_rst rsts[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_len;
	bool reset_event; /* send TRANSPORT_RESET on the event queue */
	/* After that event: no packet goes to the guest until its driver has
	 * handled it, which it shows by making a new event buffer available
	 * (and kicking). A reset read after a new connection would tear that
	 * down. No clock: a guest slowed by load or by its page faults takes
	 * as long as it takes. */
	bool reset_wait;
	uint16_t reset_evq_avail; /* the event queue's avail idx when we sent it */
	struct virtio_vsock_stats stats;
	struct virtq_chain chain;
};

extern const struct virtio_dev_ops virtio_vsock_ops;

/* Bind and listen on uds_path (which must not exist) and set up the device. */
int virtio_vsock_open(struct virtio_vsock *v, uint64_t guest_cid, const char *uds_path,
		      const struct guest_mem *mem, uint64_t base, uint32_t irq,
		      struct ember_err *err);
/* Close every connection and the listener, and remove uds_path. */
void virtio_vsock_close(struct virtio_vsock *v);
/* Something happened on the device's epoll set (VMM thread). */
void virtio_vsock_poll(struct virtio_vsock *v);
/* The deadline timer ticked (VMM thread). */
void virtio_vsock_timer(struct virtio_vsock *v);

#endif
