// SPDX-License-Identifier: Apache-2.0
/* ember-snapshot-editor: Firecracker's snapshot-editor command for ember's
 * memory files ("edit-memory rebase"), and a state file's summary. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snapshot.h"

static int usage(FILE *out)
{
	fputs(
	    "usage: ember-snapshot-editor edit-memory rebase --memory-path BASE --diff-path DIFF\n"
	    "       ember-snapshot-editor info-vmstate version --vmstate-path STATE\n\n"
	    "rebase copies a Diff snapshot's pages onto the memory file of the snapshot it\n"
	    "follows (merge diffs in the order they were taken); BASE then restores as a\n"
	    "Full snapshot with the diff's state file.\n",
	    out);
	return out == stdout ? 0 : 2;
}

static const char *flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

int main(int argc, char **argv)
{
	struct ember_err err = { 0 };

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(stdout);
	if (argc >= 3 && !strcmp(argv[1], "edit-memory") && !strcmp(argv[2], "rebase")) {
		const char *base = flag(argc, argv, "--memory-path");
		const char *diff = flag(argc, argv, "--diff-path");

		if (!base || !diff)
			return usage(stderr);
		if (snapshot_rebase(base, diff, &err) < 0) {
			fprintf(stderr, "ember-snapshot-editor: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "info-vmstate") && !strcmp(argv[2], "version")) {
		const char *path = flag(argc, argv, "--vmstate-path");
		struct snapshot_file f;

		if (!path)
			return usage(stderr);
		if (snapshot_read(&f, path, &err) < 0) {
			fprintf(stderr, "ember-snapshot-editor: %s\n", err.msg);
			return 1;
		}
		printf("v%" PRIu32 ".%" PRIu32 "\n", f.major, f.minor);
		snapshot_file_free(&f);
		return 0;
	}
	return usage(stderr);
}
