// SPDX-License-Identifier: Apache-2.0
/*
 * What the guest agent gets for a container (PROC, rootfs/README.md): the
 * config's process, the root on a drive, and the mounts rewritten for a VM.
 * A VM has no view of the host's files, so a bind mount of a file the
 * engine prepared (/etc/hosts, /etc/resolv.conf, /etc/hostname,
 * /run/.containerenv, secrets) travels inline and is bind-mounted from a
 * staged copy in the guest; the engine's /dev/shm directory becomes a
 * tmpfs; a bind mount of any other host directory (a volume) is refused
 * until ember has a file-sharing device. Also the VM's shape.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci.h"

#define FILE_MAX      (1u << 20) /* one inlined file */
#define FILES_MAX     (3u << 20) /* all of them */
#define DIR_DEPTH_MAX 8
#define DEFAULT_MEM   256
#define MIN_MEM       128
#define MAX_VCPUS     32

/* ---- the VM's shape ---- */

static unsigned annotation_uint(const struct oci_spec *s, const char *key)
{
	const char *v = json_string_value(json_object_get(s->annotations, key));
	char *end;
	unsigned long n;

	if (!v)
		return 0;
	n = strtoul(v, &end, 10);
	return *end || n > 1u << 20 ? 0 : (unsigned)n;
}

void oci_vm_shape(const struct oci_spec *s, struct oci_vm_shape *out)
{
	unsigned vcpus = 1, mem = DEFAULT_MEM;

	if (s->cpu_quota > 0) {
		uint64_t period = s->cpu_period ? s->cpu_period : 100000;

		vcpus = (unsigned)(((uint64_t)s->cpu_quota + period - 1) / period);
	}
	if (s->mem_limit > 0)
		mem = (unsigned)((s->mem_limit + (1 << 20) - 1) >> 20);
	if (annotation_uint(s, "io.ember.vcpus"))
		vcpus = annotation_uint(s, "io.ember.vcpus");
	if (annotation_uint(s, "io.ember.memory_mib"))
		mem = annotation_uint(s, "io.ember.memory_mib");
	out->vcpus = vcpus < 1 ? 1 : vcpus > MAX_VCPUS ? MAX_VCPUS : vcpus;
	out->mem_mib = mem < MIN_MEM ? MIN_MEM : mem;
}

/* ---- mounts ---- */

static char *base64(const unsigned char *in, size_t len)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		*o++ = set[v >> 18 & 63];
		*o++ = set[v >> 12 & 63];
		*o++ = i + 1 < len ? set[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? set[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

struct files {
	size_t total;
	const char *id, *bundle;
};

static bool has_option(json_t *opts, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(opts, i, v) if (json_is_string(v) &&
					   !strcmp(json_string_value(v), name)) return true;
	return false;
}

static bool is_bind(json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	json_t *opts = json_object_get(m, "options");

	return (type && !strcmp(type, "bind")) || has_option(opts, "bind") ||
	       has_option(opts, "rbind");
}

/* One host file as an "ember-file" mount at dest. */
static int inline_file(json_t *out, const char *src, const char *dest, json_t *opts,
		       struct files *f, struct ember_err *err)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	unsigned char *buf = NULL;
	struct stat st;
	char *data;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return err_errno(err, "bind mount source %s", src);
	}
	if (st.st_size > FILE_MAX || f->total + (size_t)st.st_size > FILES_MAX) {
		close(fd);
		return err_set(err, EFBIG,
			       "bind mount of %s on %s: files the engine binds travel inline, "
			       "at most 1 MiB each and 3 MiB in all",
			       src, dest);
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	data = n >= 0 ? base64(buf, (size_t)n) : NULL;
	free(buf);
	if (!data)
		return err_errno(err, "reading %s", src);
	f->total += (size_t)n;
	json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:I, s:O*}", "destination", dest,
					     "type", "ember-file", "data", data, "mode",
					     (json_int_t)(st.st_mode & 07777), "options", opts));
	free(data);
	return 0;
}

static int inline_dir(json_t *out, const char *src, const char *dest, json_t *opts, int depth,
		      struct files *f, struct ember_err *err)
{
	DIR *d = opendir(src);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return err_errno(err, "bind mount source %s", src);
	if (depth > DIR_DEPTH_MAX) {
		closedir(d);
		return err_set(err, ELOOP, "bind mount of %s: too deep", src);
	}
	while (!ret && (e = readdir(d))) {
		char s[PATH_MAX], t[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(s, sizeof(s), "%s/%s", src, e->d_name) >= (int)sizeof(s) ||
		    snprintf(t, sizeof(t), "%s/%s", dest, e->d_name) >= (int)sizeof(t))
			ret = err_set(err, ENAMETOOLONG, "bind mount of %s: path too long", src);
		else if (stat(s, &st) < 0)
			continue; /* a dangling link: nothing to copy */
		else if (S_ISDIR(st.st_mode))
			ret = inline_dir(out, s, t, opts, depth + 1, f, err);
		else if (S_ISREG(st.st_mode))
			ret = inline_file(out, s, t, opts, f, err);
	}
	closedir(d);
	return ret;
}

