// SPDX-License-Identifier: Apache-2.0
/*
 * exec: one more process in a running container. Its host-side stand-in
 * is a relay process (like runsc's exec child, or Kata 1's shim): it asks
 * the guest agent to start the process in the container's namespaces,
 * relays its stdio (or a terminal whose master goes to --console-socket),
 * forwards the signals it receives, and exits with the process's status.
 * With --detach the relay is left behind (reparented to the caller's
 * subreaper) and its pid goes to --pid-file once the process runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "oci.h"

#define READY_MS 60000

struct exec_opts {
	const char *id, *process, *pid_file, *console_socket, *cwd, *user;
	bool detach, tty, no_new_privs;
	struct oci_list env, caps, gids;
	const char *args[64];
	int nargs;
};

static int parse(int argc, char **argv, struct exec_opts *o, struct ember_err *err)
{
	const char *preserve = NULL, *apparmor = NULL, *label = NULL, *cgroup = NULL;
	bool ignored = false;
	const struct oci_flag flags[] = {
		{ "process", 'p', OCI_FLAG_STRING, &o->process },
		{ "detach", 'd', OCI_FLAG_BOOL, &o->detach },
		{ "pid-file", 0, OCI_FLAG_STRING, &o->pid_file },
		{ "console-socket", 0, OCI_FLAG_STRING, &o->console_socket },
		{ "tty", 't', OCI_FLAG_BOOL, &o->tty },
		{ "cwd", 0, OCI_FLAG_STRING, &o->cwd },
		{ "env", 'e', OCI_FLAG_LIST, &o->env },
		{ "user", 'u', OCI_FLAG_STRING, &o->user },
		{ "cap", 'c', OCI_FLAG_LIST, &o->caps },
		{ "additional-gids", 'g', OCI_FLAG_LIST, &o->gids },
		{ "no-new-privs", 0, OCI_FLAG_BOOL, &o->no_new_privs },
		{ "preserve-fds", 0, OCI_FLAG_STRING, &preserve },
		{ "apparmor", 0, OCI_FLAG_STRING, &apparmor },
		{ "process-label", 0, OCI_FLAG_STRING, &label },
		{ "cgroup", 0, OCI_FLAG_STRING, &cgroup },
		{ "ignore-paused", 0, OCI_FLAG_BOOL, &ignored },
		{ NULL, 0, 0, NULL },
	};
	int first;

	/* flags, then ID and the command: what follows the id is the command's */
	if (oci_parse_flags_head(argc, argv, flags, &first, err) < 0)
		return -err->code;
	if (first >= argc)
		return err_set(err, EINVAL, "exec: a container id is required");
	if (argc - first - 1 > (int)(sizeof(o->args) / sizeof(o->args[0])))
		return err_set(err, E2BIG, "exec: too many arguments");
	if (preserve && strcmp(preserve, "0"))
		return err_set(err, ENOTSUP, "--preserve-fds: a VM cannot take the caller's fds");
	if ((apparmor && *apparmor) || (label && *label))
		return err_set(err, ENOTSUP, "--apparmor and --process-label: not in a VM's guest");
	o->id = argv[first];
	o->nargs = argc - first - 1;
	for (int i = 0; i < o->nargs; i++)
		o->args[i] = argv[first + 1 + i];
	if (!o->process && !o->nargs)
		return err_set(err, EINVAL, "exec: a command (or --process) is required");
	return 0;
}

static json_t *load_process(const char *path, struct ember_err *err)
{
	json_error_t jerr;
	json_t *p = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!p)
		err_set(err, EINVAL, "--process %s: %s (line %d)", path, jerr.text, jerr.line);
	return p;
}

/* uid[:gid] */
static int apply_user(json_t *p, const char *user, struct ember_err *err)
{
	unsigned long uid, gid = 0;
	char *end;
	json_t *u = json_object();

	uid = strtoul(user, &end, 10);
	if (end == user || (*end && *end != ':'))
		return json_decref(u), err_set(err, EINVAL, "--user %s: uid[:gid] expected", user);
	if (*end == ':') {
		gid = strtoul(end + 1, &end, 10);
		if (*end)
			return json_decref(u),
			       err_set(err, EINVAL, "--user %s: uid[:gid] expected", user);
	}
	json_object_set_new(u, "uid", json_integer((json_int_t)uid));
	json_object_set_new(u, "gid", json_integer((json_int_t)gid));
	json_object_set_new(p, "user", u);
	return 0;
}

/* runc's way: the container's process, with the command line's changes. */
static json_t *build_process(const struct exec_opts *o, const struct oci_state *st,
			     struct ember_err *err)
{
	struct oci_spec spec;
	json_t *p, *args, *env;

	if (o->process)
		return load_process(o->process, err);
	if (oci_spec_load(&spec, st->bundle, err) < 0)
		return NULL;
	p = json_deep_copy(spec.process);
	oci_spec_free(&spec);
	args = json_array();
	for (int i = 0; i < o->nargs; i++)
		json_array_append_new(args, json_string(o->args[i]));
	json_object_set_new(p, "args", args);
	env = json_object_get(p, "env");
	if (!env)
		json_object_set_new(p, "env", env = json_array());
	for (unsigned i = 0; i < o->env.n; i++)
		json_array_append_new(env, json_string(o->env.item[i]));
	json_object_set_new(p, "terminal", json_boolean(o->tty));
	if (o->cwd)
		json_object_set_new(p, "cwd", json_string(o->cwd));
	if (o->no_new_privs)
		json_object_set_new(p, "noNewPrivileges", json_true());
	if (o->user && apply_user(p, o->user, err) < 0)
		return json_decref(p), NULL;
	return p;
}

