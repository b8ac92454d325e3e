// SPDX-License-Identifier: Apache-2.0
/* PATCH /vm: pause and resume the running microVM (Firecracker's Vm). */
#include <errno.h>

#include "boottimer.h"
#include "instance.h"
#include "log.h"
#include "resource.h"

static const char *const states[] = { "Paused", "Resumed", NULL };

static const struct field fields[] = {
	{ .name = "state", .type = FT_ENUM, .flags = F_REQUIRED, .variants = states },
	{ 0 },
};

static int parse(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, fields, "struct Vm", 0, err);
}

static int pause_vm(struct instance *in, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);

	if (vm_pause(in->vm, err) < 0)
		return err_prefix(err, "Internal VMM error");
	in->state = INSTANCE_PAUSED;
	in->pause_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("the microVM is paused (%llu us)", (unsigned long long)in->pause_us);
	return 0;
}

static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);

	if (body_enum(c->body.value, "state", states, 0) == 0)
		return pause_vm(in, err);
	vm_resume(in->vm);
	resume_probe_arm(&in->probe); /* a restored VM's first resume */
	in->state = INSTANCE_RUNNING;
	in->resume_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("the microVM is running again (%llu us)", (unsigned long long)in->resume_us);
	return 0;
}

const struct res_def res_vm_state = {
	.path = "vm",
	.metric = "vm",
	.ops = { [RES_PATCH] = { RES_POST, false, parse, apply } },
};
