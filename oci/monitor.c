// SPDX-License-Identifier: Apache-2.0
/*
 * The monitor: the process `create` leaves behind, whose pid goes to the
 * pid file and which the engine (conmon, the containerd shim) waits on as
 * its child (../shared/reference/oci-runtime.md 2.1). It starts the VM,
 * sets the container up through the guest agent, then relays: the stdio
 * it was given (or a terminal whose master went to the console socket) to
 * and from the container's process, signals it receives to that process,
 * window sizes, and commands from later ember-oci calls on its control
 * socket (START, KILL). It ends with the VM and exits with the process's
 * status, 128 + the signal for a signalled one, as runsc's sandbox does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ember_proc.h"
#include "oci.h"

#define SETUP_MS 60000
#define CTL_LINE 128
#define START_MS 30000

struct mon {
	struct oci_monitor_args *a;
	struct oci_vm vm;
	struct oci_stream s;
	struct oci_relay r;
	int ctl_fd, log_fd;
	int tty; /* the slave of the terminal, or -1 */
	bool started;
};

static void mlog(struct mon *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mlog(struct mon *m, const char *fmt, ...)
{
	char buf[ERR_MSG_MAX + 64];
	va_list ap;
	int n;

	if (m->log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n = n > (int)sizeof(buf) - 2 ? (int)sizeof(buf) - 2 : n;
	buf[n++] = '\n';
	if (write(m->log_fd, buf, (size_t)n) < 0)
		m->log_fd = -1;
}

static void report(struct mon *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct mon *m, const char *fmt, ...)
{
	char buf[ERR_MSG_MAX + 32];
	va_list ap;
	int n;

	if (m->a->report_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(m->a->report_fd, buf,
			   (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1)) < 0)
		mlog(m, "cannot report to create: %s", strerror(errno));
	close(m->a->report_fd);
	m->a->report_fd = -1;
}

static void finish(struct mon *m, int status) __attribute__((noreturn));

static void finish(struct mon *m, int status)
{
	char path[PATH_MAX];

	oci_state_mark(m->a->st->dir, "stopped", status);
	oci_stream_close(&m->s);
	if (m->vm.pid > 0)
		oci_vm_stop(&m->vm);
	oci_state_path(m->a->st, "ctl.sock", path, sizeof(path));
	unlink(path);
	if (m->a->st->iface[0]) /* we are in the container's network namespace */
		oci_net_teardown(m->a->st->iface);
	mlog(m, "container exited with %d", status);
	_exit(status & 0xff);
}

/* A setup failure: create hears it, the VM goes. */
static void fail(struct mon *m, const struct ember_err *err) __attribute__((noreturn));

static void fail(struct mon *m, const struct ember_err *err)
{
	mlog(m, "%s", err->msg);
	report(m, "ERR %s\n", err->msg);
	finish(m, 1);
}

static int listen_ctl(struct mon *m, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX];

	oci_state_path(m->a->st, "ctl.sock", path, sizeof(path));
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "%s is too long for a socket", path);
	strcpy(sa.sun_path, path);
	unlink(path);
	m->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->ctl_fd < 0 || bind(m->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(m->ctl_fd, 16) < 0)
		return err_errno(err, "listening on %s", path);
	return 0;
}

/* The terminal: the master to the engine, the slave ours, raw (the
 * guest's terminal does the line discipline), our controlling tty so its
 * window size changes reach us as SIGWINCH. */