/* A directory the engine made for this container (under the bundle, or in
 * a directory named by the container's id, as podman's userdata), as
 * opposed to a volume of the user's. */
static bool engine_dir(const char *src, const struct files *f)
{
	size_t b = strlen(f->bundle), n = strlen(f->id);
	const char *p = src;

	if (!strncmp(src, f->bundle, b) && (src[b] == '/' || src[b] == '\0'))
		return true;
	while ((p = strstr(p, f->id))) {
		if (p > src && p[-1] == '/' && (p[n] == '/' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* /dev/shm from the engine's directory: a tmpfs of the guest's. */
static void shm_tmpfs(json_t *out, json_t *opts)
{
	json_t *o = json_array();
	bool mode = false, size = false;
	size_t i;
	json_t *v;

	json_array_foreach(opts, i, v)
	{
		const char *s = json_string_value(v);

		if (!s || !strcmp(s, "bind") || !strcmp(s, "rbind"))
			continue;
		mode |= !strncmp(s, "mode=", 5);
		size |= !strncmp(s, "size=", 5);
		json_array_append(o, v);
	}
	if (!mode)
		json_array_append_new(o, json_string("mode=1777"));
	if (!size)
		json_array_append_new(o, json_string("size=65536k"));
	json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "destination", "/dev/shm",
					     "type", "tmpfs", "source", "shm", "options", o));
}

static int bind_mount(json_t *out, json_t *m, struct files *f, struct ember_err *err)
{
	const char *dest = json_string_value(json_object_get(m, "destination"));
	const char *src = json_string_value(json_object_get(m, "source"));
	json_t *opts = json_object_get(m, "options");
	struct stat st;

	if (!strcmp(dest, "/dev/shm")) {
		shm_tmpfs(out, opts);
		return 0;
	}
	if (!src || stat(src, &st) < 0)
		return err_errno(err, "bind mount source %s for %s", src ? src : "(none)", dest);
	if (S_ISREG(st.st_mode))
		return inline_file(out, src, dest, opts, f, err);
	if (S_ISDIR(st.st_mode) && engine_dir(src, f))
		return inline_dir(out, src, dest, opts, 0, f, err);
	if (S_ISDIR(st.st_mode))
		return err_set(err, ENOTSUP,
			       "bind mount of the host directory %s on %s (a volume) is not "
			       "supported: ember has no file-sharing device yet",
			       src, dest);
	return err_set(err, ENOTSUP, "bind mount of %s on %s: only files and directories", src,
		       dest);
}

static int guest_mounts(const struct oci_spec *s, const char *id, json_t *out,
			struct ember_err *err)
{
	struct files f = { 0, id, s->bundle };
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(s->json, "mounts"), i, m)
	{
		const char *dest = json_string_value(json_object_get(m, "destination"));

		if (!dest || dest[0] != '/')
			return err_set(err, EINVAL, "mounts[%zu]: destination must be absolute", i);
		if (is_bind(m)
			? bind_mount(out, m, &f, err) < 0
			: json_array_append(out, m) < 0 && err_set(err, ENOMEM, "mounts") < 0)
			return -err->code;
	}
	return 0;
}

static int dump(json_t *req, char **out, struct ember_err *err)
{
	*out = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!*out)
		return err_set(err, ENOMEM, "building the guest's request");
	if (strlen(*out) > (4u << 20))
		return free(*out), *out = NULL,
				   err_set(err, E2BIG, "the container's request exceeds 4 MiB");
	return 0;
}

int oci_guest_request(const struct oci_spec *s, const char *id, const char *device,
		      uint64_t sectors, json_t *net, char **out, struct ember_err *err)
{
	json_t *linux_ = json_object_get(s->json, "linux"), *mounts = json_array();
	json_t *req;

	*out = NULL;
	if (!mounts || guest_mounts(s, id, mounts, err) < 0) {
		json_decref(mounts);
		return mounts ? -err->code : err_set(err, ENOMEM, "mounts");
	}
	req = json_pack("{s:s, s:O, s:{s:s, s:s, s:b, s:I}, s:o}", "id", id, "process", s->process,
			"root", "device", device, "fstype", "ext4", "readonly", s->root_readonly,
			"sectors", (json_int_t)sectors, "mounts", mounts);
	if (!req)
		return err_set(err, ENOMEM, "building the guest's request");
	if (s->hostname)
		json_object_set_new(req, "hostname", json_string(s->hostname));
	json_object_set(req, "maskedPaths", json_object_get(linux_, "maskedPaths"));
	json_object_set(req, "readonlyPaths", json_object_get(linux_, "readonlyPaths"));
	json_object_set(req, "sysctl", json_object_get(linux_, "sysctl"));
	if (net)
		json_object_set(req, "net", net);
	return dump(req, out, err);
}

int oci_guest_exec_request(const char *id, json_t *process, char **out, struct ember_err *err)
{
	json_t *req = json_pack("{s:s, s:O}", "id", id, "process", process);

	if (!req)
		return err_set(err, ENOMEM, "building the exec request");
	return dump(req, out, err);
}
