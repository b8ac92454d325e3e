// SPDX-License-Identifier: Apache-2.0
/*
 * Later commands talk to the container's monitor over its control socket
 * (ctl.sock in the state directory): one line each way per connection,
 * "START", "KILL <signal> <all>"; the answer "OK ..." or "ERR <message>".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "oci.h"

int oci_read_line(int fd, char *line, size_t size, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;

	while (got < size - 1 && !memchr(line, '\n', got)) {
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, line + got, size - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return 0;
}

int oci_ctl(const struct oci_state *st, const char *cmd, char *answer, size_t size,
	    unsigned timeout_ms, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX], line[ERR_MSG_MAX];
	int fd, ret = 0;

	oci_state_path(st, "ctl.sock", path, sizeof(path));
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "%s is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = err_errno(err, "the container's monitor does not answer");
		goto out;
	}
	if (dprintf(fd, "%s\n", cmd) < 0) {
		ret = err_errno(err, "writing to the monitor");
		goto out;
	}
	if (oci_read_line(fd, line, sizeof(line), (int)timeout_ms) < 0) {
		ret = err_set(err, ETIMEDOUT, "the monitor did not answer %s in %u ms", cmd,
			      timeout_ms);
		goto out;
	}
	if (!strncmp(line, "OK", 2))
		snprintf(answer, size, "%s", line[2] == ' ' ? line + 3 : "");
	else if (!strncmp(line, "ERR ", 4))
		ret = err_set(err, EINVAL, "%s", line + 4);
	else
		ret = err_set(err, EPROTO, "the monitor hung up on %s", cmd);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}
