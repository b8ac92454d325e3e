// SPDX-License-Identifier: Apache-2.0
/*
 * Terminals: with process.terminal the engine gives a --console-socket and
 * waits for a pty master on it (SCM_RIGHTS, one fd, a non-empty name as the
 * data; ../shared/reference/oci-runtime.md 2.4). ember-oci makes the pair
 * on the host, sends the master, and its relay holds the slave, whose
 * window size it passes on to the guest's terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "oci.h"

int oci_tty_open(int *master, int *slave, struct ember_err *err)
{
	char name[64];
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0) {
		int e = errno;

		if (m >= 0)
			close(m);
		errno = e;
		return err_errno(err, "creating the container's terminal");
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		close(m);
		return err_errno(err, "opening %s", name);
	}
	*master = m;
	return 0;
}

int oci_tty_send_master(const char *path, int master, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 }, name[] = "/dev/ptmx";
	struct iovec iov = { name, sizeof(name) - 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int fd, ret = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "console socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = err_errno(err, "connecting to the console socket %s", path);
		goto out;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(fd, &mh, 0) < 0)
		ret = err_errno(err, "sending the terminal over %s", path);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int oci_tty_size(int fd, uint8_t out[4])
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return -1;
	out[0] = (uint8_t)ws.ws_row;
	out[1] = (uint8_t)(ws.ws_row >> 8);
	out[2] = (uint8_t)ws.ws_col;
	out[3] = (uint8_t)(ws.ws_col >> 8);
	return 0;
}
