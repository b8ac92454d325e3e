// SPDX-License-Identifier: Apache-2.0
/* ember-jailer's last steps before exec: uid/gid, an optional user namespace,
 * no capabilities left anywhere (effective, permitted, inheritable, ambient,
 * bounding), and no_new_privs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "jailer.h"

/* Needs CAP_SETPCAP: done while still root (and again inside a new user
 * namespace, which starts with a full bounding set). */
static int drop_bounding_set(struct ember_err *err)
{
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (cap_drop_bound(c) < 0 && errno != EINVAL)
			return err_errno(err, "cannot drop capability %d from the bounding set", c);
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return err_errno(err, "cannot clear the ambient capabilities");
	return 0;
}

static int clear_capabilities(struct ember_err *err)
{
	cap_t none = cap_init();
	int ret = 0;

	if (!none)
		return err_errno(err, "cap_init");
	if (cap_set_proc(none) < 0)
		ret = err_errno(err, "cannot clear the capability sets");
	cap_free(none);
	return ret;
}

static int set_ids(const struct jailer_args *a, struct ember_err *err)
{
	if (setgroups(0, NULL) < 0)
		return err_errno(err, "cannot drop the supplementary groups");
	if (setresgid(a->gid, a->gid, a->gid) < 0)
		return err_errno(err, "cannot become gid %u", (unsigned)a->gid);
	if (setresuid(a->uid, a->uid, a->uid) < 0)
		return err_errno(err, "cannot become uid %u", (unsigned)a->uid);
	return 0;
}

static int write_proc(int proc_fd, const char *file, const char *text, struct ember_err *err)
{
	size_t n = strlen(text);
	int fd = openat(proc_fd, file, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		int ret = err_errno(err, "writing /proc/%s", file);

		if (fd >= 0)
			close(fd);
		return ret;
	}
	close(fd);
	return 0;
}

/* Already uid/gid: the new namespace maps those two ids and no other, which
 * an unprivileged process may do for itself (user_namespaces(7)). /proc is
 * outside the jail: proc_fd was opened before the pivot. */
static int enter_user_ns(const struct jailer_args *a, int proc_fd, struct ember_err *err)
{
	char map[64];
	int ret;

	if (proc_fd < 0)
		return err_set(err, EBADF, "--new-user-ns needs /proc");
	if (unshare(CLONE_NEWUSER) < 0)
		return err_errno(err, "cannot create a user namespace (is "
				      "kernel.unprivileged_userns_clone 0?)");
	/* The uid change made the process non-dumpable, which gives its /proc
	 * files to root; the maps are its own to write. exec decides again. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		return err_errno(err, "prctl(PR_SET_DUMPABLE)");
	if ((ret = write_proc(proc_fd, "self/setgroups", "deny", err)) < 0)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)a->uid, (unsigned)a->uid);
	if ((ret = write_proc(proc_fd, "self/uid_map", map, err)) < 0)
		return ret;
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)a->gid, (unsigned)a->gid);
	return write_proc(proc_fd, "self/gid_map", map, err);
}

int jailer_drop_privileges(const struct jailer_args *a, int proc_fd, struct ember_err *err)
{
	int ret;

	if ((ret = drop_bounding_set(err)) < 0 || (ret = set_ids(a, err)) < 0)
		return ret;
	if (a->new_user_ns &&
	    ((ret = enter_user_ns(a, proc_fd, err)) < 0 || (ret = drop_bounding_set(err)) < 0))
		return ret;
	if ((ret = clear_capabilities(err)) < 0)
		return ret;
	/* Nothing exec'd from here on (setuid binaries, file caps) gains a privilege. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_errno(err, "prctl(PR_SET_NO_NEW_PRIVS)");
	return 0;
}
