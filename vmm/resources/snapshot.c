// SPDX-License-Identifier: Apache-2.0
/*
 * PUT /snapshot/create and /snapshot/load (Firecracker's
 * CreateSnapshotParams and LoadSnapshotConfig): a paused VM to a state file
 * and a memory file, and a fresh process's VM from them, with the
 * overrides clones need (network_overrides, vsock_override).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boottimer.h"
#include "instance.h"
#include "log.h"
#include "resource.h"
#include "snapshot.h"

/* A failed load ends Firecracker's process: the process is "too dirty to
 * recover". ember's own exit status for it is Firecracker's generic one. */
#define EXIT_LOAD_FAILED 1

static const char *const types[] = { "Full", "Diff", NULL };
static const char *const backends[] = { "File", "Uffd", NULL };
static const char *const load_pages[] = { "Snapshot", "None", "Transparent", "2M", NULL };

static const struct field create_fields[] = {
	{ .name = "snapshot_type", .type = FT_ENUM, .variants = types },
	{ .name = "snapshot_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "mem_file_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field backend_fields[] = {
	{ .name = "backend_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "backend_type", .type = FT_ENUM, .flags = F_REQUIRED, .variants = backends },
	{ 0 },
};

static const struct field override_fields[] = {
	{ .name = "iface_id", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "host_dev_name", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field vsock_fields[] = {
	{ .name = "uds_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field load_fields[] = {
	{ .name = "snapshot_path", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "mem_file_path", .type = FT_STRING, .flags = F_NULLABLE },
	{ .name = "mem_backend",
	  .type = FT_OBJECT,
	  .flags = F_NULLABLE,
	  .sub = backend_fields,
	  .what = "struct MemBackendConfig" },
	{ .name = "enable_diff_snapshots", .type = FT_BOOL },
	{ .name = "track_dirty_pages", .type = FT_BOOL },
	{ .name = "resume_vm", .type = FT_BOOL },
	{ .name = "network_overrides",
	  .type = FT_ARRAY,
	  .item = FT_OBJECT,
	  .sub = override_fields },
	{ .name = "vsock_override",
	  .type = FT_OBJECT,
	  .flags = F_NULLABLE,
	  .sub = vsock_fields,
	  .what = "struct VsockOverride" },
	{ .name = "clock_realtime", .type = FT_BOOL },
	{ .name = "huge_pages", .type = FT_ENUM, .variants = load_pages },
	{ 0 },
};

static int parse_create(struct res_call *c, struct ember_err *err)
{
	return body_check(&c->body, create_fields, "struct CreateSnapshotParams", 0, err);
}

static int create(struct instance *in, struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	bool diff = body_enum(o, "snapshot_type", types, 0) == 1;
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	char *json;
	int ret;

	if (in->state != INSTANCE_PAUSED)
		return err_set(err, EPERM,
			       "Create snapshot error: Cannot save the microVM state: the microVM "
			       "must be paused (PATCH /vm {\"state\": \"Paused\"}) first.");
	json = res_dump_config(in);
	if (!json)
		return err_set(err, ENOMEM, "out of memory for the snapshot's configuration");
	ret = snapshot_create(in->vm, json, body_str(o, "snapshot_path"),
			      body_str(o, "mem_file_path"), diff, err);
	free(json);
	if (ret < 0)
		return err_prefix(err, "Create snapshot error");
	in->create_snapshot_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("%s snapshot written in %llu us", types[diff],
		 (unsigned long long)in->create_snapshot_us);
	return 0;
}

/* ember's own field (--ember-extensions): the working set to fault in
 * before the VM runs, a file as ember-fn records it (snapshot/workset.c). */
static const struct field load_ember_fields[] = {
	{ .name = "working_set_path", .type = FT_STRING, .flags = F_NULLABLE },
	{ 0 },
};

/* ember's own fields checked here, then Firecracker's without them. */
static int check_ember_fields(struct res_call *c, struct body *rest, struct ember_err *err)
{
	int ret;

	*rest = c->body;
	if (!c->ext || !json_object_get(c->body.value, "working_set_path"))
		return 0;
	ret = body_check(&c->body, load_ember_fields, "struct LoadSnapshotConfig", F_OPEN, err);
	if (ret)
		return ret;
	rest->value = json_copy(c->body.value);
	if (!rest->value)
		return err_set(err, ENOMEM, "out of memory");
	json_object_del(rest->value, "working_set_path");
	return 0;
}

/* Exactly one of mem_backend and the deprecated mem_file_path. */
static int parse_load(struct res_call *c, struct ember_err *err)
{
	json_t *o = c->body.value;
	struct body rest;
	int ret = check_ember_fields(c, &rest, err);

	if (!ret)
		ret = body_check(&rest, load_fields, "struct LoadSnapshotConfig", 0, err);
	if (rest.value != c->body.value)
		json_decref(rest.value);

	if (!ret && body_has(o, "mem_backend") && body_has(o, "mem_file_path"))
		return err_set(err, EBADMSG,
			       "too many fields: either `mem_backend` or `mem_file_path` "
			       "exclusively is required");
	if (!ret && !body_has(o, "mem_backend") && !body_has(o, "mem_file_path"))
		return err_set(
		    err, EBADMSG,
		    "missing field: either `mem_backend` or `mem_file_path` is required");
	if (!ret &&
	    (body_has(o, "mem_file_path") || body_bool(o, "enable_diff_snapshots", false))) {
		c->deprecated = true;
		log_warn("PUT /snapshot/load: mem_file_path and enable_diff_snapshots fields are "
			 "deprecated.");
	}
	return ret;
}

/* network_overrides and vsock_override: clones of one snapshot run side by
 * side on their own TAPs and sockets. */
static int apply_overrides(struct vm_config *cfg, json_t *o, struct ember_err *err)
{
	json_t *nets = json_object_get(o, "network_overrides"), *x;
	const char *uds = body_str(json_object_get(o, "vsock_override"), "uds_path");
	size_t i;
	char *p;

	json_array_foreach(nets, i, x)
	{
		int n = config_find_net(cfg, body_str(x, "iface_id"));

		if (n < 0)
			return err_set(err, ENOENT,
				       "Failed to get snapshot state from file: Unknown Network "
				       "Device.");
		if (body_dup(body_str(x, "host_dev_name"), &p, err))
			return -ENOMEM;
		free(cfg->nets[n].host_dev_name);
		cfg->nets[n].host_dev_name = p;
	}
	if (!uds)
		return 0;
	if (!cfg->vsock.set)
		return err_set(err, ENOENT,
			       "Failed to get snapshot state from file: Unknown Vsock Device.");
	if (body_dup(uds, &p, err))
		return -ENOMEM;
	free(cfg->vsock.uds_path);
	cfg->vsock.uds_path = p;
	return 0;
}

/* The load's huge_pages: "Snapshot" keeps the snapshot's own choice. */
static int pick_pages(struct vm_config *cfg, json_t *o, bool uffd, struct ember_err *err)
{
	int p = body_enum(o, "huge_pages", load_pages, 0);

	if (p > 0)
		cfg->machine.huge_pages = (enum config_huge_pages)(p - 1);
	if (cfg->machine.huge_pages == CONFIG_HUGE_2M && !uffd)
		return err_set(err, EINVAL,
			       "Failed to load guest memory: Cannot restore hugetlbfs backed "
			       "snapshot by mapping the memory file. Please use uffd.");
	return 0;
}

/* File: the memory file mapped MAP_PRIVATE. Uffd: anonymous memory whose
 * pages the handler at path serves (attached as the VM is built). */
static int memory_backend(struct instance *in, const char *path, bool uffd, struct ember_err *err)
{
	char os[128];

	if (uffd) {
		free(in->uffd_path);
		in->uffd_path = strdup(path);
		return in->uffd_path ? 0 : err_set(err, ENOMEM, "out of memory");
	}
	in->opts.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	in->opts.mem_from_file = true;
	if (in->opts.mem_fd < 0)
		return err_set(err, errno, "Failed to load guest memory: %s",
			       res_os_error(errno, os, sizeof(os)));
	return 0;
}

/* A load that failed gives the snapshot's configuration back, so the
 * process is as it was (with --ember-extensions, a corrected load may
 * follow; otherwise the process ends, as Firecracker's does). */
static void forget(struct instance *in)
{
	config_free(&in->cfg);
	config_init(&in->cfg);
	free(in->uffd_path);
	in->uffd_path = NULL;
}

static int take_config(struct instance *in, struct snapshot_file *f, json_t *o, bool *uffd,
		       struct ember_err *err)
{
	json_t *b = json_object_get(o, "mem_backend");
	const char *mem =
	    b && !json_is_null(b) ? body_str(b, "backend_path") : body_str(o, "mem_file_path");
	struct vm_config cfg;
	int ret;

	*uffd = b && body_enum(b, "backend_type", backends, 0) == 1;
	config_init(&cfg);
	ret = res_load_config(in, &cfg, f->config_json, true, err);
	if (ret)
		err_prefix(err, "the snapshot's configuration");
	if (!ret)
		ret = apply_overrides(&cfg, o, err);
	if (!ret)
		ret = pick_pages(&cfg, o, *uffd, err);
	cfg.machine.track_dirty_pages = body_bool(o, "track_dirty_pages", false) ||
					body_bool(o, "enable_diff_snapshots", false);
	if (ret) {
		config_free(&cfg);
		return ret;
	}
	config_free(&in->cfg);
	in->cfg = cfg;
	return memory_backend(in, mem, *uffd, err);
}

static int load(struct instance *in, json_t *o, struct ember_err *err)
{
	struct snapshot_file f;
	char os[128];
	bool uffd;
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	int ret = snapshot_read(&f, body_str(o, "snapshot_path"), err);

	in->load_read_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;

	if (ret == -ENOENT || ret == -EACCES)
		return err_set(err, -ret,
			       "Failed to get snapshot state from file: Failed to open snapshot "
			       "file: %s",
			       res_os_error(-ret, os, sizeof(os)));
	if (ret < 0)
		return err_prefix(err, "Failed to get snapshot state from file");
	t0 = boottimer_now_us(CLOCK_MONOTONIC);
	ret = take_config(in, &f, o, &uffd, err);
	if (!ret && uffd && body_str(o, "working_set_path"))
		ret = err_set(err, EINVAL,
			      "working_set_path takes the File backend (with Uffd, the page-fault "
			      "handler serves the pages)");
	in->load_config_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	if (!ret)
		ret = instance_restore(in, &f, body_bool(o, "resume_vm", false),
				       body_bool(o, "clock_realtime", false),
				       body_str(o, "working_set_path"), err);
	if (ret < 0)
		forget(in);
	if (in->opts.mem_from_file && in->opts.mem_fd >= 0)
		close(in->opts.mem_fd); /* the mapping holds the file */
	in->opts.mem_from_file = false;
	snapshot_file_free(&f);
	return ret;
}

static int apply_load(struct instance *in, struct res_call *c, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	int ret;

	if (in->boot_path)
		return err_set(err, EPERM,
			       "Load snapshot error: Loading a microVM snapshot not allowed after "
			       "configuring boot-specific resources.");
	ret = load(in, c->body.value, err);
	if (ret < 0) {
		if (!in->ext.enabled)
			in->fatal_status = EXIT_LOAD_FAILED;
		return err_prefix(err, "Load snapshot error: Failed to restore from snapshot");
	}
	in->load_snapshot_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("snapshot %s loaded in %llu us%s", body_str(c->body.value, "snapshot_path"),
		 (unsigned long long)in->load_snapshot_us,
		 body_bool(c->body.value, "resume_vm", false) ? "; the microVM runs" : "");
	return 0;
}

const struct res_def res_snapshot_create = {
	.path = "snapshot",
	.sub = "create",
	.metric = "create_snapshot",
	.ops = { [RES_PUT] = { RES_POST, false, parse_create, create } },
};

const struct res_def res_snapshot_load = {
	.path = "snapshot",
	.sub = "load",
	.metric = "load_snapshot",
	.ops = { [RES_PUT] = { RES_PRE, false, parse_load, apply_load } },
};
