// SPDX-License-Identifier: Apache-2.0
/*
 * ember-oci: runc's command line, each container in an ember microVM.
 *   ember-oci [global flags] COMMAND [flags] ID ...
 * Global flags come before the command, as runc has them; ember's own
 * (--ember, --kernel, --initrd, --template-dir, --boot) are for engines'
 * runtime flags (podman --runtime-flag, Docker's runtimeArgs).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci.h"

#define EMBER_OCI_VERSION "0.1.0"
#define DEFAULT_TEMPLATES "/var/lib/ember-oci/templates"

static const struct {
	const char *name;
	oci_cmd_fn fn;
} commands[] = {
	{ "create", oci_cmd_create }, { "start", oci_cmd_start }, { "run", oci_cmd_run },
	{ "state", oci_cmd_state },   { "kill", oci_cmd_kill },   { "delete", oci_cmd_delete },
	{ "exec", oci_cmd_exec },     { "ps", oci_cmd_ps },       { "pause", oci_cmd_pause },
	{ "resume", oci_cmd_resume }, { "list", oci_cmd_list },   { "features", oci_cmd_features },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ember-oci [global flags] COMMAND [flags] ID ...\n"
		   "commands: create start run state kill delete exec ps pause resume list "
		   "features\n"
		   "global flags: --root DIR --log FILE --log-format text|json --systemd-cgroup "
		   "--debug\n"
		   "ember's: --ember PATH --kernel PATH --initrd PATH --template-dir DIR --boot\n");
}

static void version(void)
{
	printf("ember-oci version %s\ncommit: %s\nspec: %s\n", EMBER_OCI_VERSION, EMBER_OCI_VERSION,
	       OCI_VERSION);
}

/* The ember binary and the guest beside ember-oci (build/ and build/guest/). */
static void defaults(struct oci_globals *g)
{
	char self[PATH_MAX] = "", *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	dir = dirname(self);
	snprintf(g->root, sizeof(g->root), "%s", OCI_DEFAULT_ROOT);
	snprintf(g->ember, sizeof(g->ember), "%s/ember", dir);
	snprintf(g->kernel, sizeof(g->kernel), "%s/guest/vmlinux", dir);
	snprintf(g->initrd, sizeof(g->initrd), "%s/guest/initramfs.cpio", dir);
	snprintf(g->templates, sizeof(g->templates), "%s", DEFAULT_TEMPLATES);
}

static int set_path(char *dst, const char *v, const char *flag, struct ember_err *err)
{
	if (!v || !*v)
		return err_set(err, EINVAL, "--%s needs a value", flag);
	if (strlen(v) >= PATH_MAX)
		return err_set(err, ENAMETOOLONG, "--%s: too long", flag);
	strcpy(dst, v);
	return 0;
}

/* The global flags, up to the command; its index in argv, or -1. */
static int globals(int argc, char **argv, struct oci_globals *g, struct ember_err *err)
{
	const char *root = NULL, *log = NULL, *format = NULL, *ember = NULL, *kernel = NULL,
		   *initrd = NULL, *templates = NULL, *rootless = NULL, *criu = NULL;
	bool help = false, ver = false;
	const struct oci_flag flags[] = {
		{ "root", 0, OCI_FLAG_STRING, &root },
		{ "log", 0, OCI_FLAG_STRING, &log },
		{ "log-format", 0, OCI_FLAG_STRING, &format },
		{ "systemd-cgroup", 0, OCI_FLAG_BOOL, &g->systemd_cgroup },
		{ "debug", 0, OCI_FLAG_BOOL, &g->debug },
		{ "rootless", 0, OCI_FLAG_STRING, &rootless },
		{ "criu", 0, OCI_FLAG_STRING, &criu },
		{ "ember", 0, OCI_FLAG_STRING, &ember },
		{ "kernel", 0, OCI_FLAG_STRING, &kernel },
		{ "initrd", 0, OCI_FLAG_STRING, &initrd },
		{ "template-dir", 0, OCI_FLAG_STRING, &templates },
		{ "boot", 0, OCI_FLAG_BOOL, &g->boot },
		{ "help", 'h', OCI_FLAG_BOOL, &help },
		{ "version", 'v', OCI_FLAG_BOOL, &ver },
		{ NULL, 0, 0, NULL },
	};
	int first;

	if (oci_parse_flags_head(argc - 1, argv + 1, flags, &first, err) < 0)
		return -1;
	first++; /* an index in argv */
	if (ver) {
		version();
		exit(0);
	}
	if (help || first >= argc) {
		usage(help ? stdout : stderr);
		exit(help ? 0 : 1);
	}
	if (format && strcmp(format, "json") && strcmp(format, "text"))
		return err_set(err, EINVAL, "unknown log-format \"%s\"", format), -1;
	g->log_json = format && !strcmp(format, "json");
	if ((root && set_path(g->root, root, "root", err) < 0) ||
	    (log && set_path(g->log, log, "log", err) < 0) ||
	    (ember && set_path(g->ember, ember, "ember", err) < 0) ||
	    (kernel && set_path(g->kernel, kernel, "kernel", err) < 0) ||
	    (initrd && set_path(g->initrd, initrd, "initrd", err) < 0) ||
	    (templates && set_path(g->templates, templates, "template-dir", err) < 0))
		return -1;
	return first;
}

int main(int argc, char **argv)
{
	struct oci_globals g = { .argv0 = argv[0] };
	struct ember_err err = { 0 };
	int cmd;

	defaults(&g);
	cmd = globals(argc, argv, &g, &err);
	oci_log_init(&g);
	if (cmd < 0)
		return oci_fail(&err);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[cmd], commands[i].name))
			return commands[i].fn(&g, argc - cmd - 1, argv + cmd + 1);
	if (!strcmp(argv[cmd], "help")) {
		usage(stdout);
		return 0;
	}
	err_set(&err, ENOTSUP, "ember-oci does not support the command \"%s\"", argv[cmd]);
	return oci_fail(&err);
}
