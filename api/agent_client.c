// SPDX-License-Identifier: Apache-2.0
/* Client of the guest agent over ember's vsock Unix socket. */
#include "agent_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_    256
#define HANDSHAKE_MS 10000

int agent_write_all(int fd, const void *p, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t len, struct ember_err *err)
{
	return agent_write_all(fd, p, len) < 0 ? err_errno(err, "agent: send") : 0;
}

/* SO_RCVTIMEO ends a read with EAGAIN: the function is taking too long. */
static int recv_error(struct ember_err *err)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return err_set(err, ETIMEDOUT, "agent: no answer within the time allowed");
	return err_errno(err, "agent: receive");
}

static int read_exact(int fd, void *p, size_t len, struct ember_err *err)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = read(fd, (char *)p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return recv_error(err);
		if (n == 0)
			return err_set(err, ECONNRESET, "agent: connection closed mid-answer");
		off += (size_t)n;
	}
	return 0;
}

/* A line without its newline; the connection is byte-exact so read 1 by 1. */
static int read_line(int fd, char *line, struct ember_err *err)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return recv_error(err);
		if (r == 0)
			return err_set(err, ECONNRESET, "agent: connection closed");
		if (line[n] == '\n')
			break;
		if (++n == LINE_MAX_ - 1)
			return err_set(err, EPROTO, "agent: answer line too long");
	}
	line[n] = '\0';
	return 0;
}

