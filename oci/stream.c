// SPDX-License-Identifier: Apache-2.0
/*
 * The host's side of one container process (rootfs/ctr_proto.h): connect
 * to the guest agent through ember's vsock socket, send PROC or EXEC with
 * its JSON, then turn frames into output on the process's stdout and
 * stderr and remember READY, STARTED, EXIT and ERROR.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_client.h"
#include "oci.h"

int oci_stream_open(struct oci_stream *s, const char *dir, const char *verb, const char *json,
		    unsigned wait_ms, struct ember_err *err)
{
	struct agent_conn c;
	char uds[PATH_MAX], line[64];
	size_t len = strlen(json);
	int n;

	s->rd.len = 0;
	s->conn = -1;
	s->guest_pid = 0;
	s->started = s->exited = false;
	s->status = -1;
	s->error[0] = '\0';
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	if (agent_connect(&c, uds, AGENT_PORT, wait_ms, err) < 0)
		return err_prefix(err, "reaching the guest agent");
	s->conn = c.fd;
	n = snprintf(line, sizeof(line), "%s %zu\n", verb, len);
	if (agent_write_all(s->conn, line, (size_t)n) < 0 ||
	    agent_write_all(s->conn, json, len) < 0) {
		oci_stream_close(s);
		return err_errno(err, "sending the %s request to the guest agent", verb);
	}
	return 0;
}

int oci_stream_send(struct oci_stream *s, uint8_t type, const void *data, uint32_t len)
{
	uint8_t hdr[CTR_HDR_LEN];

	ctr_hdr(hdr, type, len);
	if (s->conn < 0 || agent_write_all(s->conn, hdr, sizeof(hdr)) < 0)
		return -1;
	return len ? agent_write_all(s->conn, data, len) : 0;
}

int oci_stream_send_u32(struct oci_stream *s, uint8_t type, uint32_t v)
{
	uint8_t b[4];

	ctr_put32(b, v);
	return oci_stream_send(s, type, b, 4);
}

static int on_frame(void *ctx, uint8_t type, const uint8_t *data, uint32_t len)
{
	struct oci_stream *s = ctx;

	switch (type) {
	case CTR_READY: s->guest_pid = len == 4 ? (pid_t)ctr_get32(data) : 0; return 0;
	case CTR_STARTED: s->started = true; return 0;
	case CTR_STDOUT:
	case CTR_STDERR: {
		int fd = type == CTR_STDERR && s->err_fd >= 0 ? s->err_fd : s->out_fd;

		/* a reader that went away loses the output, not the process */
		if (fd >= 0 && agent_write_all(fd, data, len) < 0) {
			if (fd == s->out_fd)
				s->out_fd = -1;
			else
				s->err_fd = -1;
		}
		return 0;
	}
	case CTR_EXIT:
		s->exited = true;
		s->status = len == 4 ? (int)ctr_get32(data) : 255;
		return 1;
	case CTR_ERROR:
		snprintf(s->error, sizeof(s->error), "%.*s", (int)(len < 400 ? len : 400),
			 (const char *)data);
		return 1;
	default: return -1;
	}
}

int oci_stream_pump(struct oci_stream *s)
{
	uint8_t buf[CTR_FRAME_MAX];
	ssize_t n = read(s->conn, buf, sizeof(buf));
	int ret;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return 1;
	ret = ctr_reader_feed(&s->rd, buf, (size_t)n, on_frame, s);
	return ret < 0 ? -1 : ret;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int oci_stream_wait_ready(struct oci_stream *s, unsigned timeout_ms, struct ember_err *err)
{
	uint64_t end = now_ms() + timeout_ms;

	while (!s->guest_pid && !s->error[0]) {
		struct pollfd p = { s->conn, POLLIN, 0 };
		uint64_t now = now_ms();
		int r;

		if (now >= end)
			return err_set(err, ETIMEDOUT,
				       "the guest did not set the process up within %u ms",
				       timeout_ms);
		if (poll(&p, 1, (int)(end - now)) < 0 && errno != EINTR)
			return err_errno(err, "waiting for the guest");
		if (!p.revents)
			continue;
		r = oci_stream_pump(s);
		if (r < 0)
			return err_set(err, EPROTO, "the guest agent broke the protocol");
		if (r > 0 && !s->error[0] && !s->guest_pid)
			return err_set(err, EPIPE,
				       "the guest agent hung up before the process was set up");
	}
	if (s->error[0])
		return err_set(err, EINVAL, "%s", s->error);
	return 0;
}

int oci_stream_forward_stdin(struct oci_stream *s)
{
	uint8_t buf[CTR_FRAME_MAX];
	ssize_t n = read(s->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		oci_stream_send(s, CTR_STDIN_EOF, NULL, 0);
		return 1;
	}
	return oci_stream_send(s, CTR_STDIN, buf, (uint32_t)n) < 0 ? 1 : 0;
}

void oci_stream_close(struct oci_stream *s)
{
	if (s->conn >= 0)
		close(s->conn);
	s->conn = -1;
}

/* ---- the relay ---- */

int oci_relay_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT,   SIGHUP,  SIGQUIT,
				    SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM };
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void relay_signals(struct oci_relay *r)
{
	struct signalfd_siginfo si;
	uint8_t ws[4];

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;

		if (sig == SIGWINCH && r->tty >= 0 && oci_tty_size(r->tty, ws) == 0)
			oci_stream_send(r->s, CTR_RESIZE, ws, 4);
		else if (sig != SIGCHLD && sig != SIGWINCH && r->forwarding)
			oci_stream_send_u32(r->s, CTR_SIGNAL, (uint32_t)sig);
		else if (r->on_signal)
			r->on_signal(r->ctx, sig);
	}
}

static void relay_stdin(struct oci_relay *r)
{
	if (oci_stream_forward_stdin(r->s) == 1) {
		r->stdin_open = false;
		if (r->s->in_fd != r->tty)
			close(r->s->in_fd);
	}
}

int oci_relay_run(struct oci_relay *r)
{
	for (;;) {
		struct pollfd p[4] = {
			{ r->s->conn, POLLIN, 0 },
			{ r->sig_fd, POLLIN, 0 },
			{ r->extra_fd, POLLIN, 0 },
			{ r->stdin_open && r->forwarding ? r->s->in_fd : -1, POLLIN, 0 },
		};
		int ret;

		if (poll(p, 4, -1) < 0 && errno != EINTR)
			return -1;
		if (p[1].revents)
			relay_signals(r);
		if (p[2].revents && r->on_extra)
			r->on_extra(r->ctx);
		if (p[3].revents)
			relay_stdin(r);
		if (!p[0].revents)
			continue;
		ret = oci_stream_pump(r->s);
		if (r->s->exited)
			return r->s->status;
		if (ret != 0)
			return -1;
	}
}