/* ---- the relay ---- */

struct exec_relay {
	struct oci_stream s;
	struct oci_relay r;
	char reg[PATH_MAX]; /* state dir/exec-PID, for ps */
	int report_fd;
};

/* To the waiting exec --detach: "READY" or "ERR <message>". */
static void say(int fd, const char *word, const char *msg)
{
	if (fd >= 0 && dprintf(fd, "%s%s%s\n", word, msg ? " " : "", msg ? msg : "") < 0)
		return;
}

static int relay_setup(struct exec_relay *x, const struct exec_opts *o, const char *dir,
		       const char *request, struct ember_err *err)
{
	int master, slave = -1;

	x->r.tty = -1;
	if (o->tty) {
		struct termios t;

		if (oci_tty_open(&master, &slave, err) < 0)
			return -err->code;
		if (tcgetattr(slave, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(slave, TCSANOW, &t);
		}
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		if (oci_tty_send_master(o->console_socket, master, err) < 0)
			return close(master), -err->code;
		close(master);
		x->r.tty = slave;
	}
	x->s.in_fd = o->tty ? slave : 0;
	x->s.out_fd = o->tty ? slave : 1;
	x->s.err_fd = o->tty ? -1 : 2;
	if (oci_stream_open(&x->s, dir, "EXEC", request, READY_MS, err) < 0 ||
	    oci_stream_wait_ready(&x->s, READY_MS, err) < 0)
		return -err->code;
	return 0;
}

/* Runs the exec; its status, or 255 with the error reported. */
static int relay(const struct exec_opts *o, const char *dir, const char *request, int report_fd)
{
	struct exec_relay x = { .report_fd = report_fd };
	struct ember_err err = { 0 };
	int status;

	snprintf(x.reg, sizeof(x.reg), "%s/exec-%d", dir, (int)getpid());
	close(open(x.reg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	x.r.sig_fd = oci_relay_signals();
	if (relay_setup(&x, o, dir, request, &err) < 0) {
		unlink(x.reg);
		if (report_fd >= 0)
			say(report_fd, "ERR", err.msg);
		else
			oci_fail(&err);
		return 255;
	}
	if (o->pid_file && oci_write_pid_file(o->pid_file, getpid(), &err) < 0)
		oci_fail(&err);
	say(report_fd, "READY", NULL);
	if (report_fd >= 0)
		close(report_fd);
	x.r.s = &x.s;
	x.r.stdin_open = x.r.forwarding = true;
	x.r.extra_fd = -1;
	status = oci_relay_run(&x.r);
	unlink(x.reg);
	return status < 0 ? 255 : status;
}

/* --detach: the relay lives on; we return once it has the process running. */
static int detach(const struct exec_opts *o, const char *dir, const char *request,
		  struct ember_err *err)
{
	char line[ERR_MSG_MAX + 8] = "";
	int pipefd[2], status;
	ssize_t n;
	pid_t child;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_errno(err, "pipe");
	child = fork();
	if (child == 0) {
		close(pipefd[0]);
		if (fork() == 0)
			_exit(relay(o, dir, request, pipefd[1]));
		_exit(0);
	}
	close(pipefd[1]);
	if (child > 0)
		waitpid(child, &status, 0);
	n = read(pipefd[0], line, sizeof(line) - 1);
	close(pipefd[0]);
	line[n > 0 ? n : 0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (!strcmp(line, "READY"))
		return 0;
	if (!strncmp(line, "ERR ", 4))
		return err_set(err, EINVAL, "%s", line + 4);
	return err_set(err, EPIPE, "the exec's relay died before the process started");
}

int oci_cmd_exec(struct oci_globals *g, int argc, char **argv)
{
	struct exec_opts o = { 0 };
	struct ember_err err = { 0 };
	struct oci_state st;
	char dir[PATH_MAX], *request = NULL;
	json_t *process = NULL;
	int ret = 0;

	if (parse(argc, argv, &o, &err) < 0 || oci_state_open(&st, g->root, o.id, &err) < 0)
		return oci_fail(&err);
	if (st.status != OCI_RUNNING && st.status != OCI_CREATED)
		ret = err_set(&err, EINVAL, "cannot exec in a %s container",
			      oci_status_name(st.status));
	if (!ret && !(process = build_process(&o, &st, &err)))
		ret = -err.code;
	if (!ret && o.process)
		o.tty = json_is_true(json_object_get(process, "terminal"));
	if (!ret && o.tty && !o.console_socket)
		ret = err_set(&err, EINVAL, "a terminal needs --console-socket with ember-oci");
	if (!ret && (oci_process_check(process, &err) < 0 ||
		     oci_guest_exec_request(st.id, process, &request, &err) < 0))
		ret = -err.code;
	snprintf(dir, sizeof(dir), "%s", st.dir);
	oci_state_close(&st); /* the relay must not hold the lock */
	json_decref(process);
	if (!ret && o.detach)
		ret = detach(&o, dir, request, &err);
	else if (!ret) {
		ret = relay(&o, dir, request, -1);
		free(request);
		return ret;
	}
	free(request);
	return ret < 0 ? oci_fail(&err) : 0;
}
