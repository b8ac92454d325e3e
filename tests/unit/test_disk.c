// SPDX-License-Identifier: Apache-2.0
/* A directory's tree as an ext4 image (api/ember_disk.c), read back with
 * e2fsprogs' debugfs: the files, their modes, the root's owner, the room. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember_disk.h"

static char dir[] = "/tmp/ember-disk-test.XXXXXX";
static char tree[PATH_MAX], image[PATH_MAX], handler[PATH_MAX];

static void setup(void)
{
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(image, sizeof(image), "%s/disk.ext4", dir);
	snprintf(handler, sizeof(handler), "%.4000s/handler", tree);
	cr_assert_eq(mkdir(tree, 0755), 0);
	cr_assert_not_null(f = fopen(handler, "w"));
	fputs("#!/bin/sh\necho hello\n", f);
	fclose(f);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* debugfs's answer to one request on the image. */
static void debugfs(const char *request, char *out, size_t size)
{
	char cmd[PATH_MAX * 2];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "debugfs -R '%s' %s 2>/dev/null", request, image);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, size - 1, p);
	out[n] = '\0';
	pclose(p);
}

TestSuite(ember_disk, .init = setup, .fini = teardown);

Test(ember_disk, the_tree_is_in_the_image_with_the_room_asked_for)
{
	struct ember_err err = { 0 };
	char out[4096];
	uint64_t sectors = 0;
	struct stat st;

	cr_assert_eq(chmod(handler, 0751), 0);
	cr_assert_eq(ember_disk_from_dir(tree, image, 100, 8 << 20, &sectors, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(stat(image, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, sectors * 512, "the size it reports is the file's");
	cr_assert_geq(sectors * 512, 8 << 20, "at least room_min free");
	cr_assert_eq(sectors % 2048, 0, "whole MiB");
	debugfs("cat /handler", out, sizeof(out));
	cr_assert_str_eq(out, "#!/bin/sh\necho hello\n");
	debugfs("stat /handler", out, sizeof(out));
	cr_assert(strstr(out, "Mode:  0751"), "%s", out);
	debugfs("stat /", out, sizeof(out));
	cr_assert(strstr(out, "User:     0   Group:     0"), "the root is root's: %s", out);
}

Test(ember_disk, a_tiny_tree_with_little_room_fits)
{
	struct ember_err err = { 0 };
	uint64_t sectors = 0;

	cr_assert_eq(ember_disk_from_dir(tree, image, 25, 1 << 20, &sectors, &err), 0, "%s",
		     err.msg);
	cr_assert_leq(sectors * 512, 4 << 20, "a small image for a small tree");
}

Test(ember_disk, a_missing_directory_is_an_error_and_leaves_no_image)
{
	struct ember_err err = { 0 };

	cr_assert_lt(ember_disk_from_dir("/nonexistent/tree", image, 25, 1 << 20, NULL, &err), 0);
	cr_assert(strstr(err.msg, "/nonexistent/tree"), "%s", err.msg);
	cr_assert_eq(access(image, F_OK), -1);
}
