// SPDX-License-Identifier: Apache-2.0
/* ember-jailer's cgroups: v1 (one hierarchy per controller) and v2 (unified). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer.h"

/* Is name one of the comma-separated words in opts? */
static bool has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* The mount point of controller's v1 hierarchy, or of the v2 hierarchy. */
static int find_mount(const char *mounts, int version, const char *controller, char *out,
		      size_t size, struct ember_err *err)
{
	char dev[256], dir[PATH_MAX], type[32], opts[1024];
	FILE *f = fopen(mounts, "re");
	int found = 0;

	if (!f)
		return err_errno(err, "cannot read %s", mounts);
	while (!found && fscanf(f, "%255s %4095s %31s %1023s %*d %*d", dev, dir, type, opts) == 4)
		found = version == 2 ? !strcmp(type, "cgroup2")
				     : !strcmp(type, "cgroup") && has_option(opts, controller);
	fclose(f);
	if (!found && version == 2)
		return err_set(err, ENOENT, "no cgroup2 hierarchy is mounted (%s)", mounts);
	if (!found)
		return err_set(err, ENOENT, "no cgroup v1 hierarchy has the %s controller (%s)",
			       controller, mounts);
	snprintf(out, size, "%s", dir);
	return 0;
}

static int write_file(const char *dir, const char *file, const char *value, struct ember_err *err)
{
	char path[PATH_MAX];
	size_t n = strlen(value);
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	/* cgroupfs creates no files, so a wrong name still fails there;
	 * a plain directory standing in for one (the unit tests) gets it. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, value, n) != (ssize_t)n) {
		int ret = err_errno(err, "cannot write \"%s\" to %s", value, path);

		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	return 0;
}

/* Contents without the trailing newline; "" if the file is missing. */
static void read_file(const char *dir, const char *file, char *out, size_t size)
{
	char path[PATH_MAX];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, size - 1);
		close(fd);
	}
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* Append the next component of *rel to path ("/name"); advance *rel. */
static void descend(char *path, size_t size, const char **rel)
{
	size_t len = strcspn(*rel, "/"), n = strlen(path);

	snprintf(path + n, size - n, "/%.*s", (int)len, *rel);
	*rel += len + ((*rel)[len] == '/');
}

/* mkdir -p of base/rel. */
static int make_dirs(const char *base, const char *rel, char *out, size_t size,
		     struct ember_err *err)
{
	snprintf(out, size, "%s", base);
	while (*rel) {
		descend(out, size, &rel);
		if (mkdir(out, 0755) < 0 && errno != EEXIST)
			return err_errno(err, "cannot create the cgroup %s", out);
	}
	return 0;
}

/*
 * v1 gives a new cgroup empty cpuset.cpus/mems, and no task may join it so:
 * from the mount down to the new cgroup, a level whose file is empty takes
 * its parent's value, as Firecracker's jailer does.
 */
static int inherit(const char *mount, const char *rel, const char *file, struct ember_err *err)
{
	char parent[PATH_MAX], cur[PATH_MAX], value[4096], mine[4096];
	const char *p = rel;

	snprintf(cur, sizeof(cur), "%s", mount);
	while (*p) {
		snprintf(parent, sizeof(parent), "%s", cur);
		descend(cur, sizeof(cur), &p);
		read_file(cur, file, mine, sizeof(mine));
		read_file(parent, file, value, sizeof(value));
		if (!mine[0] && value[0] && write_file(cur, file, value, err) < 0)
			return -err->code;
	}
	return 0;
}

static int apply_v1_controller(const struct jailer_args *a, const char *controller,
			       const char *mounts, const char *pid, struct ember_err *err)
{
	char mount[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX];
	int ret;

	if ((ret = find_mount(mounts, 1, controller, mount, sizeof(mount), err)) < 0)
		return ret;
	snprintf(rel, sizeof(rel), "%s/%s", a->parent_cgroup, a->id);
	if ((ret = make_dirs(mount, rel, dir, sizeof(dir), err)) < 0)
		return ret;
	if (!strcmp(controller, "cpuset") && ((ret = inherit(mount, rel, "cpuset.cpus", err)) < 0 ||
					      (ret = inherit(mount, rel, "cpuset.mems", err)) < 0))
		return ret;
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		const struct jailer_cgroup_prop *c = &a->cgroups[i];

		if (strcmp(c->controller, controller))
			continue;
		if ((ret = inherit(mount, rel, c->file, err)) < 0 ||
		    (ret = write_file(dir, c->file, c->value, err)) < 0)
			return ret;
	}
	return write_file(dir, "tasks", pid, err);
}

static bool seen_before(const struct jailer_args *a, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (!strcmp(a->cgroups[j].controller, a->cgroups[i].controller))
			return true;
	return false;
}

/* Every ancestor of the new cgroup hands the controllers down. */
static int enable_v2_controllers(const struct jailer_args *a, const char *mount,
				 struct ember_err *err)
{
	char dir[PATH_MAX], on[40];
	const char *p = a->parent_cgroup;
	int ret;

	snprintf(dir, sizeof(dir), "%s", mount);
	for (;;) {
		for (unsigned i = 0; i < a->nr_cgroups; i++) {
			snprintf(on, sizeof(on), "+%s", a->cgroups[i].controller);
			if (!seen_before(a, i) &&
			    (ret = write_file(dir, "cgroup.subtree_control", on, err)) < 0)
				return ret;
		}
		if (!*p)
			return 0;
		descend(dir, sizeof(dir), &p);
	}
}

static int apply_v2(const struct jailer_args *a, const char *mounts, const char *pid,
		    struct ember_err *err)
{
	char mount[PATH_MAX], rel[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int ret;

	if ((ret = find_mount(mounts, 2, NULL, mount, sizeof(mount), err)) < 0)
		return ret;
	/* No values: join the parent cgroup if it exists, create nothing. */
	if (!a->nr_cgroups) {
		if (snprintf(dir, sizeof(dir), "%s/%s", mount, a->parent_cgroup) >=
		    (int)sizeof(dir))
			return err_set(err, ENAMETOOLONG, "cgroup path too long");
		return stat(dir, &st) == 0 ? write_file(dir, "cgroup.procs", pid, err) : 0;
	}
	snprintf(rel, sizeof(rel), "%s/%s", a->parent_cgroup, a->id);
	if ((ret = make_dirs(mount, rel, dir, sizeof(dir), err)) < 0 ||
	    (ret = enable_v2_controllers(a, mount, err)) < 0)
		return ret;
	for (unsigned i = 0; i < a->nr_cgroups; i++)
		if ((ret = write_file(dir, a->cgroups[i].file, a->cgroups[i].value, err)) < 0)
			return ret;
	return write_file(dir, "cgroup.procs", pid, err);
}

int jailer_cgroups_apply(const struct jailer_args *a, const char *mounts, pid_t pid,
			 struct ember_err *err)
{
	char pid_s[24];
	int ret = 0;

	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	if (a->cgroup_version == 2)
		return apply_v2(a, mounts, pid_s, err);
	for (unsigned i = 0; !ret && i < a->nr_cgroups; i++)
		if (!seen_before(a, i))
			ret = apply_v1_controller(a, a->cgroups[i].controller, mounts, pid_s, err);
	return ret;
}
