// SPDX-License-Identifier: Apache-2.0
/*
 * ember-oci's parts that need no VM: runc's flag syntax and messages,
 * signals and ids, the log lines engines parse, config.json's checks, the
 * guest's request (files inlined, /dev/shm, volumes refused), the VM's
 * shape from resources, the state directory and its status, pid files, and
 * the frame decoder shared with the guest.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci.h"

static char dir[] = "/tmp/ember-oci-test.XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	strcpy(dir, "/tmp/ember-oci-test.XXXXXX");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* argv from string literals (the parser takes main's char **), freed
 * after each test of the suite. */
static char **made[8];
static int nmade;

static char **av(int n, ...)
{
	char **a = calloc((size_t)n + 1, sizeof(char *));
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		a[i] = strdup(va_arg(ap, const char *));
	va_end(ap);
	cr_assert_lt(nmade, 8);
	made[nmade++] = a;
	return a;
}

static void av_free(void)
{
	for (; nmade > 0; nmade--) {
		for (char **p = made[nmade - 1]; *p; p++)
			free(*p);
		free(made[nmade - 1]);
	}
}

TestSuite(oci_cli, .fini = av_free);

/* ---- flags ---- */

Test(oci_cli, runc_flag_forms)
{
	const char *bundle = NULL, *pid = NULL, *pos[4];
	bool detach = false;
	struct oci_list env = { 0 };
	const struct oci_flag flags[] = { { "bundle", 'b', OCI_FLAG_STRING, &bundle },
					  { "pid-file", 0, OCI_FLAG_STRING, &pid },
					  { "detach", 'd', OCI_FLAG_BOOL, &detach },
					  { "env", 'e', OCI_FLAG_LIST, &env },
					  { NULL, 0, 0, NULL } };
	char **argv = av(10, "--bundle", "/b", "-pid-file=/p", "id1", "-d", "-e", "A=1",
			 "--env=B=2", "--", "-notaflag");
	struct ember_err err = { 0 };
	int n;

	cr_assert_eq(oci_parse_flags(10, argv, flags, pos, 4, &n, &err), 0, "%s", err.msg);
	cr_assert_str_eq(bundle, "/b");
	cr_assert_str_eq(pid, "/p");
	cr_assert(detach);
	cr_assert_eq(env.n, 2);
	cr_assert_str_eq(env.item[1], "B=2");
	cr_assert_eq(n, 2);
	cr_assert_str_eq(pos[0], "id1");
	cr_assert_str_eq(pos[1], "-notaflag");
}

Test(oci_cli, errors_as_runc_words_them)
{
	const char *bundle = NULL, *pos[2];
	const struct oci_flag flags[] = { { "bundle", 'b', OCI_FLAG_STRING, &bundle },
					  { NULL, 0, 0, NULL } };
	char **unknown = av(3, "--bundel", "x", "id"), **missing = av(2, "id", "--bundle");
	char **prefix = av(2, "--bund", "x"), **many = av(3, "a", "b", "c");
	struct ember_err err = { 0 };
	int n;

	cr_assert_lt(oci_parse_flags(3, unknown, flags, pos, 2, &n, &err), 0);
	cr_assert_str_eq(err.msg, "flag provided but not defined: -bundel");
	cr_assert_lt(oci_parse_flags(2, missing, flags, pos, 2, &n, &err), 0);
	cr_assert_str_eq(err.msg, "flag needs an argument: -bundle");
	cr_assert_lt(oci_parse_flags(2, prefix, flags, pos, 2, &n, &err), 0, "no prefix matching");
	cr_assert_lt(oci_parse_flags(3, many, flags, pos, 2, &n, &err), 0);
}

