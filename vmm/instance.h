/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One ember process's microVM as the API sees it: the configuration before
 * InstanceStart, the VM after it, its state (Not started, Running, Paused),
 * metrics and the API requests it serves. Everything here runs on the VMM
 * thread; the API thread reaches it only through the mailbox.
 */
#ifndef EMBER_INSTANCE_H
#define EMBER_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "mailbox.h"
#include "metrics.h"
#include "routes.h"
#include "vm.h"

#define INSTANCE_DEFAULT_ID "anonymous-instance"
#define INSTANCE_API_VERSION \
	"1.17.0" /* the Firecracker API version whose paths and schemas ember \
		    serves */

enum instance_state { INSTANCE_NOT_STARTED, INSTANCE_RUNNING, INSTANCE_PAUSED };

struct instance {
	char id[API_ID_MAX];
	const char *version;
	struct vm_config cfg;
	struct vm_options opts;
	struct vm *vm; /* from InstanceStart on */
	enum instance_state state;
	struct api_mailbox *mailbox; /* NULL without the API */
	struct metrics metrics;
	int metrics_timer_fd;
	/* The Uffd memory backend: the handler's socket path (a load sets it),
	 * the connection and the userfaultfd; -1 without. */
	char *uffd_path;
	int uffd_sock, uffd_fd;
	uint64_t api_count[API_NR_OPS], api_fails[API_NR_OPS];
	uint64_t startup_us, startup_cpu_us; /* exec to API socket ready */
	uint64_t pause_us, resume_us;        /* the last pause's and resume's latency */
	uint64_t start_us;                   /* InstanceStart's latency */
	uint64_t create_snapshot_us, load_snapshot_us;
};

void instance_init(struct instance *in, const char *id, const char *version,
		   const struct vm_options *opts);
/* Open the metrics sink; once per process, as in Firecracker. */
int instance_set_metrics(struct instance *in, const struct config_metrics *m,
			 struct ember_err *err);
/* Apply the config's logger section (log_path, level, show_*). */
int instance_apply_logger(struct instance *in, const struct config_logger *l,
			  struct ember_err *err);
/* InstanceStart: validate the config and build the VM, kernel loaded. */
int instance_start(struct instance *in, struct ember_err *err);
/* PUT /snapshot/load: a VM built from the configuration in cfg (already
 * the snapshot's) and the states in snap; paused unless resume. */
struct snapshot_file;
int instance_restore(struct instance *in, struct snapshot_file *snap, bool resume,
		     struct ember_err *err);
/* instance_snapshot.c: PUT /snapshot/create and /snapshot/load bodies. */
int instance_snapshot_create(struct instance *in, const char *body, struct ember_err *err);
int instance_snapshot_load(struct instance *in, const char *body, struct ember_err *err);
/* Before InstanceStart: serve API requests until one starts the VM (0) or
 * a signal in signal_fd arrives (its number, > 0). */
int instance_preboot(struct instance *in, int signal_fd, struct ember_err *err);
/* One metrics line now (FlushMetrics, the 60 s timer, exit). */
int instance_flush_metrics(struct instance *in, struct ember_err *err);
void instance_free(struct instance *in);

/* instance_api.c: the api_handler (ctx = the instance), on the VMM thread. */
void instance_api(void *ctx, const struct http_request *req, struct api_reply *reply);
/* instance_metrics.c: counters (reported as deltas) and stored values. */
json_t *instance_metric_counters(const struct instance *in);
json_t *instance_metric_stores(const struct instance *in);

#endif
