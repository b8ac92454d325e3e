/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-balloon (virtio 1.2 §5.5), configured by PUT /balloon as in
 * Firecracker: the host sets a target (num_pages), the driver inflates
 * towards it by handing pages over on the inflate queue, and ember gives
 * those pages back to the host (madvise(MADV_DONTNEED)); deflated pages
 * need nothing (the guest touches them again). Optional queues, numbered
 * in this order only when present: statistics (the driver's buffer is held
 * and returned every stats_polling_interval_s to be refilled), free page
 * hinting (during a run the host starts, the driver hands over the free
 * pages it holds, tagged with the run's command id, and ember gives them
 * back; the driver frees them when the host says DONE) and free page
 * reporting (free ranges the guest reports are given back as inflated ones).
 */
#ifndef EMBER_VIRTIO_BALLOON_H
#define EMBER_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "mmio.h"
#include "queue.h"

#define VIRTIO_BALLOON_QUEUE_SIZE 256
#define VIRTIO_BALLOON_CONFIG_LEN 12  /* num_pages, actual, free_page_hint_cmd_id */
#define VIRTIO_BALLOON_NR_STATS   16  /* the tags Firecracker names (Linux 6.12's) */
#define VIRTIO_BALLOON_STATS_MAX  256 /* tags read from one buffer at most */
#define VIRTIO_BALLOON_PAGE_SHIFT 12
#define VIRTIO_BALLOON_PAGES_MIB  256 /* 4 KiB pages per MiB */

struct virtio_balloon_params {
	uint32_t num_pages; /* target, in 4 KiB pages */
	bool deflate_on_oom;
	uint16_t stats_interval_s; /* 0: no statistics queue */
	bool free_page_hinting;
	bool free_page_reporting;
};

/* Free page hinting's command ids (virtio 1.2 §5.5.6.7): a run is any id
 * from 2 up; STOP (0) when the driver ends one, DONE (1) from the host to
 * have the driver take its hinted pages back. */
#define VIRTIO_BALLOON_HINT_STOP  0u
#define VIRTIO_BALLOON_HINT_DONE  1u
#define VIRTIO_BALLOON_HINT_FIRST 2u

/* A hinting run, as Firecracker keeps it. */
struct virtio_balloon_hinting {
	uint32_t host_cmd;    /* the id in config space */
	uint32_t last_cmd_id; /* the last run's id */
	uint32_t guest_cmd;   /* the last id the driver sent ... */
	bool guest_cmd_seen;  /* ... if it sent one */
	bool ack_on_stop;     /* DONE as soon as the driver says STOP */
};

/* Firecracker's balloon metrics. */
struct virtio_balloon_metrics {
	uint64_t activate_fails;
	uint64_t inflate_count;
	uint64_t stats_updates_count;
	uint64_t stats_update_fails;
	uint64_t deflate_count;
	uint64_t event_fails;
	uint64_t free_page_report_count;
	uint64_t free_page_report_freed;
	uint64_t free_page_report_fails;
	uint64_t free_page_hint_count;
	uint64_t free_page_hint_freed;
	uint64_t free_page_hint_fails;
};

/* The latest statistics the guest gave: values of the tags in `seen`. */
struct virtio_balloon_stats {
	uint32_t seen; /* bit n: tag n was reported */
	uint64_t val[VIRTIO_BALLOON_NR_STATS];
};

struct virtio_balloon {
	struct virtio_mmio transport;
	struct virtio_dev_ops ops; /* the queue count depends on the features */
	const struct guest_mem *mem;
	struct virtio_balloon_params p;
	uint32_t actual_pages; /* the driver's `actual` */
	int stats_q;           /* queue index, -1 when absent */
	int hint_q;
	int report_q;
	struct virtio_balloon_hinting hint;
	bool stats_held; /* the driver's stats buffer, waiting to be returned */
	uint16_t stats_head;
	struct virtio_balloon_stats stats;
	int timer_fd; /* statistics polling; -1 without statistics */
	struct virtio_balloon_metrics metrics;
	struct virtq_chain chain;
};

/* Firecracker's names of the statistics tags, by tag; NULL past the last. */
extern const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_NR_STATS];

int virtio_balloon_open(struct virtio_balloon *b, const struct virtio_balloon_params *p,
			const struct guest_mem *mem, uint64_t base, uint32_t irq,
			struct ember_err *err);
void virtio_balloon_close(struct virtio_balloon *b);
/* A new target (PATCH /balloon): config space and a config interrupt. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t num_pages);
/* A new statistics interval (not to or from 0), taking effect at once. */
int virtio_balloon_set_interval(struct virtio_balloon *b, uint16_t interval_s,
				struct ember_err *err);
/* Free page hinting (-EINVAL: not enabled; -EAGAIN: the driver has not
 * started the device). Start: a new run's id in config space; stop: DONE.
 * Status: the run's state. */
int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop, struct ember_err *err);
int virtio_balloon_hint_stop(struct virtio_balloon *b, struct ember_err *err);
int virtio_balloon_hint_status(struct virtio_balloon *b, struct virtio_balloon_hinting *st,
			       struct ember_err *err);
/* The polling timer fired (VMM thread): return the stats buffer. */
void virtio_balloon_stats_timer(struct virtio_balloon *b);
/* A consistent copy of the target, actual and statistics. */
void virtio_balloon_read(struct virtio_balloon *b, uint32_t *target, uint32_t *actual,
			 struct virtio_balloon_stats *stats);

#endif
