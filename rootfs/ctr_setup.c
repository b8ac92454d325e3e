// SPDX-License-Identifier: Apache-2.0
/*
 * A container in the guest, set up from the host's JSON (an OCI process and
 * the container's mounts, with the files the engine bind-mounts inlined by
 * ember-oci), the way runc sets one up on a host: new mount, UTS, IPC and
 * PID namespaces; the root file system from a virtio-blk drive; the spec's
 * mounts, default devices and files; masked and read-only paths; then
 * rlimits, cwd, user, capabilities and no_new_privs, up to execve. The VM
 * boots from an initramfs, where pivot_root cannot work: the root is moved
 * over / and chrooted into, as runc does with --no-pivot.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctr.h"
#include "io.h"

#define ROOT_MNT       CTR_DIR "/root"
#define FILES_DIR      CTR_DIR "/files"
#define DEFAULT_PATH   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEVICE_WAIT_MS 10000

static int fail(char *msg, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* strerror as Go writes it ("no such file or directory"): engines match
 * runc's messages (podman: "no such file or directory" is exit 127). */
static const char *go_err(int e)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static json_t *process_of(const struct ctr_req *r)
{
	return json_object_get(r->root, "process");
}

static const char *str_at(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool safe_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_+.-", s[i]))
			return false;
	return true;
}

static bool strings(json_t *a, bool nonempty)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || (nonempty && json_array_size(a) == 0))
		return false;
	json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
	return true;
}

int ctr_req_parse(struct ctr_req *r, bool exec, const char *json, size_t len, char *msg,
		  size_t size)
{
	json_error_t jerr;
	json_t *p, *cs;

	memset(r, 0, sizeof(*r));
	r->exec = exec;
	r->root = json_loadb(json, len, 0, &jerr);
	if (!r->root)
		return fail(msg, size, "bad request JSON: %s (line %d)", jerr.text, jerr.line);
	r->id = str_at(r->root, "id");
	if (!safe_id(r->id))
		return fail(msg, size, "bad request: no valid container id");
	p = process_of(r);
	if (!json_is_object(p) || !strings(json_object_get(p, "args"), true))
		return fail(msg, size,
			    "bad request: process.args must be a non-empty list of strings");
	if (json_object_get(p, "env") && !strings(json_object_get(p, "env"), false))
		return fail(msg, size, "bad request: process.env must be a list of strings");
	r->terminal = json_is_true(json_object_get(p, "terminal"));
	cs = json_object_get(p, "consoleSize");
	r->rows = (unsigned)json_integer_value(json_object_get(cs, "height"));
	r->cols = (unsigned)json_integer_value(json_object_get(cs, "width"));
	return 0;
}

void ctr_req_free(struct ctr_req *r)
{
	json_decref(r->root);
	r->root = NULL;
}

/* ---- the VM's side, before the container's processes: network, files ---- */

static int run_ip(const char *const argv[], char *msg, size_t size)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		execv("/bin/busybox", (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return fail(msg, size, "network: cannot run ip: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char cmd[512] = "";

		for (int i = 0; argv[i]; i++)
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s ", argv[i]);
		return fail(msg, size, "network: '%s' failed", cmd);
	}
	return 0;
}

/* One interface: MAC, MTU, addresses, up, then its routes. */
static int net_iface(json_t *nic, char *msg, size_t size)
{
	const char *dev = str_at(nic, "ifname") ? str_at(nic, "ifname") : "eth0";
	const char *mac = str_at(nic, "mac");
	char mtu[16];
	size_t i;
	json_t *v;

	if (mac && run_ip((const char *[]){ "ip", "link", "set", dev, "address", mac, NULL }, msg,
			  size) < 0)
		return -1;
	snprintf(mtu, sizeof(mtu), "%lld", json_integer_value(json_object_get(nic, "mtu")));
	if (json_integer_value(json_object_get(nic, "mtu")) > 0 &&
	    run_ip((const char *[]){ "ip", "link", "set", dev, "mtu", mtu, NULL }, msg, size) < 0)
		return -1;
	json_array_foreach(json_object_get(nic, "addresses"), i,
			   v) if (json_is_string(v) &&
				  run_ip((const char *[]){ "ip", "addr", "add",
							   json_string_value(v), "dev", dev, NULL },
					 msg, size) < 0) return -1;
	if (run_ip((const char *[]){ "ip", "link", "set", dev, "up", NULL }, msg, size) < 0)
		return -1;
	json_array_foreach(json_object_get(nic, "routes"), i, v)
	{
		const char *dst = str_at(v, "dst"), *gw = str_at(v, "gw");
		const char *argv[] = { "ip", "route", "add", dst, "dev", dev, NULL, NULL, NULL };

		if (!dst)
			continue;
		if (gw) {
			argv[6] = "via";
			argv[7] = gw;
		}
		if (run_ip(argv, msg, size) < 0)
			return -1;
	}
	return 0;
}

static int b64_value(int c)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(set, c) : NULL;

	return p ? (int)(p - set) : -1;
}

