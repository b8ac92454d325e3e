// SPDX-License-Identifier: Apache-2.0
/*
 * create and run. create checks the bundle, builds the guest's request
 * (refusing what a VM cannot give, such as volumes) and the root image,
 * then leaves a monitor (double fork: it is reparented to the caller's
 * subreaper, conmon or the containerd shim) and waits until the monitor
 * reports the container set up in its VM. Only then the pid file: engines
 * take it as the end of create. run is create, start and a wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember_disk.h"
#include "oci.h"

#define REPORT_MS 300000 /* podman gives create 240 s */
/* The root's free room: as much as the files take, at least 1 GiB (sparse). */
#define ROOT_ROOM (1ull << 30)

struct create_opts {
	const char *id, *bundle, *pid_file, *console_socket;
	bool detach;
};

int oci_write_pid_file(const char *path, pid_t pid, struct ember_err *err)
{
	char tmp[PATH_MAX], text[32], *slash;
	int fd, n = snprintf(text, sizeof(text), "%d", (int)pid);

	/* runc writes ".<name>" beside it, then renames */
	snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	if (slash)
		snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp), ".%s",
			 strrchr(path, '/') + 1);
	else
		snprintf(tmp, sizeof(tmp), ".%s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_errno(err, "writing the pid file %s", path);
	if (write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return err_errno(err, "writing the pid file %s", path);
	}
	return 0;
}

/* What the VM cannot do is refused before anything starts. */
static int check_spec(const struct oci_spec *s, const struct create_opts *o, struct ember_err *err)
{
	static const char *const guest_hooks[] = { "createContainer", "startContainer" };

	if (s->terminal && !o->console_socket && o->detach)
		return err_set(err, EINVAL,
			       "cannot allocate tty if runc will detach without setting console "
			       "socket");
	if (!s->terminal && o->console_socket)
		return err_set(err, EINVAL,
			       "cannot use console socket if runc will not detach or allocate tty");
	if (s->terminal && !o->console_socket)
		return err_set(err, ENOTSUP, "a terminal needs --console-socket with ember-oci");
	for (size_t i = 0; i < 2; i++)
		if (json_array_size(json_object_get(s->hooks, guest_hooks[i])))
			return err_set(err, ENOTSUP,
				       "%s hooks run in the container's namespaces, which are "
				       "inside its VM: ember-oci cannot run them",
				       guest_hooks[i]);
	return 0;
}

/* The grandchild: the monitor. */
static void spawn_monitor(struct oci_monitor_args *a, int report_read)
{
	pid_t p;

	close(report_read);
	/* the state's lock is create's: a monitor holding it would block
	 * every later command */
	close(a->st->lock_fd);
	a->st->lock_fd = -1;
	p = fork();
	if (p != 0)
		_exit(p < 0 ? 1 : 0);
	/* the caller's stdio stays ours: it is the container's */
	oci_monitor_main(a);
}

/* The monitor's "READY <pid>" or "ERR <message>"; EOF means it died. */
static int read_report(int fd, pid_t *pid, const struct oci_state *st, struct ember_err *err)
{
	char line[ERR_MSG_MAX + 32], log[PATH_MAX];
	int d;

	if (oci_read_line(fd, line, sizeof(line), REPORT_MS) < 0)
		return err_set(err, ETIMEDOUT, "the container was not set up in %d s",
			       REPORT_MS / 1000);
	if (sscanf(line, "READY %d", &d) == 1) {
		*pid = d;
		return 0;
	}
	if (!strncmp(line, "ERR ", 4))
		return err_set(err, EINVAL, "%s", line + 4);
	oci_state_path(st, "monitor.log", log, sizeof(log));
	return err_set(err, EPIPE, "the container's monitor died while setting it up (see %s)",
		       log);
}

