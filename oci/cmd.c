// SPDX-License-Identifier: Apache-2.0
/*
 * The commands on an existing container: start, state, kill, delete, ps,
 * pause, resume, list, and features. Each takes the container's lock, so
 * concurrent commands on one container run one after the other; messages
 * are runc's where engines match them ("container does not exist",
 * "container not running").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"

#define CTL_MS    35000
#define DELETE_MS 10000

/* The one positional argument, the id, and the command's flags. */
static int one_id(int argc, char **argv, const struct oci_flag *flags, const char **id,
		  const char *cmd, struct ember_err *err)
{
	static const struct oci_flag none[] = { { NULL, 0, 0, NULL } };
	const char *pos[1];
	int n;

	if (oci_parse_flags(argc, argv, flags ? flags : none, pos, 1, &n, err) < 0)
		return -err->code;
	if (n != 1)
		return err_set(err, EINVAL, "%s: exactly one container id is required", cmd);
	*id = pos[0];
	return 0;
}

static int open_id(struct oci_globals *g, const char *id, struct oci_state *st,
		   struct ember_err *err)
{
	return oci_state_open(st, g->root, id, err);
}

/* prestart-style hooks on the host: the state JSON on stdin. */
static void run_hooks(const struct oci_state *st, const char *kind)
{
	json_t *list = json_object_get(st->hooks, kind), *h, *state = oci_state_json(st);
	char *text = state ? json_dumps(state, JSON_COMPACT) : NULL;
	size_t i;

	json_decref(state);
	json_array_foreach(list, i, h)
	{
		const char *path = json_string_value(json_object_get(h, "path"));
		int p[2], status;
		pid_t pid;

		if (!path || pipe(p) < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			json_t *args = json_object_get(h, "args"), *env = json_object_get(h, "env"),
			       *v;
			char *av[64] = { (char *)path }, *ev[64] = { NULL };
			size_t k;

			json_array_foreach(args, k, v) if (k < 63) av[k] =
			    (char *)json_string_value(v);
			json_array_foreach(env, k, v) if (k < 63) ev[k] =
			    (char *)json_string_value(v);
			dup2(p[0], 0);
			close(p[1]);
			execve(path, av, ev);
			_exit(127);
		}
		close(p[0]);
		if (text && write(p[1], text, strlen(text)) < 0)
			oci_log_debug("hook %s: cannot write the state", path);
		close(p[1]);
		if (pid > 0 && waitpid(pid, &status, 0) == pid && status != 0)
			oci_log_debug("%s hook %s failed (%d)", kind, path, status);
	}
	free(text);
}

int oci_cmd_start(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	struct oci_state st;
	const char *id;
	char answer[64];
	int ret;

	if (one_id(argc, argv, NULL, &id, "start", &err) < 0 || open_id(g, id, &st, &err) < 0)
		return oci_fail(&err);
	switch (st.status) {
	case OCI_CREATED:
		ret = oci_ctl(&st, "START", answer, sizeof(answer), CTL_MS, &err);
		if (!ret)
			run_hooks(&st, "poststart");
		break;
	case OCI_STOPPED:
		ret = err_set(&err, EINVAL, "cannot start a container that has stopped");
		break;
	default: ret = err_set(&err, EINVAL, "cannot start an already running container");
	}
	oci_state_close(&st);
	return ret < 0 ? oci_fail(&err) : 0;
}

static int print_json(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

	json_decref(o);
	if (!text)
		return 1;
	printf("%s\n", text);
	free(text);
	return 0;
}

int oci_cmd_state(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	struct oci_state st;
	const char *id;
	int ret;

	if (one_id(argc, argv, NULL, &id, "state", &err) < 0 || open_id(g, id, &st, &err) < 0)
		return oci_fail(&err);
	ret = print_json(oci_state_json(&st));
	oci_state_close(&st);
	return ret;
}

