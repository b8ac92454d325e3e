// SPDX-License-Identifier: Apache-2.0
/*
 * ember-fn's parts that need no VM: the function store (names, generations,
 * lookups), the log tail in error messages, and the client of ember's REST
 * API against a fake server answering each way a server can.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "fn.h"

static char dir[] = "/tmp/ember-fn-test.XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	cr_assert_eq(fn_rm_rf(dir), 0);
}

static void touch(const char *gen, const char *file, size_t size)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", gen, file);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), (off_t)size), 0);
	fclose(f);
}

static void write_file(const char *gen, const char *file, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", gen, file);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* What prepare leaves in a generation: state, memory, meta.json. */
static void snapshot_files(const char *gen, size_t mem, const char *meta)
{
	touch(gen, "snap.state", 100);
	touch(gen, "snap.mem", mem);
	write_file(gen, "meta.json", meta);
}

TestSuite(fn_store, .init = setup, .fini = teardown);

Test(fn_store, function_names)
{
	struct ember_err err = { 0 };
	char long_name[FN_NAME_MAX + 2];

	cr_assert_eq(fn_store_check_name("hello-world_1.2", &err), 0);
	cr_assert_lt(fn_store_check_name("", &err), 0);
	cr_assert_lt(fn_store_check_name(".hidden", &err), 0);
	cr_assert_lt(fn_store_check_name("../etc", &err), 0, "no path components");
	cr_assert_lt(fn_store_check_name("a/b", &err), 0);
	cr_assert_lt(fn_store_check_name("sp ace", &err), 0);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cr_assert_lt(fn_store_check_name(long_name, &err), 0, "at most %d characters", FN_NAME_MAX);
	cr_assert(strstr(err.msg, "bad function name"), "%s", err.msg);
}

Test(fn_store, a_published_generation_is_found_and_replaces_the_last)
{
	char gen1[PATH_MAX], gen2[PATH_MAX];
	struct ember_err err = { 0 };
	struct fn_snapshot s;

	cr_assert_eq(fn_store_lookup(dir, "f", &s, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no function \"f\""), "%s", err.msg);
	cr_assert_eq(fn_store_new_generation(dir, "f", gen1, sizeof(gen1), &err), 0, "%s", err.msg);
	snapshot_files(gen1, 1 << 20, "{\"name\": \"f\"}");
	cr_assert_eq(fn_store_publish(dir, "f", gen1, &err), 0, "%s", err.msg);
	cr_assert_eq(fn_store_lookup(dir, "f", &s, &err), 0, "%s", err.msg);
	cr_assert_str_eq(s.dir, gen1);
	cr_assert_eq(s.mem_size, 1 << 20);
	cr_assert(strstr(s.ws, "/ws.pages"));
	cr_assert_eq(s.http_port, 0, "a stdin function");

	cr_assert_eq(fn_store_new_generation(dir, "f", gen2, sizeof(gen2), &err), 0);
	cr_assert_str_neq(gen1, gen2);
	snapshot_files(gen2, 2 << 20, "{\"name\": \"f\", \"http_port\": 8080}");
	cr_assert_eq(fn_store_publish(dir, "f", gen2, &err), 0, "%s", err.msg);
	cr_assert_eq(fn_store_lookup(dir, "f", &s, &err), 0);
	cr_assert_str_eq(s.dir, gen2);
	cr_assert_eq(s.mem_size, 2 << 20);
	cr_assert_eq(s.http_port, 8080, "an HTTP function's port from meta.json");
	cr_assert_eq(access(gen1, F_OK), -1, "the older generation is gone");
}

Test(fn_store, a_bad_meta_json_is_refused_naming_it)
{
	static const char *const bad[] = { "{\"http_port\": 70000}", "{\"http_port\": \"80\"}",
					   "{\"http_port\": -1}", "not json", "" };
	char gen[PATH_MAX];
	struct ember_err err = { 0 };
	struct fn_snapshot s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(fn_store_new_generation(dir, "m", gen, sizeof(gen), &err), 0);
		snapshot_files(gen, 4096, bad[i]);
		cr_assert_eq(fn_store_publish(dir, "m", gen, &err), 0);
		cr_assert_eq(fn_store_lookup(dir, "m", &s, &err), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err.msg, "meta.json"), "%s", err.msg);
	}
}

Test(fn_store, an_incomplete_snapshot_is_not_served)
{
	char gen[PATH_MAX];
	struct ember_err err = { 0 };
	struct fn_snapshot s;

	cr_assert_eq(fn_store_new_generation(dir, "g", gen, sizeof(gen), &err), 0);
	touch(gen, "snap.state", 100);
	cr_assert_eq(fn_store_publish(dir, "g", gen, &err), 0);
	cr_assert_eq(fn_store_lookup(dir, "g", &s, &err), -ENOENT);
	cr_assert(strstr(err.msg, "incomplete"), "%s", err.msg);
	cr_assert_lt(fn_store_lookup(dir, "../g", &s, &err), 0);
}