Test(oci_cli, head_mode_stops_at_the_first_argument)
{
	bool tty = false;
	const struct oci_flag flags[] = { { "tty", 't', OCI_FLAG_BOOL, &tty },
					  { NULL, 0, 0, NULL } };
	char **argv = av(5, "-t", "ctr", "ls", "-l", "--tty");
	struct ember_err err = { 0 };
	int first;

	cr_assert_eq(oci_parse_flags_head(5, argv, flags, &first, &err), 0, "%s", err.msg);
	cr_assert(tty);
	cr_assert_eq(first, 1);
	cr_assert_eq(oci_parse_flags_head(1, argv, flags, &first, &err), 0);
	cr_assert_eq(first, 1, "no argument: first is argc");
}

Test(oci_cli, signals_and_ids)
{
	int sig = 0;

	cr_assert_eq(oci_parse_signal("9", &sig), 0);
	cr_assert_eq(sig, SIGKILL);
	cr_assert_eq(oci_parse_signal("SIGTERM", &sig), 0);
	cr_assert_eq(sig, SIGTERM);
	cr_assert_eq(oci_parse_signal("hup", &sig), 0);
	cr_assert_eq(sig, SIGHUP);
	cr_assert_eq(oci_parse_signal("WINCH", &sig), 0);
	cr_assert_eq(sig, SIGWINCH);
	cr_assert_lt(oci_parse_signal("SIGNOPE", &sig), 0);
	cr_assert_lt(oci_parse_signal("0", &sig), 0);
	cr_assert_lt(oci_parse_signal("12x", &sig), 0);
	cr_assert(oci_valid_id("f801ca1965efd2cc19c0ff9bf755962795b6881226caa7c37241be3c7f9bb324"));
	cr_assert(oci_valid_id("my_ctr-1.2+x"));
	cr_assert(!oci_valid_id("a/b"));
	cr_assert(!oci_valid_id(".."));
	cr_assert(!oci_valid_id(""));
}

/* ---- log lines ---- */

Test(oci_log, json_and_text_lines)
{
	char *j =
	    oci_log_format(true, "error", "chdir \"x\": no such file", "2026-11-30T11:20:12Z");
	char *t = oci_log_format(false, "error", "say \"hi\"\nbye", "2026-11-30T11:20:12Z");
	json_t *o = json_loads(j, 0, NULL);

	cr_assert_not_null(o, "%s", j);
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), "error");
	cr_assert_str_eq(json_string_value(json_object_get(o, "msg")), "chdir \"x\": no such file");
	cr_assert_str_eq(json_string_value(json_object_get(o, "time")), "2026-11-30T11:20:12Z");
	cr_assert_str_eq(t,
			 "time=\"2026-11-30T11:20:12Z\" level=error msg=\"say \\\"hi\\\"\\nbye\"");
	json_decref(o);
	free(j);
	free(t);
}

/* ---- config.json ---- */

static const char *base_config =
    "{\"ociVersion\": \"1.0.2-dev\", \"root\": {\"path\": \"rootfs\"},"
    " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"env\": [\"PATH=/bin\"]},"
    " \"hostname\": \"h1\","
    " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\": "
    "\"/run/netns/x\"}], \"cgroupsPath\": \"/libpod_parent/x\","
    " \"resources\": {\"memory\": {\"limit\": 536870912}, \"cpu\": {\"quota\": 150000, "
    "\"period\": 100000}}}}";

static int parse_text(const char *text, struct oci_spec *s, struct ember_err *err)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	cr_assert_not_null(j, "%s", text);
	ret = oci_spec_parse(s, j, dir, err);
	return ret;
}

Test(oci_spec, picks_what_ember_acts_on, .init = setup, .fini = teardown)
{
	struct oci_spec s;
	struct oci_vm_shape shape;
	struct ember_err err = { 0 };
	char root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/rootfs", dir);
	mkdir(root, 0755);
	cr_assert_eq(parse_text(base_config, &s, &err), 0, "%s", err.msg);
	cr_assert_str_eq(s.rootfs, root);
	cr_assert_str_eq(s.hostname, "h1");
	cr_assert_str_eq(s.netns_path, "/run/netns/x");
	cr_assert(!s.netns_new);
	cr_assert_str_eq(s.cgroups_path, "/libpod_parent/x");
	oci_vm_shape(&s, &shape);
	cr_assert_eq(shape.vcpus, 2, "quota 1.5 CPUs: 2 vCPUs");
	cr_assert_eq(shape.mem_mib, 512);
	oci_spec_free(&s);
}

