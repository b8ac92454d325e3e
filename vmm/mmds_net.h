/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MMDS on the guest's network (Firecracker's mmds/ns.rs): the frames a
 * guest sends to the MMDS address through a named interface reach this
 * stack instead of the TAP; it answers ARP, IPv4, TCP and HTTP, and its
 * frames go back to that interface ahead of the TAP's. The TCP/IP stack is
 * lwIP (Debian's liblwip), through its raw API on the VMM thread; HTTP is
 * vmm/http.c; the answers are mmds_guest_serve's (mmds_guest.c).
 *
 * lwIP keeps its state in process globals, so one stack exists at a time:
 * one per ember process, which runs one VM. lwIP's types stay in
 * mmds_net.c: callers see the opaque stack and interface.
 */
#ifndef EMBER_MMDS_NET_H
#define EMBER_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mmds.h"

#define MMDS_NET_MAX_IFS       8
#define MMDS_NET_MAX_CONNS     30 /* per interface, as Firecracker; SYN_RCVD ones too */
#define MMDS_NET_MAX_TIME_WAIT 64 /* per interface; the oldest goes first */
#define MMDS_NET_IDLE_S        60 /* an idle connection is closed after this */
#define MMDS_NET_BODY_MAX      4096
#define MMDS_NET_MAC                               \
	{                                          \
		0x06, 0x01, 0x23, 0x45, 0x67, 0x01 \
	} /* Firecracker's */
#define MMDS_NET_PORT 80

/* Firecracker's mmds metrics that the network side counts. */
struct mmds_net_stats {
	uint64_t rx_accepted;         /* frames taken off the TAP path */
	uint64_t rx_accepted_err;     /* requests that could not be answered */
	uint64_t rx_accepted_unusual; /* refused: a limit, an impossible source or sequence */
	uint64_t rx_bad_eth;          /* frames too short for what they claim */
	uint64_t rx_count;            /* HTTP requests received */
	uint64_t tx_bytes, tx_count;  /* bytes and HTTP responses sent */
	uint64_t tx_errors;           /* frames the interface could not take */
	uint64_t tx_frames;
	uint64_t connections_created, connections_destroyed;
};

struct mmds_net;
struct mmds_net_if;

/* Hands a frame (from its Ethernet header) to the guest: 0 or -errno. */
typedef int (*mmds_net_output_fn)(void *dev, const uint8_t *frame, size_t len);

/* The stack at ipv4 (host byte order) over store; -EBUSY while another exists. */
int mmds_net_new(struct mmds_net **out, const struct mmds_store *store, uint32_t ipv4, bool v2,
		 bool imds_compat, struct ember_err *err);
void mmds_net_free(struct mmds_net *m);
/* Serve one more interface, whose frames for the guest go to output(dev). */
struct mmds_net_if *mmds_net_attach(struct mmds_net *m, void *dev, mmds_net_output_fn output,
				    struct ember_err *err);
/* Whether the guest's frame is for MMDS: ARP for its address or IPv4 to it.
 * head: the frame's first len bytes (42 are enough). */
bool mmds_net_claims(const struct mmds_net_if *nif, const uint8_t *head, size_t len);
/* A frame mmds_net_claims took, whole, its checksums complete. */
void mmds_net_input(struct mmds_net_if *nif, const uint8_t *frame, size_t len);
/* lwIP's timers: a timerfd the VMM polls, armed while TCP needs it. */
int mmds_net_timer_fd(const struct mmds_net *m);
void mmds_net_timer(struct mmds_net *m);
const struct mmds_net_stats *mmds_net_stats(const struct mmds_net *m);
const struct mmds_guest_stats *mmds_net_guest_stats(const struct mmds_net *m);

#endif
