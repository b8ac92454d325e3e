// SPDX-License-Identifier: Apache-2.0
/*
 * One container process over one agent connection: the request's JSON,
 * the process forked (PROC: in a new PID namespace, created and then held
 * until START; EXEC: in the container's namespaces, at once), then frames
 * relayed both ways (rootfs/ctr_proto.h) until the process has exited and
 * its output is drained. The child reports through a close-on-exec
 * socket pair: 'T' with the terminal's master (made inside the container,
 * on its own devpts, as runc does), 'R' when set up, 'E' and a message on
 * failure, end of file once execve has succeeded.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ctr.h"
#include "ctr_proto.h"
#include "io.h"

#define MSG_MAX 1024

struct relay {
	int conn;
	struct ctr_req req;
	pid_t pid;
	int status; /* the process's, once reaped */
	bool exited, started;
	int stdin_fd;  /* pipe to the process, or the pty master; -1 once closed */
	int out_fd[2]; /* stdout and stderr pipes, or the master and -1 */
	int sync_fd;   /* the child's report pipe; -1 once it ended */
	int start_fd;  /* PROC: written to at START */
	int sig_fd;    /* SIGCHLD */
	struct ctr_reader in;
};

static int send_frame(int conn, uint8_t type, const void *data, uint32_t len)
{
	uint8_t hdr[CTR_HDR_LEN];

	ctr_hdr(hdr, type, len);
	if (io_write_all(conn, hdr, sizeof(hdr)) < 0)
		return -1;
	return len ? io_write_all(conn, data, len) : 0;
}

static int send_u32(int conn, uint8_t type, uint32_t v)
{
	uint8_t b[4];

	ctr_put32(b, v);
	return send_frame(conn, type, b, 4);
}

static void send_error(int conn, const char *msg)
{
	send_frame(conn, CTR_ERROR, msg, (uint32_t)strlen(msg));
}

/* ---- the child ---- */

/* 'E' and the message in one write; the relay reads up to our exit. */
static void child_fail(int sync, const char *msg)
{
	char buf[MSG_MAX + 1];
	int n = snprintf(buf, sizeof(buf), "E%s", msg);

	io_write_all(sync, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	_exit(127);
}

static int send_fd(int sock, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 }, tag = 'T';
	struct iovec iov = { &tag, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

/* The terminal, from the container's /dev/ptmx: the slave becomes the
 * controlling tty and stdio, the master goes to the relay. */
static int child_tty(const struct relay *r, int sync, char *msg, size_t size)
{
	struct winsize ws = { .ws_row = (unsigned short)r->req.rows,
			      .ws_col = (unsigned short)r->req.cols };
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s;
	char name[64];

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
	    (s = open(name, O_RDWR | O_CLOEXEC)) < 0)
		return snprintf(msg, size, "creating the terminal: %s", strerror(errno)), -1;
	if (ws.ws_row && ws.ws_col)
		ioctl(m, TIOCSWINSZ, &ws);
	if (ioctl(s, TIOCSCTTY, 0) < 0 || send_fd(sync, m) < 0)
		return snprintf(msg, size, "attaching the terminal: %s", strerror(errno)), -1;
	ctr_console(name);
	dup2(s, 0);
	dup2(s, 1);
	dup2(s, 2);
	close(m);
	return 0;
}

static void child(struct relay *r, int sync, int start, int fds[3])
{
	char msg[MSG_MAX], path[4096], go;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (!r->req.terminal) {
		for (int i = 0; i < 3; i++)
			dup2(fds[i], i);
	}
	if (ctr_enter(&r->req, msg, sizeof(msg)) < 0 ||
	    (r->req.terminal && child_tty(r, sync, msg, sizeof(msg)) < 0) ||
	    ctr_process(&r->req, path, sizeof(path), msg, sizeof(msg)) < 0)
		child_fail(sync, msg);
	if (!r->req.exec) {
		io_write_all(sync, "R", 1);
		if (read(start, &go, 1) != 1) /* the host went away: never run */
			_exit(127);
	}
	ctr_exec(&r->req, path);
	snprintf(msg, sizeof(msg), "exec %.900s: %s", path, strerror(errno));
	child_fail(sync, msg);
}

/* ---- the relay's side ---- */

static int open_pipes(struct relay *r, int fds[3])
{
	int p[3][2];

	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0)
			return -1;
	fds[0] = p[0][0];
	r->stdin_fd = p[0][1];
	for (int i = 1; i < 3; i++) {
		fds[i] = p[i][1];
		r->out_fd[i - 1] = p[i][0];
	}
	return 0;
}

static void write_pid(const struct relay *r)
{
	char path[256], buf[32];
	int fd, n = snprintf(buf, sizeof(buf), "%d", (int)r->pid);

	mkdir(CTR_DIR, 0700);
	snprintf(path, sizeof(path), CTR_DIR "/%s.pid", r->req.id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		io_write_all(fd, buf, (size_t)n);
		close(fd);
	}
}

