// SPDX-License-Identifier: Apache-2.0
/*
 * The cgroup the engine names (linux.cgroupsPath): the monitor joins it
 * before it starts ember, so the VM is accounted where the engine looks
 * (podman's libpod_parent/libpod-ID, containerd's /NAMESPACE/ID, a
 * systemd slice). cgroupfs paths are taken as they are; systemd's
 * "slice:prefix:name" becomes slice/.../prefix-name.scope, as systemd
 * would lay it out. The CPU quota and the pids limit apply to it; the
 * memory limit is the VM's memory already (a cgroup limit on top would
 * count ember's own pages against the container). cgroup v2, or v1 with
 * each mounted hierarchy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* "machine-foo.slice" lives in machine.slice/machine-foo.slice. */
static int slice_path(const char *slice, char *out, size_t size)
{
	char prefix[PATH_MAX] = "";
	size_t n = 0;
	const char *base;

	out[0] = '\0';
	if (!*slice || !strcmp(slice, "-.slice"))
		return 0;
	if (strlen(slice) < 7 || strcmp(slice + strlen(slice) - 6, ".slice"))
		return -1;
	base = slice;
	for (const char *dash = strchr(base, '-'); dash; dash = strchr(dash + 1, '-')) {
		snprintf(prefix, sizeof(prefix), "%.*s.slice", (int)(dash - base), base);
		n += (size_t)snprintf(out + n, size - n, "/%s", prefix);
		if (n >= size)
			return -1;
	}
	n += (size_t)snprintf(out + n, size - n, "/%s", slice);
	return n >= size ? -1 : 0;
}

int oci_cgroup_path(const char *cgroups_path, bool systemd, const char *id, char *out, size_t size,
		    struct ember_err *err)
{
	char copy[PATH_MAX], sl[PATH_MAX], *prefix, *name;

	out[0] = '\0';
	if (!cgroups_path || !*cgroups_path)
		return 0;
	if (strstr(cgroups_path, ".."))
		return err_set(err, EINVAL, "cgroupsPath %s: no \"..\"", cgroups_path);
	if (!systemd && !strchr(cgroups_path, ':')) {
		if (snprintf(out, size, "%s",
			     cgroups_path[0] == '/' ? cgroups_path + 1 : cgroups_path) >= (int)size)
			return err_set(err, ENAMETOOLONG, "cgroupsPath too long");
		return 0;
	}
	snprintf(copy, sizeof(copy), "%s", cgroups_path);
	prefix = strchr(copy, ':');
	name = prefix ? strchr(prefix + 1, ':') : NULL;
	if (!name)
		return err_set(err, EINVAL, "cgroupsPath %s: slice:prefix:name expected",
			       cgroups_path);
	*prefix++ = '\0';
	*name++ = '\0';
	if (slice_path(*copy ? copy : "system.slice", sl, sizeof(sl)) < 0)
		return err_set(err, EINVAL, "cgroupsPath %s: bad slice", cgroups_path);
	if (snprintf(out, size, "%s/%s-%s.scope", sl + (sl[0] == '/'), prefix, *name ? name : id) >=
	    (int)size)
		return err_set(err, ENAMETOOLONG, "cgroupsPath too long");
	return 0;
}

static int mkdir_p(const char *path)
{
	return oci_mkdir_p(path, 0755);
}

static int write_file(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX + 32];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return ret;
}

/* Each hierarchy: the unified one, or every v1 hierarchy mounted. */
static int for_each_hierarchy(int (*fn)(const char *root, void *ctx), void *ctx)
{
	struct dirent *e;
	DIR *d;
	int ret = 0;

	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0)
		return fn(CGROUP_ROOT, ctx);
	d = opendir(CGROUP_ROOT);
	while (d && !ret && (e = readdir(d))) {
		char root[PATH_MAX], procs[PATH_MAX + 16];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(root, sizeof(root), CGROUP_ROOT "/%s", e->d_name);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", root);
		if (lstat(root, &st) == 0 && S_ISDIR(st.st_mode) && access(procs, F_OK) == 0)
			ret = fn(root, ctx);
	}
	if (d)
		closedir(d);
	return ret;
}

struct join {
	const char *rel;
	pid_t pid;
	const struct oci_spec *spec;
	struct ember_err *err;
};

static int join_one(const char *root, void *ctx)
{
	struct join *j = ctx;
	char dir[PATH_MAX * 2], text[64];

	snprintf(dir, sizeof(dir), "%s/%s", root, j->rel);
	if (mkdir_p(dir) < 0)
		return err_errno(j->err, "creating the cgroup %s", dir);
	/* limits the hierarchy has (cpu.max: v2; cfs: v1); missing controllers are skipped */
	if (j->spec->cpu_quota > 0) {
		snprintf(text, sizeof(text), "%lld %llu", (long long)j->spec->cpu_quota,
			 (unsigned long long)(j->spec->cpu_period ? j->spec->cpu_period : 100000));
		write_file(dir, "cpu.max", text);
	}
	if (j->spec->pids_limit > 0) {
		snprintf(text, sizeof(text), "%lld", (long long)j->spec->pids_limit);
		write_file(dir, "pids.max", text);
	}
	snprintf(text, sizeof(text), "%d", (int)j->pid);
	if (write_file(dir, "cgroup.procs", text) < 0)
		return err_errno(j->err, "joining the cgroup %s", dir);
	return 0;
}

int oci_cgroup_join(const char *rel, pid_t pid, const struct oci_spec *spec, struct ember_err *err)
{
	struct join j = { rel, pid, spec, err };

	if (!rel || !*rel)
		return 0;
	return for_each_hierarchy(join_one, &j);
}

static int remove_one(const char *root, void *ctx)
{
	char dir[PATH_MAX * 2];

	snprintf(dir, sizeof(dir), "%s/%s", root, (const char *)ctx);
	/* the monitor's last processes may take a moment to leave it */
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	return 0;
}

void oci_cgroup_remove(const char *rel)
{
	if (rel && *rel)
		for_each_hierarchy(remove_one, (void *)rel);
}