/* Decode base64 (padding optional) into out; the decoded length, or -1. */
static long b64_decode(const char *in, unsigned char *out, size_t cap)
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		int v = b64_value((unsigned char)*in);

		if (v < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)n;
}

/* Write each inlined file (type "ember-file") under FILES_DIR/N. */
static int stage_files(const struct ctr_req *r, char *msg, size_t size)
{
	json_t *mounts = json_object_get(r->root, "mounts"), *m;
	size_t i;

	mkdir(CTR_DIR, 0700);
	mkdir(FILES_DIR, 0700);
	json_array_foreach(mounts, i, m)
	{
		const char *data = str_at(m, "data");
		char path[64];
		unsigned char *buf;
		long n;
		int fd;

		if (!data || strcmp(str_at(m, "type") ? str_at(m, "type") : "", "ember-file"))
			continue;
		buf = malloc(strlen(data) / 4 * 3 + 3);
		n = buf ? b64_decode(data, buf, strlen(data) / 4 * 3 + 3) : -1;
		snprintf(path, sizeof(path), FILES_DIR "/%zu", i);
		fd = n < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || io_write_all(fd, buf, (size_t)n) < 0) {
			free(buf);
			if (fd >= 0)
				close(fd);
			return fail(msg, size, "staging %s: %s", str_at(m, "destination"),
				    n < 0 ? "bad base64" : strerror(errno));
		}
		fchmod(fd, (mode_t)json_integer_value(json_object_get(m, "mode")) & 07777);
		close(fd);
		free(buf);
	}
	return 0;
}

int ctr_prepare(const struct ctr_req *r, char *msg, size_t size)
{
	json_t *nic;
	size_t i;

	if (run_ip((const char *[]){ "ip", "link", "set", "lo", "up", NULL }, msg, size) < 0)
		return -1;
	json_array_foreach(json_object_get(r->root, "net"), i,
			   nic) if (net_iface(nic, msg, size) < 0) return -1;
	return stage_files(r, msg, size);
}

/* ---- mounts ---- */

struct mount_opts {
	unsigned long flags, clear, propagation;
	char data[1024];
};

static const struct {
	const char *name;
	unsigned long set, clear, propagation;
} mount_flags[] = {
	{ "defaults", 0, 0, 0 },
	{ "ro", MS_RDONLY, 0, 0 },
	{ "rw", 0, MS_RDONLY, 0 },
	{ "nosuid", MS_NOSUID, 0, 0 },
	{ "suid", 0, MS_NOSUID, 0 },
	{ "nodev", MS_NODEV, 0, 0 },
	{ "dev", 0, MS_NODEV, 0 },
	{ "noexec", MS_NOEXEC, 0, 0 },
	{ "exec", 0, MS_NOEXEC, 0 },
	{ "sync", MS_SYNCHRONOUS, 0, 0 },
	{ "async", 0, MS_SYNCHRONOUS, 0 },
	{ "noatime", MS_NOATIME, 0, 0 },
	{ "atime", 0, MS_NOATIME, 0 },
	{ "nodiratime", MS_NODIRATIME, 0, 0 },
	{ "diratime", 0, MS_NODIRATIME, 0 },
	{ "relatime", MS_RELATIME, 0, 0 },
	{ "norelatime", 0, MS_RELATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0, 0 },
	{ "nostrictatime", 0, MS_STRICTATIME, 0 },
	{ "bind", MS_BIND, 0, 0 },
	{ "rbind", MS_BIND | MS_REC, 0, 0 },
	{ "private", 0, 0, MS_PRIVATE },
	{ "rprivate", 0, 0, MS_PRIVATE | MS_REC },
	{ "shared", 0, 0, MS_SHARED },
	{ "rshared", 0, 0, MS_SHARED | MS_REC },
	{ "slave", 0, 0, MS_SLAVE },
	{ "rslave", 0, 0, MS_SLAVE | MS_REC },
	{ "unbindable", 0, 0, MS_UNBINDABLE },
	{ "runbindable", 0, 0, MS_UNBINDABLE | MS_REC },
	{ "tmpcopyup", 0, 0, 0 }, /* crun's: the tmpfs starts empty here */
};

