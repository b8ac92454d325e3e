// SPDX-License-Identifier: Apache-2.0
/*
 * One request's VM: a new ember process restores the function's snapshot
 * (File backend by default, so clones share the memory file's clean pages
 * in the page cache), runs the request through the guest agent, and is
 * killed. Nothing of one request survives into the next.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "fn.h"

#define API_READY_MS 10000
/* A restored clone's agent is running already: its handshake answers in
 * well under a second. One that has not answered in this long is broken
 * (serve then tries a fresh clone), however long the request may take. */
#define CONNECT_MS 10000

static unsigned left_ms(const struct fn_clone *c)
{
	uint64_t spent = (fn_now_us() - c->t0) / 1000;

	return spent >= c->opts->timeout_ms ? 1 : c->opts->timeout_ms - (unsigned)spent;
}

static void path_in(const struct fn_clone *c, const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", c->dir, file);
}

/* Which backend, and whether this restore records or prefetches (REAP). */
static void pick_mode(struct fn_clone *c)
{
	struct ember_err err = { 0 };
	bool have_ws = c->opts->prefetch && !access(c->snap->ws, R_OK);

	if (have_ws && pager_ws_read(c->snap->ws, c->snap->mem_size / PAGER_PAGE, &c->ws_pages,
				     &c->ws_n, &err) < 0) {
		fprintf(stderr, "ember-fn: %s; recording it again\n", err.msg);
		have_ws = false;
	}
	c->record = c->opts->prefetch && !have_ws;
	c->pager_on = c->opts->backend == FN_BACKEND_UFFD || c->record;
	if (c->record)
		c->t.mode = "Uffd+record";
	else if (c->pager_on)
		c->t.mode = have_ws ? "Uffd+prefetch" : "Uffd";
	else
		c->t.mode = have_ws ? "File+prefetch" : "File";
	/* File: ember itself faults the set in (working_set_path), reading
	 * from the page cache or the disk, before the VM runs */
	if (have_ws && !c->pager_on)
		c->t.prefetched_pages = c->ws_n;
}

static int spawn_ember(struct fn_clone *c, struct ember_err *err)
{
	char sock[FN_RUN_MAX + 16], log[FN_RUN_MAX + 16];
	const char *argv[] = { c->opts->ember, "--api-sock", sock, "--id", "ember-fn", "--level",
			       "Warning",
			       /* GET / then tells where a load's time went */
			       "--ember-extensions", c->opts->seccomp ? NULL : "--no-seccomp",
			       NULL };

	path_in(c, "api.sock", sock, sizeof(sock));
	path_in(c, "ember.log", log, sizeof(log));
	if (ember_proc_spawn(argv, log, false, &c->pid, err) < 0)
		return -err->code;
	if (ember_proc_wait_api(sock, c->pid, API_READY_MS < left_ms(c) ? API_READY_MS : left_ms(c),
				err) < 0) {
		if (err->code == ECHILD)
			c->pid = 0; /* reaped: its pid may be another process's soon */
		return -err->code;
	}
	c->t.api_ready = fn_now_us() - c->t0;
	return 0;
}

