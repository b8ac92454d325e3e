// SPDX-License-Identifier: Apache-2.0
/*
 * A function's root file system from a container image. skopeo copies the
 * image, named in its transport syntax (containers-storage:, oci:,
 * oci-archive:, docker-archive:, docker://), into an OCI layout; umoci
 * unpacks that into a runtime bundle: the layers applied in order with
 * their whiteouts (raw unpack), and a config.json (raw runtime-config)
 * whose process (args from Entrypoint
 * and Cmd, env, cwd, user) says how the image means to be run. The
 * handler ember-fn runs in the guest is that process, or `--handler CMD`
 * run by the image's /bin/sh; it goes to the guest as FN_IMAGE_SPEC at the
 * root's top, where the agent finds it (rootfs/README.md).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember_proc.h"
#include "fn.h"

static const char *const transports[] = { "containers-storage:", "oci:", "oci-archive:",
					  "docker-archive:", "docker://" };

int fn_image_check_ref(const char *ref, struct ember_err *err)
{
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
		size_t n = strlen(transports[i]);

		if (!strncmp(ref, transports[i], n) && ref[n])
			return 0;
	}
	return err_set(err, EINVAL,
		       "image \"%s\": name it with its transport: containers-storage:NAME, "
		       "oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or docker://REF",
		       ref);
}

/* A function name from the image's: the last path element, no tag. */
int fn_image_default_name(const char *ref, char *name, size_t size, struct ember_err *err)
{
	const char *s = strchr(ref, ':'), *slash;
	size_t n;

	s = s ? s + 1 : ref;
	while (*s == '/')
		s++;
	if (s[0] == '[') /* containers-storage:[driver@root]NAME */
		s = strchr(s, ']') ? strchr(s, ']') + 1 : s;
	while ((slash = strchr(s, '/')) && slash[1])
		s = slash + 1;
	n = strcspn(s, ":@/");
	if (n > 4 && !strncmp(s + n - 4, ".tar", 4)) /* an archive's file name */
		n -= 4;
	if (n >= size || snprintf(name, size, "%.*s", (int)n, s) < 0 ||
	    fn_store_check_name(name, err) < 0)
		return err_set(err, EINVAL, "no function name in \"%s\": give one with --name",
			       ref);
	return 0;
}