static int start_monitor(const struct oci_globals *g, struct oci_state *st,
			 const struct oci_spec *spec, const char *image, const char *request,
			 const struct create_opts *o, struct ember_err *err)
{
	struct oci_monitor_args a = {
		g, st, spec, image, st->iface[0] != '\0', request, o->console_socket, -1
	};
	int pipefd[2], status;
	pid_t child;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return err_errno(err, "pipe");
	a.report_fd = pipefd[1];
	child = fork();
	if (child < 0)
		return err_errno(err, "fork");
	if (child == 0)
		spawn_monitor(&a, pipefd[0]);
	close(pipefd[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (read_report(pipefd[0], &st->pid, st, err) < 0) {
		close(pipefd[0]);
		return -err->code;
	}
	close(pipefd[0]);
	st->pid_start = oci_proc_start(st->pid);
	return 0;
}

/* Everything after the state directory exists; on failure it is undone. */
static int create_in(const struct oci_globals *g, struct oci_state *st, struct oci_spec *spec,
		     const struct create_opts *o, struct ember_err *err)
{
	char image[PATH_MAX], *request = NULL;
	json_t *net = NULL;
	uint64_t sectors = 0;
	int ret;

	snprintf(st->bundle, sizeof(st->bundle), "%s", spec->bundle);
	snprintf(st->rootfs, sizeof(st->rootfs), "%s", spec->rootfs);
	if (oci_cgroup_path(spec->cgroups_path, g->systemd_cgroup, st->id, st->cgroup,
			    sizeof(st->cgroup), err) < 0)
		return -err->code;
	st->annotations = json_incref(spec->annotations);
	st->hooks = json_incref(spec->hooks);
	oci_state_path(st, "rootfs.ext4", image, sizeof(image));
	/* the monitor (and ember) inherit the network namespace create joins */
	ret = oci_net_enter(spec, err);
	if (!ret && spec->netns_path)
		snprintf(st->netns, sizeof(st->netns), "%s", spec->netns_path);
	if (!ret)
		ret = oci_net_setup(&net, st->iface, sizeof(st->iface), err);
	if (!ret)
		ret = ember_disk_from_dir(spec->rootfs, image, 100, ROOT_ROOM, &sectors, err);
	if (!ret)
		ret = oci_guest_request(spec, st->id, "/dev/vda", sectors, net, &request, err);
	if (!ret)
		ret = oci_state_save(st, err);
	if (!ret)
		ret = start_monitor(g, st, spec, image, request, o, err);
	if (!ret)
		ret = oci_state_save(st, err);
	if (ret && st->iface[0])
		oci_net_teardown(st->iface);
	json_decref(net);
	free(request);
	return ret;
}

static int do_create(const struct oci_globals *g, const struct create_opts *o, pid_t *pid,
		     struct ember_err *err)
{
	struct oci_state st;
	struct oci_spec spec;
	int ret;

	if (oci_spec_load(&spec, o->bundle, err) < 0)
		return -err->code;
	if (check_spec(&spec, o, err) < 0 || oci_state_create(&st, g->root, o->id, err) < 0) {
		oci_spec_free(&spec);
		return -err->code;
	}
	ret = create_in(g, &st, &spec, o, err);
	if (!ret && o->pid_file)
		ret = oci_write_pid_file(o->pid_file, st.pid, err);
	if (ret) {
		if (st.pid > 0)
			kill(st.pid, SIGKILL);
		/* --debug keeps it (the VM's console is its ember.log) for a look */
		if (g->debug)
			oci_log_debug("kept %s for inspection; delete %s removes it", st.dir,
				      st.id);
		else
			oci_state_remove(&st);
	}
	*pid = st.pid;
	oci_state_close(&st);
	oci_spec_free(&spec);
	return ret;
}

static int parse_create(int argc, char **argv, struct create_opts *o, bool run,
			struct ember_err *err)
{
	bool no_pivot = false, no_keyring = false, keep = false;
	const char *preserve = NULL, *pos[2];
	const struct oci_flag flags[] = {
		{ "bundle", 'b', OCI_FLAG_STRING, &o->bundle },
		{ "pid-file", 0, OCI_FLAG_STRING, &o->pid_file },
		{ "console-socket", 0, OCI_FLAG_STRING, &o->console_socket },
		{ "no-pivot", 0, OCI_FLAG_BOOL, &no_pivot },
		{ "no-new-keyring", 0, OCI_FLAG_BOOL, &no_keyring },
		{ "preserve-fds", 0, OCI_FLAG_STRING, &preserve },
		{ "detach", 'd', OCI_FLAG_BOOL, run ? &o->detach : &keep },
		{ "keep", 0, OCI_FLAG_BOOL, &keep },
		{ NULL, 0, 0, NULL },
	};
	int n;

	o->bundle = ".";
	o->detach = !run;
	if (oci_parse_flags(argc, argv, flags, pos, 2, &n, err) < 0)
		return -err->code;
	if (n != 1)
		return err_set(err, EINVAL, "%s: exactly one container id is required",
			       run ? "run" : "create");
	if (preserve && strcmp(preserve, "0"))
		return err_set(err, ENOTSUP, "--preserve-fds: a VM cannot take the caller's fds");
	o->id = pos[0];
	return 0;
}

int oci_cmd_create(struct oci_globals *g, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct ember_err err = { 0 };
	pid_t pid;

	if (parse_create(argc, argv, &o, false, &err) < 0 || do_create(g, &o, &pid, &err) < 0)
		return oci_fail(&err);
	return 0;
}

int oci_cmd_run(struct oci_globals *g, int argc, char **argv)
{
	struct create_opts o = { 0 };
	struct ember_err err = { 0 };
	char *start_argv[] = { (char *)o.id, NULL };
	char *del_argv[] = { (char *)"--force", NULL, NULL };
	int status = 0, ret;
	pid_t pid;

	/* the monitor is reparented to us, so we can wait on it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (parse_create(argc, argv, &o, true, &err) < 0 || do_create(g, &o, &pid, &err) < 0)
		return oci_fail(&err);
	start_argv[0] = (char *)o.id;
	ret = oci_cmd_start(g, 1, start_argv);
	if (ret || o.detach)
		return ret;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	del_argv[1] = (char *)o.id;
	oci_cmd_delete(g, 2, del_argv);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
