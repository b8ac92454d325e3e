// SPDX-License-Identifier: Apache-2.0
/* ember-init: the guest's PID 1. Mounts, reports readiness, runs ember.cmd. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOOT_TIMER_GPA   0xC0000000UL
#define BOOT_TIMER_MAGIC 123
#define CMDLINE_MAX      4096

struct init_args {
	bool boottimer;
	bool agent;
	char *cmd;
	char *fndisk; /* a function's disk (ember-fn), mounted read-only on /fn */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ember-init: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static void mount_one(const char *src, const char *dst, const char *type)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, MS_NOSUID, NULL) < 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dst, strerror(errno));
}

/* The kernel opens /dev/console for us only if the node exists in the root. */
static void open_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Copy one (possibly double-quoted) value starting at p into a new string. */
static char *take_value(const char *p)
{
	const char *end;

	if (*p == '"') {
		p++;
		end = strchr(p, '"');
		if (!end)
			end = p + strlen(p);
	} else {
		end = p + strcspn(p, " \n");
	}
	return strndup(p, (size_t)(end - p));
}

/* Find `key=` at the start of a cmdline token, outside quotes. */
static const char *find_param(const char *line, const char *key)
{
	size_t klen = strlen(key);
	bool quoted = false;

	for (const char *p = line; *p; p++) {
		bool at_start = p == line || p[-1] == ' ';

		if (!quoted && at_start && !strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		if (*p == '"')
			quoted = !quoted;
	}
	return NULL;
}

static void parse_cmdline(struct init_args *args)
{
	static char line[CMDLINE_MAX];
	const char *v;
	ssize_t n;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return;
	line[n] = '\0';
	v = find_param(line, "ember.boottimer");
	args->boottimer = v && *v == '1';
	v = find_param(line, "ember.agent");
	args->agent = v && *v == '1';
	v = find_param(line, "ember.cmd");
	if (v)
		args->cmd = take_value(v);
	v = find_param(line, "ember.fndisk");
	if (v)
		args->fndisk = take_value(v);
}

/* The loopback interface up: a function may be a server on 127.0.0.1. */
static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			say("lo: %s", strerror(errno));
	}
	close(s);
}

static pid_t start_agent(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/ember-agent", "ember-agent", (char *)NULL);
		say("cannot start /bin/ember-agent: %s", strerror(errno));
		_exit(127);
	}
	return pid;
}

/* As PID 1, reap every orphan until the agent itself ends (after STOP). */
static void wait_for(pid_t agent)
{
	int status;
	pid_t pid;

	do
		pid = wait(&status);
	while (pid != agent && (pid >= 0 || errno == EINTR));
	say("agent stopped");
}

/* Firecracker's boot-timer device: a byte 123 written at 0xC0000000. */
static void signal_boot_timer(void)
{
	volatile uint8_t *page;
	int fd;

	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		say("boot timer: /dev/mem: %s", strerror(errno));
		return;
	}
	page = mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, BOOT_TIMER_GPA);
	close(fd);
	if (page == MAP_FAILED) {
		say("boot timer: mmap: %s", strerror(errno));
		return;
	}
	*page = BOOT_TIMER_MAGIC;
	munmap((void *)page, 4096);
}

static int run_cmd(const char *cmd)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execl("/bin/busybox", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(void)
{
	struct init_args args = { 0 };
	pid_t agent = -1;

	mount_one("devtmpfs", "/dev", "devtmpfs");
	open_console();
	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");
	mount_one("tmpfs", "/tmp", "tmpfs");
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/root", 1);
	parse_cmdline(&args);
	if (args.fndisk &&
	    mount(args.fndisk, "/fn", "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
		say("mount %s on /fn: %s", args.fndisk, strerror(errno));

	loopback_up();
	say("ready");
	if (args.boottimer)
		signal_boot_timer();
	if (args.agent)
		agent = start_agent();
	if (args.cmd)
		say("cmd exited %d", run_cmd(args.cmd));
	if (agent > 0)
		wait_for(agent);

	sync();
	/* With reboot=k the kernel resets through the i8042: ember exits. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}