Test(oci_spec, annotations_override_the_shape, .init = setup, .fini = teardown)
{
	struct oci_spec s;
	struct oci_vm_shape shape;
	struct ember_err err = { 0 };
	char root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/rootfs", dir);
	mkdir(root, 0755);
	cr_assert_eq(parse_text("{\"ociVersion\": \"1\", \"root\": {\"path\": \"rootfs\"},"
				" \"process\": {\"args\": [\"sh\"]},"
				" \"annotations\": {\"io.ember.vcpus\": \"3\","
				" \"io.ember.memory_mib\": \"64\"}}",
				&s, &err),
		     0, "%s", err.msg);
	oci_vm_shape(&s, &shape);
	cr_assert_eq(shape.vcpus, 3);
	cr_assert_eq(shape.mem_mib, 128, "at least 128 MiB");
	cr_assert(!s.netns_path && !s.netns_new, "no network namespace in the config");
	oci_spec_free(&s);
}

Test(oci_spec, bad_configs_are_refused_clearly, .init = setup, .fini = teardown)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "[]", "an object is required" },
		{ "{\"root\": {\"path\": \"rootfs\"}, \"process\": {\"args\": [\"sh\"]}}",
		  "ociVersion is required" },
		{ "{\"ociVersion\": \"1\", \"root\": {\"path\": \"rootfs\"}}",
		  "process is required" },
		{ "{\"ociVersion\": \"1\", \"root\": {\"path\": \"rootfs\"}, \"process\": "
		  "{\"args\": []}}",
		  "args must not be empty" },
		{ "{\"ociVersion\": \"1\", \"root\": {\"path\": \"rootfs\"}, \"process\": "
		  "{\"args\": "
		  "[\"sh\"], \"cwd\": \"rel\"}}",
		  "cwd property must be an absolute path" },
		{ "{\"ociVersion\": \"1\", \"process\": {\"args\": [\"sh\"]}}",
		  "root.path is empty" },
		{ "{\"ociVersion\": \"1\", \"root\": {\"path\": \"nope\"}, \"process\": {\"args\": "
		  "[\"sh\"]}}",
		  "does not exist" },
	};
	char root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/rootfs", dir);
	mkdir(root, 0755);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oci_spec s;
		struct ember_err err = { 0 };

		cr_assert_lt(parse_text(cases[i].json, &s, &err), 0, "%s", cases[i].json);
		cr_assert(strstr(err.msg, cases[i].msg), "%s: %s", cases[i].json, err.msg);
		json_decref(s.json);
	}
}

Test(oci_spec, load_reports_missing_and_malformed_files, .init = setup, .fini = teardown)
{
	struct oci_spec s;
	struct ember_err err = { 0 };
	char path[PATH_MAX];

	cr_assert_lt(oci_spec_load(&s, dir, &err), 0);
	cr_assert(strstr(err.msg, "config.json could not be opened"), "%s", err.msg);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	write_file(path, "{\"ociVersion\": ");
	cr_assert_lt(oci_spec_load(&s, dir, &err), 0);
	cr_assert(strstr(err.msg, "config.json: ") && strstr(err.msg, "line 1"), "%s", err.msg);
	write_file(path, "{\"a\": 1, \"a\": 2}");
	cr_assert_lt(oci_spec_load(&s, dir, &err), 0, "duplicate keys");
}

/* ---- the guest's request ---- */