int agent_set_timeout(struct agent_conn *c, unsigned timeout_ms, struct ember_err *err)
{
	struct timeval tv = { (time_t)(timeout_ms / 1000),
			      (suseconds_t)(timeout_ms % 1000) * 1000 };

	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return err_errno(err, "agent: SO_RCVTIMEO");
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int try_connect(struct agent_conn *c, const char *uds, unsigned port, unsigned wait_ms,
		       struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[LINE_MAX_];
	int n;

	if (strlen(uds) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "agent: socket path %s is too long", uds);
	memcpy(sa.sun_path, uds, strlen(uds) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return err_errno(err, "agent: socket");
	/* ember answers the handshake within its own 2 s timeout, unless it is
	 * wedged: never wait on it for ever (agent_set_timeout replaces this) */
	if (agent_set_timeout(c, wait_ms < HANDSHAKE_MS ? wait_ms : HANDSHAKE_MS, err) < 0)
		return -err->code;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_errno(err, "agent: cannot connect to %s", uds);
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write_all(c->fd, line, (size_t)n, err) < 0 || read_line(c->fd, line, err) < 0)
		return err_prefix(err, "vsock port %u", port);
	if (sscanf(line, "OK %u", &c->local_port) != 1)
		return err_set(err, EPROTO, "agent: unexpected handshake answer \"%s\"", line);
	return 0;
}

int agent_connect(struct agent_conn *c, const char *uds, unsigned port, unsigned wait_ms,
		  struct ember_err *err)
{
	uint64_t deadline = now_ms() + wait_ms, now;
	unsigned step_us = 1000;
	int ret;

	for (;;) {
		now = now_ms();
		c->fd = -1;
		/* the tries and the pauses between them within wait_ms (a last
		 * try gets a second at least) */
		ret = try_connect(c, uds, port,
				  now + 1000 < deadline ? (unsigned)(deadline - now) : 1000, err);
		if (!ret)
			return 0;
		agent_close(c);
		if (now_ms() >= deadline)
			return ret;
		/* 1 ms, doubling to 100 ms: a restored guest answers within a few */
		nanosleep(&(struct timespec){ 0, (long)step_us * 1000 }, NULL);
		step_us = step_us * 2 > 100000 ? 100000 : step_us * 2;
	}
}

static int read_result(struct agent_conn *c, struct agent_result *res, struct ember_err *err)
{
	char line[LINE_MAX_];
	size_t lens[2];
	int ret;

	ret = read_line(c->fd, line, err);
	if (ret)
		return ret;
	if (!strncmp(line, "ERR ", 4))
		return err_set(err, EINVAL, "agent: %s", line + 4);
	if (sscanf(line, "OK %d %zu %zu", &res->status, &lens[0], &lens[1]) != 3 ||
	    lens[0] > AGENT_DATA_MAX || lens[1] > AGENT_DATA_MAX)
		return err_set(err, EPROTO, "agent: unexpected answer \"%s\"", line);
	res->out = malloc(lens[0] + 1);
	res->err = malloc(lens[1] + 1);
	if (!res->out || !res->err)
		return err_set(err, ENOMEM, "out of memory");
	res->out_len = lens[0];
	res->err_len = lens[1];
	ret = read_exact(c->fd, res->out, lens[0], err);
	if (!ret)
		ret = read_exact(c->fd, res->err, lens[1], err);
	res->out[lens[0]] = res->err[lens[1]] = '\0';
	return ret;
}

int agent_invoke(struct agent_conn *c, const char *fn, const void *in, size_t in_len,
		 struct agent_result *res, struct ember_err *err)
{
	char line[LINE_MAX_];
	int n, ret;

	memset(res, 0, sizeof(*res));
	if (in_len > AGENT_DATA_MAX)
		return err_set(err, EFBIG, "agent: payload larger than 64 MiB");
	n = snprintf(line, sizeof(line), "RUN %s %zu\n", fn, in_len);
	if (n >= (int)sizeof(line) || strpbrk(fn, " \n"))
		return err_set(err, EINVAL, "agent: bad function name \"%s\"", fn);
	ret = write_all(c->fd, line, (size_t)n, err);
	if (!ret)
		ret = write_all(c->fd, in, in_len, err);
	if (!ret)
		ret = read_result(c, res, err);
	if (ret)
		agent_result_free(res);
	return ret;
}

/* A one-line command answered like RUN. */
static int command(struct agent_conn *c, const char *line, struct agent_result *res,
		   struct ember_err *err)
{
	int ret;

	memset(res, 0, sizeof(*res));
	ret = write_all(c->fd, line, strlen(line), err);
	if (!ret)
		ret = read_result(c, res, err);
	if (ret)
		agent_result_free(res);
	return ret;
}

int agent_http_start(struct agent_conn *c, unsigned port, unsigned timeout_ms,
		     struct agent_result *res, struct ember_err *err)
{
	char line[LINE_MAX_];

	snprintf(line, sizeof(line), "HTTP START %u %u\n", port, timeout_ms);
	return command(c, line, res, err);
}

int agent_http_log(struct agent_conn *c, struct agent_result *res, struct ember_err *err)
{
	return command(c, "HTTP LOG\n", res, err);
}

int agent_proxy(struct agent_conn *c, unsigned port, struct ember_err *err)
{
	char line[LINE_MAX_];
	int ret;

	snprintf(line, sizeof(line), "PROXY %u\n", port);
	ret = write_all(c->fd, line, strlen(line), err);
	if (!ret)
		ret = read_line(c->fd, line, err);
	if (ret)
		return ret;
	if (!strncmp(line, "ERR ", 4))
		return err_set(err, ECONNREFUSED, "agent: %s", line + 4);
	if (strcmp(line, "OK"))
		return err_set(err, EPROTO, "agent: unexpected answer to PROXY \"%s\"", line);
	return 0;
}

int agent_stop(struct agent_conn *c, struct ember_err *err)
{
	char line[LINE_MAX_];
	int ret = write_all(c->fd, "STOP\n", 5, err);

	if (!ret)
		ret = read_line(c->fd, line, err);
	if (!ret && strcmp(line, "OK"))
		ret = err_set(err, EPROTO, "agent: unexpected answer to STOP \"%s\"", line);
	return ret;
}

void agent_result_free(struct agent_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
	res->out_len = res->err_len = 0;
}

void agent_close(struct agent_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
