// SPDX-License-Identifier: Apache-2.0
/* The instance's life: pre-boot configuration, InstanceStart, run, metrics. */
#include "instance.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "boottimer.h"
#include "log.h"
#include "pager.h"
#include "prefault.h"
#include "seccomp_filter.h"
#include "snapshot.h"

int instance_init(struct instance *in, const char *id, const char *version,
		  const struct vm_options *opts)
{
	memset(in, 0, sizeof(*in));
	snprintf(in->id, sizeof(in->id), "%s", id ? id : INSTANCE_DEFAULT_ID);
	in->version = version;
	config_init(&in->cfg);
	in->logger.opts.level = LOG_INFO;
	in->opts = *opts;
	metrics_init(&in->metrics);
	mmds_store_init(&in->mmds, MMDS_DEFAULT_LIMIT);
	in->opts.mmds = &in->mmds;
	in->spare.sys_fd = in->spare.vm_fd = -1;
	in->opts.spare = &in->spare;
	in->metrics_timer_fd = -1;
	in->probe.timer_fd = -1;
	in->uffd_sock = in->uffd_fd = -1;
	in->api.fd = -1;
	in->api_count = calloc(res_count * RES_NR_VERBS, sizeof(uint64_t));
	in->api_fails = calloc(res_count * RES_NR_VERBS, sizeof(uint64_t));
	return in->api_count && in->api_fails ? 0 : -ENOMEM;
}

void instance_set_api(struct instance *in, int fd, void (*serve)(void *ctx), void *ctx)
{
	in->api = (struct instance_api){ fd, serve, ctx };
}

int instance_set_metrics(struct instance *in, const struct instance_metrics_cfg *m,
			 struct ember_err *err)
{
	if (metrics_enabled(&in->metrics))
		return err_set(err, EALREADY, "Reinitialization of metrics not allowed.");
	if (metrics_open(&in->metrics, m->metrics_path, err) < 0)
		return -err->code;
	seccomp_handler_metrics_fd(in->metrics.fd);
	return 0;
}

int instance_apply_logger(struct instance *in, const struct instance_logger *l,
			  struct ember_err *err)
{
	if (l->log_path && log_set_path(l->log_path, err) < 0)
		return -err->code;
	log_configure(in->id, &l->opts);
	return 0;
}

static int open_serial_out(struct instance *in, struct ember_err *err)
{
	const char *path = in->cfg.serial.out_path;

	if (!path)
		return 0; /* the caller's choice in opts (stdout) */
	in->opts.serial_out_fd =
	    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
	if (in->opts.serial_out_fd < 0)
		return err_errno(err, "cannot open serial output %s", path);
	return 0;
}

static void on_metrics_timer(void *ctx, int fd, uint32_t events)
{
	struct instance *in = ctx;
	struct ember_err err = { 0 };
	uint64_t v;

	(void)events;
	/* Without a sink there is nothing to flush (Firecracker says nothing
	 * either); a warning a minute would fill a long-lived VM's log. */
	if (read(fd, &v, sizeof(v)) == sizeof(v) && metrics_enabled(&in->metrics) &&
	    instance_flush_metrics(in, &err) < 0)
		log_warn("periodic metrics: %s", err.msg);
}

static int add_metrics_timer(struct instance *in, struct ember_err *err)
{
	struct itimerspec its = { .it_value = { METRICS_PERIOD_S, 0 },
				  .it_interval = { METRICS_PERIOD_S, 0 } };

	in->metrics_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (in->metrics_timer_fd < 0)
		return err_errno(err, "timerfd for metrics");
	if (timerfd_settime(in->metrics_timer_fd, 0, &its, NULL) < 0)
		return err_errno(err, "timerfd_settime for metrics");
	return evloop_add(&in->vm->loop, in->metrics_timer_fd, EPOLLIN, on_metrics_timer, in, err);
}

