// SPDX-License-Identifier: Apache-2.0
/* Starting, watching and ending ember processes, for the programs that
 * drive VMs through ember's API (ember-fn, ember-oci). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ember_proc.h"

extern char **environ;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* fork, for a child that must die with its parent (PR_SET_PDEATHSIG):
 * only async-signal-safe calls before execvp. */
static int spawn_tied(const char *const argv[], const char *log, pid_t *pid, struct ember_err *err)
{
	pid_t parent = getpid(), p = fork();

	if (p < 0)
		return err_errno(err, "cannot start %s", argv[0]);
	if (p == 0) {
		int in = open("/dev/null", O_RDONLY), out;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		closefrom(3);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	*pid = p;
	return 0;
}

int ember_proc_spawn(const char *const argv[], const char *log, bool tied, pid_t *pid,
		     struct ember_err *err)
{
	posix_spawn_file_actions_t fa;
	int ret;

	if (tied)
		return spawn_tied(argv, log, pid, err);

	/* posix_spawnp: safe from serve's threads, vfork-fast, searches PATH */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
					 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	ret = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		return err_set(err, ret, "cannot start %s: %s", argv[0], strerror(ret));
	return 0;
}

static int try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ret;
}

int ember_proc_wait_api(const char *sock, pid_t pid, unsigned timeout_ms, struct ember_err *err)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	int status;

	while (try_connect(sock) < 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return err_set(
			    err, ECHILD, "ember exited (status %d) before its API was ready",
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		if (now_us() > deadline)
			return err_set(err, ETIMEDOUT,
				       "ember's API socket %s did not accept in %u ms", sock,
				       timeout_ms);
		nanosleep(&(struct timespec){ 0, 200000 }, NULL);
	}
	return 0;
}

#define KILL_WAIT_MS 10000

/* SIGKILL and reap; a process the kernel cannot end (stuck in KVM) is
 * reported and left behind rather than stalling the caller for ever. */
void ember_proc_kill(pid_t pid)
{
	uint64_t deadline = now_us() + KILL_WAIT_MS * 1000ull;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (now_us() > deadline) {
			fprintf(stderr,
				"ember (pid %d) did not die on SIGKILL in %d ms; "
				"left behind\n",
				(int)pid, KILL_WAIT_MS);
			return;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

void ember_proc_log_tail(const char *log, char *out, size_t size)
{
	char buf[2048];
	int fd = open(log, O_RDONLY | O_CLOEXEC), lines = 0;
	off_t end;
	ssize_t n;
	size_t i;

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1,
		  end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0);
	close(fd);
	if (n <= 0)
		return;
	i = (size_t)n;
	while (i && buf[i - 1] == '\n')
		i--;
	buf[i] = '\0';
	while (i > 0 && !(buf[i - 1] == '\n' && ++lines == 3)) /* the last three lines */
		i--;
	snprintf(out, size, "%s", buf + i);
}
