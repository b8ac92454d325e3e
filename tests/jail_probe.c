// SPDX-License-Identifier: Apache-2.0
/* Run by ember-jailer in place of ember (tests/e2e/jailer.sh): reports from
 * inside the jail what a compromised VMM could see and do, one key=value
 * line each, then every path it can reach. Static: the jail holds nothing else. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int show(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	printf("path=%s %c %u:%u %o\n", path,
	       S_ISDIR(st->st_mode)   ? 'd'
	       : S_ISCHR(st->st_mode) ? 'c'
	       : S_ISREG(st->st_mode) ? 'f'
				      : '?',
	       (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)(st->st_mode & 07777));
	return 0;
}

/* All five capability sets, straight from the kernel (/proc is not in the jail). */
static void capabilities(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	int bounding = 0;

	syscall(SYS_capget, &h, d);
	printf("cap_effective=%08x%08x\ncap_permitted=%08x%08x\ncap_inheritable=%08x%08x\n",
	       d[1].effective, d[0].effective, d[1].permitted, d[0].permitted, d[1].inheritable,
	       d[0].inheritable);
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		bounding += prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1;
	printf("cap_bounding_count=%d\n", bounding);
	printf("cap_ambient_count=%d\n",
	       prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) == 1);
}

int main(int argc, char **argv)
{
	struct rlimit nofile;
	char cwd[256] = "";
	int fds = 0;

	for (int i = 1; i < argc; i++)
		printf("arg=%s\n", argv[i]);
	printf("uid=%u euid=%u gid=%u egid=%u\n", getuid(), geteuid(), getgid(), getegid());
	printf("groups=%d\n", getgroups(0, NULL));
	capabilities();
	printf("no_new_privs=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	printf("etc=%s\n", access("/etc/passwd", F_OK) == 0 ? "reachable" : strerror(errno));
	printf("proc=%s\n", access("/proc/1/root", F_OK) == 0 ? "reachable" : strerror(errno));
	printf("dotdot=%s\n",
	       access("/../../etc/passwd", F_OK) == 0 ? "reachable" : strerror(errno));
	printf("cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
	printf("environ=%s\n", environ && environ[0] ? environ[0] : "(empty)");
	getrlimit(RLIMIT_NOFILE, &nofile);
	printf("nofile=%llu\n", (unsigned long long)nofile.rlim_cur);
	for (int fd = 0; fd < 1024; fd++)
		fds += fcntl(fd, F_GETFD) >= 0;
	printf("open_fds=%d\n", fds);
	printf("mknod=%s\n",
	       mknod("/dev/sda", S_IFBLK | 0600, makedev(8, 0)) == 0 ? "allowed" : strerror(errno));
	printf("pid=%d\n", (int)getpid());
	fflush(stdout);
	nftw("/", show, 16, FTW_PHYS);
	return 0;
}
