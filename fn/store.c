// SPDX-License-Identifier: Apache-2.0
/*
 * The function store: STORE/NAME/current is a symlink to the generation
 * directory holding the function's disk and snapshot, so preparing a
 * function again swaps the snapshot atomically under a running serve.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fn.h"

int fn_store_check_name(const char *name, struct ember_err *err)
{
	size_t len = strlen(name);

	if (!len || len > FN_NAME_MAX || name[0] == '.' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		len)
		return err_set(err, EINVAL,
			       "bad function name \"%.80s\": 1 to %d letters, digits, '.', '_' or "
			       "'-', not starting with '.'",
			       name, FN_NAME_MAX);
	return 0;
}

static int mkdir_p(const char *path, struct ember_err *err)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return err_errno(err, "cannot create %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return err_errno(err, "cannot create %s", tmp);
	return 0;
}

/* What prepare recorded beside the snapshot that a request needs. */
static int read_meta(struct fn_snapshot *s, struct ember_err *err)
{
	char path[PATH_MAX];
	json_int_t port = 0;
	json_error_t jerr;
	json_t *meta;

	snprintf(path, sizeof(path), "%.4000s/meta.json", s->dir);
	meta = json_load_file(path, 0, &jerr);
	if (!meta)
		return err_set(err, EINVAL, "function \"%s\": %s: %s", s->name, path, jerr.text);
	if (json_unpack(meta, "{s?I}", "http_port", &port) < 0 || port < 0 || port > 65535) {
		json_decref(meta);
		return err_set(err, EINVAL, "function \"%s\": %s: bad http_port", s->name, path);
	}
	json_decref(meta);
	s->http_port = (unsigned)port;
	return 0;
}

int fn_store_lookup(const char *store, const char *name, struct fn_snapshot *s,
		    struct ember_err *err)
{
	char link[PATH_MAX];
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (fn_store_check_name(name, err) < 0)
		return -err->code;
	snprintf(link, sizeof(link), "%s/%s/current", store, name);
	if (!realpath(link, s->dir))
		return err_set(err, ENOENT, "no function \"%s\" in %s (ember-fn prepare first)",
			       name, store);
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->state, sizeof(s->state), "%.4000s/snap.state", s->dir);
	snprintf(s->mem, sizeof(s->mem), "%.4000s/snap.mem", s->dir);
	snprintf(s->ws, sizeof(s->ws), "%.4000s/ws.pages", s->dir);
	if (stat(s->mem, &st) < 0 || access(s->state, R_OK) < 0)
		return err_set(err, ENOENT, "function \"%s\": its snapshot in %s is incomplete",
			       name, s->dir);
	s->mem_size = (uint64_t)st.st_size;
	return read_meta(s, err);
}

int fn_store_new_generation(const char *store, const char *name, char *dir, size_t size,
			    struct ember_err *err)
{
	struct timespec ts;
	char parent[PATH_MAX];

	snprintf(parent, sizeof(parent), "%s/%s", store, name);
	if (mkdir_p(parent, err) < 0)
		return -err->code;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (snprintf(dir, size, "%s/g%lld%09ld", parent, (long long)ts.tv_sec, ts.tv_nsec) >=
	    (int)size)
		return err_set(err, ENAMETOOLONG, "store path too long");
	if (mkdir(dir, 0755) < 0)
		return err_errno(err, "cannot create %s", dir);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int fn_rm_rf(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every generation but `keep` (clones already running hold their files open). */
static void remove_old(const char *parent, const char *keep)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] == 'g' && strcmp(e->d_name, keep)) {
			snprintf(path, sizeof(path), "%.3000s/%.255s", parent, e->d_name);
			fn_rm_rf(path);
		}
	closedir(d);
}

int fn_store_publish(const char *store, const char *name, const char *dir, struct ember_err *err)
{
	char parent[PATH_MAX], tmp[PATH_MAX], cur[PATH_MAX];
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;

	snprintf(parent, sizeof(parent), "%s/%s", store, name);
	snprintf(tmp, sizeof(tmp), "%.3000s/current.%d", parent, (int)getpid());
	snprintf(cur, sizeof(cur), "%.3000s/current", parent);
	unlink(tmp);
	if (symlink(base, tmp) < 0 || rename(tmp, cur) < 0) {
		unlink(tmp);
		return err_errno(err, "cannot publish %s as %s", dir, cur);
	}
	remove_old(parent, base);
	return 0;
}