static char *load_body(const struct fn_clone *c)
{
	char vsock[FN_RUN_MAX + 16], uffd[FN_RUN_MAX + 16], *text;
	json_t *j;

	path_in(c, "v.sock", vsock, sizeof(vsock));
	path_in(c, "uffd.sock", uffd, sizeof(uffd));
	j = json_pack("{s:s, s:{s:s, s:s}, s:b, s:{s:s}}", "snapshot_path", c->snap->state,
		      "mem_backend", "backend_type", c->pager_on ? "Uffd" : "File", "backend_path",
		      c->pager_on ? uffd : c->snap->mem, "resume_vm", 1, "vsock_override",
		      "uds_path", vsock);
	/* File with a working set: ember faults its pages in before the VM runs */
	if (j && c->ws_pages && !c->pager_on)
		json_object_set_new(j, "working_set_path", json_string(c->snap->ws));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

/* The VM runs as soon as it is loaded. With the Uffd backend and a working
 * set, the page server copies the set in while the VM runs, and serves the
 * VM's own faults meanwhile (REAP's prefetch, without REAP's wait). */
static int load(struct fn_clone *c, struct ember_err *err)
{
	char sock[FN_RUN_MAX + 16], *body;
	int ret;

	path_in(c, "api.sock", sock, sizeof(sock));
	body = load_body(c);
	if (!body)
		return err_set(err, ENOMEM, "out of memory");
	ret = api_client_expect(sock, "PUT", "/snapshot/load", body, left_ms(c), err);
	free(body);
	c->t.load = fn_now_us() - c->t0;
	return ret;
}

/* Whether ember has ended (the guest shut down or reset, or ember failed),
 * reaped here so that its end is told, not guessed from a missing socket. */
static void say_exit(struct fn_clone *c, struct ember_err *err)
{
	size_t len = strlen(err->msg);
	int status;

	if (c->pid <= 0 || waitpid(c->pid, &status, WNOHANG) != c->pid)
		return;
	c->pid = 0;
	if (WIFEXITED(status))
		snprintf(err->msg + len, sizeof(err->msg) - len, " (ember exited, status %d)",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(err->msg + len, sizeof(err->msg) - len, " (ember killed by signal %d)",
			 WTERMSIG(status));
}

/* Name the step that failed and add ember's last words. */
static int explain(struct fn_clone *c, const char *step, struct ember_err *err)
{
	char log[FN_RUN_MAX + 16], tail[600];

	path_in(c, "ember.log", log, sizeof(log));
	ember_proc_log_tail(log, tail, sizeof(tail));
	if (c->snap)
		err_prefix(err, "function %s: %s", c->snap->name, step);
	else
		err_prefix(err, "%s", step);
	if (tail[0]) {
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len, " (ember: %s)", tail);
	}
	say_exit(c, err);
	return -err->code;
}

int fn_clone_spawn(struct fn_clone *c, const struct fn_opts *o, struct ember_err *err)
{
	memset(c, 0, sizeof(*c));
	c->pager_listen = c->stop_fd = -1;
	c->opts = o;
	c->t0 = fn_now_us();
	if (snprintf(c->dir, sizeof(c->dir), "%s/ember-fn.XXXXXX", o->rundir) >=
	    (int)sizeof(c->dir)) {
		c->dir[0] = '\0';
		return err_set(err, ENAMETOOLONG, "the runtime directory %s is too long",
			       o->rundir);
	}
	if (!mkdtemp(c->dir)) {
		err_errno(err, "cannot create a directory in %s", o->rundir);
		c->dir[0] = '\0';
		return -err->code;
	}
	if (spawn_ember(c, err) < 0)
		return explain(c, "starting ember", err);
	return 0;
}

static int restore(struct fn_clone *c, const struct fn_snapshot *s, struct ember_err *err)
{
	c->snap = s;
	pick_mode(c);
	if (c->pager_on && fn_pager_start(c, err) < 0)
		return explain(c, "starting its page server", err);
	if (load(c, err) < 0)
		return explain(c, "restoring its snapshot", err);
	return 0;
}

int fn_clone_restore(struct fn_clone *c, const struct fn_snapshot *s, struct ember_err *err)
{
	/* a spare spawned ahead: the request's clock starts now */
	c->t0 = fn_now_us();
	c->t.api_ready = 0;
	c->t.pooled = true;
	if (waitpid(c->pid, NULL, WNOHANG) != 0) {
		c->pid = 0;
		return err_set(err, ECHILD, "the spare ember process is gone");
	}
	return restore(c, s, err);
}

/* --reuse: the next request in a clone that has answered before. */
void fn_clone_again(struct fn_clone *c)
{
	c->t0 = fn_now_us();
	memset(&c->t, 0, sizeof(c->t));
	c->t.mode = "reused";
}

int fn_clone_start(struct fn_clone *c, const struct fn_opts *o, const struct fn_snapshot *s,
		   struct ember_err *err)
{
	if (fn_clone_spawn(c, o, err) < 0)
		return -err->code;
	return restore(c, s, err);
}

/* The agent on the clone's vsock, with what is left of the request's time. */
static int connect_agent(struct fn_clone *c, struct agent_conn *conn, struct ember_err *err)
{
	char vsock[FN_RUN_MAX + 16];

	path_in(c, "v.sock", vsock, sizeof(vsock));
	c->delivered = false;
	if (agent_connect(conn, vsock, AGENT_PORT,
			  left_ms(c) < CONNECT_MS ? left_ms(c) : CONNECT_MS, err) < 0 ||
	    agent_set_timeout(conn, left_ms(c), err) < 0)
		return -err->code;
	if (!c->t.connect)
		c->t.connect = fn_now_us() - c->t0;
	c->delivered = true;
	return 0;
}

int fn_clone_run(struct fn_clone *c, const void *in, size_t len, struct agent_result *res,
		 struct ember_err *err)
{
	struct agent_conn conn = { .fd = -1 };
	int ret = connect_agent(c, &conn, err);

	if (!ret)
		ret = agent_invoke(&conn, "handler", in, len, res, err);
	agent_close(&conn);
	c->t.answer = fn_now_us() - c->t0;
	c->answered = !ret;
	return ret < 0 ? explain(c, "running the request", err) : 0;
}

int fn_clone_http(struct fn_clone *c, const struct fn_http_req *req, struct fn_http_resp *resp,
		  struct ember_err *err)
{
	struct agent_conn conn = { .fd = -1 };
	size_t len = 0;
	char *bytes = NULL;
	int ret = fn_http_build(req, &bytes, &len, err);

	if (!ret)
		ret = connect_agent(c, &conn, err);
	if (!ret)
		ret = agent_proxy(&conn, c->snap->http_port, err);
	if (!ret)
		ret = fn_http_exchange(conn.fd, bytes, len, resp, err);
	agent_close(&conn);
	free(bytes);
	c->t.answer = fn_now_us() - c->t0;
	c->answered = !ret;
	return ret < 0 ? explain(c, "forwarding the request", err) : 0;
}

int fn_clone_http_log(struct fn_clone *c, struct agent_result *res, struct ember_err *err)
{
	struct agent_conn conn = { .fd = -1 };
	int ret = connect_agent(c, &conn, err);

	if (!ret)
		ret = agent_http_log(&conn, res, err);
	agent_close(&conn);
	return ret;
}

void fn_clone_destroy(struct fn_clone *c)
{
	ember_proc_kill(c->pid);
	c->pid = 0;
	fn_pager_stop(c);
	if (c->dir[0])
		fn_rm_rf(c->dir);
	c->dir[0] = '\0';
	c->t.total = fn_now_us() - c->t0;
}

/* latencies_us, its phases without their "load_" (first_100ms as it is). */
static void keep_ember_times(struct fn_clone *c, json_t *l)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	char *text;

	json_object_foreach(l, k, v)
	{
		bool phase = !strncmp(k, "load_", 5) && strcmp(k, "load_snapshot");

		json_object_set(out, phase ? k + 5 : k, v);
	}
	text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text && strlen(text) < sizeof(c->t.ember))
		strcpy(c->t.ember, text);
	free(text);
	json_decref(out);
}

