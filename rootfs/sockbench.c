// SPDX-License-Identifier: Apache-2.0
/*
 * ember-sockbench: socket latency and throughput between the host and a
 * guest, over vsock (Firecracker's Unix-socket side, or AF_VSOCK for a peer
 * VMM with vhost-vsock) and over TCP. One static binary plays both parts.
 *
 * In the guest:  ember-sockbench serve PORT
 *   listens on vsock PORT and TCP PORT; each connection starts with a line:
 *   "rr\n"        answer "ok\n", then echo everything back
 *   "sink\n"      read to end of stream, answer "<bytes>\n"
 *   "source N\n"  send N bytes, then close
 *   "quit\n"      answer "ok\n" and end the server
 *
 * On the host:   ember-sockbench (--uds PATH | --cid CID | --tcp IPV4) --port P
 *                    [--wait MS] TEST
 *   TEST: rr COUNT | to-guest MIB | from-guest MIB | quit
 *   prints one line "sockbench NAME VALUE ..." per figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define BLOCK (256 * 1024)
#define MSG   64

static char block[BLOCK];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line, byte by byte so nothing after it is consumed. */
static int read_line(int fd, char *buf, size_t size)
{
	size_t i = 0;

	while (i + 1 < size) {
		if (read(fd, buf + i, 1) != 1)
			return -1;
		if (buf[i] == '\n') {
			buf[i] = '\0';
			return 0;
		}
		i++;
	}
	return -1;
}

/* Bytes read until end of stream, or -1. */
static int64_t drain(int fd)
{
	int64_t total = 0;
	ssize_t n;

	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		total += n;
	}
	return total;
}

static int pour(int fd, uint64_t bytes)
{
	while (bytes > 0) {
		size_t n = bytes < sizeof(block) ? (size_t)bytes : sizeof(block);

		if (io_write_all(fd, block, n) < 0)
			return -1;
		bytes -= n;
	}
	return 0;
}

/* --- the guest's server --- */

static void serve_one(int c)
{
	char line[64], answer[32];

	if (read_line(c, line, sizeof(line)) < 0)
		return;
	if (!strcmp(line, "rr")) {
		ssize_t n;

		if (io_write_all(c, "ok\n", 3) < 0)
			return;
		while ((n = read(c, block, sizeof(block))) > 0)
			if (io_write_all(c, block, (size_t)n) < 0)
				return;
	} else if (!strcmp(line, "sink")) {
		snprintf(answer, sizeof(answer), "%lld\n", (long long)drain(c));
		io_write_all(c, answer, strlen(answer));
	} else if (!strncmp(line, "source ", 7)) {
		pour(c, strtoull(line + 7, NULL, 10));
	} else if (!strcmp(line, "quit")) {
		io_write_all(c, "ok\n", 3);
		kill(getppid(), SIGTERM);
	}
}

static int listen_on(int family, unsigned port)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr *sa = family == AF_VSOCK ? (struct sockaddr *)&vm : (struct sockaddr *)&in;
	socklen_t len = family == AF_VSOCK ? sizeof(vm) : sizeof(in);
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && family == AF_INET)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, sa, len) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "ember-sockbench: listen on %s port %u: %s\n",
			family == AF_VSOCK ? "vsock" : "tcp", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void accept_one(int lfd)
{
	int one = 1, c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on vsock: fine */
	if (fork() == 0) {
		serve_one(c);
		_exit(0);
	}
	close(c);
}

static int serve(unsigned port)
{
	struct pollfd fds[2] = { { .fd = listen_on(AF_VSOCK, port), .events = POLLIN },
				 { .fd = listen_on(AF_INET, port), .events = POLLIN } };

	if (fds[0].fd < 0 && fds[1].fd < 0)
		return 1;
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	printf("ember-sockbench: serving on port %u\n", port);
	fflush(stdout);
	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < 2; i++)
			if (fds[i].revents & POLLIN)
				accept_one(fds[i].fd);
	}
}

/* --- the host's client --- */

struct target {
	const char *uds, *tcp;
	unsigned cid, port;
	int wait_ms;
};

