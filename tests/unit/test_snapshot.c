// SPDX-License-Identifier: Apache-2.0
/* Snapshot state files: CRC-64, and every kind of bad file refused with its
 * own message before anything is restored. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc64.h"
#include "snapshot.h"
#include "state.h"

Test(crc64, the_check_value_of_crc64_xz)
{
	cr_assert_eq(crc64_update(0, "123456789", 9), 0x995dc9bbdf1939faULL);
	cr_assert_eq(crc64_update(crc64_update(0, "1234", 4), "56789", 5), 0x995dc9bbdf1939faULL,
		     "it can be computed in pieces");
	cr_assert_eq(crc64_update(0, "", 0), 0);
}

/* A well-formed state file: header, config, one 4 MiB region, some bytes. */
static void build(struct state_writer *w, uint32_t major, uint32_t minor, const char *config)
{
	state_writer_init(w);
	state_put_u64(w, SNAPSHOT_MAGIC);
	state_put_u32(w, major);
	state_put_u32(w, minor);
	state_put_u32(w, (uint32_t)strlen(config));
	state_put(w, config, strlen(config));
	state_put_u32(w, 1);
	state_put_u64(w, 0);
	state_put_u64(w, 4 << 20);
	state_put_u64(w, 0);
	state_put_u32(w, 0xabcdef);
	state_put_u64(w, crc64_update(0, w->buf, w->len));
}

static int parse(const struct state_writer *w, size_t len, struct ember_err *err)
{
	struct snapshot_file f;
	int ret = snapshot_parse(&f, w->buf, len, err);

	if (!ret) {
		cr_assert_str_eq(f.config_json, "{\"x\":1}");
		cr_assert_eq(f.nr_regions, 1);
		cr_assert_eq(f.mem_size, 4 << 20);
		cr_assert_eq(state_get_u32(&f.rest), 0xabcdef, "the rest follows the layout");
		snapshot_file_free(&f);
	}
	return ret;
}

Test(snapshot_file, a_well_formed_file_parses)
{
	struct state_writer w;
	struct ember_err err = { 0 };

	build(&w, SNAPSHOT_VERSION_MAJOR, SNAPSHOT_VERSION_MINOR, "{\"x\":1}");
	cr_assert_eq(parse(&w, w.len, &err), 0, "%s", err.msg);
	state_writer_free(&w);
}

static void assert_refused(struct state_writer *w, size_t len, const char *words)
{
	struct ember_err err = { 0 };

	cr_assert_lt(parse(w, len, &err), 0, "accepted");
	cr_assert(strstr(err.msg, words), "\"%s\" not in: %s", words, err.msg);
}

Test(snapshot_file, truncated_flipped_and_foreign_files_are_refused)
{
	struct state_writer w;

	build(&w, SNAPSHOT_VERSION_MAJOR, SNAPSHOT_VERSION_MINOR, "{\"x\":1}");
	assert_refused(&w, w.len - 1, "CRC mismatch");
	assert_refused(&w, 10, "cannot be a snapshot");
	for (size_t at = 24; at < w.len - 8; at += 7) {
		w.buf[at] ^= 0x20;
		assert_refused(&w, w.len, "CRC mismatch");
		w.buf[at] ^= 0x20;
	}
	w.buf[0] ^= 1;
	assert_refused(&w, w.len, "not an ember snapshot");
	state_writer_free(&w);
}

Test(snapshot_file, another_format_version_is_named)
{
	struct state_writer w;

	build(&w, SNAPSHOT_VERSION_MAJOR + 1, 0, "{\"x\":1}");
	assert_refused(&w, w.len, "format version 2.0");
	state_writer_free(&w);
	build(&w, SNAPSHOT_VERSION_MAJOR, SNAPSHOT_VERSION_MINOR + 1, "{\"x\":1}");
	assert_refused(&w, w.len, "format version 1.2; this ember reads 1.0 to 1.1");
	state_writer_free(&w);
}

Test(snapshot_file, a_bad_layout_or_config_length_is_refused_even_with_a_good_crc)
{
	struct state_writer w;

	state_writer_init(&w);
	state_put_u64(&w, SNAPSHOT_MAGIC);
	state_put_u32(&w, SNAPSHOT_VERSION_MAJOR);
	state_put_u32(&w, 0);
	state_put_u32(&w, 1000000); /* a config longer than the file */
	state_put_u32(&w, 0);
	state_put_u64(&w, crc64_update(0, w.buf, w.len));
	assert_refused(&w, w.len, "configuration is cut short");
	state_writer_free(&w);

	state_writer_init(&w);
	state_put_u64(&w, SNAPSHOT_MAGIC);
	state_put_u32(&w, SNAPSHOT_VERSION_MAJOR);
	state_put_u32(&w, 0);
	state_put_u32(&w, 2);
	state_put(&w, "{}", 2);
	state_put_u32(&w, 1);
	state_put_u64(&w, 0);
	state_put_u64(&w, 4097); /* not whole pages */
	state_put_u64(&w, 0);
	state_put_u64(&w, crc64_update(0, w.buf, w.len));
	assert_refused(&w, w.len, "memory region 0");
	state_writer_free(&w);
}

Test(snapshot_file, a_missing_file_names_its_path)
{
	struct snapshot_file f;
	struct ember_err err = { 0 };

	cr_assert_eq(snapshot_read(&f, "/nonexistent/snap.state", &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/snap.state"), "%s", err.msg);
	cr_assert_lt(snapshot_read(&f, "/dev/null", &err), 0);
}
