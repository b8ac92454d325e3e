// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: ember-oci's parsers. The first byte picks one:
 *   0  a bundle's config.json: the checks, the VM's shape and the guest's
 *      request built from it (bind sources stay inside a scratch bundle);
 *   1  what a guest sends its monitor: frames read through the real relay
 *      code from a socket, with output going to /dev/null;
 *   2  a command line: runc's flags (NUL-separated arguments), signals, ids;
 *   3  a bundle's config.json as ember-fn reads an image's (fn/image.c), and
 *      an image reference.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fn.h"
#include "oci.h"

static char bundle[] = "/tmp/ember-fuzz-oci.XXXXXX";

static void make_bundle(void)
{
	char path[PATH_MAX];
	FILE *f;

	if (bundle[sizeof(bundle) - 2] != 'X')
		return;
	assert(mkdtemp(bundle));
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/hosts", bundle);
	f = fopen(path, "w");
	assert(f);
	fputs("127.0.0.1 localhost\n", f);
	fclose(f);
}

static void config(const uint8_t *data, size_t size)
{
	struct ember_err err = { 0 };
	struct oci_vm_shape shape;
	struct oci_spec s;
	char *req = NULL;
	json_t *j = json_loadb((const char *)data, size, 0, NULL);

	if (!j)
		return;
	if (oci_spec_parse(&s, j, bundle, &err) < 0) {
		assert(err.msg[0]);
		json_decref(j);
		return;
	}
	oci_vm_shape(&s, &shape);
	assert(shape.vcpus >= 1 && shape.vcpus <= 32 && shape.mem_mib >= 128);
	if (oci_guest_request(&s, "fuzz", "/dev/vda", 2048, NULL, &req, &err) == 0) {
		json_t *back = req ? json_loads(req, 0, NULL) : NULL;

		assert(back);
		json_decref(back);
	} else {
		assert(err.msg[0] && !req);
	}
	free(req);
	oci_spec_free(&s);
}

static void frames(const uint8_t *data, size_t size)
{
	struct oci_stream *s = calloc(1, sizeof(*s));
	int sv[2], null = open("/dev/null", O_WRONLY | O_CLOEXEC), r = 0;

	assert(s && null >= 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	close(sv[1]);
	s->conn = sv[0];
	s->in_fd = -1;
	s->out_fd = null;
	s->err_fd = null;
	while (r == 0)
		r = oci_stream_pump(s);
	assert(strlen(s->error) < sizeof(s->error));
	oci_stream_close(s);
	close(null);
	free(s);
}

static void command_line(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[32];
	const char *str = NULL, *pos[4];
	bool flag = false;
	struct oci_list list = { 0 };
	const struct oci_flag flags[] = { { "bundle", 'b', OCI_FLAG_STRING, &str },
					  { "detach", 'd', OCI_FLAG_BOOL, &flag },
					  { "env", 'e', OCI_FLAG_LIST, &list },
					  { NULL, 0, 0, NULL } };
	struct ember_err err = { 0 };
	int argc = 0, n, sig;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; argc < 32 && p < copy + size; p += strlen(p) + 1)
		argv[argc++] = p;
	if (oci_parse_flags(argc, argv, flags, pos, 4, &n, &err) == 0)
		assert(n <= 4 && list.n <= 64);
	if (oci_parse_flags_head(argc, argv, flags, &n, &err) == 0)
		assert(n <= argc);
	if (argc && oci_parse_signal(argv[0], &sig) == 0)
		assert(sig > 0);
	if (argc)
		(void)oci_valid_id(argv[0]);
	free(copy);
}

static void image_config(const uint8_t *data, size_t size)
{
	struct ember_err err = { 0 };
	char path[PATH_MAX], ref[256], name[FN_NAME_MAX + 1];
	json_t *spec = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/config.json", bundle);
	f = fopen(path, "w");
	assert(f);
	if (size)
		assert(fwrite(data, 1, size, f) == size);
	fclose(f);
	if (fn_image_handler(path, size % 3, size % 2 ? "true" : NULL, &spec, &err) == 0)
		assert(json_is_array(json_object_get(spec, "args")) &&
		       json_is_string(json_object_get(spec, "cwd")));
	else
		assert(err.msg[0] && !spec);
	json_decref(spec);
	snprintf(path, sizeof(path), "%s/index.json", bundle);
	f = fopen(path, "w");
	assert(f);
	if (size)
		assert(fwrite(data, 1, size, f) == size);
	fclose(f);
	bool has;

	(void)fn_image_has_command(bundle, &has, &err);
	snprintf(ref, sizeof(ref), "%.*s", (int)(size < 255 ? size : 255), (const char *)data);
	if (fn_image_check_ref(ref, &err) == 0 &&
	    fn_image_default_name(ref, name, sizeof(name), &err) == 0)
		assert(fn_store_check_name(name, &err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	make_bundle();
	switch (data[0] % 4) {
	case 0: config(data + 1, size - 1); break;
	case 1: frames(data + 1, size - 1); break;
	case 2: command_line(data + 1, size - 1); break;
	default: image_config(data + 1, size - 1);
	}
	return 0;
}