/* Fork the process; the relay keeps its ends of the pipes. */
static int spawn(struct relay *r, char *msg, size_t size)
{
	int sync[2], start[2], fds[3] = { -1, -1, -1 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 ||
	    pipe2(start, O_CLOEXEC) < 0 || (!r->req.terminal && open_pipes(r, fds) < 0))
		return snprintf(msg, size, "stdio: %s", strerror(errno)), -1;
	if (r->req.exec ? ctr_join(&r->req, msg, size) < 0 : unshare(CLONE_NEWPID) < 0) {
		if (!r->req.exec)
			snprintf(msg, size, "unshare(CLONE_NEWPID): %s", strerror(errno));
		return -1;
	}
	r->pid = fork();
	if (r->pid < 0)
		return snprintf(msg, size, "fork: %s", strerror(errno)), -1;
	if (r->pid == 0) {
		close(sync[0]);
		close(start[1]);
		child(r, sync[1], start[0], fds);
	}
	close(sync[1]);
	close(start[0]);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	r->sync_fd = sync[0];
	r->start_fd = start[1];
	if (!r->req.exec)
		write_pid(r);
	return 0;
}

/* The master the child sent ('T'). */
static int take_master(struct relay *r)
{
	char ctl[CMSG_SPACE(sizeof(int))], tag;
	struct iovec iov = { &tag, 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
	};
	struct cmsghdr *c;
	int m;

	if (recvmsg(r->sync_fd, &mh, MSG_CMSG_CLOEXEC) != 1 || tag != 'T' ||
	    !(c = CMSG_FIRSTHDR(&mh)) || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&m, CMSG_DATA(c), sizeof(int));
	r->stdin_fd = m;
	r->out_fd[0] = dup(m);
	r->out_fd[1] = -1;
	return 0;
}

/* 'R', or 'E' and a message (then -1), or end of file: execve happened. */
static int on_sync(struct relay *r)
{
	char buf[MSG_MAX + 1];
	ssize_t n;

	if (r->req.terminal && r->stdin_fd < 0 && !r->started) {
		if (recv(r->sync_fd, buf, 1, MSG_PEEK) == 1 && buf[0] == 'T')
			return take_master(r) < 0 ? -1 : 0;
	}
	n = read(r->sync_fd, buf, sizeof(buf) - 1);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n > 0 && buf[0] == 'R')
		return send_u32(r->conn, CTR_READY, (uint32_t)r->pid);
	if (n > 0 && buf[0] == 'E') {
		ssize_t more;

		while (n < (ssize_t)sizeof(buf) - 1 &&
		       (more = read(r->sync_fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
			n += more;
		buf[n] = '\0';
		send_error(r->conn, buf + 1);
		return -1;
	}
	close(r->sync_fd);
	r->sync_fd = -1;
	if (!r->req.exec && r->start_fd >= 0) { /* gone before READY, without a word */
		int status = 0;

		waitpid(r->pid, &status, 0);
		r->exited = true;
		snprintf(buf, sizeof(buf), "setting the container up failed: %s %d",
			 WIFSIGNALED(status) ? "killed by signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		send_error(r->conn, buf);
		return -1;
	}
	if (r->req.exec && send_u32(r->conn, CTR_READY, (uint32_t)r->pid) < 0)
		return -1;
	r->started = true;
	return send_frame(r->conn, CTR_STARTED, NULL, 0);
}

/* Every process in the container's PID namespace (kill --all). */
static void signal_all(struct relay *r, int sig)
{
	char path[64], ns[64], other[64];
	struct dirent *e;
	ssize_t len;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)r->pid);
	len = readlink(path, ns, sizeof(ns) - 1);
	if (len <= 0 || !(d = opendir("/proc")))
		return;
	ns[len] = '\0';
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		ssize_t n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
		n = readlink(path, other, sizeof(other) - 1);
		if (n > 0 && (other[n] = '\0', !strcmp(other, ns)))
			kill(pid, sig);
	}
	closedir(d);
}