static void parse_options(json_t *opts, struct mount_opts *o)
{
	size_t i, k;
	json_t *v;

	memset(o, 0, sizeof(*o));
	json_array_foreach(opts, i, v)
	{
		const char *s = json_string_value(v);

		if (!s)
			continue;
		for (k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
			if (!strcmp(s, mount_flags[k].name))
				break;
		if (k < sizeof(mount_flags) / sizeof(mount_flags[0])) {
			o->flags = (o->flags | mount_flags[k].set) & ~mount_flags[k].clear;
			o->propagation |= mount_flags[k].propagation;
		} else if (strlen(o->data) + strlen(s) + 2 < sizeof(o->data)) {
			if (o->data[0])
				strcat(o->data, ",");
			strcat(o->data, s);
		}
	}
}

/* mkdir -p of an absolute path. */
static int mkdirs(const char *path, mode_t mode)
{
	char p[4096];

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -1;
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

/* The destination inside the new root: absolute, without "..". */
static int in_root(const char *dest, char *out, size_t size)
{
	if (!dest || dest[0] != '/' || strstr(dest, "/../") ||
	    (strlen(dest) >= 3 && !strcmp(dest + strlen(dest) - 3, "/..")))
		return -1;
	return snprintf(out, size, "%s%s", ROOT_MNT, dest) >= (int)size ? -1 : 0;
}

/* A file target for a file bind mount: its directory, and an empty file. */
static int make_file(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdirs(dir, 0755) < 0)
			return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR)
		return -1;
	if (fd >= 0)
		close(fd);
	return 0;
}

static int bind_file(const char *src, const char *dst, const struct mount_opts *o)
{
	if (make_file(dst) < 0 || mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -1;
	if ((o->flags & ~MS_BIND) &&
	    mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | (o->flags & ~(MS_BIND | MS_REC)), NULL) <
		0)
		return -1;
	return 0;
}

static int mount_one(json_t *m, size_t index, char *msg, size_t size)
{
	const char *dest = str_at(m, "destination"), *type = str_at(m, "type");
	const char *src = str_at(m, "source");
	struct mount_opts o;
	char target[4096], staged[64];

	if (in_root(dest, target, sizeof(target)) < 0)
		return fail(msg, size, "mount destination %s: not an absolute path inside the root",
			    dest ? dest : "(none)");
	parse_options(json_object_get(m, "options"), &o);
	type = type ? type : "";
	if (!strcmp(type, "ember-file")) {
		snprintf(staged, sizeof(staged), FILES_DIR "/%zu", index);
		o.flags |= MS_BIND;
		if (bind_file(staged, target, &o) < 0)
			return fail(msg, size, "mounting the file %s: %s", dest, strerror(errno));
		return 0;
	}
	if (o.flags & MS_BIND)
		return fail(msg, size, "bind mount of %s on %s: the guest has no file sharing", src,
			    dest);
	if (!strcmp(type, "cgroup")) { /* the VM's hierarchy is cgroup v2 */
		type = "cgroup2";
		o.data[0] = '\0';
	}
	if (mkdirs(target, 0755) < 0 ||
	    mount(src ? src : type, target, type, o.flags, o.data[0] ? o.data : NULL) < 0)
		return fail(msg, size, "mounting %s (%s) on %s: %s", src ? src : type, type, dest,
			    strerror(errno));
	if (o.propagation && mount(NULL, target, NULL, o.propagation, NULL) < 0)
		return fail(msg, size, "propagation of %s: %s", dest, strerror(errno));
	return 0;
}

/* ---- the root ---- */

/* The drive was swapped in just before (PATCH /drives): wait until the
 * guest has read its new capacity, then mount it. */
static int wait_capacity(const char *dev, long long sectors)
{
	char path[128], buf[32];
	struct timespec ms = { 0, 1000000 };

	snprintf(path, sizeof(path), "/sys/block/%s/size", strrchr(dev, '/') + 1);
	for (int i = 0; i < DEVICE_WAIT_MS; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (sectors <= 0 || atoll(buf) == sectors)
				return 0;
		}
		nanosleep(&ms, NULL);
	}
	return -1;
}