static json_t *request(const char *mounts, const char *id, struct ember_err *err, int *ret)
{
	char text[8192], *out = NULL, root[PATH_MAX];
	struct oci_spec s;
	json_t *j;

	snprintf(root, sizeof(root), "%s/rootfs", dir);
	mkdir(root, 0755);
	snprintf(text, sizeof(text),
		 "{\"ociVersion\": \"1\", \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
		 " \"process\": {\"args\": [\"sh\"]}, \"mounts\": %s,"
		 " \"linux\": {\"maskedPaths\": [\"/proc/kcore\"]}}",
		 mounts);
	cr_assert_eq(parse_text(text, &s, err), 0, "%s", err->msg);
	*ret = oci_guest_request(&s, id, "/dev/vda", 2048, NULL, &out, err);
	oci_spec_free(&s);
	if (*ret < 0)
		return NULL;
	j = json_loads(out, 0, NULL);
	free(out);
	cr_assert_not_null(j);
	return j;
}

Test(oci_guest, engine_files_travel_inline, .init = setup, .fini = teardown)
{
	char mounts[8192], hosts[256], secrets[256], key[512];
	struct ember_err err = { 0 };
	json_t *req, *m;
	int ret;

	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	write_file(hosts, "127.0.0.1 localhost\n");
	chmod(hosts, 0644);
	snprintf(secrets, sizeof(secrets), "%s/ctr1/userdata/secrets", dir);
	snprintf(key, sizeof(key), "mkdir -p %s", secrets);
	cr_assert_eq(system(key), 0);
	snprintf(key, sizeof(key), "%s/key", secrets);
	write_file(key, "s3cr3t");
	snprintf(
	    mounts, sizeof(mounts),
	    "[{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	    " {\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": \"%s\","
	    " \"options\": [\"bind\", \"ro\"]},"
	    " {\"destination\": \"/run/secrets\", \"source\": \"%s\", \"options\": [\"rbind\"]},"
	    " {\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"/x/shm\","
	    " \"options\": [\"bind\", \"nosuid\", \"size=1m\"]}]",
	    hosts, secrets);
	req = request(mounts, "ctr1", &err, &ret);
	cr_assert_eq(ret, 0, "%s", err.msg);
	m = json_object_get(req, "mounts");
	cr_assert_eq(json_array_size(m), 4);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 0), "type")), "proc");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "type")),
			 "ember-file");
	/* "127.0.0.1 localhost\n" in base64 */
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "data")),
			 "MTI3LjAuMC4xIGxvY2FsaG9zdAo=");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(m, 1), "mode")), 0644);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "destination")),
			 "/run/secrets/key");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "data")),
			 "czNjcjN0");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 3), "type")), "tmpfs");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(req, "root"), "device")),
			 "/dev/vda");
	cr_assert(json_is_true(json_object_get(json_object_get(req, "root"), "readonly")));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(req, "root"), "sectors")),
		     2048);
	cr_assert_eq(json_array_size(json_object_get(req, "maskedPaths")), 1);
	json_decref(req);
}

Test(oci_guest, volumes_are_refused_naming_them, .init = setup, .fini = teardown)
{
	char mounts[1024];
	struct ember_err err = { 0 };
	int ret;

	snprintf(mounts, sizeof(mounts),
		 "[{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"%s\","
		 " \"options\": [\"rbind\"]}]",
		 "/usr/share");
	cr_assert_null(request(mounts, "c2", &err, &ret));
	cr_assert_lt(ret, 0);
	cr_assert(strstr(err.msg, "/usr/share") && strstr(err.msg, "/data") &&
		      strstr(err.msg, "volume"),
		  "%s", err.msg);
	snprintf(
	    mounts, sizeof(mounts),
	    "[{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/nonexistent\"}]");
	cr_assert_null(request(mounts, "c2", &err, &ret));
	cr_assert(strstr(err.msg, "/nonexistent"), "%s", err.msg);
}