static void on_api(void *ctx, int fd, uint32_t events)
{
	struct instance *in = ctx;

	(void)fd;
	(void)events;
	in->api.serve(in->api.ctx);
	if (in->fatal_status)
		vm_request_exit(in->vm, VM_EXIT_ERROR, in->fatal_status, "a request was fatal");
}

static void on_uffd_gone(void *ctx, int fd, uint32_t events)
{
	struct instance *in = ctx;
	char c;

	(void)events;
	if (read(fd, &c, 1) > 0)
		return; /* the protocol has nothing more to say: ignored */
	vm_request_exit(in->vm, VM_EXIT_ERROR, 1,
			"the page-fault handler at %s went away: guest memory cannot be served",
			in->uffd_path);
}

/* The VM made on a thread of its own while the API comes up and the first
 * requests are read, so that InstanceStart or a snapshot load does not wait
 * for it (a spare ember spawned ahead has it long before). A failure here
 * is only logged: vm_create tries again and reports it. */
static void *make_spare(void *arg)
{
	struct instance *in = arg;
	struct ember_err err = { 0 };

	if (vm_spare_make(&in->spare, in->opts.kvm_path, &err) < 0)
		log_debug("no VM made ahead: %s", err.msg);
	return NULL;
}

static void start_spare(struct instance *in)
{
	in->spare_started = !pthread_create(&in->spare_thread, NULL, make_spare, in);
}

/* The spare, made or failed, before anything else uses /dev/kvm. */
static void wait_spare(struct instance *in)
{
	if (in->spare_started)
		pthread_join(in->spare_thread, NULL);
	in->spare_started = false;
}

/* Before anything reads guest memory: every page comes from the handler. */
static int attach_uffd(struct instance *in, struct ember_err *err)
{
	int ret =
	    snapshot_uffd_connect(&in->vm->mem, in->uffd_path, &in->uffd_sock, &in->uffd_fd, err);

	if (!ret)
		ret = evloop_add(&in->vm->loop, in->uffd_sock, EPOLLIN | EPOLLRDHUP, on_uffd_gone,
				 in, err);
	return ret;
}

/* A VM that could not be finished goes, with what watches it. */
static void drop_vm(struct instance *in)
{
	resume_probe_free(&in->probe);
	vm_destroy(in->vm);
	free(in->vm);
	in->vm = NULL;
}

/* Booted: the kernel loaded. Restored (snap): every state from the snapshot. */
static int build_vm(struct instance *in, struct snapshot_file *snap, bool clock_realtime,
		    struct ember_err *err)
{
	int ret;

	wait_spare(in);
	in->vm = calloc(1, sizeof(*in->vm));
	if (!in->vm)
		return err_set(err, ENOMEM, "out of memory");
	ret = vm_create(in->vm, &in->cfg, &in->opts, err);
	if (!ret && snap && in->uffd_path)
		ret = attach_uffd(in, err);
	if (!ret && snap) {
		uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);

		ret = snapshot_restore(in->vm, snap, clock_realtime, err);
		in->load_state_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
		if (!ret && in->ext.enabled)
			ret = resume_probe_init(&in->probe, in->vm, err);
	} else if (!ret) {
		ret = vm_load_kernel(in->vm, err);
	}
	if (!ret)
		ret = add_metrics_timer(in, err);
	if (!ret && in->api.fd >= 0)
		ret = evloop_add(&in->vm->loop, in->api.fd, EPOLLIN, on_api, in, err);
	if (ret)
		drop_vm(in);
	return ret;
}

int instance_start(struct instance *in, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	int ret;

	if (in->state != INSTANCE_NOT_STARTED)
		return err_set(err, EALREADY,
			       "The requested operation is not supported after starting the "
			       "microVM.");
	if (!in->cfg.has_boot)
		return err_set(err, EINVAL,
			       "Start microvm error: Cannot start microvm without kernel "
			       "configuration.");
	ret = open_serial_out(in, err);
	if (!ret)
		ret = build_vm(in, NULL, false, err);
	if (ret)
		return err_prefix(err, "Start microvm error");
	in->state = INSTANCE_RUNNING;
	in->start_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	return 0;
}

