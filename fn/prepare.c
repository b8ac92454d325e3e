// SPDX-License-Identifier: Apache-2.0
/*
 * ember-fn prepare: the function's directory, or a container image's root
 * (image.c), becomes a small read-only ext4 disk; a VM boots with it (the guest's init mounts it on /fn), the
 * agent comes up, one warm-up request runs, and the paused VM is
 * snapshotted into the function store ("prebaking").
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "ember_disk.h"
#include "fn.h"

#define AGENT_READY   "ember-agent: listening"
#define WARMUP_MAX    (16u << 20)
#define SNAPSHOT_MS   120000
#define MKFS_ROOM_MIN (1u << 20)

struct prep {
	const struct fn_opts *o;
	const struct fn_source *from;
	const char *src, *name;
	char gen[PATH_MAX], run[FN_RUN_MAX], root[PATH_MAX], unpack[PATH_MAX];
	char api[FN_RUN_MAX + 16], vsock[FN_RUN_MAX + 16], console[FN_RUN_MAX + 16];
	pid_t pid;
	uint64_t t0, disk_us, booted_us, warmup_us; /* from t0 */
	int warmup_status;
};

static int check_source(const char *src, struct ember_err *err)
{
	char handler[PATH_MAX];
	struct stat st;

	snprintf(handler, sizeof(handler), "%.4000s/handler", src);
	if (stat(handler, &st) < 0)
		return err_errno(err, "%s", handler);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
		return err_set(err, EINVAL, "%s must be an executable file", handler);
	return 0;
}

/* The function's tree as a read-only ext4 disk (as ember-oci builds a
 * container's root), a quarter of free room at least 1 MiB. */
static int build_disk(struct prep *p, struct ember_err *err)
{
	char img[PATH_MAX];

	snprintf(img, sizeof(img), "%.4000s/fn.ext4", p->gen);
	return ember_disk_from_dir(p->src, img, 25, MKFS_ROOM_MIN, NULL, err);
}

static int write_config(struct prep *p, const char *path, struct ember_err *err)
{
	char disk[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX];
	json_t *j;
	int ret;

	if (!realpath(p->o->kernel, kernel) || !realpath(p->o->initrd, initrd))
		return err_errno(err, "the guest kernel %s or initramfs %s (make guest)",
				 p->o->kernel, p->o->initrd);
	snprintf(disk, sizeof(disk), "%.4000s/fn.ext4", p->gen);
	j = json_pack(
	    "{s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:b, s:b}], s:{s:i, s:i}, s:{s:i, s:s}}",
	    "boot-source", "kernel_image_path", kernel, "initrd_path", initrd, "boot_args",
	    "console=ttyS0 reboot=k panic=1 quiet ember.agent=1 ember.fndisk=/dev/vda", "drives",
	    "drive_id", "fn", "path_on_host", disk, "is_root_device", 0, "is_read_only", 1,
	    "machine-config", "vcpu_count", (int)p->o->vcpus, "mem_size_mib", (int)p->o->mem_mib,
	    "vsock", "guest_cid", 3, "uds_path", p->vsock);
	ret = j ? json_dump_file(j, path, JSON_INDENT(2)) : -1;
	json_decref(j);
	return ret < 0 ? err_set(err, EIO, "cannot write %s", path) : 0;
}

/* Until the guest's console shows the agent listening. */
static int wait_agent(struct prep *p, struct ember_err *err)
{
	uint64_t deadline = fn_now_us() + (uint64_t)p->o->boot_timeout_ms * 1000u;
	static char buf[1 << 16];
	int status;

	for (;;) {
		int fd = open(p->console, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, AGENT_READY))
			return 0;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return err_set(err, ECHILD, "ember exited while the guest booted");
		}
		if (fn_now_us() > deadline)
			return err_set(err, ETIMEDOUT, "the agent was not listening after %u ms",
				       p->o->boot_timeout_ms);
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
}

static int read_payload(const char *path, char **data, size_t *len, struct ember_err *err)
{
	FILE *f;

	*data = NULL;
	*len = 0;
	if (!path)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return err_errno(err, "warm-up payload %s", path);
	*data = malloc(WARMUP_MAX);
	if (*data)
		*len = fread(*data, 1, WARMUP_MAX, f);
	fclose(f);
	return *data ? 0 : err_set(err, ENOMEM, "out of memory");
}

/* The last 300 bytes of an output: where its error is. */
static const char *tail_of(const char *out, size_t len)
{
	if (!out || !len)
		return "(none)";
	return len > 300 ? out + len - 300 : out;
}

