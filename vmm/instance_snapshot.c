// SPDX-License-Identifier: Apache-2.0
/* PUT /snapshot/create and /snapshot/load: their bodies (Firecracker's
 * schema), the checks around them, and the overrides for clones. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boottimer.h"
#include "instance.h"
#include "log.h"
#include "snapshot.h"

static json_t *parse_body(const char *body, const char *what, struct ember_err *err)
{
	json_error_t jerr;
	json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, &jerr);

	if (!j || !json_is_object(j)) {
		json_decref(j);
		err_set(err, EINVAL, "%s: the body is not a JSON object (%s)", what, jerr.text);
		return NULL;
	}
	return j;
}

/* {"snapshot_path", "mem_file_path", "snapshot_type": "Full"|"Diff", "version"} */
int instance_snapshot_create(struct instance *in, const char *body, struct ember_err *err)
{
	const char *state = NULL, *mem = NULL, *type = "Full", *version = NULL;
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	json_t *j = parse_body(body, "snapshot/create", err);
	json_error_t jerr;
	int ret;

	if (!j)
		return -EINVAL;
	if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s, s:s, s?s, s?s}", "snapshot_path", &state,
			   "mem_file_path", &mem, "snapshot_type", &type, "version", &version) < 0)
		ret = err_set(err, EINVAL, "snapshot/create: %s", jerr.text);
	else if (in->state != INSTANCE_PAUSED)
		ret = err_set(err, EPERM,
			      "Create snapshot: the microVM must be paused (PATCH /vm "
			      "{\"state\": \"Paused\"}) first.");
	else if (strcmp(type, "Full") && strcmp(type, "Diff"))
		ret = err_set(err, EINVAL, "snapshot_type must be Full or Diff, not %s", type);
	else
		ret = snapshot_create(in->vm, &in->cfg, state, mem, !strcmp(type, "Diff"), err);
	json_decref(j);
	if (ret < 0)
		return ret;
	in->create_snapshot_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
	log_info("%s snapshot written in %llu us", type,
		 (unsigned long long)in->create_snapshot_us);
	return 0;
}

struct load_params {
	const char *state, *mem, *backend;
	int resume, track_dirty, diff;
	json_t *nets, *vsock;
};

static int unpack_load(json_t *j, struct load_params *p, struct ember_err *err)
{
	json_t *backend = NULL;
	json_error_t jerr;

	memset(p, 0, sizeof(*p));
	p->backend = "File";
	if (json_unpack_ex(j, &jerr, JSON_STRICT, "{s:s, s?o, s?s, s?b, s?b, s?b, s?o, s?o}",
			   "snapshot_path", &p->state, "mem_backend", &backend, "mem_file_path",
			   &p->mem, "enable_diff_snapshots", &p->diff, "track_dirty_pages",
			   &p->track_dirty, "resume_vm", &p->resume, "network_overrides", &p->nets,
			   "vsock_override", &p->vsock) < 0)
		return err_set(err, EINVAL, "snapshot/load: %s", jerr.text);
	if (backend && p->mem)
		return err_set(err, EINVAL,
			       "snapshot/load: give mem_backend or mem_file_path, not both");
	if (backend && json_unpack_ex(backend, &jerr, JSON_STRICT, "{s:s, s:s}", "backend_path",
				      &p->mem, "backend_type", &p->backend) < 0)
		return err_set(err, EINVAL, "snapshot/load: mem_backend: %s", jerr.text);
	if (!p->mem)
		return err_set(err, EINVAL, "snapshot/load: mem_backend is required");
	if (strcmp(p->backend, "File") && strcmp(p->backend, "Uffd"))
		return err_set(err, EINVAL,
			       "snapshot/load: backend_type must be File or Uffd, not %s",
			       p->backend);
	return 0;
}

static int replace(char **field, const char *value, struct ember_err *err)
{
	char *copy = strdup(value);

	if (!copy)
		return err_set(err, ENOMEM, "out of memory");
	free(*field);
	*field = copy;
	return 0;
}

/* network_overrides [{iface_id, host_dev_name}], vsock_override {uds_path}:
 * clones of one snapshot run side by side on their own TAPs and sockets. */
static int apply_overrides(struct vm_config *cfg, const struct load_params *p,
			   struct ember_err *err)
{
	const char *id, *dev, *uds;
	json_error_t jerr;
	json_t *o;
	size_t i;