Test(oci_guest, exec_request_carries_the_process)
{
	json_t *p = json_pack("{s:[s,s], s:s}", "args", "ls", "-l", "cwd", "/tmp"), *j;
	struct ember_err err = { 0 };
	char *out = NULL;

	cr_assert_eq(oci_guest_exec_request("c1", p, &out, &err), 0);
	j = json_loads(out, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "c1");
	cr_assert_str_eq(json_string_value(json_array_get(
			     json_object_get(json_object_get(j, "process"), "args"), 1)),
			 "-l");
	json_decref(j);
	json_decref(p);
	free(out);
}

/* ---- state ---- */

Test(oci_state, create_open_status_remove, .init = setup, .fini = teardown)
{
	struct oci_state st, again;
	struct ember_err err = { 0 };
	json_t *j;

	cr_assert_eq(oci_state_create(&st, dir, "c1", &err), 0, "%s", err.msg);
	cr_assert_lt(oci_state_create(&again, dir, "c1", &err), 0);
	cr_assert_str_eq(err.msg, "container with id exists: c1");
	strcpy(st.bundle, "/bundle");
	st.pid = getpid();
	st.pid_start = oci_proc_start(getpid());
	cr_assert_neq(st.pid_start, 0);
	st.annotations = json_pack("{s:s}", "a", "b");
	cr_assert_eq(oci_state_save(&st, &err), 0, "%s", err.msg);
	oci_state_close(&st);

	cr_assert_eq(oci_state_open(&st, dir, "c1", &err), 0, "%s", err.msg);
	cr_assert_eq(st.status, OCI_CREATING, "no record from the monitor yet");
	cr_assert_eq(oci_state_mark(st.dir, "created", 0), 0);
	oci_state_refresh(&st);
	cr_assert_eq(st.status, OCI_CREATED);
	cr_assert_eq(oci_state_mark(st.dir, "running", 0), 0);
	oci_state_refresh(&st);
	cr_assert_eq(st.status, OCI_RUNNING);
	j = oci_state_json(&st);
	cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "running");
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")), getpid());
	cr_assert_str_eq(json_string_value(json_object_get(j, "bundle")), "/bundle");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "annotations"), "a")),
			 "b");
	json_decref(j);
	cr_assert_eq(oci_state_mark(st.dir, "stopped", 7), 0);
	oci_state_refresh(&st);
	cr_assert_eq(st.status, OCI_STOPPED);
	cr_assert_eq(st.exit_status, 7);
	oci_state_remove(&st);
	oci_state_close(&st);
	cr_assert_lt(oci_state_open(&st, dir, "c1", &err), 0);
	cr_assert_str_eq(err.msg, "container does not exist");
}

Test(oci_state, a_dead_monitor_means_stopped, .init = setup, .fini = teardown)
{
	struct oci_state st;
	struct ember_err err = { 0 };
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	cr_assert_eq(oci_state_create(&st, dir, "c2", &err), 0);
	st.pid = child; /* gone now */
	st.pid_start = 12345;
	cr_assert_eq(oci_state_save(&st, &err), 0);
	cr_assert_eq(oci_state_mark(st.dir, "running", 0), 0);
	oci_state_close(&st);
	cr_assert_eq(oci_state_open(&st, dir, "c2", &err), 0);
	cr_assert_eq(st.status, OCI_STOPPED, "the monitor crashed: the container is stopped");
	cr_assert_eq(st.exit_status, -1);
	oci_state_close(&st);
}

Test(oci_state, ids_and_long_paths_are_checked, .init = setup, .fini = teardown)
{
	struct oci_state st;
	struct ember_err err = { 0 };
	char id[OCI_ID_MAX + 1];

	cr_assert_lt(oci_state_create(&st, dir, "../x", &err), 0);
	cr_assert(strstr(err.msg, "invalid container id"), "%s", err.msg);
	memset(id, 'a', 100);
	id[100] = '\0';
	cr_assert_lt(oci_state_create(&st, dir, id, &err), 0);
	cr_assert(strstr(err.msg, "too long for its sockets"), "%s", err.msg);
}