static int setup_tty(struct mon *m, struct ember_err *err)
{
	struct termios t;
	int master;

	if (oci_tty_open(&master, &m->tty, err) < 0)
		return -err->code;
	if (tcgetattr(m->tty, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(m->tty, TCSANOW, &t);
	}
	setsid();
	ioctl(m->tty, TIOCSCTTY, 0);
	if (oci_tty_send_master(m->a->console_socket, master, err) < 0) {
		close(master);
		return -err->code;
	}
	close(master);
	return 0;
}

static void guest_words(struct mon *m, struct ember_err *err)
{
	char log[PATH_MAX], tail[600];
	size_t len = strlen(err->msg);

	oci_state_path(m->a->st, "ember.log", log, sizeof(log));
	ember_proc_log_tail(log, tail, sizeof(tail));
	if (tail[0] && snprintf(err->msg + len, sizeof(err->msg) - len, " (guest: %s)", tail) < 0)
		err->msg[len] = '\0';
}

static void setup(struct mon *m)
{
	const struct oci_monitor_args *a = m->a;
	struct ember_err err = { 0 };

	m->r.sig_fd = oci_relay_signals();
	if (m->r.sig_fd < 0) {
		err_errno(&err, "signalfd");
		fail(m, &err);
	}
	if (listen_ctl(m, &err) < 0 || (a->spec->terminal && setup_tty(m, &err) < 0))
		fail(m, &err);
	if (oci_cgroup_join(a->st->cgroup, getpid(), a->spec, &err) < 0)
		fail(m, &err);
	snprintf(m->vm.dir, sizeof(m->vm.dir), "%s", a->st->dir);
	oci_vm_shape(a->spec, &m->vm.shape);
	m->vm.nic = a->nic;
	if (oci_vm_start(&m->vm, a->g, a->image, &err) < 0)
		fail(m, &err);
	m->s.in_fd = a->spec->terminal ? m->tty : 0;
	m->s.out_fd = a->spec->terminal ? m->tty : 1;
	m->s.err_fd = a->spec->terminal ? -1 : 2;
	if (oci_stream_open(&m->s, a->st->dir, "PROC", a->request, SETUP_MS, &err) < 0 ||
	    oci_stream_wait_ready(&m->s, SETUP_MS, &err) < 0) {
		if (!m->s.error[0]) /* not the setup's own error: the guest's last words */
			guest_words(m, &err);
		fail(m, &err);
	}
	oci_state_mark(a->st->dir, "created", 0);
	mlog(m, "container created: guest pid %d", (int)m->s.guest_pid);
	report(m, "READY %d\n", (int)getpid());
}

/* START: run the process, answer once it runs (or why it cannot). */
static void do_start(struct mon *m, int c)
{
	struct pollfd p = { m->s.conn, POLLIN, 0 };
	char line[ERR_MSG_MAX + 8];
	int r = 0;

	if (m->started) {
		dprintf(c, "ERR container has already been started\n");
		return;
	}
	if (oci_stream_send(&m->s, CTR_START, NULL, 0) < 0) {
		dprintf(c, "ERR the guest agent is gone\n");
		return;
	}
	while (!m->s.started && !m->s.error[0] && !m->s.exited && r == 0) {
		if (poll(&p, 1, START_MS) <= 0)
			break;
		r = oci_stream_pump(&m->s);
	}
	if (m->s.started) {
		m->started = m->r.forwarding = true;
		oci_state_mark(m->a->st->dir, "running", 0);
		dprintf(c, "OK\n");
		return;
	}
	snprintf(line, sizeof(line), "%s",
		 m->s.error[0] ? m->s.error : "the process did not start");
	dprintf(c, "ERR %s\n", line);
	if (m->s.error[0])
		finish(m, 127);
}

static void do_kill(struct mon *m, int c, const char *args)
{
	int sig = 0, all = 0;

	if (sscanf(args, "%d %d", &sig, &all) < 1 || sig <= 0 || sig > 64) {
		dprintf(c, "ERR bad signal\n");
		return;
	}
	if (m->s.exited ||
	    oci_stream_send_u32(&m->s, all ? CTR_SIGNAL_ALL : CTR_SIGNAL, (uint32_t)sig) < 0) {
		dprintf(c, "ERR container not running\n");
		return;
	}
	/* a container killed before it started never will */
	if (!m->started && (sig == SIGKILL || sig == SIGTERM || sig == SIGINT)) {
		dprintf(c, "OK\n");
		finish(m, 128 + sig);
	}
	dprintf(c, "OK\n");
}

static void on_ctl(struct mon *m)
{
	char line[CTL_LINE];
	ssize_t n;
	int c = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	/* a command line comes at once: the caller wrote it before polling */
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 5, 0 }, sizeof(struct timeval));
	n = read(c, line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (!strcmp(line, "START"))
		do_start(m, c);
	else if (!strncmp(line, "KILL ", 5))
		do_kill(m, c, line + 5);
	else
		dprintf(c, "ERR unknown command\n");
	close(c);
}

/* SIGCHLD: is ember still there? Before START, a signal that would end
 * the process ends the container instead. */
static void on_signal(void *ctx, int sig)
{
	struct mon *m = ctx;
	int status;

	if (sig == SIGCHLD) {
		if (m->vm.pid > 0 && waitpid(m->vm.pid, &status, WNOHANG) == m->vm.pid) {
			mlog(m, "ember exited (%d): the container is gone", status);
			m->vm.pid = 0;
			finish(m, 128 + SIGKILL);
		}
	} else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
		finish(m, 128 + sig);
	}
}

static void on_extra(void *ctx)
{
	on_ctl(ctx);
}

static void loop(struct mon *m)
{
	int status;

	m->r = (struct oci_relay){ .s = &m->s,
				   .sig_fd = m->r.sig_fd,
				   .tty = m->tty,
				   .stdin_open = true,
				   .extra_fd = m->ctl_fd,
				   .on_extra = on_extra,
				   .on_signal = on_signal,
				   .ctx = m };
	status = oci_relay_run(&m->r);
	if (status < 0) {
		mlog(m, "the guest agent hung up or broke the protocol");
		finish(m, m->s.error[0] ? 127 : 128 + SIGKILL);
	}
	finish(m, status);
}

void oci_monitor_main(struct oci_monitor_args *a)
{
	struct mon m = { .a = a, .ctl_fd = -1, .tty = -1 };
	char path[PATH_MAX];

	prctl(PR_SET_NAME, "ember-oci-mon");
	oci_state_path(a->st, "monitor.log", path, sizeof(path));
	m.log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	m.s.conn = -1;
	setup(&m);
	loop(&m);
	finish(&m, 255);
}
