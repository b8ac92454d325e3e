// SPDX-License-Identifier: Apache-2.0
/*
 * ember-vsock: a guest-side AF_VSOCK tool for tests and benchmarks.
 *   ember-vsock echo PORT       serve: echo every connection back, one child each
 *   ember-vsock recv PORT       take one connection, copy it to stdout, exit
 *   ember-vsock send CID PORT   connect, send stdin, half-close, copy the answer out
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int copy(int from, int to)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(from, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(to, buf + off, (size_t)(n - off))) <= 0)
				return -1;
	return n < 0 ? -1 : 0;
}

static int listener(unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		perror("ember-vsock: listen");
		exit(1);
	}
	printf("ember-vsock: listening on %u\n", port);
	fflush(stdout);
	return fd;
}

static int serve_echo(unsigned port)
{
	int lfd = listener(port), c;

	signal(SIGCHLD, SIG_IGN); /* no zombies */
	while ((c = accept(lfd, NULL, NULL)) >= 0 || errno == EINTR) {
		if (c < 0)
			continue;
		if (fork() == 0) {
			copy(c, c);
			_exit(0);
		}
		close(c);
	}
	perror("ember-vsock: accept");
	return 1;
}

static int recv_one(unsigned port)
{
	int lfd = listener(port), c = accept(lfd, NULL, NULL);

	if (c < 0) {
		perror("ember-vsock: accept");
		return 1;
	}
	return copy(c, 1) < 0;
}

static int send_to(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ember-vsock: connect to %u:%u: %s\n", cid, port, strerror(errno));
		return 1;
	}
	if (copy(0, fd) < 0 || shutdown(fd, SHUT_WR) < 0 || copy(fd, 1) < 0) {
		perror("ember-vsock: send");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return serve_echo((unsigned)strtoul(argv[2], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return recv_one((unsigned)strtoul(argv[2], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "send"))
		return send_to((unsigned)strtoul(argv[2], NULL, 10),
			       (unsigned)strtoul(argv[3], NULL, 10));
	fprintf(stderr, "usage: ember-vsock echo PORT | recv PORT | send CID PORT\n");
	return 2;
}