Test(oci_misc, pid_file_is_written_then_renamed, .init = setup, .fini = teardown)
{
	struct ember_err err = { 0 };
	char path[PATH_MAX], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/pidfile", dir);
	cr_assert_eq(oci_write_pid_file(path, 4242, &err), 0, "%s", err.msg);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "4242", "no newline, as runc");
	snprintf(path, sizeof(path), "%s/.pidfile", dir);
	cr_assert_neq(access(path, F_OK), 0, "the temporary file is gone");
}

/* ---- frames ---- */

struct frames {
	int n;
	uint8_t types[8];
	uint32_t lens[8];
};

static int collect(void *ctx, uint8_t type, const uint8_t *data, uint32_t len)
{
	struct frames *f = ctx;

	(void)data;
	f->types[f->n] = type;
	f->lens[f->n++] = len;
	return 0;
}

Test(oci_frames, decoded_across_any_split)
{
	uint8_t stream[64], *p = stream;
	struct ctr_reader *r = calloc(1, sizeof(*r));

	ctr_hdr(p, CTR_STDOUT, 3);
	memcpy(p + 5, "abc", 3);
	p += 8;
	ctr_hdr(p, CTR_STARTED, 0);
	p += 5;
	ctr_hdr(p, CTR_EXIT, 4);
	ctr_put32(p + 5, 7);
	p += 9;
	for (size_t split = 1; split < (size_t)(p - stream); split++) {
		struct frames f = { 0 };

		r->len = 0;
		cr_assert_eq(ctr_reader_feed(r, stream, split, collect, &f), 0);
		cr_assert_eq(
		    ctr_reader_feed(r, stream + split, (size_t)(p - stream) - split, collect, &f),
		    0);
		cr_assert_eq(f.n, 3, "split at %zu", split);
		cr_assert_eq(f.types[0], CTR_STDOUT);
		cr_assert_eq(f.lens[0], 3);
		cr_assert_eq(f.types[1], CTR_STARTED);
		cr_assert_eq(f.types[2], CTR_EXIT);
	}
	free(r);
}

Test(oci_frames, an_oversized_frame_is_refused)
{
	uint8_t hdr[5];
	struct ctr_reader *r = calloc(1, sizeof(*r));
	struct frames f = { 0 };

	ctr_hdr(hdr, CTR_STDIN, CTR_FRAME_MAX + 1);
	cr_assert_lt(ctr_reader_feed(r, hdr, 5, collect, &f), 0);
	cr_assert_eq(f.n, 0);
	free(r);
}

/* ---- cgroups ---- */

Test(oci_cgroup, paths_as_engines_name_them)
{
	static const struct {
		const char *in;
		bool systemd;
		const char *out;
	} ok[] = {
		{ "/libpod_parent/libpod-abc", false, "libpod_parent/libpod-abc" },
		{ "/default/ctr1", false, "default/ctr1" },
		{ "machine.slice:libpod:abc", true, "machine.slice/libpod-abc.scope" },
		{ "machine-foo.slice:p:n", true, "machine.slice/machine-foo.slice/p-n.scope" },
		{ ":cri:", true, "system.slice/cri-c1.scope" },
		{ "", false, "" },
	};
	struct ember_err err = { 0 };
	char out[PATH_MAX];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(oci_cgroup_path(ok[i].in, ok[i].systemd, "c1", out, sizeof(out), &err),
			     0, "%s: %s", ok[i].in, err.msg);
		cr_assert_str_eq(out, ok[i].out, "%s", ok[i].in);
	}
	cr_assert_lt(oci_cgroup_path("/a/../b", false, "c1", out, sizeof(out), &err), 0);
	cr_assert_lt(oci_cgroup_path("slice:only", true, "c1", out, sizeof(out), &err), 0);
	cr_assert_lt(oci_cgroup_path("notaslice:p:n", true, "c1", out, sizeof(out), &err), 0);
}
