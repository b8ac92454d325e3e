// SPDX-License-Identifier: Apache-2.0
/* ember-jailer's filesystem and namespaces: the jail directory, the binary's
 * copy, the netns, rlimits, pivot_root and the few device nodes. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jailer.h"

/* mkdir -p, each new directory 0755. */
int jailer_mkdir_p(const char *path, struct ember_err *err)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return err_errno(err, "cannot create %s", buf);
		if (!(*p = c))
			return 0;
	}
}

static int copy_fd(int in, int out, off_t size)
{
	off_t done = 0;

	while (done < size) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(size - done));

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* A private copy: never a hard link to something outside, never written
 * through a symbolic link someone placed in the jail. */
int jailer_copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, struct ember_err *err)
{
	struct stat st, dst_st;
	int in, out, ret = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		ret = err_errno(err, "cannot open %s", src);
		if (in >= 0)
			close(in);
		return ret;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, st.st_mode & 07777);
	if (out < 0)
		ret = err_errno(err, "cannot create %s", dst);
	else if (fstat(out, &dst_st) < 0 || dst_st.st_nlink > 1 || !S_ISREG(dst_st.st_mode))
		ret = err_set(err, EEXIST, "%s exists and is not a lone regular file", dst);
	else if (ftruncate(out, 0) < 0 || (ret = copy_fd(in, out, st.st_size)) < 0 ||
		 fchmod(out, st.st_mode & 0777) < 0 ||
		 (uid != (uid_t)-1 && fchown(out, uid, gid) < 0))
		ret = err_set(err, ret ? -ret : errno, "cannot copy %s to %s: %s", src, dst,
			      strerror(ret ? -ret : errno));
	close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/* The binary at <root>/<exec_name>, owned by uid:gid: its pages never
 * shared with other jails. */
int jailer_copy_exec(const struct jailer_args *a, struct ember_err *err)
{
	char dst[PATH_MAX];
	int ret;

	if ((ret = jailer_mkdir_p(a->jail_root, err)) < 0)
		return ret;
	if (snprintf(dst, sizeof(dst), "%s/%s", a->jail_root, a->exec_name) >= (int)sizeof(dst))
		return err_set(err, ENAMETOOLONG, "the jail's path is too long");
	return jailer_copy_file(a->exec_file, dst, a->uid, a->gid, err);
}

int jailer_join_netns(const char *path, struct ember_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_errno(err, "--netns %s", path);
	if (setns(fd, CLONE_NEWNET) < 0) {
		int ret = err_errno(err, "cannot join the network namespace %s", path);

		close(fd);
		return ret;
	}
	close(fd);
	return 0;
}

int jailer_set_rlimits(const struct jailer_args *a, struct ember_err *err)
{
	struct rlimit nofile = { a->nofile, a->nofile }, fsize = { a->fsize, a->fsize };

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return err_errno(err, "setrlimit(RLIMIT_NOFILE, %llu)",
				 (unsigned long long)a->nofile);
	if (a->fsize != RLIM_INFINITY && setrlimit(RLIMIT_FSIZE, &fsize) < 0)
		return err_errno(err, "setrlimit(RLIMIT_FSIZE, %llu)",
				 (unsigned long long)a->fsize);
	return 0;
}

/* userfaultfd is a misc device: its minor is in /proc/misc, if the host has it. */
static unsigned userfaultfd_minor(void)
{
	FILE *f = fopen("/proc/misc", "re");
	char name[64];
	unsigned minor, found = 0;

	if (!f)
		return 0;
	while (!found && fscanf(f, "%u %63s", &minor, name) == 2)
		if (!strcmp(name, "userfaultfd"))
			found = minor;
	fclose(f);
	return found;
}

void jailer_find_devices(struct jailer_devices *d)
{
	unsigned uffd = userfaultfd_minor();

	/* Fixed numbers (Documentation/admin-guide/devices.txt). */
	d->kvm = makedev(10, 232);
	d->tun = makedev(10, 200);
	d->urandom = makedev(1, 9);
	d->userfaultfd = uffd ? makedev(10, uffd) : 0;
}

/* The mount namespace's root becomes the jail: the host's tree is detached. */
int jailer_pivot(const struct jailer_args *a, struct ember_err *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_errno(err, "unshare(CLONE_NEWNS)");
	/* Nothing done here propagates back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return err_errno(err, "making / a slave mount");
	if (mount(a->jail_root, a->jail_root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_errno(err, "bind-mounting %s onto itself", a->jail_root);
	if (chdir(a->jail_root) < 0)
		return err_errno(err, "chdir %s", a->jail_root);
	if (mkdir("old_root", 0700) < 0 && errno != EEXIST)
		return err_errno(err, "mkdir %s/old_root", a->jail_root);
	if (syscall(SYS_pivot_root, ".", "old_root") < 0)
		return err_errno(err, "pivot_root into %s", a->jail_root);
	if (chdir("/") < 0 || umount2("old_root", MNT_DETACH) < 0 || rmdir("old_root") < 0)
		return err_errno(err, "detaching the host's root");
	return 0;
}

static int make_dir(const char *path, const struct jailer_args *a, struct ember_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_errno(err, "mkdir %s in the jail", path);
	if (chown(path, a->uid, a->gid) < 0)
		return err_errno(err, "chown %s in the jail", path);
	return 0;
}

static int make_node(const char *path, dev_t dev, const struct jailer_args *a,
		     struct ember_err *err)
{
	if (mknod(path, S_IFCHR | 0600, dev) < 0 && errno != EEXIST)
		return err_errno(err, "mknod %s (%u:%u) in the jail", path, major(dev), minor(dev));
	if (chown(path, a->uid, a->gid) < 0)
		return err_errno(err, "chown %s in the jail", path);
	return 0;
}

/* Inside the jail: /dev/kvm, /dev/net/tun, /dev/urandom, /dev/userfaultfd
 * where the host has one, and an empty /run for the API socket. */
int jailer_make_devices(const struct jailer_args *a, const struct jailer_devices *d,
			struct ember_err *err)
{
	int ret;

	if ((ret = make_dir("/", a, err)) < 0 || (ret = make_dir("/dev", a, err)) < 0 ||
	    (ret = make_dir("/dev/net", a, err)) < 0 || (ret = make_dir("/run", a, err)) < 0 ||
	    (ret = make_node("/dev/kvm", d->kvm, a, err)) < 0 ||
	    (ret = make_node("/dev/net/tun", d->tun, a, err)) < 0 ||
	    (ret = make_node("/dev/urandom", d->urandom, a, err)) < 0)
		return ret;
	if (d->userfaultfd)
		return make_node("/dev/userfaultfd", d->userfaultfd, a, err);
	return 0;
}
