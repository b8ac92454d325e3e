// SPDX-License-Identifier: Apache-2.0
/*
 * A directory's tree as an ext4 image for a VM's drive, made by e2fsprogs'
 * mkfs.ext4 -d: a container's root (ember-oci, from the directory the
 * engine prepared) and a function's disk (ember-fn, from its directory or
 * an unpacked image). Sparse, sized with the room asked for, no journal
 * (the image is rebuilt, never recovered), lazy inode tables: its cost is
 * what the files themselves take. Ownership and modes are the tree's; the
 * root directory is root's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember_disk.h"

#define DEPTH_MAX 64

extern char **environ;

/* Bytes the tree takes, in blocks, and its inodes; -1 on a read error. */
static int measure(int dirfd, int depth, uint64_t *bytes, uint64_t *inodes)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		*bytes += (uint64_t)st.st_blocks * 512 + 4096;
		(*inodes)++;
		if (!S_ISDIR(st.st_mode) || depth >= DEPTH_MAX)
			continue;
		sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0 && measure(sub, depth + 1, bytes, inodes) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static const char *mkfs_path(void)
{
	static const char *const paths[] = { "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Run mkfs.ext4, its output in a file shown on failure. */
static int run_mkfs(const char *dir, const char *image, uint64_t size, uint64_t inodes,
		    struct ember_err *err)
{
	char sz[32], ino[32], log[PATH_MAX], tail[400] = "";
	const char *mkfs = mkfs_path();
	posix_spawn_file_actions_t fa;
	int status = -1, fd;
	pid_t pid;

	if (!mkfs)
		return err_set(err, ENOENT, "mkfs.ext4 not found (install e2fsprogs)");
	snprintf(sz, sizeof(sz), "%lluk", (unsigned long long)(size >> 10));
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)inodes);
	snprintf(log, sizeof(log), "%s.log", image);
	const char *argv[] = { mkfs,
			       "-q",
			       "-F",
			       "-O",
			       "^has_journal",
			       "-m",
			       "0",
			       "-N",
			       ino,
			       "-E",
			       "lazy_itable_init=1,root_owner=0:0",
			       "-d",
			       dir,
			       image,
			       sz,
			       NULL };
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawn(&pid, mkfs, &fa, NULL, (char *const *)argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (pid < 0)
		return err_errno(err, "running %s", mkfs);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, tail, sizeof(tail) - 1);

		tail[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	unlink(log);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(err, EIO, "building a disk image from %s: mkfs.ext4 failed: %s", dir,
			       tail[0] ? tail : "(no output)");
	return 0;
}

int ember_disk_from_dir(const char *dir, const char *image, unsigned room_pct, uint64_t room_min,
			uint64_t *sectors, struct ember_err *err)
{
	uint64_t bytes = 0, inodes = 16, room, size;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || measure(fd, 0, &bytes, &inodes) < 0)
		return err_errno(err, "reading %s", dir);
	room = bytes / 100 * room_pct;
	room = room > room_min ? room : room_min;
	/* twice the tree's inodes, and one per 16 KiB of room (mkfs's ratio);
	 * never more than a small image's block groups can hold */
	inodes = inodes * 2 + room / 16384;
	/* the inode tables take their room too (256 bytes an inode) */
	size = bytes + inodes * 256 + room;
	size = (size + (1 << 20) - 1) & ~((uint64_t)(1 << 20) - 1);
	if (run_mkfs(dir, image, size, inodes, err) < 0) {
		unlink(image);
		return -err->code;
	}
	if (sectors)
		*sectors = size / 512;
	return 0;
}
