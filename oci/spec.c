// SPDX-License-Identifier: Apache-2.0
/*
 * The bundle's config.json (runtime-spec config.md, config-linux.md): read,
 * checked, and the parts ember-oci acts on picked out. Everything else of
 * the config travels to the guest as it is (guest.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci.h"

#define CONFIG_MAX (16u << 20)

static bool string_list(json_t *a, bool nonempty)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || (nonempty && !json_array_size(a)))
		return false;
	json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
	return true;
}

int oci_process_check(json_t *p, struct ember_err *err)
{
	json_t *user, *cwd;

	if (!json_is_object(p))
		return err_set(err, EINVAL, "process: an object is required");
	if (!string_list(json_object_get(p, "args"), true))
		return err_set(err, EINVAL, "args must not be empty");
	if (json_object_get(p, "env") && !string_list(json_object_get(p, "env"), false))
		return err_set(err, EINVAL, "process.env must be a list of strings");
	cwd = json_object_get(p, "cwd");
	if (cwd && (!json_is_string(cwd) || json_string_value(cwd)[0] != '/'))
		return err_set(err, EINVAL, "cwd property must be an absolute path");
	user = json_object_get(p, "user");
	if (user &&
	    (!json_is_object(user) ||
	     (json_object_get(user, "uid") && !json_is_integer(json_object_get(user, "uid"))) ||
	     (json_object_get(user, "gid") && !json_is_integer(json_object_get(user, "gid")))))
		return err_set(err, EINVAL, "process.user: uid and gid must be integers");
	return 0;
}

/* linux.namespaces: the network one, with a path or of its own. */
static int pick_netns(struct oci_spec *s, json_t *linux_, struct ember_err *err)
{
	json_t *nss = json_object_get(linux_, "namespaces"), *ns;
	size_t i;

	if (nss && !json_is_array(nss))
		return err_set(err, EINVAL, "linux.namespaces must be a list");
	json_array_foreach(nss, i, ns)
	{
		const char *type = json_string_value(json_object_get(ns, "type"));

		if (!type)
			return err_set(err, EINVAL, "linux.namespaces[%zu]: no type", i);
		if (strcmp(type, "network"))
			continue;
		s->netns_path = json_string_value(json_object_get(ns, "path"));
		s->netns_new = !s->netns_path || !*s->netns_path;
		if (s->netns_new)
			s->netns_path = NULL;
	}
	return 0;
}

static void pick_resources(struct oci_spec *s, json_t *linux_)
{
	json_t *res = json_object_get(linux_, "resources");
	json_t *cpu = json_object_get(res, "cpu"), *mem = json_object_get(res, "memory");
	json_t *pids = json_object_get(res, "pids");

	s->mem_limit = json_integer_value(json_object_get(mem, "limit"));
	s->cpu_quota = json_integer_value(json_object_get(cpu, "quota"));
	s->cpu_period = (uint64_t)json_integer_value(json_object_get(cpu, "period"));
	s->pids_limit = json_integer_value(json_object_get(pids, "limit"));
}

/* root.path, relative to the bundle or absolute: a directory. */
static int pick_root(struct oci_spec *s, json_t *root, struct ember_err *err)
{
	const char *path = json_string_value(json_object_get(root, "path"));
	struct stat st;

	if (!json_is_object(root) || !path || !*path)
		return err_set(err, EINVAL, "root.path is empty");
	if (path[0] == '/')
		snprintf(s->rootfs, sizeof(s->rootfs), "%s", path);
	else if (snprintf(s->rootfs, sizeof(s->rootfs), "%s/%s", s->bundle, path) >=
		 (int)sizeof(s->rootfs))
		return err_set(err, ENAMETOOLONG, "root.path is too long");
	if (stat(s->rootfs, &st) < 0)
		return err_errno(err, "rootfs (%s) does not exist", s->rootfs);
	if (!S_ISDIR(st.st_mode))
		return err_set(err, ENOTDIR, "rootfs (%s) is not a directory", s->rootfs);
	s->root_readonly = json_is_true(json_object_get(root, "readonly"));
	return 0;
}

int oci_spec_parse(struct oci_spec *s, json_t *json, const char *bundle, struct ember_err *err)
{
	json_t *linux_;

	memset(s, 0, sizeof(*s));
	s->json = json;
	snprintf(s->bundle, sizeof(s->bundle), "%s", bundle);
	if (!json_is_object(json))
		return err_set(err, EINVAL, "config.json: an object is required");
	if (!json_is_string(json_object_get(json, "ociVersion")))
		return err_set(err, EINVAL, "config.json: ociVersion is required");
	s->process = json_object_get(json, "process");
	if (!s->process)
		return err_set(err, EINVAL, "config.json: process is required");
	if (oci_process_check(s->process, err) < 0 ||
	    pick_root(s, json_object_get(json, "root"), err) < 0)
		return -err->code;
	s->terminal = json_is_true(json_object_get(s->process, "terminal"));
	s->hostname = json_string_value(json_object_get(json, "hostname"));
	if (json_object_get(json, "mounts") && !json_is_array(json_object_get(json, "mounts")))
		return err_set(err, EINVAL, "config.json: mounts must be a list");
	linux_ = json_object_get(json, "linux");
	if (pick_netns(s, linux_, err) < 0)
		return -err->code;
	s->cgroups_path = json_string_value(json_object_get(linux_, "cgroupsPath"));
	pick_resources(s, linux_);
	s->annotations = json_object_get(json, "annotations");
	s->hooks = json_object_get(json, "hooks");
	return 0;
}

static int read_config(const char *path, char **out, size_t *len, struct ember_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0)
		return err_errno(err, "JSON specification file %s could not be opened", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		close(fd);
		return err_set(err, EINVAL, "%s: not a regular file of at most 16 MiB", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return err_errno(err, "reading %s", path);
	}
	close(fd);
	buf[st.st_size] = '\0';
	*out = buf;
	*len = (size_t)st.st_size;
	return 0;
}

int oci_spec_load(struct oci_spec *s, const char *bundle, struct ember_err *err)
{
	char path[PATH_MAX + 16], abs[PATH_MAX], *text = NULL;
	json_error_t jerr;
	json_t *json;
	size_t len = 0;

	memset(s, 0, sizeof(*s));
	if (!realpath(bundle, abs))
		return err_errno(err, "bundle %s", bundle);
	snprintf(path, sizeof(path), "%s/config.json", abs);
	if (read_config(path, &text, &len, err) < 0)
		return -err->code;
	json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json)
		return err_set(err, EINVAL, "config.json: %s (line %d, column %d)", jerr.text,
			       jerr.line, jerr.column);
	if (oci_spec_parse(s, json, abs, err) < 0) {
		json_decref(json);
		s->json = NULL;
		return -err->code;
	}
	return 0;
}

void oci_spec_free(struct oci_spec *s)
{
	json_decref(s->json);
	s->json = NULL;
}
