// SPDX-License-Identifier: Apache-2.0
/*
 * ember-agent: runs functions for the host over vsock port 1024, and the
 * processes of a container (ember-oci; rootfs/ctr_*.c). The protocol is in
 * rootfs/README.md. One child per connection, one function process per
 * request; its stdin, stdout and stderr are pumped with poll() so no pipe
 * can stall another.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr.h"
#include "fn_http.h"
#include "fn_image.h"
#include "io.h"

#define AGENT_PORT 1024
#define LINE_MAX_  256
#define DATA_MAX   (64u << 20) /* payload and each output stream */
#define NAME_MAX_  64

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > DATA_MAX)
		return -1;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* One request line; 0 on EOF before any byte, -1 on error or overlong line. */
static int read_line(int fd, char *line)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n ? -1 : 0;
		if (c == '\n')
			break;
		if (n == LINE_MAX_ - 1)
			return -1;
		line[n++] = c;
	}
	line[n] = '\0';
	return 1;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_ || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    s[i]))
			return false;
	return true;
}

/* The handler: /fn/NAME, or an image function's (path NULL). */
static pid_t spawn(const char *path, int fds[3])
{
	int in[2], out[2], err[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		signal(SIGPIPE, SIG_DFL);
		if (!path)
			fn_image_exec();
		if (chdir("/fn") < 0) /* a function finds its files beside it */
			_exit(127);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	fds[0] = in[1];
	fds[1] = out[0];
	fds[2] = err[0];
	/* Ours non-blocking: a large payload must not wait on a full pipe while
	 * the function waits on us to read its output. */
	for (int i = 0; i < 3; i++)
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	return pid;
}

/* Feed the payload, collect both outputs; -1 if an output grew too large. */
static int pump(int fds[3], const struct buf *in, struct buf *out, struct buf *err)
{
	struct pollfd p[3] = { { fds[0], POLLOUT, 0 },
			       { fds[1], POLLIN, 0 },
			       { fds[2], POLLIN, 0 } };
	size_t sent = 0;
	char chunk[65536];
	int ret = 0;

	if (in->len == 0) {
		close(fds[0]);
		p[0].fd = -1;
	}
	while (p[1].fd >= 0 || p[2].fd >= 0) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			return -1;
		if (p[0].fd >= 0 && p[0].revents) {
			ssize_t n = write(p[0].fd, in->p + sent, in->len - sent);

			if (n < 0 && errno == EAGAIN)
				n = 0;
			sent += n > 0 ? (size_t)n : 0;
			if (n < 0 || sent == in->len) { /* done, or the function stopped reading */
				close(p[0].fd);
				p[0].fd = -1;
			}
		}
		for (int i = 1; i < 3; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n > 0 && put(i == 1 ? out : err, chunk, (size_t)n) < 0)
				ret = -1;
			if (n <= 0 || ret < 0) {
				close(p[i].fd);
				p[i].fd = -1;
			}
		}
	}
	if (p[0].fd >= 0)
		close(p[0].fd);
	return ret;
}

static int reply_error(int fd, const char *msg)
{
	char line[LINE_MAX_];
	int n = snprintf(line, sizeof(line), "ERR %s\n", msg);

	return io_write_all(fd, line, (size_t)n);
}

static int run_function(int fd, const char *name, const struct buf *in)
{
	struct buf out = { 0 }, err = { 0 };
	char path[NAME_MAX_ + 8], line[LINE_MAX_];
	bool image = !strcmp(name, "handler") && fn_image_present();
	const char *where = "";
	int fds[3], status = 0, ret, n;
	pid_t pid;

	snprintf(path, sizeof(path), "/fn/%s", name);
	if (image && (ret = fn_image_mounts(&where)) < 0) {
		snprintf(line, sizeof(line), "cannot mount %s in the image: %s", where + 3,
			 strerror(-ret));
		return reply_error(fd, line);
	}
	if (!image && access(path, X_OK) < 0)
		return reply_error(fd, "no such function");
	pid = spawn(image ? NULL : path, fds);
	if (pid < 0)
		return reply_error(fd, "cannot start the function");
	ret = pump(fds, in, &out, &err);
	if (ret < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret < 0) {
		ret = reply_error(fd, "output larger than 64 MiB");
	} else {
		n = snprintf(line, sizeof(line), "OK %d %zu %zu\n",
			     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
			     out.len, err.len);
		ret = io_write_all(fd, line, (size_t)n);
		if (!ret)
			ret = io_write_all(fd, out.p, out.len);
		if (!ret)
			ret = io_write_all(fd, err.p, err.len);
	}
	free(out.p);
	free(err.p);
	return ret;
}

/* One request: 1 go on, 0 the connection ends, -1 the agent stops. */
static int request(int fd)
{
	char line[LINE_MAX_], name[LINE_MAX_], extra;
	struct buf in = { 0 };
	unsigned long len;
	unsigned port, ms;
	int r = read_line(fd, line), ret;

	if (r <= 0)
		return 0;
	if (!strcmp(line, "STOP")) {
		io_write_all(fd, "OK\n", 3);
		return -1;
	}
	/* A container's process: the connection is its stream from here on. */
	if (sscanf(line, "PROC %lu%c", &len, &extra) == 1 ||
	    sscanf(line, "EXEC %lu%c", &len, &extra) == 1) {
		ctr_serve(fd, line[0] == 'E', len);
		return 0;
	}
	/* An HTTP function's server (fn_http.c). */
	if (sscanf(line, "HTTP START %u %u%c", &port, &ms, &extra) == 2)
		return fn_http_start(fd, port, ms) < 0 ? 0 : 1;
	if (!strcmp(line, "HTTP LOG"))
		return fn_http_log(fd) < 0 ? 0 : 1;
	if (sscanf(line, "PROXY %u%c", &port, &extra) == 1) {
		fn_http_proxy(fd, port);
		return 0;
	}
	if (sscanf(line, "RUN %255s %lu%c", name, &len, &extra) != 2 || len > DATA_MAX) {
		/* what follows cannot be framed: answer and end the connection */
		reply_error(fd, "bad request: expected RUN <name> <length> (at most 64 MiB), "
				"HTTP START <port> <ms>, HTTP LOG or PROXY <port>");
		return 0;
	}
	if (len && ((in.p = malloc(len)) == NULL || io_read_exact(fd, in.p, len) < 0)) {
		free(in.p);
		return 0;
	}
	in.len = in.cap = len;
	ret = valid_name(name) ? run_function(fd, name, &in) : reply_error(fd, "bad function name");
	free(in.p);
	return ret < 0 ? 0 : 1;
}

/* After STOP's answer: let the host read it and hang up (1 s at most). */
static void linger(int c)
{
	struct pollfd p = { c, POLLIN, 0 };
	char b[64];

	shutdown(c, SHUT_WR);
	while (poll(&p, 1, 1000) > 0 && read(c, b, sizeof(b)) > 0)
		;
}

static void serve(int c)
{
	int r;

	signal(SIGCHLD, SIG_DFL); /* functions are waited for */
	while ((r = request(c)) > 0)
		;
	if (r < 0) {
		linger(c);
		kill(getppid(), SIGTERM); /* STOP: the agent exits, init powers off */
	}
	close(c);
}

int main(void)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = AGENT_PORT };
	int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), c;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		perror("ember-agent: vsock port 1024");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	printf("ember-agent: listening on vsock port %d\n", AGENT_PORT);
	fflush(stdout);
	for (;;) {
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("ember-agent: accept");
			return 1;
		}
		if (fork() == 0) {
			close(lfd);
			serve(c);
			_exit(0);
		}
		close(c);
	}
}