/* The template's guest read the placeholder drive's first blocks at boot
 * (the partition scan): drop them before the container's file system is
 * read through the same cache. */
static void drop_cache(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ioctl(fd, BLKFLSBUF, 0);
		close(fd);
	}
}

static int mount_root(const struct ctr_req *r, char *msg, size_t size)
{
	json_t *root = json_object_get(r->root, "root");
	const char *dev = str_at(root, "device");
	const char *fstype = str_at(root, "fstype") ? str_at(root, "fstype") : "ext4";

	if (!dev || strncmp(dev, "/dev/", 5) || strchr(dev + 5, '/'))
		return fail(msg, size, "bad request: root.device must be /dev/NAME");
	if (wait_capacity(dev, json_integer_value(json_object_get(root, "sectors"))) < 0)
		return fail(msg, size, "the root drive %s did not get its new size", dev);
	drop_cache(dev);
	/* the image is sparse: its unwritten inode tables already read as zeros */
	if (mkdirs(ROOT_MNT, 0755) < 0 ||
	    mount(dev, ROOT_MNT, fstype, 0, strcmp(fstype, "ext4") ? NULL : "noinit_itable") < 0)
		return fail(msg, size, "mounting the root file system (%s on %s): %s", fstype, dev,
			    strerror(errno));
	return 0;
}

static const struct {
	const char *name;
	unsigned maj, min;
} default_devices[] = {
	{ "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* runtime-spec config-linux.md "Default Devices", and its symlinks. */
static void default_dev(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char path[256];

	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		snprintf(path, sizeof(path), ROOT_MNT "/dev/%s", default_devices[i].name);
		if (mknod(path, S_IFCHR | 0666,
			  makedev(default_devices[i].maj, default_devices[i].min)) == 0)
			chmod(path, 0666);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), ROOT_MNT "/dev/%s", links[i][1]);
		if (symlink(links[i][0], path) < 0 && errno == EEXIST &&
		    !strcmp(links[i][1], "ptmx")) {
			unlink(path);
			symlink(links[i][0], path);
		}
	}
}

void ctr_console(const char *tty)
{
	if (make_file("/dev/console") == 0)
		mount(tty, "/dev/console", NULL, MS_BIND, NULL);
}

static void masked_paths(json_t *paths)
{
	char p[4096];
	struct stat st;
	size_t i;
	json_t *v;

	json_array_foreach(paths, i, v)
	{
		if (in_root(json_string_value(v), p, sizeof(p)) < 0 || stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
		else
			mount("/dev/null", p, NULL, MS_BIND, NULL);
	}
}

static void readonly_paths(json_t *paths)
{
	char p[4096];
	size_t i;
	json_t *v;

	json_array_foreach(paths, i, v)
	{
		if (in_root(json_string_value(v), p, sizeof(p)) < 0 || access(p, F_OK) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) == 0)
			mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	}
}

