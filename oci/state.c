// SPDX-License-Identifier: Apache-2.0
/*
 * A container's state directory, --root/ID: state.json (what create knew:
 * bundle, monitor pid and start time, annotations, what to undo at
 * delete), the monitor's record of the status, the VM's sockets and the
 * root image. Every command holds the directory's lock (flock on "lock")
 * while it works, so commands on one container never interleave. Later
 * commands may come without the global flags create had, from another
 * parent: all they need is here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"

void oci_state_path(const struct oci_state *st, const char *file, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", st->dir, file);
}

static int take_lock(struct oci_state *st, struct ember_err *err)
{
	char path[PATH_MAX];

	oci_state_path(st, "lock", path, sizeof(path));
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0)
		return err_errno(err, "opening %s", path);
	while (flock(st->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return err_errno(err, "locking %s", path);
	return 0;
}

static int set_dir(struct oci_state *st, const char *root, const char *id, struct ember_err *err)
{
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	st->exit_status = -1;
	if (!oci_valid_id(id))
		return err_set(err, EINVAL, "invalid container id format: %s", id ? id : "");
	snprintf(st->id, sizeof(st->id), "%s", id);
	if (snprintf(st->dir, sizeof(st->dir), "%s/%s", root, id) > OCI_SOCK_MAX)
		return err_set(err, ENAMETOOLONG,
			       "the state directory %s/%s is too long for its sockets (%d at most)",
			       root, id, OCI_SOCK_MAX);
	return 0;
}

static void now_rfc3339(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%09ldZ", base, ts.tv_nsec);
}

int oci_mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int oci_state_create(struct oci_state *st, const char *root, const char *id, struct ember_err *err)
{
	if (set_dir(st, root, id, err) < 0)
		return -err->code;
	if (oci_mkdir_p(root, 0711) < 0)
		return err_errno(err, "creating the state root %s", root);
	if (mkdir(st->dir, 0711) < 0) {
		if (errno == EEXIST)
			return err_set(err, EEXIST, "container with id exists: %s", id);
		return err_errno(err, "creating %s", st->dir);
	}
	now_rfc3339(st->created, sizeof(st->created));
	st->status = OCI_CREATING;
	return take_lock(st, err);
}

static void copy_str(json_t *o, const char *key, char *out, size_t size)
{
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(out, size, "%s", v ? v : "");
}

static int load(struct oci_state *st, struct ember_err *err)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *o;

	oci_state_path(st, "state.json", path, sizeof(path));
	o = json_load_file(path, 0, &jerr);
	if (!o) {
		/* created but not yet saved: create still runs (it holds the
		 * lock until then) or died before it could */
		st->status = OCI_CREATING;
		return 0;
	}
	copy_str(o, "bundle", st->bundle, sizeof(st->bundle));
	copy_str(o, "rootfs", st->rootfs, sizeof(st->rootfs));
	copy_str(o, "created", st->created, sizeof(st->created));
	copy_str(o, "cgroup", st->cgroup, sizeof(st->cgroup));
	copy_str(o, "netns", st->netns, sizeof(st->netns));
	copy_str(o, "iface", st->iface, sizeof(st->iface));
	st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
	st->pid_start = (uint64_t)json_integer_value(json_object_get(o, "pid_start"));
	st->annotations = json_incref(json_object_get(o, "annotations"));
	st->hooks = json_incref(json_object_get(o, "hooks"));
	json_decref(o);
	(void)err;
	return 0;
}

int oci_state_open(struct oci_state *st, const char *root, const char *id, struct ember_err *err)
{
	struct stat sb;

	if (set_dir(st, root, id, err) < 0)
		return -err->code;
	if (stat(st->dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return err_set(err, ENOENT, "container does not exist");
	if (take_lock(st, err) < 0)
		return -err->code;
	if (stat(st->dir, &sb) < 0) { /* deleted while we waited for the lock */
		oci_state_close(st);
		return err_set(err, ENOENT, "container does not exist");
	}
	if (load(st, err) < 0)
		return -err->code;
	oci_state_refresh(st);
	return 0;
}

/* Write `text` to dir/name through a temporary file and a rename. */
static int write_atomic(const char *dir, const char *name, const char *text)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	size_t len = strlen(text);
	int fd, ret = -1;

	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, name, (int)getpid());
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t)len && fsync(fd) == 0)
		ret = rename(tmp, path);
	close(fd);
	if (ret < 0)
		unlink(tmp);
	return ret;
}

