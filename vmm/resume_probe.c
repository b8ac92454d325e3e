// SPDX-License-Identifier: Apache-2.0
/* What a restored guest does in its first RESUME_PROBE_MS (see resume_probe.h). */
#include "resume_probe.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

/* Every vCPU's counters, summed, and the host's faults on ember's side. */
static void sample(const struct resume_probe *p, uint64_t out[KVM_STAT_NR], uint64_t *minflt,
		   uint64_t *majflt)
{
	struct rusage ru = { 0 };

	memset(out, 0, sizeof(uint64_t) * KVM_STAT_NR);
	for (unsigned i = 0; i < p->nr_vcpus; i++) {
		uint64_t v[KVM_STAT_NR];

		kvm_stats_read(&p->vcpu[i], v);
		for (int k = 0; k < KVM_STAT_NR; k++)
			out[k] += v[k];
	}
	getrusage(RUSAGE_SELF, &ru);
	*minflt = (uint64_t)ru.ru_minflt;
	*majflt = (uint64_t)ru.ru_majflt;
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	struct resume_probe *p = ctx;
	uint64_t ticks, now[KVM_STAT_NR];

	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) != sizeof(ticks) || !p->armed || p->done)
		return;
	sample(p, now, &p->minflt, &p->majflt);
	for (int k = 0; k < KVM_STAT_NR; k++)
		p->count[k] = now[k] - p->base[k];
	p->minflt -= p->minflt0;
	p->majflt -= p->majflt0;
	p->done = true;
	log_info("the first %d ms after resume: %llu exits, %llu guest page faults, %llu host "
		 "faults",
		 RESUME_PROBE_MS, (unsigned long long)p->count[KVM_STAT_EXITS],
		 (unsigned long long)p->count[KVM_STAT_PF_TAKEN],
		 (unsigned long long)(p->minflt + p->majflt));
}

int resume_probe_init(struct resume_probe *p, struct vm *vm, struct ember_err *err)
{
	memset(p, 0, sizeof(*p));
	p->timer_fd = -1;
	p->nr_vcpus = vm->nr_vcpus < CONFIG_MAX_VCPUS ? vm->nr_vcpus : CONFIG_MAX_VCPUS;
	for (unsigned i = 0; i < p->nr_vcpus; i++) {
		struct ember_err e = { 0 };

		/* an older kernel: the probe counts host faults only */
		if (kvm_stats_open(&p->vcpu[i], vm->vcpus[i].fd, &e) < 0)
			log_debug("vCPU %u: %s", i, e.msg);
	}
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0)
		return err_errno(err, "timerfd for the resume probe");
	return evloop_add(&vm->loop, p->timer_fd, EPOLLIN, on_timer, p, err);
}

void resume_probe_arm(struct resume_probe *p)
{
	struct itimerspec its = { .it_value = { 0, RESUME_PROBE_MS * 1000000L } };

	if (p->timer_fd < 0 || p->armed)
		return;
	sample(p, p->base, &p->minflt0, &p->majflt0);
	p->armed = timerfd_settime(p->timer_fd, 0, &its, NULL) == 0;
}

void resume_probe_free(struct resume_probe *p)
{
	for (unsigned i = 0; i < p->nr_vcpus; i++)
		kvm_stats_close(&p->vcpu[i]);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	p->timer_fd = -1;
	p->nr_vcpus = 0;
}