/* Everything under the root before entering it. */
static int build_root(const struct ctr_req *r, char *msg, size_t size)
{
	json_t *m, *root = json_object_get(r->root, "root");
	size_t i;

	if (mount_root(r, msg, size) < 0)
		return -1;
	json_array_foreach(json_object_get(r->root, "mounts"), i,
			   m) if (mount_one(m, i, msg, size) < 0) return -1;
	default_dev();
	masked_paths(json_object_get(r->root, "maskedPaths"));
	readonly_paths(json_object_get(r->root, "readonlyPaths"));
	if (json_is_true(json_object_get(root, "readonly")) &&
	    mount(NULL, ROOT_MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return fail(msg, size, "making the root read-only: %s", strerror(errno));
	return 0;
}

static int enter_root(char *msg, size_t size)
{
	if (chdir(ROOT_MNT) < 0 || mount(ROOT_MNT, "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		return fail(msg, size, "entering the root: %s", strerror(errno));
	return 0;
}

static void sysctls(json_t *map)
{
	const char *key;
	json_t *v;

	json_object_foreach(map, key, v)
	{
		char path[512], *s;
		int fd;

		if (!json_is_string(v) || strstr(key, ".."))
			continue;
		snprintf(path, sizeof(path), "/proc/sys/%s", key);
		for (s = path + 10; *s; s++)
			if (*s == '.')
				*s = '/';
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			io_write_all(fd, json_string_value(v), strlen(json_string_value(v)));
			close(fd);
		}
	}
}

/* PROC: the container's namespaces, root and mounts, entered. */
static int create_container(const struct ctr_req *r, char *msg, size_t size)
{
	const char *hostname = str_at(r->root, "hostname");

	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
		return fail(msg, size, "unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(msg, size, "making / private: %s", strerror(errno));
	if (build_root(r, msg, size) < 0 || enter_root(msg, size) < 0)
		return -1;
	if (hostname && sethostname(hostname, strlen(hostname)) < 0)
		return fail(msg, size, "sethostname: %s", strerror(errno));
	sysctls(json_object_get(r->root, "sysctl"));
	return 0;
}

/* ---- joining (EXEC) ---- */

static int init_pid(const struct ctr_req *r)
{
	char path[256], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), CTR_DIR "/%s.pid", r->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

int ctr_join(const struct ctr_req *r, char *msg, size_t size)
{
	static const char *const ns[] = { "ipc", "uts", "pid", "mnt" };
	int pid = init_pid(r);

	if (pid <= 0 || kill(pid, 0) < 0)
		return fail(msg, size, "container %s is not running", r->id);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, 0) < 0) {
			if (fd >= 0)
				close(fd);
			return fail(msg, size, "joining the container's %s namespace: %s", ns[i],
				    strerror(errno));
		}
		close(fd);
	}
	/* setns(mnt) put us at the namespace's root, under the moved root. */
	if (chdir("/") < 0 || chroot(".") < 0)
		return fail(msg, size, "entering the root: %s", strerror(errno));
	return 0;
}

/* ---- the process: rlimits, cwd, program, user, capabilities ---- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static int set_rlimits(json_t *list, char *msg, size_t size)
{
	size_t i, k;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		const char *type = str_at(v, "type");
		struct rlimit rl = { (rlim_t)json_integer_value(json_object_get(v, "soft")),
				     (rlim_t)json_integer_value(json_object_get(v, "hard")) };

		for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (type && !strcmp(type, rlimit_names[k].name))
				break;
		if (k == sizeof(rlimit_names) / sizeof(rlimit_names[0]))
			return fail(msg, size, "unknown rlimit type %s", type ? type : "(none)");
		if (setrlimit(rlimit_names[k].resource, &rl) < 0)
			return fail(msg, size, "error setting rlimit type %s: %s", type,
				    strerror(errno));
	}
	return 0;
}

static const char *env_get(json_t *env, const char *name)
{
	size_t i, n = strlen(name);
	json_t *v;

	json_array_foreach(env, i, v)
	{
		const char *s = json_string_value(v);

		if (!strncmp(s, name, n) && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The program, as runc finds it: a name with a slash as is, else through
 * the process's PATH; messages as runc's, which podman maps to 126/127. */
static int resolve(json_t *p, char *out, size_t out_size, char *msg, size_t size)
{
	const char *arg0 = json_string_value(json_array_get(json_object_get(p, "args"), 0));
	const char *path = env_get(json_object_get(p, "env"), "PATH");
	char dirs[4096];

	if (strchr(arg0, '/')) {
		if (access(arg0, F_OK) < 0)
			return fail(msg, size, "exec: \"%s\": stat %s: %s", arg0, arg0,
				    go_err(errno));
		if (!executable(arg0))
			return fail(msg, size, "exec: \"%s\": permission denied", arg0);
		snprintf(out, out_size, "%s", arg0);
		return 0;
	}
	snprintf(dirs, sizeof(dirs), "%s", path ? path : DEFAULT_PATH);
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(out, out_size, "%s/%s", d, arg0);
		if (executable(out))
			return 0;
	}
	return fail(msg, size, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static int drop_bounding(cap_t want)
{
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		cap_flag_value_t in = CAP_CLEAR;

		cap_get_flag(want, c, CAP_PERMITTED, &in);
		if (in == CAP_CLEAR && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

static int add_caps(cap_t caps, json_t *names, cap_flag_t flag, char *msg, size_t size)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v)
	{
		cap_value_t c;

		if (!json_is_string(v) || cap_from_name(json_string_value(v), &c) < 0)
			return fail(msg, size, "unknown capability %s",
				    json_is_string(v) ? json_string_value(v) : "(not a string)");
		if (cap_set_flag(caps, flag, 1, &c, CAP_SET) < 0)
			return fail(msg, size, "capability %s: %s", json_string_value(v),
				    strerror(errno));
	}
	return 0;
}

/* The capability sets of process.capabilities: bounding (the permitted
 * set stands in for it), effective, permitted, inheritable, then ambient. */
static int build_caps(json_t *c, cap_t caps, cap_t bound, char *msg, size_t size)
{
	return add_caps(caps, json_object_get(c, "effective"), CAP_EFFECTIVE, msg, size) < 0 ||
		       add_caps(caps, json_object_get(c, "permitted"), CAP_PERMITTED, msg, size) <
			   0 ||
		       add_caps(caps, json_object_get(c, "inheritable"), CAP_INHERITABLE, msg,
				size) < 0 ||
		       add_caps(bound, json_object_get(c, "bounding"), CAP_PERMITTED, msg, size) < 0
		   ? -1
		   : 0;
}

/* The kernel raises an ambient capability only if it is permitted and
 * inheritable; runtimes skip the others (runc's default spec lists its
 * ambient set without an inheritable one). */
static void raise_ambient(json_t *names)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v)
	{
		cap_value_t c;

		if (cap_from_name(json_string_value(v), &c) == 0)
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	}
}