int oci_state_save(const struct oci_state *st, struct ember_err *err)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s}", "id", st->id,
			      "bundle", st->bundle, "rootfs", st->rootfs, "created", st->created,
			      "pid", (json_int_t)st->pid, "pid_start", (json_int_t)st->pid_start,
			      "cgroup", st->cgroup, "netns", st->netns, "iface", st->iface);
	char *text;
	int ret;

	if (!o)
		return err_set(err, ENOMEM, "saving the state");
	if (st->annotations)
		json_object_set(o, "annotations", st->annotations);
	if (st->hooks)
		json_object_set(o, "hooks", st->hooks);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	ret = text ? write_atomic(st->dir, "state.json", text) : -1;
	free(text);
	return ret < 0 ? err_errno(err, "saving %s/state.json", st->dir) : 0;
}

int oci_state_mark(const char *dir, const char *status, int exit_status)
{
	char text[64];

	snprintf(text, sizeof(text), "%s %d\n", status, exit_status);
	return write_atomic(dir, "status", text);
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks. */
uint64_t oci_proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command may hold spaces and ')' */
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			 "%*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}

static bool monitor_alive(const struct oci_state *st)
{
	return st->pid > 0 && kill(st->pid, 0) == 0 && oci_proc_start(st->pid) == st->pid_start;
}

void oci_state_refresh(struct oci_state *st)
{
	char path[PATH_MAX], word[16] = "";
	int code = -1;
	FILE *f;

	oci_state_path(st, "status", path, sizeof(path));
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%15s %d", word, &code) < 1)
			word[0] = '\0';
		fclose(f);
	}
	st->exit_status = -1;
	if (!strcmp(word, "stopped") || (st->pid > 0 && !monitor_alive(st))) {
		st->status = OCI_STOPPED;
		st->exit_status = !strcmp(word, "stopped") ? code : -1;
		return;
	}
	if (!strcmp(word, "created"))
		st->status = OCI_CREATED;
	else if (!strcmp(word, "running"))
		st->status = OCI_RUNNING;
	else
		st->status = OCI_CREATING;
	oci_state_path(st, "paused", path, sizeof(path));
	if (st->status == OCI_RUNNING && access(path, F_OK) == 0)
		st->status = OCI_PAUSED;
}

void oci_state_close(struct oci_state *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
	json_decref(st->annotations);
	json_decref(st->hooks);
	st->annotations = st->hooks = NULL;
}

void oci_state_remove(struct oci_state *st)
{
	DIR *d = opendir(st->dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX];

		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "lock")) {
			oci_state_path(st, e->d_name, path, sizeof(path));
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	/* The lock goes last: a command waiting on it finds the directory gone. */
	{
		char lock[PATH_MAX];

		oci_state_path(st, "lock", lock, sizeof(lock));
		unlink(lock);
	}
	rmdir(st->dir);
}

const char *oci_status_name(enum oci_status s)
{
	static const char *const names[] = { "creating", "created", "running", "paused",
					     "stopped" };

	return names[s];
}

json_t *oci_state_json(const struct oci_state *st)
{
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ociVersion", OCI_VERSION, "id",
		      st->id, "status", oci_status_name(st->status), "bundle", st->bundle, "rootfs",
		      st->rootfs, "created", st->created, "owner", "");

	if (!o)
		return NULL;
	if (st->status == OCI_CREATED || st->status == OCI_RUNNING || st->status == OCI_PAUSED)
		json_object_set_new(o, "pid", json_integer(st->pid));
	else
		json_object_set_new(o, "pid", json_integer(0));
	json_object_set_new(o, "annotations",
			    st->annotations ? json_incref(st->annotations) : json_object());
	return o;
}