/* The working set's pages faulted in (File backend), before the VM runs
 * and before the resume probe starts counting. */
static int prefault(struct instance *in, const char *ws_path, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	uint32_t *pages = NULL;
	size_t n = 0;
	int ret;

	ret = pager_ws_read(ws_path, in->vm->mem.size / 4096, &pages, &n, err);
	if (!ret)
		ret = vm_prefault(in->vm, pages, n, &in->prefault, err);
	free(pages);
	in->load_prefault_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	return ret;
}

int instance_restore(struct instance *in, struct snapshot_file *snap, bool resume,
		     bool clock_realtime, const char *ws_path, struct ember_err *err)
{
	int ret = open_serial_out(in, err);

	if (!ret)
		ret = build_vm(in, snap, clock_realtime, err);
	if (!ret && ws_path)
		ret = prefault(in, ws_path, err);
	if (ret && in->vm)
		drop_vm(in);
	if (ret)
		return ret;
	if (!resume)
		vm_start_paused(in->vm);
	else
		resume_probe_arm(&in->probe);
	in->state = resume ? INSTANCE_RUNNING : INSTANCE_PAUSED;
	return 0;
}

int instance_preboot(struct instance *in, int signal_fd, struct ember_err *err)
{
	struct pollfd p[2] = { { .fd = in->api.fd, .events = POLLIN },
			       { .fd = signal_fd, .events = POLLIN } };

	while (in->state == INSTANCE_NOT_STARTED) {
		struct signalfd_siginfo si;

		if (!in->spare_tried) {
			in->spare_tried = true;
			start_spare(in);
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(err, "poll");
		}
		if ((p[1].revents & POLLIN) && read(signal_fd, &si, sizeof(si)) == sizeof(si))
			return (int)si.ssi_signo;
		if (p[0].revents & POLLIN)
			in->api.serve(in->api.ctx);
		if (in->fatal_status)
			return err_set(err, ECANCELED, "a request was fatal: ember stops");
	}
	return 0;
}

int instance_flush_metrics(struct instance *in, struct ember_err *err)
{
	json_t *head = json_object();

	if (!metrics_enabled(&in->metrics)) {
		json_decref(head);
		return err_set(err, ENODEV, "no metrics sink is configured (PUT /metrics)");
	}
	if (in->metrics_cfg.emit_id)
		json_object_set_new(head, "id", json_string(in->id));
	if (in->metrics_cfg.properties)
		json_object_set_new(head, "properties",
				    json_loads(in->metrics_cfg.properties, 0, NULL));
	return metrics_write(&in->metrics, head, instance_metric_counters(in),
			     instance_metric_stores(in), err);
}

void instance_free(struct instance *in)
{
	resume_probe_free(&in->probe);
	wait_spare(in);
	kvm_close(&in->spare);
	if (in->vm) {
		vm_destroy(in->vm);
		free(in->vm);
		in->vm = NULL;
	}
	if (in->metrics_timer_fd >= 0)
		close(in->metrics_timer_fd);
	in->metrics_timer_fd = -1;
	mmds_store_free(&in->mmds);
	/* After the memory is gone: no fault can wait on the handler now. */
	if (in->uffd_sock >= 0)
		close(in->uffd_sock);
	if (in->uffd_fd >= 0)
		close(in->uffd_fd);
	in->uffd_sock = in->uffd_fd = -1;
	free(in->uffd_path);
	in->uffd_path = NULL;
	if (in->cfg.serial.out_path && in->opts.serial_out_fd >= 0)
		close(in->opts.serial_out_fd);
	seccomp_handler_metrics_fd(-1);
	metrics_close(&in->metrics);
	config_free(&in->cfg);
	free(in->logger.log_path);
	free(in->metrics_cfg.metrics_path);
	free(in->metrics_cfg.properties);
	free(in->api_count);
	free(in->api_fails);
	in->api_count = in->api_fails = NULL;
}
