// SPDX-License-Identifier: Apache-2.0
/* ember-jailer: set up the jail in Firecracker's order, then exec ember in it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jailer.h"

#define JAILER_VERSION "0.1.0"

struct start_times {
	uint64_t wall_us, cpu_us, parent_cpu_us;
};

static uint64_t now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int die(int status, const struct ember_err *err)
{
	fprintf(stderr, "ember-jailer: %s\n", err->msg);
	return status;
}

/* Detach: a grandchild in its own session with stdio on /dev/null. */
static int daemonize(int null_fd, struct ember_err *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return err_errno(err, "fork");
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return err_errno(err, "setsid");
	if ((pid = fork()) < 0)
		return err_errno(err, "fork");
	if (pid > 0)
		_exit(0);
	if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		return err_errno(err, "stdio to /dev/null");
	close(null_fd);
	return 0;
}

static int write_pid_file(const struct jailer_args *a, pid_t pid, struct ember_err *err)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/%s.pid", a->exec_name);
	f = fopen(path, "we");
	if (!f || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0)
		return err_errno(err, "cannot write %s in the jail", path);
	return 0;
}

/* With --new-pid-ns the child is PID 1 of a new namespace; the parent writes
 * its pid to the pid file and leaves. Without, the pid file holds ours. */
static int pid_namespace(const struct jailer_args *a, struct start_times *t, struct ember_err *err)
{
	pid_t pid;

	if (!a->new_pid_ns)
		return write_pid_file(a, getpid(), err);
	if (unshare(CLONE_NEWPID) < 0)
		return err_errno(err, "unshare(CLONE_NEWPID)");
	t->parent_cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID);
	pid = fork();
	if (pid < 0)
		return err_errno(err, "fork into the new PID namespace");
	if (pid > 0) {
		if (write_pid_file(a, pid, err) < 0)
			_exit(die(JAILER_EXIT_DAEMONIZE, err));
		_exit(0);
	}
	t->cpu_us = 0; /* a new process: its CPU clock starts at zero */
	return 0;
}

static int exec_jailed(const struct jailer_args *a, const struct start_times *t,
		       struct ember_err *err)
{
	char wall[24], cpu[24], parent[24], path[PATH_MAX];
	const char *argv[16 + a->nr_extra];
	char *envp[] = { NULL };
	int n = 0;

	snprintf(path, sizeof(path), "/%s", a->exec_name);
	snprintf(wall, sizeof(wall), "%" PRIu64, t->wall_us);
	snprintf(cpu, sizeof(cpu), "%" PRIu64, t->cpu_us);
	snprintf(parent, sizeof(parent), "%" PRIu64, t->parent_cpu_us);
	argv[n++] = path;
	argv[n++] = "--id";
	argv[n++] = a->id;
	argv[n++] = "--start-time-us";
	argv[n++] = wall;
	argv[n++] = "--start-time-cpu-us";
	argv[n++] = cpu;
	argv[n++] = "--parent-cpu-time-us";
	argv[n++] = parent;
	for (int i = 0; i < a->nr_extra; i++)
		argv[n++] = a->extra[i];
	argv[n] = NULL;
	execve(path, (char *const *)argv, envp);
	return err_errno(err, "cannot exec %s in the jail", path);
}

/* Before the pivot: everything that needs the host's filesystem. */
static int outside(const struct jailer_args *a, int *null_fd, int *proc_fd,
		   struct jailer_devices *d, struct ember_err *err)
{
	jailer_find_devices(d);
	if (a->new_user_ns && (*proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err_errno(err, "open /proc");
		return JAILER_EXIT_PRIVS;
	}
	if (jailer_copy_exec(a, err) < 0 || jailer_copy_libs(a, err) < 0)
		return JAILER_EXIT_JAIL;
	if (a->netns && jailer_join_netns(a->netns, err) < 0)
		return JAILER_EXIT_NETNS;
	if (jailer_set_rlimits(a, err) < 0)
		return JAILER_EXIT_RLIMIT;
	if (jailer_cgroups_apply(a, "/proc/mounts", getpid(), err) < 0)
		return JAILER_EXIT_CGROUP;
	if (a->daemonize && (*null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		err_errno(err, "open /dev/null");
		return JAILER_EXIT_DAEMONIZE;
	}
	return 0;
}

static int run(const struct jailer_args *a, struct start_times *t, struct ember_err *err)
{
	struct jailer_devices d;
	int status, null_fd = -1, proc_fd = -1;

	if ((status = outside(a, &null_fd, &proc_fd, &d, err)))
		return status;
	if (jailer_pivot(a, err) < 0)
		return JAILER_EXIT_JAIL;
	if (jailer_make_devices(a, &d, err) < 0)
		return JAILER_EXIT_DEVICES;
	if (a->daemonize && daemonize(null_fd, err) < 0)
		return JAILER_EXIT_DAEMONIZE;
	if (pid_namespace(a, t, err) < 0)
		return JAILER_EXIT_DAEMONIZE;
	if (jailer_drop_privileges(a, proc_fd, err) < 0)
		return JAILER_EXIT_PRIVS;
	if (proc_fd >= 0)
		close(proc_fd);
	exec_jailed(a, t, err);
	return JAILER_EXIT_EXEC;
}

int main(int argc, char **argv)
{
	struct start_times t = {
		.wall_us = now_us(CLOCK_MONOTONIC),
		.cpu_us = now_us(CLOCK_PROCESS_CPUTIME_ID),
	};
	struct ember_err err = { 0 };
	struct jailer_args a;
	int status = JAILER_EXIT_USAGE, ret;

	/* Only stdio survives into the jail, and no variable of the caller's. */
	if (close_range(3, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	}
	clearenv();
	ret = jailer_parse_args(argc, argv, &a, &status, &err);
	if (ret == 1)
		return printf("ember-jailer v%s\n", JAILER_VERSION) < 0;
	if (ret == 2)
		return jailer_usage(stdout), 0;
	if (ret < 0) {
		if (status == JAILER_EXIT_USAGE)
			jailer_usage(stderr);
		return die(status, &err);
	}
	status = run(&a, &t, &err);
	return die(status, &err);
}