/* Run argv, its output in `log`; on failure the error quotes the log. */
static int run(const char *const argv[], const char *log, struct ember_err *err)
{
	char tail[600];
	int status = 0;
	pid_t pid;

	if (ember_proc_spawn(argv, log, true, &pid, err) < 0)
		return err_prefix(err, "running %s (is it installed? make deps)", argv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	ember_proc_log_tail(log, tail, sizeof(tail));
	return err_set(err, EIO, "%s failed: %s", argv[0], tail[0] ? tail : "(no output)");
}

static json_t *shell_args(const char *cmd)
{
	return json_pack("[s, s, s]", "/bin/sh", "-c", cmd);
}

/* A blob of the layout named by a "sha256:HEX" digest, parsed. */
static json_t *blob(const char *layout, json_t *digest)
{
	const char *d = json_string_value(digest);
	char path[PATH_MAX];

	if (!d || strncmp(d, "sha256:", 7) || strlen(d + 7) != 64 ||
	    strspn(d + 7, "0123456789abcdef") != 64)
		return NULL;
	snprintf(path, sizeof(path), "%.4000s/blobs/sha256/%s", layout, d + 7);
	return json_load_file(path, 0, NULL);
}

int fn_image_has_command(const char *layout, bool *has, struct ember_err *err)
{
	char path[PATH_MAX];
	json_t *index, *manifest = NULL, *cfg = NULL, *c;

	snprintf(path, sizeof(path), "%.4000s/index.json", layout);
	index = json_load_file(path, 0, NULL);
	manifest =
	    blob(layout,
		 json_object_get(json_array_get(json_object_get(index, "manifests"), 0), "digest"));
	cfg = blob(layout, json_object_get(json_object_get(manifest, "config"), "digest"));
	c = json_object_get(cfg, "config");
	*has = json_array_size(json_object_get(c, "Entrypoint")) ||
	       json_array_size(json_object_get(c, "Cmd"));
	json_decref(index);
	json_decref(manifest);
	json_decref(cfg);
	return cfg ? 0 : err_set(err, EINVAL, "%s: no image configuration found", layout);
}

int fn_image_handler(const char *config_path, bool image_cmd, const char *handler, json_t **spec,
		     struct ember_err *err)
{
	json_error_t je;
	json_t *cfg = json_load_file(config_path, 0, &je), *args = NULL, *env = NULL;
	json_int_t uid = 0, gid = 0;
	const char *cwd = "/";

	*spec = NULL;
	if (!cfg)
		return err_set(err, EINVAL, "%s: %s (line %d)", config_path, je.text, je.line);
	if (json_unpack_ex(cfg, &je, 0, "{s:{s?o, s?o, s?s, s?{s?I, s?I}}}", "process", "args",
			   &args, "env", &env, "cwd", &cwd, "user", "uid", &uid, "gid", &gid) < 0) {
		json_decref(cfg);
		return err_set(err, EINVAL, "%s: %s", config_path, je.text);
	}
	if (!handler && (!image_cmd || !json_is_array(args) || !json_array_size(args))) {
		json_decref(cfg);
		return err_set(err, EINVAL,
			       "the image says nothing to run (no Entrypoint or Cmd): give "
			       "--handler CMD");
	}
	args = handler ? shell_args(handler) : json_incref(args);
	if (!json_is_string(json_array_get(args, 0)) || (env && !json_is_array(env)) || uid < 0 ||
	    gid < 0 || uid > UINT32_MAX || gid > UINT32_MAX || cwd[0] != '/') {
		json_decref(args);
		json_decref(cfg);
		return err_set(err, EINVAL, "%s: process.args, env, cwd or user is malformed",
			       config_path);
	}
	*spec =
	    json_pack("{s:o, s:o, s:s, s:I, s:I}", "args", args, "env",
		      env ? json_incref(env) : json_array(), "cwd", cwd, "uid", uid, "gid", gid);
	json_decref(cfg);
	return *spec ? 0 : err_set(err, ENOMEM, "out of memory");
}

/* The mount points the agent needs in the image's root (a read-only disk). */
static int add_mount_points(const char *root, struct ember_err *err)
{
	static const char *const dirs[] = { "proc", "sys", "dev", "tmp" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%.4000s/%s", root, dirs[i]);
		if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
			return err_set(err, EINVAL, "the image's /%s is not a directory", dirs[i]);
		if (mkdir(path, dirs[i][0] == 't' ? 01777 : 0555) < 0 && errno != EEXIST)
			return err_errno(err, "%s", path);
	}
	return 0;
}

/* umoci's config.json has the image's process, its user resolved in the
 * image's /etc/passwd; but where the image has no command it says "sh". */
static int write_spec(const char *work, const char *root, const char *handler,
		      struct ember_err *err)
{
	char cfg[PATH_MAX], path[PATH_MAX];
	bool image_cmd;
	json_t *spec;
	int ret;

	snprintf(path, sizeof(path), "%.4000s/layout", work);
	snprintf(cfg, sizeof(cfg), "%.4000s/bundle/config.json", work);
	if (fn_image_has_command(path, &image_cmd, err) < 0 ||
	    fn_image_handler(cfg, image_cmd, handler, &spec, err) < 0)
		return -err->code;
	snprintf(path, sizeof(path), "%.4000s/%s", root, FN_IMAGE_SPEC);
	ret = json_dump_file(spec, path, JSON_COMPACT);
	json_decref(spec);
	if (ret < 0)
		return err_set(err, EIO, "cannot write %s", path);
	return add_mount_points(root, err);
}

/* umoci raw unpack: the layers only (plain unpack also hashes every file
 * into an mtree manifest, which ember-fn has no use for), then the
 * runtime config, users resolved against the unpacked root. */
static int umoci(const char *layout, const char *bundle, const char *log, struct ember_err *err)
{
	char rootfs[PATH_MAX], config[PATH_MAX];
	const char *unpack[8] = { "umoci", "raw", "unpack" },
		   *cfg[10] = { "umoci", "raw", "runtime-config" };
	int u = 3, c = 3;

	if (geteuid() != 0) /* files owned by their image's users need root */
		unpack[u++] = cfg[c++] = "--rootless";
	snprintf(rootfs, sizeof(rootfs), "%.4000s/rootfs", bundle);
	snprintf(config, sizeof(config), "%.4000s/config.json", bundle);
	unpack[u++] = cfg[c++] = "--image";
	unpack[u++] = cfg[c++] = layout;
	unpack[u] = rootfs;
	cfg[c++] = "--rootfs";
	cfg[c++] = rootfs;
	cfg[c] = config;
	if (mkdir(bundle, 0700) < 0)
		return err_errno(err, "%s", bundle);
	return run(unpack, log, err) < 0 || run(cfg, log, err) < 0 ? -err->code : 0;
}

int fn_image_unpack(const char *ref, const char *handler, const char *work, char *root, size_t size,
		    struct ember_err *err)
{
	char layout[PATH_MAX], bundle[PATH_MAX], log[PATH_MAX];
	const char *copy[] = { "skopeo", "--tmpdir", work, "copy", "--quiet", ref, layout, NULL };

	if (fn_image_check_ref(ref, err) < 0)
		return -err->code;
	if (mkdir(work, 0700) < 0)
		return err_errno(err, "%s", work);
	snprintf(layout, sizeof(layout), "oci:%.4000s/layout:fn", work);
	snprintf(bundle, sizeof(bundle), "%.4000s/bundle", work);
	snprintf(log, sizeof(log), "%.4000s/log", work);
	if (run(copy, log, err) < 0)
		return err_prefix(err, "copying the image %s", ref);
	memmove(layout, layout + 4, strlen(layout + 4) + 1); /* umoci: DIR:TAG */
	if (umoci(layout, bundle, log, err) < 0)
		return err_prefix(err, "unpacking the image %s", ref);
	snprintf(root, size, "%.4000s/rootfs", bundle);
	return write_spec(work, root, handler, err) < 0 ? err_prefix(err, "the image %s", ref) : 0;
}
