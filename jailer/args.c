// SPDX-License-Identifier: Apache-2.0
/* ember-jailer's flags: parsed and validated before anything is touched. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jailer.h"

enum {
	OPT_ID = 256,
	OPT_EXEC_FILE,
	OPT_UID,
	OPT_GID,
	OPT_CHROOT_BASE,
	OPT_NETNS,
	OPT_DAEMONIZE,
	OPT_NEW_PID_NS,
	OPT_NEW_USER_NS,
	OPT_CGROUP,
	OPT_CGROUP_VERSION,
	OPT_PARENT_CGROUP,
	OPT_RESOURCE_LIMIT,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "id", required_argument, NULL, OPT_ID },
	{ "exec-file", required_argument, NULL, OPT_EXEC_FILE },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot-base-dir", required_argument, NULL, OPT_CHROOT_BASE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "daemonize", no_argument, NULL, OPT_DAEMONIZE },
	{ "new-pid-ns", no_argument, NULL, OPT_NEW_PID_NS },
	{ "new-user-ns", no_argument, NULL, OPT_NEW_USER_NS },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "cgroup-version", required_argument, NULL, OPT_CGROUP_VERSION },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP },
	{ "resource-limit", required_argument, NULL, OPT_RESOURCE_LIMIT },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void jailer_usage(FILE *out)
{
	fputs(
	    "usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [options] [-- "
	    "ARGS]\n\n"
	    "  --id ID                 VM id: letters, digits and '-', at most 64\n"
	    "  --exec-file PATH        the binary to jail (copied into the jail)\n"
	    "  --uid UID, --gid GID    credentials it runs with\n"
	    "  --chroot-base-dir DIR   jail at DIR/<exec name>/<id>/root "
	    "(default " JAILER_DEFAULT_BASE ")\n"
	    "  --netns PATH            join this network namespace\n"
	    "  --daemonize             detach: new session, stdio on /dev/null\n"
	    "  --new-pid-ns            run as PID 1 of a new PID namespace\n"
	    "  --new-user-ns           run in a new user namespace mapping only UID and GID\n"
	    "  --cgroup FILE=VALUE     write VALUE to the jail's cgroup FILE (repeatable)\n"
	    "  --cgroup-version 1|2    cgroup hierarchy to use (default 1)\n"
	    "  --parent-cgroup PATH    relative parent of the jail's cgroup (default: exec name)\n"
	    "  --resource-limit R=N    fsize or no-file (default no-file=2048); repeatable\n"
	    "  -- ARGS                 passed to the binary after --id and the start times\n",
	    out);
}

bool jailer_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAILER_ID_MAX)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

/* Relative, and no component may be empty, "." or "..": it must stay below the mount. */
bool jailer_parent_cgroup_valid(const char *path)
{
	const char *p = path;

	if (!*path || *path == '/' || strlen(path) >= 256)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

/* FILE=VALUE, FILE being "controller.name" with no path in it. */
int jailer_parse_cgroup(const char *arg, struct jailer_cgroup_prop *p, struct ember_err *err)
{
	const char *eq = strchr(arg, '=');
	size_t flen = eq ? (size_t)(eq - arg) : 0;
	size_t clen = strcspn(arg, ".");

	if (!eq || !flen || flen >= sizeof(p->file) || !eq[1] || strchr(eq + 1, '\n'))
		return err_set(err, EINVAL, "--cgroup %s: expected FILE=VALUE", arg);
	if (strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_.") != flen || clen == 0 ||
	    clen >= flen - 1 || clen >= sizeof(p->controller))
		return err_set(err, EINVAL,
			       "--cgroup %s: FILE must be <controller>.<name> (e.g. cpuset.cpus)",
			       arg);
	memcpy(p->file, arg, flen);
	p->file[flen] = '\0';
	memcpy(p->controller, arg, clen);
	p->controller[clen] = '\0';
	p->value = eq + 1;
	return 0;
}

static int parse_u32(const char *opt, const char *s, uint32_t max, uint32_t *out,
		     struct ember_err *err)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return err_set(err, EINVAL, "%s needs a number up to %u, not \"%s\"", opt, max, s);
	*out = (uint32_t)v;
	return 0;
}

/* fsize=N or no-file=N */
static int parse_rlimit(const char *arg, struct jailer_args *a, struct ember_err *err)
{
	const char *eq = strchr(arg, '=');
	unsigned long long v;
	char *end;

	if (!eq)
		return err_set(err, EINVAL, "--resource-limit %s: expected fsize=N or no-file=N",
			       arg);
	errno = 0;
	v = strtoull(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || eq[1] == '-')
		return err_set(err, EINVAL, "--resource-limit %s: not a number", arg);
	if (!strncmp(arg, "fsize=", 6))
		a->fsize = (rlim_t)v;
	else if (!strncmp(arg, "no-file=", 8) && v > 0)
		a->nofile = (rlim_t)v;
	else
		return err_set(err, EINVAL,
			       "--resource-limit %s: only fsize=N and no-file=N (N > 0)", arg);
	return 0;
}

