// SPDX-License-Identifier: Apache-2.0
/*
 * runc's flag syntax (urfave/cli v1): "--flag value", "--flag=value",
 * "-flag", single-letter aliases; flags and arguments in any order, "--"
 * ending the flags. Exact names only: no prefix matching.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci.h"

static const struct oci_flag *find_flag(const struct oci_flag *flags, const char *name, size_t len)
{
	for (const struct oci_flag *f = flags; f->name; f++) {
		if (len == 1 && f->short_name == name[0])
			return f;
		if (strlen(f->name) == len && !strncmp(f->name, name, len))
			return f;
	}
	return NULL;
}

static int set_flag(const struct oci_flag *f, const char *value, struct ember_err *err)
{
	switch (f->kind) {
	case OCI_FLAG_BOOL:
		if (value && strcmp(value, "true") && strcmp(value, "false"))
			return err_set(err, EINVAL, "invalid boolean value \"%s\" for -%s", value,
				       f->name);
		*(bool *)f->value = !value || !strcmp(value, "true");
		return 0;
	case OCI_FLAG_STRING: *(const char **)f->value = value; return 0;
	case OCI_FLAG_LIST: {
		struct oci_list *l = f->value;

		if (l->n == sizeof(l->item) / sizeof(l->item[0]))
			return err_set(err, E2BIG, "too many -%s flags", f->name);
		l->item[l->n++] = value;
		return 0;
	}
	}
	return err_set(err, EINVAL, "bad flag table");
}

/* One argument that starts with '-': *used is how many argv entries it took. */
static int one_flag(char **argv, int left, const struct oci_flag *flags, int *used,
		    struct ember_err *err)
{
	const char *arg = argv[0], *name = arg + (arg[1] == '-' ? 2 : 1);
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct oci_flag *f = find_flag(flags, name, len);

	*used = 1;
	if (!f)
		return err_set(err, EINVAL, "flag provided but not defined: -%.*s", (int)len, name);
	if (f->kind == OCI_FLAG_BOOL)
		return set_flag(f, eq ? eq + 1 : NULL, err);
	if (eq)
		return set_flag(f, eq + 1, err);
	if (left < 2)
		return err_set(err, EINVAL, "flag needs an argument: -%s", f->name);
	*used = 2;
	return set_flag(f, argv[1], err);
}

static int parse(int argc, char **argv, const struct oci_flag *flags, const char **pos, int pos_max,
		 int *npos, int *first, struct ember_err *err)
{
	bool flags_done = false;
	int used;

	*npos = 0;
	for (int i = 0; i < argc; i += used) {
		used = 1;
		if (!flags_done && !strcmp(argv[i], "--")) {
			flags_done = true;
			continue;
		}
		if (!flags_done && argv[i][0] == '-' && argv[i][1]) {
			if (one_flag(argv + i, argc - i, flags, &used, err) < 0)
				return -err->code;
			continue;
		}
		if (first) { /* the first argument: the rest is its own */
			*first = i;
			return 0;
		}
		if (*npos == pos_max)
			return err_set(err, E2BIG, "too many arguments (\"%s\")", argv[i]);
		pos[(*npos)++] = argv[i];
	}
	if (first)
		*first = argc;
	return 0;
}

int oci_parse_flags(int argc, char **argv, const struct oci_flag *flags, const char **pos,
		    int pos_max, int *npos, struct ember_err *err)
{
	return parse(argc, argv, flags, pos, pos_max, npos, NULL, err);
}

int oci_parse_flags_head(int argc, char **argv, const struct oci_flag *flags, int *first,
			 struct ember_err *err)
{
	int n;

	return parse(argc, argv, flags, NULL, 0, &n, first, err);
}

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{ "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
	{ "FPE", SIGFPE },       { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },     { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },   { "IO", SIGIO },     { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

int oci_parse_signal(const char *s, int *sig)
{
	char *end;
	long n;

	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)s[0])) {
		n = strtol(s, &end, 10);
		if (*end || n <= 0 || n > SIGRTMAX)
			return -EINVAL;
		*sig = (int)n;
		return 0;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
		if (!strcasecmp(s, signal_names[i].name)) {
			*sig = signal_names[i].sig;
			return 0;
		}
	return -EINVAL;
}

/* runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..". */
bool oci_valid_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > OCI_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("_+-.", id[i]))
			return false;
	return true;
}
