// SPDX-License-Identifier: Apache-2.0
/*
 * A dynamically linked binary in the jail: its loader and the shared
 * libraries it needs, copied to the same paths under the jail's root, so
 * that after the pivot the loader finds them where it looks by default.
 * Firecracker's jailer takes static binaries only; ember links Debian's
 * liblwip, which is packaged as a shared library alone (see the Makefile).
 *
 * Which libraries: the loader named in the binary's PT_INTERP lists them
 * (`ld.so --list`, glibc's own resolution: ld.so.cache, RPATH, the default
 * paths), so the jailer resolves nothing itself. The binary is the one the
 * operator named to run, so asking its loader about it trusts nothing more.
 * The copies are private to the jail, as the binary's is: no page of them
 * is shared with another jail.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jailer.h"

#define LIST_MAX (64 * 1024) /* bytes of the loader's listing read */

static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n == (ssize_t)len ? 0 : -ENOEXEC;
}

/* The PT_INTERP of the ELF file open at fd: 1 (in interp), 0 none, -errno. */
static int elf_interp(int fd, char *interp, size_t n)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (read_at(fd, &eh, sizeof(eh), 0) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph))
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) < 0)
			return -ENOEXEC;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > n ||
		    read_at(fd, interp, ph.p_filesz, (off_t)ph.p_offset) < 0 ||
		    interp[ph.p_filesz - 1] != '\0' || interp[0] != '/')
			return -ENOEXEC;
		return 1;
	}
	return 0;
}

int jailer_elf_interp(const char *path, char *interp, size_t n, struct ember_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return err_errno(err, "cannot open %s", path);
	ret = elf_interp(fd, interp, n);
	close(fd);
	if (ret < 0)
		return err_set(err, -ret, "%s: not an x86_64 ELF file, or its PT_INTERP is bad",
			       path);
	return ret;
}

int jailer_lib_line(const char *line, char *path, size_t n)
{
	const char *p = strstr(line, "=> "), *end;

	p = p ? p + 3 : line + strspn(line, " \t");
	if (!strncmp(p, "not found", 9))
		return -ENOENT;
	if (*p != '/')
		return 0; /* the vDSO, or a line that names no file */
	end = strstr(p, " (");
	if (!end)
		end = p + strcspn(p, "\n");
	if ((size_t)(end - p) >= n)
		return -ENAMETOOLONG;
	memcpy(path, p, (size_t)(end - p));
	path[end - p] = '\0';
	return strstr(path, "/../") ? -EINVAL : 1;
}

/* The loader's listing of exe, NUL-terminated, in a malloc'ed buffer. */
static int run_list(const char *interp, const char *exe, char **out, struct ember_err *err)
{
	char list_flag[] = "--list";
	char *const argv[] = { (char *)interp, list_flag, (char *)exe, NULL };
	char *buf = calloc(1, LIST_MAX + 1);
	size_t len = 0;
	int pipefd[2], status;
	ssize_t r;
	pid_t pid;

	if (!buf || pipe2(pipefd, O_CLOEXEC) < 0) {
		free(buf);
		return err_errno(err, "cannot list %s's libraries", exe);
	}
	pid = fork();
	if (pid == 0) {
		if (dup2(pipefd[1], STDOUT_FILENO) >= 0)
			execve(interp, argv, (char *const[]){ NULL });
		_exit(127); /* the forked child: nothing of the parent's to unwind */
	}
	close(pipefd[1]);
	while (pid > 0 && len < LIST_MAX &&
	       ((r = read(pipefd[0], buf + len, LIST_MAX - len)) > 0 || (r < 0 && errno == EINTR)))
		len += r > 0 ? (size_t)r : 0;
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		free(buf);
		return err_set(err, EIO, "%s --list %s failed: its libraries are unknown", interp,
			       exe);
	}
	*out = buf;
	return 0;
}

/* src's contents at <root><src>, mode kept, owned by whoever runs the jailer. */
static int copy_lib(const char *root, const char *src, struct ember_err *err)
{
	char dst[PATH_MAX], dir[PATH_MAX];
	int ret;

	if (snprintf(dst, sizeof(dst), "%s%s", root, src) >= (int)sizeof(dst))
		return err_set(err, ENAMETOOLONG, "the jail's path for %s is too long", src);
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	if ((ret = jailer_mkdir_p(dir, err)) < 0)
		return ret;
	return jailer_copy_file(src, dst, (uid_t)-1, (gid_t)-1, err);
}

int jailer_copy_libs(const struct jailer_args *a, struct ember_err *err)
{
	char interp[PATH_MAX], path[PATH_MAX], *list = NULL, *line, *save = NULL;
	int ret = jailer_elf_interp(a->exec_file, interp, sizeof(interp), err);

	if (ret <= 0)
		return ret; /* static: the binary is all the jail needs */
	if ((ret = run_list(interp, a->exec_file, &list, err)) < 0)
		return ret;
	if ((ret = copy_lib(a->jail_root, interp, err)) < 0)
		goto out;
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ret = jailer_lib_line(line, path, sizeof(path));
		if (ret < 0) {
			ret = err_set(err, -ret, "%s needs a library its loader cannot place: %s",
				      a->exec_file, line);
			goto out;
		}
		if (ret && strcmp(path, interp) && (ret = copy_lib(a->jail_root, path, err)) < 0)
			goto out;
		ret = 0;
	}
out:
	free(list);
	return ret;
}