static int warm_up(struct prep *p, const char *warmup_path, struct ember_err *err)
{
	struct agent_conn conn = { .fd = -1 };
	struct agent_result res = { 0 };
	size_t len;
	char *in;
	int ret = read_payload(warmup_path, &in, &len, err);

	if (!ret)
		ret = agent_connect(&conn, p->vsock, AGENT_PORT, 10000, err);
	if (!ret)
		ret = agent_set_timeout(&conn, p->o->timeout_ms, err);
	if (!ret)
		ret = agent_invoke(&conn, "handler", in, len, &res, err);
	agent_close(&conn);
	free(in);
	p->warmup_us = fn_now_us() - p->t0;
	if (!ret && res.status)
		ret = err_set(err, EIO, "the warm-up request failed (exit status %d): %.300s",
			      res.status, res.err_len ? res.err : res.out);
	p->warmup_status = res.status;
	agent_result_free(&res);
	return ret;
}

/* --http: the server up and answering before the warm-up. */
static int start_server(struct prep *p, struct ember_err *err)
{
	struct agent_conn conn = { .fd = -1 };
	struct agent_result res = { 0 };
	unsigned port = p->from->http_port;
	int ret = agent_connect(&conn, p->vsock, AGENT_PORT, 10000, err);

	if (!ret)
		ret = agent_set_timeout(&conn, p->o->boot_timeout_ms + 10000, err);
	if (!ret)
		ret = agent_http_start(&conn, port, p->o->boot_timeout_ms, &res, err);
	agent_close(&conn);
	if (!ret && res.status == 124)
		ret = err_set(err, ETIMEDOUT,
			      "the function's server was not answering on port %u after %u ms; "
			      "its output: %s",
			      port, p->o->boot_timeout_ms, tail_of(res.out, res.out_len));
	else if (!ret && res.status)
		ret = err_set(err, EIO,
			      "the function's server exited (status %d) before answering on port "
			      "%u; its output: %s",
			      res.status, port, tail_of(res.out, res.out_len));
	agent_result_free(&res);
	return ret;
}

/* The warm-up through the server: POST / with the payload, or GET /. */
static int warm_up_http(struct prep *p, const char *warmup_path, struct ember_err *err)
{
	struct fn_http_req req = { .method = "GET", .target = "/" };
	struct fn_http_resp resp;
	struct agent_conn conn = { .fd = -1 };
	char *in, *bytes = NULL;
	size_t len = 0;
	int ret = read_payload(warmup_path, &in, &req.body_len, err);

	if (ret || fn_http_resp_init(&resp, false) < 0)
		return ret ? ret : err_set(err, ENOMEM, "out of memory");
	req.body = in;
	if (warmup_path)
		req.method = "POST";
	ret = fn_http_build(&req, &bytes, &len, err);
	if (!ret)
		ret = agent_connect(&conn, p->vsock, AGENT_PORT, 10000, err);
	if (!ret)
		ret = agent_set_timeout(&conn, p->o->timeout_ms, err);
	if (!ret)
		ret = agent_proxy(&conn, p->from->http_port, err);
	if (!ret)
		ret = fn_http_exchange(conn.fd, bytes, len, &resp, err);
	agent_close(&conn);
	if (!ret && resp.status >= 500)
		ret = err_set(err, EIO, "the warm-up request got %d: %s", resp.status,
			      tail_of(resp.body, resp.body_len));
	p->warmup_status = ret ? -1 : resp.status;
	p->warmup_us = fn_now_us() - p->t0;
	fn_http_resp_free(&resp);
	free(bytes);
	free(in);
	return ret;
}

static int snapshot(struct prep *p, struct ember_err *err)
{
	char state[PATH_MAX], mem[PATH_MAX], *body;
	json_t *j;
	int ret;

	if (api_client_expect(p->api, "PATCH", "/vm", "{\"state\": \"Paused\"}", SNAPSHOT_MS, err))
		return -err->code;
	snprintf(state, sizeof(state), "%.4000s/snap.state", p->gen);
	snprintf(mem, sizeof(mem), "%.4000s/snap.mem", p->gen);
	j = json_pack("{s:s, s:s, s:s}", "snapshot_type", "Full", "snapshot_path", state,
		      "mem_file_path", mem);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body)
		return err_set(err, ENOMEM, "out of memory");
	ret = api_client_expect(p->api, "PUT", "/snapshot/create", body, SNAPSHOT_MS, err);
	free(body);
	return ret;
}

static int write_meta(struct prep *p, struct ember_err *err)
{
	char path[PATH_MAX];
	json_t *j =
	    json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I}", "name", p->name, "source",
		      p->from->image ? p->from->image : p->src, "vcpu_count", (int)p->o->vcpus,
		      "mem_size_mib", (int)p->o->mem_mib, "disk_us", (json_int_t)p->disk_us,
		      "boot_us", (json_int_t)(p->booted_us - p->disk_us), "warmup_us",
		      (json_int_t)(p->warmup_us - p->booted_us), "created", (json_int_t)time(NULL));
	int ret;

	if (j && p->from->http_port)
		json_object_set_new(j, "http_port", json_integer(p->from->http_port));
	snprintf(path, sizeof(path), "%.4000s/meta.json", p->gen);
	ret = j ? json_dump_file(j, path, JSON_INDENT(2)) : -1;
	json_decref(j);
	return ret < 0 ? err_set(err, EIO, "cannot write %s", path) : 0;
}