TestSuite(fn_log, .init = setup, .fini = teardown);

Test(fn_log, the_tail_is_the_last_three_lines)
{
	char path[PATH_MAX], tail[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/log", dir);
	f = fopen(path, "w");
	fputs("one\ntwo\nthree\nfour\nfive\n\n", f);
	fclose(f);
	ember_proc_log_tail(path, tail, sizeof(tail));
	cr_assert_str_eq(tail, "three\nfour\nfive");
	ember_proc_log_tail("/nonexistent/log", tail, sizeof(tail));
	cr_assert_str_eq(tail, "");
}

/* A clone whose ember has ended (here a child that exits 3): the request's
 * error says so, beside ember's last words, instead of only the missing
 * vsock socket it left; and the pid is no longer the clone's to kill. */
Test(fn_log, a_request_to_a_clone_whose_ember_ended_says_how_it_ended)
{
	struct fn_opts o;
	struct fn_clone c;
	struct agent_result res = { 0 };
	struct ember_err err = { 0 };
	pid_t pid = fork();

	if (pid == 0)
		_exit(3);
	cr_assert_gt(pid, 0);
	fn_opts_defaults(&o, "ember-fn");
	memset(&c, 0, sizeof(c));
	c.opts = &o;
	c.t0 = fn_now_us();
	c.pid = pid;
	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	write_file(dir, "ember.log", "guest reset\n");
	while (waitid(P_PID, (id_t)pid, NULL, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	cr_assert_lt(fn_clone_run(&c, "x", 1, &res, &err), 0);
	cr_assert(strstr(err.msg, "running the request: agent: cannot connect"), "%s", err.msg);
	cr_assert(strstr(err.msg, "(ember: guest reset)"), "%s", err.msg);
	cr_assert(strstr(err.msg, "(ember exited, status 3)"), "%s", err.msg);
	cr_assert_eq(c.pid, 0);
	cr_assert_not(c.delivered, "the request never reached the agent: serve may retry it");
	agent_result_free(&res);
}

/* A server that reads one request and writes `reply` (NULL: nothing, and
 * keep the connection open until the client gives up). */
struct fake {
	char path[100];
	const char *reply;
	char request[4096];
	int lfd;
	pthread_t th;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	ssize_t n;

	n = read(fd, f->request, sizeof(f->request) - 1);
	f->request[n > 0 ? n : 0] = '\0';
	if (f->reply)
		cr_assert_eq(write(fd, f->reply, strlen(f->reply)), (ssize_t)strlen(f->reply));
	else
		while (read(fd, f->request + n, 1) > 0)
			;
	close(fd);
	return NULL;
}

static void fake_start_at(struct fake *f, const char *name, const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "%s/%s", dir, name);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->reply = reply;
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f->lfd, 1), 0);
	cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_start(struct fake *f, const char *reply)
{
	fake_start_at(f, "api.sock", reply);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
}

TestSuite(api_client, .init = setup, .fini = teardown);

Test(api_client, a_request_and_its_answer)
{
	struct ember_err err = { 0 };
	struct api_reply r;
	struct fake f;

	fake_start(&f, "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"state\":\"Idle\"}\n");
	cr_assert_eq(api_client_call(f.path, "PUT", "/vm", "{\"a\": 1}", 2000, &r, &err), 0, "%s",
		     err.msg);
	fake_stop(&f);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"state\":\"Idle\"}\n");
	cr_assert(strstr(f.request, "PUT /vm HTTP/1.1\r\n"), "%s", f.request);
	cr_assert(strstr(f.request, "Content-Length: 8\r\n"), "%s", f.request);
	cr_assert(strstr(f.request, "\r\n\r\n{\"a\": 1}"), "%s", f.request);
	api_reply_free(&r);
}

Test(api_client, an_error_answer_carries_the_fault_message)
{
	struct ember_err err = { 0 };
	struct fake f;

	fake_start(&f, "HTTP/1.1 400 Bad Request\r\nContent-Length: 36\r\n\r\n"
		       "{\"fault_message\": \"it went wrong\"}\r\n");
	cr_assert_eq(api_client_expect(f.path, "PUT", "/snapshot/load", "{}", 2000, &err), -EIO);
	fake_stop(&f);
	cr_assert_str_eq(err.msg, "PUT /snapshot/load: 400 it went wrong");

	fake_start(&f, "HTTP/1.1 204 No Content\r\n\r\n");
	cr_assert_eq(api_client_expect(f.path, "PATCH", "/vm", "{}", 2000, &err), 0, "%s", err.msg);
	fake_stop(&f);
}