static int connect_uds(const struct target *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[64];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->uds);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	snprintf(line, sizeof(line), "CONNECT %u\n", t->port);
	if (io_write_all(fd, line, strlen(line)) < 0 || read_line(fd, line, sizeof(line)) < 0 ||
	    strncmp(line, "OK ", 3) != 0)
		goto fail;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int connect_inet(const struct target *t)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = t->cid, .svm_port = t->port };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)t->port) };
	int one = 1, fd;

	if (t->tcp && inet_pton(AF_INET, t->tcp, &in.sin_addr) != 1)
		return -1;
	fd = socket(t->tcp ? AF_INET : AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && t->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fd >= 0 && connect(fd, t->tcp ? (struct sockaddr *)&in : (struct sockaddr *)&vm,
			       t->tcp ? sizeof(in) : sizeof(vm)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Connect and send the test's first line; retried until --wait runs out. */
static int open_test(const struct target *t, const char *first)
{
	uint64_t deadline = now_ns() + (uint64_t)t->wait_ms * 1000000u;
	int fd;

	for (;;) {
		fd = t->uds ? connect_uds(t) : connect_inet(t);
		if (fd >= 0 && io_write_all(fd, first, strlen(first)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		if (now_ns() >= deadline) {
			fprintf(stderr, "ember-sockbench: cannot reach the guest's port %u\n",
				t->port);
			return -1;
		}
		usleep(50000);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int expect_ok(int fd)
{
	char line[16];

	if (read_line(fd, line, sizeof(line)) < 0 || strcmp(line, "ok") != 0) {
		fprintf(stderr, "ember-sockbench: the guest did not answer ok\n");
		return -1;
	}
	return 0;
}

static int test_rr(int fd, long count)
{
	uint64_t *lat = calloc((size_t)count, sizeof(*lat));
	char msg[MSG] = "ping", back[MSG];
	int ret = lat ? expect_ok(fd) : -1;

	for (long i = 0; ret == 0 && i < count; i++) {
		uint64_t t0 = now_ns();

		msg[MSG - 1] = (char)i;
		if (io_write_all(fd, msg, MSG) < 0 || io_read_exact(fd, back, MSG) < 0 ||
		    memcmp(msg, back, MSG) != 0) {
			fprintf(stderr, "ember-sockbench: round trip %ld failed\n", i);
			ret = -1;
		}
		lat[i] = now_ns() - t0;
	}
	if (ret == 0) {
		qsort(lat, (size_t)count, sizeof(*lat), cmp_u64);
		printf("sockbench rr-p50-us %.1f (p99 %.1f us, %ld round trips of %d bytes)\n",
		       lat[count / 2] / 1e3, lat[count * 99 / 100] / 1e3, count, MSG);
	}
	free(lat);
	return ret;
}

static void print_rate(const char *name, uint64_t bytes, uint64_t ns)
{
	printf("sockbench %s-MiB/s %.1f (%llu MiB)\n", name, (double)bytes / (1 << 20) / (ns / 1e9),
	       (unsigned long long)(bytes >> 20));
}

static int test_to_guest(int fd, uint64_t bytes)
{
	uint64_t t0 = now_ns();
	char line[32];

	if (pour(fd, bytes) < 0 || shutdown(fd, SHUT_WR) < 0 ||
	    read_line(fd, line, sizeof(line)) < 0) {
		fprintf(stderr, "ember-sockbench: sending to the guest failed\n");
		return -1;
	}
	if (strtoull(line, NULL, 10) != bytes) {
		fprintf(stderr, "ember-sockbench: the guest got %s bytes of %llu\n", line,
			(unsigned long long)bytes);
		return -1;
	}
	print_rate("to-guest", bytes, now_ns() - t0);
	return 0;
}

static int test_from_guest(int fd, uint64_t bytes)
{
	uint64_t t0 = now_ns();
	int64_t got = drain(fd);

	if (got != (int64_t)bytes) {
		fprintf(stderr, "ember-sockbench: got %lld bytes of %llu from the guest\n",
			(long long)got, (unsigned long long)bytes);
		return -1;
	}
	print_rate("from-guest", bytes, now_ns() - t0);
	return 0;
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: ember-sockbench serve PORT\n"
	    "       ember-sockbench (--uds PATH | --cid CID | --tcp IPV4) --port P [--wait MS]\n"
	    "                       (rr COUNT | to-guest MIB | from-guest MIB | quit)\n");
	return 2;
}

/* The line that starts TEST on the guest's side. */
static int first_line(const char *test, uint64_t bytes, char *buf, size_t size)
{
	if (!strcmp(test, "rr") || !strcmp(test, "quit"))
		snprintf(buf, size, "%s\n", test);
	else if (!strcmp(test, "to-guest"))
		snprintf(buf, size, "sink\n");
	else if (!strcmp(test, "from-guest"))
		snprintf(buf, size, "source %llu\n", (unsigned long long)bytes);
	else
		return -1;
	return 0;
}

static int run_test(const struct target *t, const char *test, const char *arg)
{
	uint64_t bytes = (arg ? strtoull(arg, NULL, 10) : 0) << 20;
	char first[64];
	int fd, ret;

	if (first_line(test, bytes, first, sizeof(first)) < 0)
		return usage();
	fd = open_test(t, first);
	if (fd < 0)
		return 1;
	if (!strcmp(test, "rr"))
		ret = test_rr(fd, arg && atol(arg) > 0 ? atol(arg) : 1000);
	else if (!strcmp(test, "to-guest"))
		ret = test_to_guest(fd, bytes);
	else if (!strcmp(test, "from-guest"))
		ret = test_from_guest(fd, bytes);
	else
		ret = expect_ok(fd);
	close(fd);
	return ret < 0;
}

int main(int argc, char **argv)
{
	struct target t = { .cid = 0 };
	int i = 1;

	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve((unsigned)strtoul(argv[2], NULL, 10));
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--uds"))
			t.uds = argv[i + 1];
		else if (!strcmp(argv[i], "--tcp"))
			t.tcp = argv[i + 1];
		else if (!strcmp(argv[i], "--cid"))
			t.cid = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--port"))
			t.port = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--wait"))
			t.wait_ms = atoi(argv[i + 1]);
		else
			return usage();
	}
	if (i >= argc || !t.port || (!t.uds && !t.tcp && !t.cid))
		return usage();
	signal(SIGPIPE, SIG_IGN);
	return run_test(&t, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
}
