// SPDX-License-Identifier: Apache-2.0
/*
 * perf helper: exec a command and time it until its output shows a line
 * containing PATTERN (a guest's console, say), then give it GRACE_S to
 * finish on its own before killing it.
 *   linetime PATTERN TIMEOUT_S GRACE_S -- COMMAND [ARGS...]
 * Prints "line_us exit_us": exec to the line, exec to the command's end.
 * The command's output goes on to LINETIME_LOG if set. Exits 1 if the line
 * never comes (the command is then killed after TIMEOUT_S).
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	const char *log_path = getenv("LINETIME_LOG");
	FILE *log = log_path ? fopen(log_path, "w") : NULL;
	long long t0, t_line = 0, limit, grace;
	size_t used = 0;
	int pfd[2], status;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: linetime PATTERN TIMEOUT_S GRACE_S -- COMMAND [ARGS...]\n");
		return 2;
	}
	limit = atoll(argv[2]) * 1000000LL;
	grace = atoll(argv[3]) * 1000000LL;
	if (pipe(pfd) < 0)
		return 2;
	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		ssize_t n;

		if (now_us() - t0 > limit || (t_line && now_us() - t_line >= grace)) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(pfd[0], buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			break;
		if (log)
			fwrite(buf + used, 1, (size_t)n, log);
		used += (size_t)n;
		buf[used] = '\0';
		if (!t_line && strstr(buf, argv[1]))
			t_line = now_us();
		if (used > sizeof(buf) / 2) { /* keep the tail: a pattern may straddle reads */
			memmove(buf, buf + used - 256, 256);
			used = 256;
		}
	}
	waitpid(pid, &status, 0);
	if (log)
		fclose(log);
	if (!t_line)
		return 1;
	printf("%lld %lld\n", t_line - t0, now_us() - t0);
	return 0;
}