	if (p->nets && !json_is_array(p->nets))
		return err_set(err, EINVAL, "snapshot/load: network_overrides must be a list");
	json_array_foreach(p->nets, i, o)
	{
		int n;

		if (json_unpack_ex(o, &jerr, JSON_STRICT, "{s:s, s:s}", "iface_id", &id,
				   "host_dev_name", &dev) < 0)
			return err_set(err, EINVAL, "snapshot/load: network_overrides: %s",
				       jerr.text);
		if ((n = config_find_net(cfg, id)) < 0)
			return err_set(err, EINVAL,
				       "snapshot/load: the snapshot has no interface %s", id);
		if (replace(&cfg->nets[n].host_dev_name, dev, err) < 0)
			return -ENOMEM;
	}
	if (!p->vsock)
		return 0;
	if (json_unpack_ex(p->vsock, &jerr, JSON_STRICT, "{s:s}", "uds_path", &uds) < 0)
		return err_set(err, EINVAL, "snapshot/load: vsock_override: %s", jerr.text);
	if (!cfg->vsock.set)
		return err_set(err, EINVAL, "snapshot/load: the snapshot has no vsock device");
	return replace(&cfg->vsock.uds_path, uds, err);
}

/* Nothing may be configured before a load: the snapshot brings it all. */
static bool configured(const struct vm_config *cfg)
{
	return cfg->has_boot || cfg->nr_drives || cfg->nr_nets || cfg->vsock.set ||
	       cfg->entropy.set;
}

/* File: the memory file mapped MAP_PRIVATE. Uffd: anonymous memory whose
 * pages the handler at p->mem serves (attached as the VM is built). */
static int memory_backend(struct instance *in, const struct load_params *p, struct ember_err *err)
{
	if (!strcmp(p->backend, "Uffd")) {
		free(in->uffd_path);
		in->uffd_path = strdup(p->mem);
		return in->uffd_path ? 0 : err_set(err, ENOMEM, "out of memory");
	}
	in->opts.mem_fd = open(p->mem, O_RDONLY | O_CLOEXEC);
	in->opts.mem_from_file = true;
	if (in->opts.mem_fd < 0)
		return err_errno(err, "cannot open the memory file %s", p->mem);
	return 0;
}

/* A load that failed after taking the snapshot's configuration gives it
 * back: the process is as it was, and a corrected load may follow. */
static void forget_config(struct instance *in)
{
	struct vm_config empty;

	config_init(&empty);
	empty.logger = in->cfg.logger;
	empty.metrics = in->cfg.metrics;
	memset(&in->cfg.logger, 0, sizeof(in->cfg.logger));
	memset(&in->cfg.metrics, 0, sizeof(in->cfg.metrics));
	config_free(&in->cfg);
	in->cfg = empty;
	free(in->uffd_path);
	in->uffd_path = NULL;
}

static int load(struct instance *in, const struct load_params *p, struct ember_err *err)
{
	struct snapshot_file f;
	struct vm_config cfg;
	bool taken = false; /* in->cfg is the snapshot's */
	int ret = snapshot_read(&f, p->state, err);

	if (ret < 0)
		return ret;
	config_init(&cfg);
	ret = config_parse(&cfg, f.config_json, err);
	if (!ret)
		ret = apply_overrides(&cfg, p, err);
	if (!ret) {
		/* Logging and metrics stay this process's, not the snapshot's. */
		struct config_logger l = cfg.logger;
		struct config_metrics m = cfg.metrics;

		cfg.logger = in->cfg.logger;
		cfg.metrics = in->cfg.metrics;
		in->cfg.logger = l;
		in->cfg.metrics = m;
		cfg.machine.track_dirty_pages = p->track_dirty;
		config_free(&in->cfg);
		in->cfg = cfg;
		taken = true;
		ret = memory_backend(in, p, err);
	} else {
		config_free(&cfg);
	}
	if (!ret)
		ret = instance_restore(in, &f, p->resume, err);
	if (ret < 0 && taken)
		forget_config(in);
	if (in->opts.mem_from_file && in->opts.mem_fd >= 0)
		close(in->opts.mem_fd); /* the mapping holds the file */
	in->opts.mem_from_file = false;
	snapshot_file_free(&f);
	return ret;
}

int instance_snapshot_load(struct instance *in, const char *body, struct ember_err *err)
{
	uint64_t t0 = boottimer_now_us(CLOCK_MONOTONIC);
	json_t *j = parse_body(body, "snapshot/load", err);
	struct load_params p;
	int ret;

	if (!j)
		return -EINVAL;
	ret = unpack_load(j, &p, err);
	if (!ret && configured(&in->cfg))
		ret = err_set(err, EPERM,
			      "Loading a microVM snapshot not allowed after configuring "
			      "boot-specific resources.");
	if (!ret)
		ret = load(in, &p, err);
	if (!ret) {
		in->load_snapshot_us = boottimer_now_us(CLOCK_MONOTONIC) - t0;
		log_info("snapshot %s loaded in %llu us%s", p.state,
			 (unsigned long long)in->load_snapshot_us,
			 p.resume ? "; the microVM runs" : "");
	}
	json_decref(j); /* p's strings live in j */
	return ret < 0 ? err_prefix(err, "cannot load the snapshot") : 0;
}