void fn_clone_ember_times(struct fn_clone *c)
{
	char sock[FN_RUN_MAX + 16];
	struct api_reply r = { 0 };
	struct ember_err err = { 0 };
	json_t *root, *l;
	bool restored;

	path_in(c, "api.sock", sock, sizeof(sock));
	/* an answer within the probe's 100 ms: its count comes a little later */
	for (int tries = 0; c->pid && tries < 10; tries++) {
		if (api_client_call(sock, "GET", "/", NULL, 2000, &r, &err) < 0)
			return;
		root = json_loads(r.body, 0, NULL);
		l = json_object_get(root, "latencies_us");
		restored = json_is_object(l);
		if (restored)
			keep_ember_times(c, l);
		json_decref(root);
		api_reply_free(&r);
		if (!restored || strstr(c->t.ember, "first_100ms"))
			return;
		nanosleep(&(struct timespec){ 0, 20 * 1000000L }, NULL);
	}
}

void fn_timing_print(const struct fn_clone *c)
{
	const struct fn_timing *t = &c->t;

	fprintf(stderr,
		"{\"mode\": \"%s\", \"pooled\": %s, \"api_ready_us\": %llu, \"load_us\": %llu, "
		"\"prefetch_us\": %llu, \"connect_us\": %llu, "
		"\"answer_us\": %llu, \"total_us\": %llu, \"prefetched_pages\": %llu, "
		"\"ember_us\": %s}\n",
		t->mode, t->pooled ? "true" : "false", (unsigned long long)t->api_ready,
		(unsigned long long)t->load, (unsigned long long)t->prefetch,
		(unsigned long long)t->connect, (unsigned long long)t->answer,
		(unsigned long long)t->total, (unsigned long long)t->prefetched_pages,
		t->ember[0] ? t->ember : "{}");
}
