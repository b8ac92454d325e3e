// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP functions (ember-fn prepare --http PORT): the function is a server
 * in the guest, the image's command or /fn/handler. The agent starts it
 * once, before the snapshot, with its output in a log file; every clone
 * restored from that snapshot has it listening. A host connection then
 * asks for PROXY and becomes a byte pipe to 127.0.0.1:PORT: the host
 * speaks HTTP to the server itself.
 */
#include "fn_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fn_image.h"
#include "io.h"

#define LOG_PATH  "/run/ember-fn-http.log"
#define PID_PATH  "/run/ember-fn-http.pid"
#define LOG_TAIL  (64 * 1024)
#define POLL_MS   10
#define PIPE_BUF_ (64 * 1024)

static pid_t server_pid(void)
{
	FILE *f = fopen(PID_PATH, "re");
	int pid = 0;

	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

static bool server_alive(void)
{
	pid_t pid = server_pid();

	return pid > 0 && kill(pid, 0) == 0;
}

/* "OK <status> <len> 0" and the log's tail: the RUN answer's shape. */
static int reply_log(int fd, int status)
{
	char line[96], *tail = malloc(LOG_TAIL);
	int lfd = open(LOG_PATH, O_RDONLY | O_CLOEXEC), ret, n;
	ssize_t len = 0;
	off_t size;

	if (tail && lfd >= 0) {
		size = lseek(lfd, 0, SEEK_END);
		size = size > LOG_TAIL ? size - LOG_TAIL : 0;
		len = pread(lfd, tail, LOG_TAIL, size);
	}
	if (lfd >= 0)
		close(lfd);
	len = len > 0 ? len : 0;
	n = snprintf(line, sizeof(line), "OK %d %zd 0\n", status, len);
	ret = io_write_all(fd, line, (size_t)n);
	if (!ret && len)
		ret = io_write_all(fd, tail, (size_t)len);
	free(tail);
	return ret;
}

static int reply_error(int fd, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "ERR %s\n", msg);

	return io_write_all(fd, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
}

static int connect_port(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* The server: its own session, no stdin, its output in the log. */
static pid_t spawn_server(bool image)
{
	int log = open(LOG_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	pid_t pid;

	if (log < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		setsid();
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		if (image)
			fn_image_exec();
		if (chdir("/fn") == 0)
			execl("/fn/handler", "/fn/handler", (char *)NULL);
		perror("ember-agent: /fn/handler");
		_exit(127);
	}
	close(log);
	return pid;
}

static int write_pid(pid_t pid)
{
	FILE *f = fopen(PID_PATH, "we");

	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)pid);
	return fclose(f);
}

/* Until the port accepts, the server exits, or the time is up. */
static int wait_listening(pid_t pid, unsigned port, unsigned timeout_ms, int *status)
{
	for (unsigned waited = 0;; waited += POLL_MS) {
		int s = connect_port(port);

		if (s >= 0) {
			close(s);
			return 0;
		}
		if (waitpid(pid, status, WNOHANG) == pid)
			return -1;
		if (waited >= timeout_ms) {
			kill(-pid, SIGKILL);
			waitpid(pid, status, 0);
			*status = 124; /* timeout(1)'s */
			return -1;
		}
		nanosleep(&(struct timespec){ 0, POLL_MS * 1000000L }, NULL);
	}
}

int fn_http_start(int fd, unsigned port, unsigned timeout_ms)
{
	bool image = fn_image_present();
	const char *where = "";
	char msg[160];
	int status = 0, ret;
	pid_t pid;

	if (port == 0 || port > 65535)
		return reply_error(fd, "bad port");
	if (server_alive())
		return reply_error(fd, "the function's server is already running");
	if (image && (ret = fn_image_mounts(&where)) < 0) {
		snprintf(msg, sizeof(msg), "cannot mount %s in the image: %s", where + 3,
			 strerror(-ret));
		return reply_error(fd, msg);
	}
	if (!image && access("/fn/handler", X_OK) < 0)
		return reply_error(fd, "no /fn/handler");
	mkdir("/run", 0755);
	pid = spawn_server(image);
	if (pid < 0)
		return reply_error(fd, "cannot start the function's server");
	if (write_pid(pid) < 0) {
		kill(-pid, SIGKILL);
		return reply_error(fd, "cannot write " PID_PATH);
	}
	if (wait_listening(pid, port, timeout_ms, &status) == 0)
		return io_write_all(fd, "OK 0 0 0\n", 9);
	if (status != 124)
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return reply_log(fd, status ? status : 1); /* exit 0 without listening fails too */
}

int fn_http_log(int fd)
{
	return reply_log(fd, server_alive() ? 0 : 1);
}

/* One direction's bytes in flight. */
struct half {
	int from, to;
	char buf[PIPE_BUF_];
	size_t len, off;
	bool eof, done;
};

static void half_read(struct half *h)
{
	ssize_t n = read(h->from, h->buf, sizeof(h->buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		h->eof = true;
		return;
	}
	h->len = (size_t)n;
	h->off = 0;
}

static void half_write(struct half *h)
{
	ssize_t n = write(h->to, h->buf + h->off, h->len - h->off);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* the other side is gone: nothing more goes this way */
		h->len = h->off = 0;
		h->eof = true;
		return;
	}
	h->off += (size_t)n;
	if (h->off == h->len)
		h->len = h->off = 0;
}

/* After EOF and the last byte out: pass the half-close on. */
static void half_finish(struct half *h)
{
	if (h->eof && !h->len && !h->done) {
		shutdown(h->to, SHUT_WR);
		h->done = true;
	}
}

static void splice_both(int a, int b)
{
	static struct half h[2];
	struct pollfd p[2];

	h[0] = (struct half){ .from = a, .to = b };
	h[1] = (struct half){ .from = b, .to = a };
	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	while (!h[0].done || !h[1].done) {
		/* p[i] polls h[i]'s source for reading, or its sink for writing */
		for (int i = 0; i < 2; i++) {
			p[i].fd = h[i].done ? -1 : h[i].len ? h[i].to : h[i].from;
			p[i].events = h[i].len ? POLLOUT : POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		for (int i = 0; i < 2; i++) {
			if (p[i].revents && h[i].len)
				half_write(&h[i]);
			else if (p[i].revents)
				half_read(&h[i]);
			half_finish(&h[i]);
		}
	}
}

int fn_http_proxy(int fd, unsigned port)
{
	int s = port && port <= 65535 ? connect_port(port) : -1;
	char msg[96];

	if (s < 0) {
		snprintf(msg, sizeof(msg), "cannot connect to the function's port %u: %s", port,
			 strerror(errno));
		return reply_error(fd, msg);
	}
	if (io_write_all(fd, "OK\n", 3) < 0) {
		close(s);
		return -1;
	}
	splice_both(fd, s);
	close(s);
	return 0;
}
