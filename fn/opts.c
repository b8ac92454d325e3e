// SPDX-License-Identifier: Apache-2.0
/* ember-fn's defaults: the binaries and guest beside ember-fn, the store. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fn.h"

uint64_t fn_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The directory ember-fn runs from (build/ in a checkout). */
static void own_dir(char *out, size_t size, const char *argv0)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0)
		exe[n] = '\0';
	else
		snprintf(exe, sizeof(exe), "%s", argv0);
	snprintf(out, size, "%s", dirname(exe));
}

static void default_store(char *out, size_t size)
{
	const char *env = getenv("EMBER_FN_STORE"), *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		snprintf(out, size, "%s", env);
	else if (xdg && *xdg)
		snprintf(out, size, "%s/ember/fn", xdg);
	else
		snprintf(out, size, "%s/.local/share/ember/fn", home && *home ? home : "/tmp");
}

void fn_opts_defaults(struct fn_opts *o, const char *argv0)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];

	memset(o, 0, sizeof(*o));
	own_dir(dir, sizeof(dir), argv0);
	snprintf(o->ember, sizeof(o->ember), "%.4000s/ember", dir);
	snprintf(o->kernel, sizeof(o->kernel), "%.4000s/guest/vmlinux", dir);
	snprintf(o->initrd, sizeof(o->initrd), "%.4000s/guest/initramfs.cpio", dir);
	default_store(o->store, sizeof(o->store));
	/* clone sockets need a short path (sun_path is 108 bytes) */
	snprintf(o->rundir, sizeof(o->rundir), "%s",
		 run && *run && strlen(run) < FN_RUN_MAX - 32 ? run : "/tmp");
	o->mem_mib = 128;
	o->vcpus = 1;
	o->timeout_ms = 30000;
	o->boot_timeout_ms = 120000;
	o->backend = FN_BACKEND_FILE;
	o->prefetch = true;
	o->seccomp = true;
	o->pool = true;
}
