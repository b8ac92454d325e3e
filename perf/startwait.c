// SPDX-License-Identifier: Apache-2.0
/*
 * perf helper: exec a VMM and time it until its control socket accepts.
 *   startwait SOCKET -- COMMAND [ARGS...]
 * Prints "wall_us cpu_us": exec to the first successful connect(), and the
 * child's CPU time (user + system, from wait4) up to then plus its exit on
 * SIGTERM sent at once. Exits 1 if the socket never accepts within 10 s.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int try_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	long long t0, t1 = 0;
	int status;
	pid_t pid;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: startwait SOCKET -- COMMAND [ARGS...]\n");
		return 2;
	}
	t0 = now_us();
	pid = fork();
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	while (now_us() - t0 < 10000000) {
		if (try_connect(argv[1])) {
			t1 = now_us();
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			return 1;
		usleep(20);
	}
	kill(pid, SIGTERM);
	if (wait4(pid, &status, 0, &ru) < 0)
		return 1;
	if (!t1)
		return 1;
	printf("%lld %lld\n", t1 - t0,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
		   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return 0;
}
