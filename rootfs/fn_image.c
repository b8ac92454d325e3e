// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's image functions (ember-fn prepare --image): the function's
 * disk on /fn is a container image's root, with the handler's spec at its
 * top (fn/image.c writes it: args, env, cwd, uid, gid). The handler runs
 * chrooted there, with /proc, /sys, the guest's /dev and a fresh /tmp
 * mounted into it once, so the warm-up leaves them in the snapshot.
 */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fn_image.h"

extern char **environ;

bool fn_image_present(void)
{
	return access(FN_IMAGE_SPEC_PATH, R_OK) == 0;
}

/* Whether `path` is already a mount point: another device than /fn's. */
static bool mounted(const char *path)
{
	struct stat fn, st;

	return stat("/fn", &fn) == 0 && stat(path, &st) == 0 && st.st_dev != fn.st_dev;
}

/* Each connection is served by its own process, and the snapshot keeps the
 * mounts of an earlier one: what is mounted stays, the rest is added. */
int fn_image_mounts(const char **which)
{
	static const struct {
		const char *src, *dst, *type;
		unsigned long flags;
		const char *data;
	} m[] = {
		{ "proc", "/fn/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "/dev", "/fn/dev", NULL, MS_BIND | MS_REC, NULL },
		{ "sysfs", "/fn/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
		{ "tmpfs", "/fn/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		*which = m[i].dst;
		if (!mounted(m[i].dst) &&
		    mount(m[i].src, m[i].dst, m[i].type, m[i].flags, m[i].data) < 0)
			return -errno;
	}
	return 0;
}

/* A JSON array of strings as a NULL-terminated vector (NULL if malformed). */
static char **strv(json_t *a)
{
	size_t n = json_array_size(a), i;
	char **v = calloc(n + 1, sizeof(*v));

	for (i = 0; v && i < n; i++)
		if (!(v[i] = (char *)json_string_value(json_array_get(a, i)))) {
			free(v);
			return NULL;
		}
	return v;
}

static _Noreturn void die(const char *what, const char *arg)
{
	fprintf(stderr, "ember-agent: %s %s: %s\n", what, arg, strerror(errno));
	_exit(127);
}

void fn_image_exec(void)
{
	json_t *spec = json_load_file(FN_IMAGE_SPEC_PATH, 0, NULL);
	const char *cwd = json_string_value(json_object_get(spec, "cwd"));
	json_int_t uid = json_integer_value(json_object_get(spec, "uid"));
	json_int_t gid = json_integer_value(json_object_get(spec, "gid"));
	char **argv = strv(json_object_get(spec, "args"));
	char **envp = strv(json_object_get(spec, "env"));

	errno = EINVAL;
	if (!spec || !argv || !argv[0] || !envp)
		die("reading", FN_IMAGE_SPEC_PATH);
	if (chroot("/fn") < 0)
		die("chroot", "/fn");
	if (chdir(cwd ? cwd : "/") < 0)
		die("the working directory", cwd ? cwd : "/");
	if ((gid || uid) &&
	    (setgroups(0, NULL) < 0 || setgid((gid_t)gid) < 0 || setuid((uid_t)uid) < 0))
		die("becoming the image's user", "");
	environ = envp; /* execvp searches the image's PATH */
	execvp(argv[0], argv);
	die("starting", argv[0]);
}
