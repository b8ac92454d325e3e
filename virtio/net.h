/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net (virtio 1.2 §5.1) on a host TAP device with a vnet header. */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "guest_mem.h"
#include "mmio.h"
#include "queue.h"
#include "ratelimit.h"

#define VIRTIO_NET_HDR_LEN sizeof(struct virtio_net_hdr_v1)
/* Largest frame a TAP hands over with TSO: 64 KiB of payload plus headers. */
#define VIRTIO_NET_FRAME_MAX (VIRTIO_NET_HDR_LEN + 65550)

struct virtio_net_params {
	const char *iface_id;
	const char *tap_name;
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu; /* 0: VIRTIO_NET_F_MTU not offered */
	struct token_bucket rx_bandwidth, rx_ops;
	struct token_bucket tx_bandwidth, tx_ops;
};

/* A service of ember's own on the guest's link (MMDS): the guest's frames
 * it claims go to it instead of the TAP, their checksums completed (the
 * guest may leave them to the device); its frames reach the guest through
 * virtio_net_inject, ahead of the TAP's. */
struct virtio_net_detour {
	void *ctx; /* NULL: none */
	/* head: the frame's first len bytes, from its Ethernet header */
	bool (*claims)(void *ctx, const uint8_t *head, size_t len);
	void (*input)(void *ctx, const uint8_t *frame, size_t len);
};

#define VIRTIO_NET_INJECT_MAX   64   /* frames waiting for the guest's buffers */
#define VIRTIO_NET_INJECT_FRAME 1600 /* bytes of one, vnet header included */

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped;
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t invalid; /* chains refused because of what the guest wrote */
	uint64_t rx_throttled, tx_throttled;
};

struct virtio_net {
	struct virtio_mmio transport;
	const struct guest_mem *mem;
	char iface_id[65];
	char tap_name[16];
	int tap_fd;
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu;
	bool mrg_rxbuf;    /* negotiated VIRTIO_NET_F_MRG_RXBUF */
	unsigned offloads; /* TUN_F_* set on the TAP */
	struct ratelimit rx_rl, tx_rl;
	struct virtio_net_stats stats;
	struct virtio_net_detour detour;
	uint8_t *detour_frame; /* the claimed frame, out of guest memory */
	uint8_t (*inject)[VIRTIO_NET_INJECT_FRAME];
	uint16_t inject_len[VIRTIO_NET_INJECT_MAX];
	unsigned inject_head, inject_count;
	bool in_tx; /* the VMM thread is in tx_process, the transport locked */
	/* A frame read from the TAP that waits for guest buffers. */
	bool rx_pending;
	size_t rx_len;
	uint8_t *rx_frame;
	/* rx chains taken for the frame in hand */
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE];
	struct virtq_chain chain;
};

extern const struct virtio_dev_ops virtio_net_ops;

/* Attach to the existing TAP `tap_name` and set up the device. */
int virtio_net_open(struct virtio_net *n, const struct virtio_net_params *p,
		    const struct guest_mem *mem, uint64_t base, uint32_t irq,
		    struct ember_err *err);
/* The same on a TAP fd already set up with IFF_VNET_HDR and a 12-byte
 * header and no offloads (passed in by a jailer, or a socket in tests).
 * The device owns the fd from here, even on failure. */
int virtio_net_open_fd(struct virtio_net *n, const struct virtio_net_params *p, int tap_fd,
		       const struct guest_mem *mem, uint64_t base, uint32_t irq,
		       struct ember_err *err);
/* Whether the TAP `name` exists and can be attached now (then let go):
 * 0, -ENODEV when missing, -EBUSY when another holds it, -errno. */
int virtio_net_probe_tap(const char *name);
void virtio_net_close(struct virtio_net *n);
/* Claimed frames go to d from now on (VMM thread, before the guest runs). */
int virtio_net_set_detour(struct virtio_net *n, const struct virtio_net_detour *d,
			  struct ember_err *err);
/* A frame (from its Ethernet header) for the guest, from the detour (VMM
 * thread): 0, -EMSGSIZE, -ENOBUFS when VIRTIO_NET_INJECT_MAX wait. */
int virtio_net_inject(struct virtio_net *n, const uint8_t *frame, size_t len);
/* The TAP is readable (VMM thread; the TAP is polled edge-triggered). */
void virtio_net_tap_readable(struct virtio_net *n);
/* A rate limiter's timer fired (VMM thread). */
void virtio_net_rx_timer(struct virtio_net *n);
void virtio_net_tx_timer(struct virtio_net *n);

#endif