Test(api_client, no_answer_and_bad_answers_are_errors)
{
	struct ember_err err = { 0 };
	struct api_reply r;
	struct fake f;

	fake_start(&f, "");
	cr_assert_lt(api_client_call(f.path, "GET", "/", NULL, 2000, &r, &err), 0);
	cr_assert(strstr(err.msg, "closed the connection"), "%s", err.msg);
	fake_stop(&f);

	fake_start(&f, "SSH-2.0-OpenSSH\r\n");
	cr_assert_lt(api_client_call(f.path, "GET", "/", NULL, 2000, &r, &err), 0);
	cr_assert(strstr(err.msg, "not HTTP"), "%s", err.msg);
	fake_stop(&f);

	fake_start(&f, NULL);
	cr_assert_eq(api_client_call(f.path, "GET", "/", NULL, 200, &r, &err), -ETIMEDOUT);
	cr_assert(strstr(err.msg, "did not answer in time"), "%s", err.msg);
	fake_stop(&f);

	cr_assert_lt(api_client_call("/nonexistent/sock", "GET", "/", NULL, 200, &r, &err), 0);
	cr_assert(strstr(err.msg, "cannot connect"), "%s", err.msg);
}

/* ---- functions from images: the handler a bundle's config.json names ---- */
TestSuite(fn_image, .init = setup, .fini = teardown);

static void write_config(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.json", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static json_t *handler_cmd(const char *config, bool image_cmd, const char *override,
			   struct ember_err *err)
{
	char path[PATH_MAX];
	json_t *spec = NULL;

	write_config(config);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (fn_image_handler(path, image_cmd, override, &spec, err) < 0)
		cr_assert_null(spec);
	return spec;
}

static json_t *handler_of(const char *config, const char *override, struct ember_err *err)
{
	return handler_cmd(config, true, override, err);
}

Test(fn_image, the_image_process_is_the_handler)
{
	struct ember_err err = { 0 };
	json_t *spec = handler_of(
	    "{\"process\": {\"args\": [\"python3\", \"/app/main.py\"], \"env\": [\"PATH=/usr/bin\","
	    " \"A=1\"], \"cwd\": \"/app\", \"user\": {\"uid\": 1000, \"gid\": 100}}}",
	    NULL, &err);

	cr_assert_not_null(spec, "%s", err.msg);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "args"), 1)),
			 "/app/main.py");
	cr_assert_eq(json_array_size(json_object_get(spec, "env")), 2);
	cr_assert_str_eq(json_string_value(json_object_get(spec, "cwd")), "/app");
	cr_assert_eq(json_integer_value(json_object_get(spec, "uid")), 1000);
	cr_assert_eq(json_integer_value(json_object_get(spec, "gid")), 100);
	json_decref(spec);
}

Test(fn_image, handler_replaces_the_image_process_through_its_shell)
{
	struct ember_err err = { 0 };
	json_t *spec = handler_of("{\"process\": {\"cwd\": \"/\"}}", "node /srv/fn.js", &err);
	json_t *args = json_object_get(spec, "args");

	cr_assert_not_null(spec, "%s", err.msg);
	cr_assert_eq(json_array_size(args), 3);
	cr_assert_str_eq(json_string_value(json_array_get(args, 0)), "/bin/sh");
	cr_assert_str_eq(json_string_value(json_array_get(args, 2)), "node /srv/fn.js");
	cr_assert_eq(json_array_size(json_object_get(spec, "env")), 0);
	json_decref(spec);
}

Test(fn_image, nothing_to_run_or_a_malformed_process_is_refused)
{
	static const char *const bad[] = {
		"{\"process\": {\"cwd\": \"/\"}}",
		"{\"process\": {\"args\": []}}",
		"{\"process\": {\"args\": [1]}}",
		"{\"process\": {\"args\": [\"x\"], \"env\": \"A=1\"}}",
		"{\"process\": {\"args\": [\"x\"], \"cwd\": \"relative\"}}",
		"{\"process\": {\"args\": [\"x\"], \"user\": {\"uid\": -1}}}",
		"{\"process\": 3}",
		"not json",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ember_err err = { 0 };

		cr_assert_null(handler_of(bad[i], NULL, &err), "accepted %s", bad[i]);
		cr_assert(err.msg[0], "no message for %s", bad[i]);
	}
	struct ember_err err = { 0 };

	handler_of("{\"process\": {\"cwd\": \"/\"}}", NULL, &err);
	cr_assert(strstr(err.msg, "--handler"), "%s", err.msg);
	/* umoci's "sh" where the image has no command is not the image's */
	cr_assert_null(handler_cmd("{\"process\": {\"args\": [\"sh\"]}}", false, NULL, &err));
	cr_assert(strstr(err.msg, "--handler"), "%s", err.msg);
	json_decref(handler_cmd("{\"process\": {\"args\": [\"sh\"]}}", false, "true", &err));
}