int oci_cmd_kill(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	const char *pos[2], *sig_name = "SIGTERM";
	bool all = false;
	const struct oci_flag flags[] = { { "all", 'a', OCI_FLAG_BOOL, &all },
					  { NULL, 0, 0, NULL } };
	struct oci_state st;
	char cmd[32], answer[16];
	int n, sig, ret;

	if (oci_parse_flags(argc, argv, flags, pos, 2, &n, &err) < 0)
		return oci_fail(&err);
	if (n < 1)
		return err_set(&err, EINVAL, "kill: a container id is required"), oci_fail(&err);
	if (n == 2)
		sig_name = pos[1];
	if (oci_parse_signal(sig_name, &sig) < 0)
		return err_set(&err, EINVAL, "unknown signal \"%s\"", sig_name), oci_fail(&err);
	if (open_id(g, pos[0], &st, &err) < 0)
		return oci_fail(&err);
	if (st.status == OCI_STOPPED || st.status == OCI_CREATING) {
		ret = err_set(&err, ESRCH, "container not running");
	} else {
		snprintf(cmd, sizeof(cmd), "KILL %d %d", sig, all);
		ret = oci_ctl(&st, cmd, answer, sizeof(answer), CTL_MS, &err);
	}
	oci_state_close(&st);
	return ret < 0 ? oci_fail(&err) : 0;
}

static bool gone(pid_t pid, uint64_t start)
{
	return kill(pid, 0) < 0 || oci_proc_start(pid) != start;
}

