/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane: one ember process's microVM as the API sees it. The
 * configuration before InstanceStart, the VM after it, its state (Not
 * started, Running, Paused), logging and metrics, and the requests served
 * through vmm/resources/. It sits above the machine (vm.h) and below the
 * API's transport (api/): requests reach it through a source the caller
 * hooks in (instance_set_api), never through api/ headers.
 */
#ifndef EMBER_INSTANCE_H
#define EMBER_INSTANCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "mmds.h"
#include "resource.h"
#include "prefault.h"
#include "resume_probe.h"
#include "vm.h"

#define INSTANCE_DEFAULT_ID "anonymous-instance"
#define INSTANCE_ID_MAX     65 /* ids of at most 64 characters */
/* The Firecracker API whose paths and schemas ember serves. */
#define INSTANCE_API_VERSION "1.17.0"

enum instance_state { INSTANCE_NOT_STARTED, INSTANCE_RUNNING, INSTANCE_PAUSED };

/* The process's logger and metrics sink: set once, never in a snapshot. */
struct instance_logger {
	bool set;
	char *log_path;
	struct log_options opts;
};

struct instance_metrics_cfg {
	bool set;
	char *metrics_path;
	bool emit_id;
	char *properties; /* JSON object text of string values, or NULL */
};

/* Where API requests come from: an fd to watch, and what serves it. */
struct instance_api {
	int fd; /* -1: no API */
	void (*serve)(void *ctx);
	void *ctx;
};

/* What ember does beyond Firecracker, which a Firecracker client could
 * notice: off unless asked for (--ember-extensions). */
struct instance_ext {
	bool enabled;
};

struct instance {
	char id[INSTANCE_ID_MAX];
	const char *version;
	struct vm_config cfg;
	struct instance_logger logger;
	struct instance_metrics_cfg metrics_cfg;
	struct vm_options opts;
	struct instance_ext ext;
	struct vm *vm; /* from InstanceStart (or a load) on */
	/* The VM made ahead on a thread of its own as ember starts waiting for
	 * requests (opts.spare points here; vm_create takes it). */
	struct kvm spare;
	bool spare_tried, spare_started;
	pthread_t spare_thread;
	struct mmds_store mmds;
	enum instance_state state;
	bool boot_path; /* something was configured to boot: no snapshot load */
	/* A request failed in a way Firecracker does not recover from (a
	 * snapshot load): the process ends with this status once answered. */
	int fatal_status;
	struct instance_api api;
	struct metrics metrics;
	int metrics_timer_fd;
	/* The Uffd memory backend: the handler's socket path (a load sets it),
	 * the connection and the userfaultfd; -1 without. */
	char *uffd_path;
	int uffd_sock, uffd_fd;
	/* Requests and failures per resource (res_table order) and verb. */
	uint64_t *api_count, *api_fails;
	uint64_t deprecated_calls;
	uint64_t startup_us, startup_cpu_us; /* exec to API socket ready */
	uint64_t pause_us, resume_us;        /* the last pause's and resume's latency */
	uint64_t start_us;                   /* InstanceStart's latency */
	uint64_t create_snapshot_us, load_snapshot_us;
	/* a load's steps beside the VM's creation (vm->create_us) */
	uint64_t load_read_us, load_config_us, load_state_us;
	/* A restored VM's first RESUME_PROBE_MS (--ember-extensions). */
	struct resume_probe probe;
	/* The load's working set faulted in (--ember-extensions). */
	struct vm_prefault prefault;
	uint64_t load_prefault_us;
};

int instance_init(struct instance *in, const char *id, const char *version,
		  const struct vm_options *opts);
void instance_set_api(struct instance *in, int fd, void (*serve)(void *ctx), void *ctx);
/* Open the metrics sink; once per process, as in Firecracker. */
int instance_set_metrics(struct instance *in, const struct instance_metrics_cfg *m,
			 struct ember_err *err);
/* Apply a logger configuration (log_path, level, show_*). */
int instance_apply_logger(struct instance *in, const struct instance_logger *l,
			  struct ember_err *err);
/* InstanceStart: build the VM from the configuration, kernel loaded. */
int instance_start(struct instance *in, struct ember_err *err);
/* PUT /snapshot/load: a VM built from in->cfg (already the snapshot's) and
 * the states in snap; paused unless resume. ws_path (or NULL): a working-set
 * file whose pages are faulted in before the VM runs (vm_prefault). */
struct snapshot_file;
int instance_restore(struct instance *in, struct snapshot_file *snap, bool resume,
		     bool clock_realtime, const char *ws_path, struct ember_err *err);
/* Before InstanceStart: serve API requests until one starts the VM (0), a
 * signal in signal_fd arrives (its number, > 0) or a request was fatal
 * (-ECANCELED, in->fatal_status set). */
int instance_preboot(struct instance *in, int signal_fd, struct ember_err *err);
/* One metrics line now (FlushMetrics, the 60 s timer, exit). */
int instance_flush_metrics(struct instance *in, struct ember_err *err);
void instance_free(struct instance *in);

/* instance_metrics.c: counters (reported as deltas) and stored values. */
json_t *instance_metric_counters(const struct instance *in);
json_t *instance_metric_stores(const struct instance *in);

#endif
