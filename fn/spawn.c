// SPDX-License-Identifier: Apache-2.0
/* Starting, watching and ending the ember processes behind the clones. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fn.h"

extern char **environ;

int fn_spawn(const char *const argv[], const char *log, pid_t *pid, struct ember_err *err)
{
	posix_spawn_file_actions_t fa;
	int ret;

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

int fn_wait_api(const char *sock, pid_t pid, unsigned timeout_ms, struct ember_err *err)
{
	uint64_t deadline = fn_now_us() + (uint64_t)timeout_ms * 1000u;
	int status;

	while (try_connect(sock) < 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return err_set(
			    err, ECHILD, "ember exited (status %d) before its API was ready",
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		if (fn_now_us() > deadline)
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
void fn_kill(pid_t pid)
{
	uint64_t deadline = fn_now_us() + KILL_WAIT_MS * 1000ull;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (fn_now_us() > deadline) {
			fprintf(stderr,
				"ember-fn: ember (pid %d) did not die on SIGKILL in %d ms; "
				"left behind\n",
				(int)pid, KILL_WAIT_MS);
			return;
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

void fn_log_tail(const char *log, char *out, size_t size)
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