/* Wait for the monitor to end, then make sure it and its VM have. */
static void wait_monitor(const struct oci_state *st)
{
	for (int i = 0; i < DELETE_MS / 10 && !gone(st->pid, st->pid_start); i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	if (!gone(st->pid, st->pid_start))
		kill(st->pid, SIGKILL); /* its ember dies with it (PDEATHSIG) */
	for (int i = 0; i < DELETE_MS / 10 && !gone(st->pid, st->pid_start); i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
}

static void stop_container(struct oci_state *st)
{
	struct ember_err err = { 0 };
	char answer[16];

	if (st->pid <= 0 || gone(st->pid, st->pid_start))
		return;
	if (oci_ctl(st, "KILL 9 1", answer, sizeof(answer), CTL_MS, &err) < 0)
		kill(st->pid, SIGKILL);
	wait_monitor(st);
}

/* The monitor tears its TAP down as it ends; if it died before, we do,
 * from inside the container's network namespace. */
static void leftover_net(const struct oci_state *st)
{
	struct oci_spec ns = { .netns_path = st->netns };
	struct ember_err err = { 0 };

	if (st->iface[0] && st->netns[0] && oci_net_enter(&ns, &err) == 0)
		oci_net_teardown(st->iface);
}

int oci_cmd_delete(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	bool force = false;
	const struct oci_flag flags[] = { { "force", 'f', OCI_FLAG_BOOL, &force },
					  { NULL, 0, 0, NULL } };
	struct oci_state st;
	const char *id;

	if (one_id(argc, argv, flags, &id, "delete", &err) < 0 || open_id(g, id, &st, &err) < 0)
		return oci_fail(&err);
	if ((st.status == OCI_RUNNING || st.status == OCI_PAUSED) && !force) {
		err_set(&err, EBUSY, "cannot delete container %s that is not stopped: %s", id,
			oci_status_name(st.status));
		oci_state_close(&st);
		return oci_fail(&err);
	}
	stop_container(&st);
	leftover_net(&st);
	oci_cgroup_remove(st.cgroup);
	run_hooks(&st, "poststop");
	oci_state_remove(&st);
	oci_state_close(&st);
	return 0;
}

static int pause_resume(struct oci_globals *g, int argc, char **argv, bool pause)
{
	struct ember_err err = { 0 };
	char flag[PATH_MAX];
	struct oci_state st;
	const char *id;
	int ret = 0;

	if (one_id(argc, argv, NULL, &id, pause ? "pause" : "resume", &err) < 0 ||
	    open_id(g, id, &st, &err) < 0)
		return oci_fail(&err);
	oci_state_path(&st, "paused", flag, sizeof(flag));
	if (pause && st.status != OCI_RUNNING)
		ret = err_set(&err, EINVAL, "container not running");
	else if (!pause && st.status != OCI_PAUSED)
		ret = err_set(&err, EINVAL, "container not paused");
	if (!ret)
		ret = oci_vm_pause(st.dir, pause, &err);
	if (!ret && pause && close(open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		ret = err_errno(&err, "marking %s paused", id);
	if (!ret && !pause)
		unlink(flag);
	oci_state_close(&st);
	return ret < 0 ? oci_fail(&err) : 0;
}

int oci_cmd_pause(struct oci_globals *g, int argc, char **argv)
{
	return pause_resume(g, argc, argv, true);
}

int oci_cmd_resume(struct oci_globals *g, int argc, char **argv)
{
	return pause_resume(g, argc, argv, false);
}

/* The host processes that stand for the container's: the monitor, and
 * each exec's relay (registered as exec-PID files). */
static json_t *host_pids(const struct oci_state *st)
{
	json_t *pids = json_array();
	struct dirent *e;
	DIR *d;

	if (st->pid > 0 && !gone(st->pid, st->pid_start))
		json_array_append_new(pids, json_integer(st->pid));
	d = opendir(st->dir);
	while (d && (e = readdir(d))) {
		int pid;

		if (sscanf(e->d_name, "exec-%d", &pid) == 1 && kill(pid, 0) == 0)
			json_array_append_new(pids, json_integer(pid));
	}
	if (d)
		closedir(d);
	return pids;
}

int oci_cmd_ps(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	const char *format = "table";
	const struct oci_flag flags[] = { { "format", 'f', OCI_FLAG_STRING, &format },
					  { NULL, 0, 0, NULL } };
	struct oci_state st;
	const char *id;
	json_t *pids, *v;
	size_t i;

	if (one_id(argc, argv, flags, &id, "ps", &err) < 0 || open_id(g, id, &st, &err) < 0)
		return oci_fail(&err);
	pids = host_pids(&st);
	oci_state_close(&st);
	if (!strcmp(format, "json"))
		return print_json(pids);
	if (strcmp(format, "table")) {
		json_decref(pids);
		return err_set(&err, EINVAL, "invalid format option"), oci_fail(&err);
	}
	printf("PID\n");
	json_array_foreach(pids, i, v) printf("%lld\n", json_integer_value(v));
	json_decref(pids);
	return 0;
}

int oci_cmd_list(struct oci_globals *g, int argc, char **argv)
{
	struct ember_err err = { 0 };
	const char *format = "table", *pos[1];
	bool quiet = false;
	const struct oci_flag flags[] = { { "format", 'f', OCI_FLAG_STRING, &format },
					  { "quiet", 'q', OCI_FLAG_BOOL, &quiet },
					  { NULL, 0, 0, NULL } };
	json_t *list = json_array();
	struct dirent *e;
	size_t i;
	json_t *v;
	DIR *d;
	int n;

	if (oci_parse_flags(argc, argv, flags, pos, 0, &n, &err) < 0)
		return oci_fail(&err);
	d = opendir(g->root);
	while (d && (e = readdir(d))) {
		struct oci_state st;

		if (e->d_name[0] == '.' || oci_state_open(&st, g->root, e->d_name, &err) < 0)
			continue;
		json_array_append_new(list, oci_state_json(&st));
		oci_state_close(&st);
	}
	if (d)
		closedir(d);
	if (!strcmp(format, "json"))
		return print_json(list);
	if (!quiet)
		printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
	json_array_foreach(list, i, v)
	{
		const char *idv = json_string_value(json_object_get(v, "id"));

		if (quiet)
			printf("%s\n", idv);
		else
			printf("%-20s %-8lld %-10s %-40s %s\n", idv,
			       json_integer_value(json_object_get(v, "pid")),
			       json_string_value(json_object_get(v, "status")),
			       json_string_value(json_object_get(v, "bundle")),
			       json_string_value(json_object_get(v, "created")));
	}
	json_decref(list);
	return 0;
}

int oci_cmd_features(struct oci_globals *g, int argc, char **argv)
{
	static const char *const hooks[] = { "prestart", "createRuntime", "poststart", "poststop" };
	static const char *const ns[] = { "ipc", "mount", "network", "pid", "uts" };
	json_t *o = json_pack("{s:s, s:s, s:[], s:{s:[], s:{s:b, s:b, s:b}}, s:{s:s}}",
			      "ociVersionMin", "1.0.0", "ociVersionMax", OCI_VERSION, "hooks",
			      "linux", "namespaces", "cgroup", "v1", 0, "v2", 1, "systemd", 0,
			      "annotations", "io.ember.runtime", "ember-oci");

	(void)g;
	(void)argc;
	(void)argv;
	if (!o)
		return 1;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		json_array_append_new(json_object_get(o, "hooks"), json_string(hooks[i]));
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		json_array_append_new(json_object_get(json_object_get(o, "linux"), "namespaces"),
				      json_string(ns[i]));
	return print_json(o);
}