static int parse_one(int c, struct jailer_args *a, int *status, struct ember_err *err)
{
	uint32_t v = 0;

	switch (c) {
	case OPT_ID: a->id = optarg; return 0;
	case OPT_EXEC_FILE: a->exec_name = optarg; return 0; /* checked once all are read */
	case OPT_UID:
	case OPT_GID:
		*status = JAILER_EXIT_IDS;
		if (parse_u32(c == OPT_UID ? "--uid" : "--gid", optarg, UINT32_MAX - 1, &v, err) <
		    0)
			return -EINVAL;
		if (c == OPT_UID)
			a->uid = v;
		else
			a->gid = v;
		return 0;
	case OPT_CHROOT_BASE:
		snprintf(a->chroot_base, sizeof(a->chroot_base), "%s", optarg);
		return 0;
	case OPT_NETNS: a->netns = optarg; return 0;
	case OPT_DAEMONIZE: a->daemonize = true; return 0;
	case OPT_NEW_PID_NS: a->new_pid_ns = true; return 0;
	case OPT_NEW_USER_NS: a->new_user_ns = true; return 0;
	case OPT_CGROUP:
		*status = JAILER_EXIT_CGROUP_ARG;
		if (a->nr_cgroups == JAILER_MAX_CGROUPS)
			return err_set(err, E2BIG, "at most %d --cgroup flags", JAILER_MAX_CGROUPS);
		return jailer_parse_cgroup(optarg, &a->cgroups[a->nr_cgroups++], err);
	case OPT_CGROUP_VERSION:
		*status = JAILER_EXIT_CGROUP_ARG;
		if (strcmp(optarg, "1") && strcmp(optarg, "2"))
			return err_set(err, EINVAL, "--cgroup-version must be 1 or 2, not %s",
				       optarg);
		a->cgroup_version = optarg[0] - '0';
		return 0;
	case OPT_PARENT_CGROUP: a->parent_cgroup = optarg; return 0;
	case OPT_RESOURCE_LIMIT:
		*status = JAILER_EXIT_RLIMIT_ARG;
		return parse_rlimit(optarg, a, err);
	default: return err_set(err, EINVAL, "unknown option or missing value");
	}
}

/* Canonical exec file (a regular file) and chroot base (a directory). */
static int check_paths(struct jailer_args *a, int *status, struct ember_err *err)
{
	const char *given = a->exec_name;
	struct stat st;
	char base[PATH_MAX];

	*status = JAILER_EXIT_EXEC_FILE;
	if (!realpath(given, a->exec_file))
		return err_errno(err, "--exec-file %s", given);
	if (stat(a->exec_file, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, EINVAL, "--exec-file %s is not a regular file", given);
	a->exec_name = strrchr(a->exec_file, '/') + 1;
	*status = JAILER_EXIT_CHROOT_BASE;
	if (!realpath(a->chroot_base, base))
		return err_errno(err, "--chroot-base-dir %s", a->chroot_base);
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, ENOTDIR, "--chroot-base-dir %s is not a directory", base);
	memcpy(a->chroot_base, base, sizeof(base));
	if (snprintf(a->jail_root, sizeof(a->jail_root), "%s/%s/%s/root", a->chroot_base,
		     a->exec_name, a->id) >= (int)sizeof(a->jail_root))
		return err_set(err, ENAMETOOLONG, "the jail's path is too long");
	return 0;
}

static int check_required(const struct jailer_args *a, bool uid, bool gid, int *status,
			  struct ember_err *err)
{
	*status = JAILER_EXIT_USAGE;
	if (!a->id || !a->exec_name || !uid || !gid)
		return err_set(err, EINVAL, "--id, --exec-file, --uid and --gid are required");
	*status = JAILER_EXIT_ID;
	if (!jailer_id_valid(a->id))
		return err_set(err, EINVAL, "--id \"%s\": 1 to %d letters, digits and '-' only",
			       a->id, JAILER_ID_MAX);
	*status = JAILER_EXIT_CGROUP_ARG;
	if (a->parent_cgroup && !jailer_parent_cgroup_valid(a->parent_cgroup))
		return err_set(err, EINVAL,
			       "--parent-cgroup %s: must be relative, without '.' or '..'",
			       a->parent_cgroup);
	return 0;
}

int jailer_parse_args(int argc, char **argv, struct jailer_args *a, int *status,
		      struct ember_err *err)
{
	bool uid = false, gid = false;
	int c, ret;

	memset(a, 0, sizeof(*a));
	snprintf(a->chroot_base, sizeof(a->chroot_base), "%s", JAILER_DEFAULT_BASE);
	a->cgroup_version = 1;
	a->nofile = JAILER_DEFAULT_NOFILE;
	a->fsize = RLIM_INFINITY;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", long_opts, NULL)) != -1) {
		*status = JAILER_EXIT_USAGE;
		if (c == OPT_VERSION || c == OPT_HELP)
			return c == OPT_VERSION ? 1 : 2;
		uid |= c == OPT_UID;
		gid |= c == OPT_GID;
		if ((ret = parse_one(c, a, status, err)) < 0)
			return c == '?' ? err_set(err, EINVAL, "unknown or incomplete option %s",
						  argv[optind - 1])
					: ret;
	}
	if (optind < argc && strcmp(argv[optind - 1], "--")) {
		*status = JAILER_EXIT_USAGE;
		return err_set(err, EINVAL, "unexpected argument %s (ARGS go after --)",
			       argv[optind]);
	}
	a->extra = argv + optind;
	a->nr_extra = argc - optind;
	if ((ret = check_required(a, uid, gid, status, err)) < 0 ||
	    (ret = check_paths(a, status, err)) < 0)
		return ret;
	if (!a->parent_cgroup)
		a->parent_cgroup = a->exec_name;
	return 0;
}