/* setgroups, setresgid, setresuid keeping the permitted set, then the
 * spec's capabilities (runc's order, libcontainer/init_linux.go). */
static int set_user(json_t *p, char *msg, size_t size)
{
	json_t *user = json_object_get(p, "user"), *caps_j = json_object_get(p, "capabilities");
	json_t *groups = json_object_get(user, "additionalGids"), *v;
	uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
	gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
	gid_t list[256];
	size_t i, n = 0;
	cap_t caps = cap_init(), bound = cap_init();
	int ret = -1;

	json_array_foreach(groups, i, v) if (n < 256) list[n++] = (gid_t)json_integer_value(v);
	if (json_object_get(user, "umask"))
		umask((mode_t)json_integer_value(json_object_get(user, "umask")));
	if (!caps || !bound || (caps_j && build_caps(caps_j, caps, bound, msg, size) < 0))
		goto out;
	if (caps_j && drop_bounding(bound) < 0) {
		fail(msg, size, "dropping bounding capabilities: %s", strerror(errno));
		goto out;
	}
	if (setgroups(n, list) < 0 || setresgid(gid, gid, gid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setresuid(uid, uid, uid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		fail(msg, size, "setting user %u:%u: %s", (unsigned)uid, (unsigned)gid,
		     strerror(errno));
		goto out;
	}
	if (caps_j && cap_set_proc(caps) < 0) {
		fail(msg, size, "setting capabilities: %s", strerror(errno));
		goto out;
	}
	if (caps_j)
		raise_ambient(json_object_get(caps_j, "ambient"));
	ret = 0;
out:
	cap_free(caps);
	cap_free(bound);
	return ret;
}

int ctr_enter(const struct ctr_req *r, char *msg, size_t size)
{
	return r->exec ? 0 : create_container(r, msg, size);
}

int ctr_process(const struct ctr_req *r, char *path, size_t path_size, char *msg, size_t size)
{
	json_t *p = process_of(r);
	const char *cwd = str_at(p, "cwd") ? str_at(p, "cwd") : "/";

	if (set_rlimits(json_object_get(p, "rlimits"), msg, size) < 0)
		return -1;
	if (chdir(cwd) < 0)
		return fail(msg, size, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
			    go_err(errno));
	if (resolve(p, path, path_size, msg, size) < 0 || set_user(p, msg, size) < 0)
		return -1;
	if (json_is_true(json_object_get(p, "noNewPrivileges")) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(msg, size, "no_new_privs: %s", strerror(errno));
	return 0;
}

void ctr_exec(const struct ctr_req *r, const char *path)
{
	json_t *p = process_of(r), *v;
	json_t *args = json_object_get(p, "args"), *env = json_object_get(p, "env");
	char **argv = calloc(json_array_size(args) + 1, sizeof(char *));
	char **envp = calloc(json_array_size(env) + 1, sizeof(char *));
	size_t i;

	if (!argv || !envp)
		return;
	json_array_foreach(args, i, v) argv[i] = (char *)json_string_value(v);
	json_array_foreach(env, i, v) envp[i] = (char *)json_string_value(v);
	execve(path, argv, envp);
}