/* A layout as skopeo writes it: index, manifest and config blobs. */
static void layout_blob(const char *hex, const char *text)
{
	char blobs[PATH_MAX];

	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", dir);
	write_file(blobs, hex, text);
}

Test(fn_image, the_layout_says_whether_the_image_has_a_command)
{
	char a[65], b[65], text[512], path[PATH_MAX];
	struct ember_err err = { 0 };
	bool has = true;

	memset(a, 'a', 64);
	memset(b, 'b', 64);
	a[64] = b[64] = '\0';
	snprintf(path, sizeof(path), "%s/blobs", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	strcat(path, "/sha256");
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(text, sizeof(text), "{\"manifests\": [{\"digest\": \"sha256:%s\"}]}", a);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(text, sizeof(text), "{\"config\": {\"digest\": \"sha256:%s\"}}", b);
	layout_blob(a, text);
	layout_blob(b, "{\"config\": {\"Env\": [\"A=1\"]}}");
	cr_assert_eq(fn_image_has_command(dir, &has, &err), 0, "%s", err.msg);
	cr_assert_not(has);
	layout_blob(b, "{\"config\": {\"Cmd\": [\"python3\"]}}");
	cr_assert_eq(fn_image_has_command(dir, &has, &err), 0, "%s", err.msg);
	cr_assert(has);
	snprintf(text, sizeof(text), "{\"config\": {\"digest\": \"sha256:../../x\"}}");
	layout_blob(a, text);
	cr_assert_lt(fn_image_has_command(dir, &has, &err), 0);
}

Test(fn_image, references_need_a_transport_and_give_a_name)
{
	struct ember_err err = { 0 };
	char name[FN_NAME_MAX + 1];

	cr_assert_eq(fn_image_check_ref("oci-archive:/tmp/py.tar", &err), 0);
	cr_assert_eq(fn_image_check_ref("containers-storage:localhost/py:latest", &err), 0);
	cr_assert_lt(fn_image_check_ref("localhost/py", &err), 0);
	cr_assert(strstr(err.msg, "transport"), "%s", err.msg);
	cr_assert_lt(fn_image_check_ref("oci:", &err), 0);
	cr_assert_eq(fn_image_default_name("oci-archive:/tmp/py-fn.tar", name, sizeof(name), &err),
		     0);
	cr_assert_str_eq(name, "py-fn");
	cr_assert_eq(fn_image_default_name("containers-storage:[vfs@/var/lib/c+/run/c]localhost/"
					   "node:20",
					   name, sizeof(name), &err),
		     0);
	cr_assert_str_eq(name, "node");
	cr_assert_eq(
	    fn_image_default_name("docker://quay.io/org/app@sha256:ab", name, sizeof(name), &err),
	    0);
	cr_assert_str_eq(name, "app");
	cr_assert_lt(fn_image_default_name("oci:/srv/.hidden", name, sizeof(name), &err), 0);
	cr_assert(strstr(err.msg, "--name"), "%s", err.msg);
}

TestSuite(fn_clone, .init = setup, .fini = teardown);

/* Once the agent has answered its handshake the request is the function's:
 * a failure after it (here the agent goes away) is never retried. */
Test(fn_clone, a_request_past_the_agents_handshake_counts_as_delivered)
{
	struct agent_result res = { 0 };
	struct ember_err err = { 0 };
	struct fn_opts o;
	struct fn_clone c;
	struct fake f;

	signal(SIGPIPE, SIG_IGN); /* as serve does: the agent may be gone mid-write */
	fn_opts_defaults(&o, "ember-fn");
	memset(&c, 0, sizeof(c));
	c.opts = &o;
	c.t0 = fn_now_us();
	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	fake_start_at(&f, "v.sock", "OK 1073741824\n");
	cr_assert_lt(fn_clone_run(&c, "x", 1, &res, &err), 0);
	fake_stop(&f);
	cr_assert(strstr(f.request, "CONNECT 1024"), "%s", f.request);
	cr_assert(strstr(err.msg, "running the request: agent:"), "%s", err.msg);
	cr_assert(c.delivered, "the agent took the connection: the failure is past delivery");
	agent_result_free(&res);
}