static int on_frame(void *ctx, uint8_t type, const uint8_t *data, uint32_t len)
{
	struct relay *r = ctx;

	switch (type) {
	case CTR_STDIN:
		if (r->stdin_fd >= 0 && io_write_all(r->stdin_fd, data, len) < 0 &&
		    !r->req.terminal) {
			close(r->stdin_fd);
			r->stdin_fd = -1;
		}
		return 0;
	case CTR_STDIN_EOF:
		if (r->stdin_fd >= 0 && !r->req.terminal) {
			close(r->stdin_fd);
			r->stdin_fd = -1;
		}
		return 0;
	case CTR_SIGNAL:
	case CTR_SIGNAL_ALL:
		if (len == 4 && !r->exited) {
			if (type == CTR_SIGNAL_ALL)
				signal_all(r, (int)ctr_get32(data));
			else
				kill(r->pid, (int)ctr_get32(data));
		}
		return 0;
	case CTR_RESIZE:
		if (len == 4 && r->req.terminal) {
			struct winsize ws = { .ws_row = (unsigned short)(data[0] | data[1] << 8),
					      .ws_col = (unsigned short)(data[2] | data[3] << 8) };

			ioctl(r->stdin_fd, TIOCSWINSZ, &ws);
		}
		return 0;
	case CTR_START:
		if (r->start_fd >= 0) {
			io_write_all(r->start_fd, "g", 1);
			close(r->start_fd);
			r->start_fd = -1;
		}
		return 0;
	default: return -1; /* not our protocol */
	}
}

/* Output of the process: 0 on data, 1 at its end. */
static int on_output(struct relay *r, int i)
{
	uint8_t buf[CTR_FRAME_MAX];
	ssize_t n = read(r->out_fd[i], buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) { /* EIO on a pty master: every slave is closed */
		close(r->out_fd[i]);
		r->out_fd[i] = -1;
		return 1;
	}
	return send_frame(r->conn, i ? CTR_STDERR : CTR_STDOUT, buf, (uint32_t)n) < 0 ? -1 : 0;
}

static void on_sigchld(struct relay *r)
{
	struct signalfd_siginfo si;
	int status;

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si))
		;
	if (!r->exited && waitpid(r->pid, &status, WNOHANG) == r->pid) {
		r->exited = true;
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
}

/* Poll the connection, the child's report, its output and SIGCHLD until
 * the process has exited and its output ended (or the host hung up). */
static void relay_loop(struct relay *r)
{
	uint8_t buf[CTR_FRAME_MAX];

	for (;;) {
		struct pollfd p[5] = { { r->conn, POLLIN, 0 },
				       { r->sync_fd, POLLIN, 0 },
				       { r->out_fd[0], POLLIN, 0 },
				       { r->out_fd[1], POLLIN, 0 },
				       { r->sig_fd, POLLIN, 0 } };
		/* A pty master gives EIO only once every holder closed the
		 * slave; after the exit, a short grace to drain it. */
		int timeout = r->exited && r->req.terminal ? 100 : -1;
		int n = poll(p, 5, timeout);

		if (n < 0 && errno != EINTR)
			return;
		if (n == 0 && r->exited) {
			for (int i = 0; i < 2; i++)
				if (r->out_fd[i] >= 0) {
					close(r->out_fd[i]);
					r->out_fd[i] = -1;
				}
		}
		if (p[4].revents)
			on_sigchld(r);
		if (p[1].revents && on_sync(r) < 0)
			return;
		for (int i = 0; i < 2; i++)
			if (p[2 + i].revents && on_output(r, i) < 0)
				return;
		if (p[0].revents) {
			ssize_t got = read(r->conn, buf, sizeof(buf));

			if (got <= 0) { /* the host is gone: so is the process */
				if (!r->exited)
					kill(r->pid, SIGKILL);
				return;
			}
			if (ctr_reader_feed(&r->in, buf, (size_t)got, on_frame, r) < 0)
				return;
		}
		if (r->exited && r->sync_fd < 0 && r->out_fd[0] < 0 && r->out_fd[1] < 0) {
			send_u32(r->conn, CTR_EXIT, (uint32_t)r->status);
			return;
		}
	}
}

static int read_request(int conn, unsigned long len, char **json)
{
	if (len == 0 || len > CTR_SPEC_MAX)
		return -1;
	*json = malloc(len);
	return *json && io_read_exact(conn, *json, len) == 0 ? 0 : -1;
}

void ctr_serve(int conn, bool exec, unsigned long len)
{
	struct relay r = {
		.conn = conn, .stdin_fd = -1, .out_fd = { -1, -1 }, .sync_fd = -1, .start_fd = -1
	};
	char msg[MSG_MAX], *json = NULL;
	sigset_t chld;

	if (read_request(conn, len, &json) < 0) {
		send_error(conn, "bad request: a JSON body of 1 byte to 4 MiB was expected");
		free(json);
		return;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	r.sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ctr_req_parse(&r.req, exec, json, len, msg, sizeof(msg)) < 0 ||
	    (!exec && ctr_prepare(&r.req, msg, sizeof(msg)) < 0) ||
	    spawn(&r, msg, sizeof(msg)) < 0) {
		send_error(conn, msg);
	} else {
		relay_loop(&r);
		if (!r.exited)
			kill(r.pid, SIGKILL);
	}
	ctr_req_free(&r.req);
	free(json);
}