static int boot(struct prep *p, struct ember_err *err)
{
	char cfg[PATH_MAX];
	const char *argv[] = { p->o->ember,
			       "--api-sock",
			       p->api,
			       "--config-file",
			       cfg,
			       "--id",
			       "ember-fn-prepare",
			       p->o->seccomp ? NULL : "--no-seccomp",
			       NULL };

	snprintf(cfg, sizeof(cfg), "%.4000s/vm.json", p->gen);
	if (write_config(p, cfg, err) < 0 ||
	    ember_proc_spawn(argv, p->console, false, &p->pid, err) < 0)
		return -err->code;
	if (wait_agent(p, err) < 0)
		return -err->code;
	p->booted_us = fn_now_us() - p->t0;
	return 0;
}

/* An image's root, unpacked beside the generation, in place of a directory. */
static int unpack_image(struct prep *p, struct ember_err *err)
{
	snprintf(p->unpack, sizeof(p->unpack), "%.4000s.image", p->gen);
	if (fn_image_unpack(p->from->image, p->from->handler, p->unpack, p->root, sizeof(p->root),
			    err) < 0)
		return -err->code;
	p->src = p->root;
	return 0;
}

static int steps(struct prep *p, const char *warmup_path, struct ember_err *err)
{
	int ret;

	if (fn_store_new_generation(p->o->store, p->name, p->gen, sizeof(p->gen), err) < 0)
		return -err->code;
	if (p->from->image && unpack_image(p, err) < 0) {
		fn_rm_rf(p->unpack);
		return -err->code;
	}
	ret = build_disk(p, err);
	if (p->unpack[0])
		fn_rm_rf(p->unpack);
	if (ret < 0)
		return err_prefix(err, "building the function disk");
	p->disk_us = fn_now_us() - p->t0;
	if (boot(p, err) < 0)
		return err_prefix(err, "booting the function's VM");
	if (p->from->http_port && start_server(p, err) < 0)
		return err_prefix(err, "starting the function's server");
	if ((p->from->http_port ? warm_up_http(p, warmup_path, err)
				: warm_up(p, warmup_path, err)) < 0)
		return err_prefix(err, "warming up");
	if (snapshot(p, err) < 0)
		return err_prefix(err, "taking the snapshot");
	ember_proc_kill(p->pid);
	p->pid = 0;
	if (write_meta(p, err) < 0)
		return -err->code;
	return fn_store_publish(p->o->store, p->name, p->gen, err);
}

static int make_rundir(struct prep *p, struct ember_err *err)
{
	snprintf(p->run, sizeof(p->run), "%.60s/ember-fn.XXXXXX", p->o->rundir);
	if (!mkdtemp(p->run)) {
		err_errno(err, "cannot create a directory in %s", p->o->rundir);
		p->run[0] = '\0';
		return -err->code;
	}
	snprintf(p->api, sizeof(p->api), "%s/api.sock", p->run);
	snprintf(p->vsock, sizeof(p->vsock), "%s/v.sock", p->run);
	snprintf(p->console, sizeof(p->console), "%s/console.log", p->run);
	return 0;
}

static void report_failure(struct prep *p, struct ember_err *err)
{
	char tail[600];
	size_t len = strlen(err->msg);

	ember_proc_log_tail(p->console, tail, sizeof(tail));
	if (tail[0])
		snprintf(err->msg + len, sizeof(err->msg) - len, " (guest console: %s)", tail);
	if (p->gen[0])
		fn_rm_rf(p->gen);
}

int fn_prepare(const struct fn_opts *o, const struct fn_source *src, const char *name,
	       const char *warmup_path, struct ember_err *err)
{
	struct prep p = { .o = o, .from = src, .src = src->dir, .name = name, .t0 = fn_now_us() };
	int ret;

	if (fn_store_check_name(name, err) < 0 ||
	    (src->image ? fn_image_check_ref(src->image, err) : check_source(src->dir, err)) < 0 ||
	    make_rundir(&p, err) < 0)
		return -err->code;
	ret = steps(&p, warmup_path, err);
	ember_proc_kill(p.pid);
	if (ret < 0)
		report_failure(&p, err);
	else
		fprintf(stderr,
			"ember-fn: prepared %s in %llu ms (disk %llu ms, boot to agent %llu ms, "
			"warm-up %llu ms): %s\n",
			name, (unsigned long long)(fn_now_us() - p.t0) / 1000,
			(unsigned long long)p.disk_us / 1000,
			(unsigned long long)(p.booted_us - p.disk_us) / 1000,
			(unsigned long long)(p.warmup_us - p.booted_us) / 1000, p.gen);
	fn_rm_rf(p.run);
	return ret;
}
