/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metrics in Firecracker's format: one JSON object per line, written to a
 * file or named pipe. Counters are reported as deltas since the previous
 * line; "store" values (startup time, latencies) as they are.
 */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define METRICS_PERIOD_S 60

struct metrics {
	int fd;        /* -1: no sink configured */
	json_t *prev;  /* counters as of the last line */
	uint64_t lost; /* lines that could not be written (a full pipe) */
	uint64_t lines;
};

void metrics_init(struct metrics *m);
/* Open the sink (O_NONBLOCK, appending; a FIFO must have a reader). */
int metrics_open(struct metrics *m, const char *path, struct ember_err *err);
bool metrics_enabled(const struct metrics *m);
/* counters minus the previous counters, recursively over objects; keys
 * missing from prev count from zero. A new reference. */
json_t *metrics_delta(json_t *counters, json_t *prev);
/* Write one line: utc_timestamp_ms, then `head` (id, properties: may be
 * NULL), then the counters' deltas merged with `stores`. Takes ownership of
 * counters and stores. -EAGAIN (counted as lost) when a pipe is full. */
int metrics_write(struct metrics *m, json_t *head, json_t *counters, json_t *stores,
		  struct ember_err *err);
void metrics_close(struct metrics *m);

#endif
