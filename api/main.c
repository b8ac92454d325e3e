// SPDX-License-Identifier: Apache-2.0
/* ember: command-line entry point. Parses flags, builds the VM, runs it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "boottimer.h"
#include "check_kvm.h"
#include "instance.h"
#include "log.h"
#include "mailbox.h"
#include "routes.h"
#include "seccomp_filter.h"
#include "server.h"
#include "vm.h"

#define EMBER_VERSION    "0.1.0"
#define EXIT_GENERIC     1
#define EXIT_BAD_CONFIG  152
#define EXIT_ARG_PARSING 153
#define DEFAULT_API_SOCK "/run/ember.socket"
#define CONFIG_FILE_MAX  (1 << 20)

struct args {
	const char *config_file;
	const char *api_sock;
	const char *id;
	const char *log_path;
	const char *level;
	const char *metrics_path;
	const char *seccomp_filter;
	const char *metadata;
	size_t body_max;
	size_t mmds_limit;                         /* 0: body_max, as Firecracker */
	uint64_t start_time_us, start_time_cpu_us; /* from ember-jailer; 0: not given */
	bool no_api;
	bool no_seccomp;
	bool boot_timer;
	bool check_kvm;
	bool quiet;
	bool show_level;
	bool show_origin;
	bool extensions;
};

enum {
	OPT_CONFIG = 256,
	OPT_NO_API,
	OPT_API_SOCK,
	OPT_BOOT_TIMER,
	OPT_CHECK_KVM,
	OPT_ID,
	OPT_LOG_PATH,
	OPT_LEVEL,
	OPT_SHOW_LEVEL,
	OPT_SHOW_ORIGIN,
	OPT_METRICS_PATH,
	OPT_MAX_PAYLOAD,
	OPT_MMDS_LIMIT,
	OPT_METADATA,
	OPT_START_TIME,
	OPT_START_CPU,
	OPT_PARENT_CPU,
	OPT_NO_SECCOMP,
	OPT_SECCOMP_FILTER,
	OPT_EXTENSIONS,
	OPT_VERSION,
	OPT_HELP
};

static const struct option long_opts[] = {
	{ "config-file", required_argument, NULL, OPT_CONFIG },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "check-kvm", no_argument, NULL, OPT_CHECK_KVM },
	{ "id", required_argument, NULL, OPT_ID },
	{ "log-path", required_argument, NULL, OPT_LOG_PATH },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
	{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
	{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "mmds-size-limit", required_argument, NULL, OPT_MMDS_LIMIT },
	{ "metadata", required_argument, NULL, OPT_METADATA },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "start-time-cpu-us", required_argument, NULL, OPT_START_CPU },
	{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "ember-extensions", no_argument, NULL, OPT_EXTENSIONS },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fputs("usage: ember [--api-sock PATH] [--config-file FILE] [options]\n"
	      "       ember --config-file FILE --no-api [options]\n"
	      "       ember --check-kvm [-q]\n\n"
	      "  --api-sock PATH      serve Firecracker's REST API on this Unix socket\n"
	      "                       (default " DEFAULT_API_SOCK ")\n"
	      "  --config-file FILE   Firecracker-format VM configuration (JSON); the VM starts\n"
	      "                       at once and the API serves the running VM\n"
	      "  --no-api             no API socket: run from the config file alone\n"
	      "  --http-api-max-payload-size N   largest request body (default 51200 bytes)\n"
	      "  --mmds-size-limit N  largest MMDS data store, as compact JSON (default: the\n"
	      "                       largest request body)\n"
	      "  --metadata FILE      initial MMDS contents (JSON)\n"
	      "  --metrics-path PATH  write metrics (NDJSON) to this file or named pipe\n"
	      "  --boot-timer         log the time until the guest writes the boot-timer magic\n"
	      "  --check-kvm          check whether this host's KVM can run ember's guests\n"
	      "  -q                   with --check-kvm: no report, exit status only\n"
	      "  --id ID              instance id shown in log lines and GET /\n"
	      "  --log-path PATH      write log lines to PATH instead of stderr\n"
	      "  --level LEVEL        Error, Warning, Info (default), Debug, Trace or Off\n"
	      "  --show-level, --show-log-origin   more detail in log lines\n"
	      "  --no-seccomp         no seccomp filters (for debugging only)\n"
	      "  --seccomp-filter FILE  per-thread filters compiled by ember-seccompiler\n"
	      "                       instead of the built-in ones\n"
	      "  --ember-extensions   what ember adds to Firecracker's API, which a Firecracker\n"
	      "                       client could notice: a failed snapshot load may be\n"
	      "                       retried in the same process; GET / and GET /version\n"
	      "                       report latencies_us and ember_version\n"
	      "  --start-time-us, --start-time-cpu-us   set by ember-jailer\n"
	      "  --version, --help\n",
	      out);
}

static int parse_number(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, "ember: %s needs a number up to %llu, not \"%s\"\n", opt,
			(unsigned long long)max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_one(int c, struct args *a)
{
	uint64_t v;

	switch (c) {
	case OPT_CONFIG: a->config_file = optarg; return 0;
	case OPT_NO_API: a->no_api = true; return 0;
	case OPT_API_SOCK: a->api_sock = optarg; return 0;
	case OPT_BOOT_TIMER: a->boot_timer = true; return 0;
	case OPT_CHECK_KVM: a->check_kvm = true; return 0;
	case OPT_ID: a->id = optarg; return 0;
	case OPT_LOG_PATH: a->log_path = optarg; return 0;
	case OPT_LEVEL: a->level = optarg; return 0;
	case OPT_SHOW_LEVEL: a->show_level = true; return 0;
	case OPT_SHOW_ORIGIN: a->show_origin = true; return 0;
	case OPT_METRICS_PATH: a->metrics_path = optarg; return 0;
	case OPT_MAX_PAYLOAD:
		if (parse_number("--http-api-max-payload-size", optarg, 1 << 30, &v) < 0 || !v)
			return -1;
		a->body_max = (size_t)v;
		return 0;
	case OPT_MMDS_LIMIT:
		if (parse_number("--mmds-size-limit", optarg, 1 << 30, &v) < 0 || !v)
			return -1;
		a->mmds_limit = (size_t)v;
		return 0;
	case OPT_METADATA: a->metadata = optarg; return 0;
	case OPT_START_TIME:
		return parse_number("--start-time-us", optarg, UINT64_MAX, &a->start_time_us);
	case OPT_START_CPU:
		return parse_number("--start-time-cpu-us", optarg, UINT64_MAX,
				    &a->start_time_cpu_us);
	case OPT_PARENT_CPU: return parse_number("--parent-cpu-time-us", optarg, UINT64_MAX, &v);
	case OPT_NO_SECCOMP: a->no_seccomp = true; return 0;
	case OPT_SECCOMP_FILTER: a->seccomp_filter = optarg; return 0;
	case OPT_EXTENSIONS: a->extensions = true; return 0;
	case 'q': a->quiet = true; return 0;
	default: return -1;
	}
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->body_max = HTTP_BODY_MAX_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "q", long_opts, NULL)) != -1) {
		if (c == OPT_VERSION || c == OPT_HELP)
			return c;
		if (parse_one(c, a) < 0) {
			if (c == '?' || c == ':')
				fprintf(stderr, "ember: unknown or incomplete option %s\n",
					argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ember: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (a->no_api && !a->config_file) {
		fprintf(stderr, "ember: --no-api requires --config-file\n");
		return -1;
	}
	if (a->no_seccomp && a->seccomp_filter) {
		fprintf(stderr, "ember: --no-seccomp and --seccomp-filter exclude each other\n");
		return -1;
	}
	if (!a->api_sock)
		a->api_sock = DEFAULT_API_SOCK;
	return 0;
}

/* The filters each thread installs before its loop, and the SIGSYS handler.
 * Here, before any thread exists, while every file is still reachable. */
static int setup_seccomp(const struct args *a, struct seccomp_filters *f, struct vm_options *opts)
{
	struct ember_err err = { 0 };
	int ret;

	/* Time zone files are read now; a filtered thread could not open them. */
	tzset();
	if (a->no_seccomp)
		return 0;
	if (a->seccomp_filter)
		ret = seccomp_filters_load(f, a->seccomp_filter, &err);
	else
		ret = seccomp_filters_parse(f, seccomp_default_filter, seccomp_default_filter_len,
					    &err);
	if (!ret)
		ret = seccomp_handler_install(&err);
	if (ret < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		return EXIT_BAD_CONFIG;
	}
	opts->seccomp = f;
	return 0;
}

/* Command line flags override the config file's logger section. */
static int setup_logging(const struct args *a, struct instance *in)
{
	struct instance_logger l = in->logger;
	struct ember_err err = { 0 };

	if (a->level && log_parse_level(a->level, &l.opts.level) < 0) {
		fprintf(stderr, "ember: unknown log level %s\n", a->level);
		return EXIT_ARG_PARSING;
	}
	l.opts.show_level |= a->show_level;
	l.opts.show_origin |= a->show_origin;
	if (a->log_path)
		l.log_path = (char *)a->log_path;
	if (instance_apply_logger(in, &l, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		return EXIT_BAD_CONFIG;
	}
	in->logger.opts = l.opts;
	return 0;
}

static int setup_metrics(const struct args *a, struct instance *in)
{
	struct instance_metrics_cfg m = in->metrics_cfg;
	struct ember_err err = { 0 };

	if (a->metrics_path) {
		m.metrics_path = (char *)a->metrics_path;
		m.set = true;
	}
	if (m.set && !metrics_enabled(&in->metrics) && instance_set_metrics(in, &m, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		return EXIT_BAD_CONFIG;
	}
	return 0;
}

/* Only fds epoll can watch: a terminal, a pipe or a socket. */
static int serial_in_fd(void)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st) < 0)
		return -1;
	if (isatty(STDIN_FILENO) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		return STDIN_FILENO;
	return -1;
}

/* Guest input byte by byte, without local echo; Ctrl-C still stops ember. */
static bool raw_terminal(struct termios *saved)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) < 0)
		return false;
	t = *saved;
	t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
	return true;
}

static int run_vm(struct instance *in)
{
	struct ember_err err = { 0 };
	struct vm_exit ex = { 0 };
	struct termios saved;
	bool raw = raw_terminal(&saved);
	int ret = vm_run(in->vm, &ex, &err);

	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (ex.kind == VM_EXIT_ERROR || ex.kind == VM_EXIT_SIGNAL)
		log_error("%s", ex.msg);
	else
		log_info("%s", ex.msg);
	return ret && ex.kind == VM_EXIT_NONE ? EXIT_GENERIC : ex.status;
}

/* SIGINT, SIGTERM and SIGHUP are read from signalfds, never delivered:
 * blocked here, before any thread starts, so every thread inherits it. */
static int block_signals(void)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	return signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct api {
	struct api_mailbox mailbox;
	struct api_server server;
	struct instance *in;
	bool up;
};

/* The instance's API source: a request waits in the mailbox. */
static void serve_api(void *ctx)
{
	struct api *api = ctx;

	api_mailbox_serve(&api->mailbox, api_routes_handle, api->in);
}

static int start_api(const struct args *a, struct instance *in, struct api *api)
{
	struct ember_err err = { 0 };

	struct api_server_config c = {
		.path = a->api_sock,
		.body_max = a->body_max,
		.handle = api_mailbox_post,
		.ctx = &api->mailbox,
		.seccomp = in->opts.seccomp,
	};

	if (api_mailbox_init(&api->mailbox, &err) < 0 ||
	    api_server_start(&api->server, &c, &err) < 0) {
		log_error("cannot start the API: %s", err.msg);
		return EXIT_GENERIC;
	}
	api->up = true;
	api->in = in;
	instance_set_api(in, api->mailbox.fd, serve_api, api);
	return 0;
}

static void stop_api(struct api *api)
{
	if (!api->up)
		return;
	api_mailbox_close(&api->mailbox);
	api_server_stop(&api->server);
	api_mailbox_free(&api->mailbox);
	api->up = false;
}

static void record_startup(const struct args *a, struct instance *in, const struct vm_options *o)
{
	uint64_t wall0 = a->start_time_us ? a->start_time_us : o->start_wall_us;
	uint64_t cpu0 = a->start_time_cpu_us ? a->start_time_cpu_us : o->start_cpu_us;

	in->startup_us = boottimer_now_us(CLOCK_MONOTONIC) - wall0;
	in->startup_cpu_us = boottimer_now_us(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	log_info("API socket %s ready after %llu us (%llu CPU us)", a->api_sock,
		 (unsigned long long)in->startup_us, (unsigned long long)in->startup_cpu_us);
}

/* Configure, then start: from the config file at once, or when the API says. */
static int configure_and_start(const struct args *a, struct instance *in, struct api *api,
			       int sig_fd)
{
	struct ember_err err = { 0 };
	int ret = setup_logging(a, in);

	if (!ret)
		ret = setup_metrics(a, in);
	if (!ret && !a->no_api)
		ret = start_api(a, in, api);
	if (!ret && !a->no_api)
		record_startup(a, in, &in->opts);
	if (ret)
		return ret;
	if (!a->config_file) {
		ret = instance_preboot(in, sig_fd, &err);
		if (ret > 0)
			log_info("stopped by signal %s before the microVM started", strsignal(ret));
		if (ret < 0)
			log_error("%s", err.msg);
		if (ret < 0 && in->fatal_status)
			return in->fatal_status;
		return ret > 0 ? 128 + ret : ret < 0 ? EXIT_GENERIC : 0;
	}
	if (instance_start(in, &err) < 0) {
		log_error("%s", err.msg);
		return EXIT_BAD_CONFIG;
	}
	return 0;
}

/* A JSON file of at most CONFIG_FILE_MAX bytes, as a string. */
static char *read_text(const char *path, struct ember_err *err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f) {
		err_errno(err, "cannot open %s", path);
		return NULL;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	buf[n < CONFIG_FILE_MAX ? n : CONFIG_FILE_MAX] = '\0';
	if (n > CONFIG_FILE_MAX)
		err_set(err, EFBIG, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
	else if (strlen(buf) != n)
		err_set(err, EINVAL, "%s: the file contains a NUL byte", path);
	else
		return buf;
	free(buf);
	return NULL;
}

/* --config-file: Firecracker's schema, each section applied as its PUT. */
static int load_config_file(struct instance *in, const char *path, struct ember_err *err)
{
	char *buf = read_text(path, err);
	int ret;

	if (!buf)
		return -EINVAL;
	ret = res_load_config(in, &in->cfg, buf, false, err);
	free(buf);
	return ret < 0 ? err_prefix(err, "%s", path) : 0;
}

/* --metadata: the MMDS store's first contents, as a PUT /mmds. */
static int load_metadata(struct instance *in, const char *path, struct ember_err *err)
{
	char *buf = read_text(path, err);
	json_error_t je;
	json_t *v;

	if (!buf)
		return -EINVAL;
	v = json_loads(buf, JSON_DECODE_ANY, &je);
	free(buf);
	if (!v)
		return err_set(err, EINVAL, "%s: not valid JSON: %s at line %d column %d", path,
			       je.text, je.line, je.column);
	if (mmds_put(&in->mmds, v, err) < 0)
		return err_prefix(err, "%s", path);
	return 0;
}

static int finish(struct instance *in, struct api *api, int status)
{
	struct ember_err err = { 0 };

	stop_api(api);
	if (metrics_enabled(&in->metrics) && instance_flush_metrics(in, &err) < 0)
		log_warn("the last metrics: %s", err.msg);
	instance_free(in);
	return status;
}

int main(int argc, char **argv)
{
	struct vm_options opts = {
		.start_wall_us = boottimer_now_us(CLOCK_MONOTONIC),
		.start_cpu_us = boottimer_now_us(CLOCK_PROCESS_CPUTIME_ID),
		.serial_out_fd = STDOUT_FILENO,
	};
	struct ember_err err = { 0 };
	struct api api = { .up = false };
	struct seccomp_filters filters = { .buf = NULL };
	struct instance in;
	struct args a;
	int ret, sig_fd;

	/* jansson seeds its hash tables now, while /dev/urandom is reachable. */
	json_object_seed(0);
	/* A closed console reader must not kill the VM: writes fail and are counted. */
	signal(SIGPIPE, SIG_IGN);
	ret = parse_args(argc, argv, &a);
	if (ret == OPT_VERSION || ret == OPT_HELP) {
		if (ret == OPT_VERSION)
			printf("ember v%s\n", EMBER_VERSION);
		else
			usage(stdout);
		return 0;
	}
	if (ret < 0)
		return EXIT_ARG_PARSING;
	if (a.check_kvm)
		return check_kvm_run(NULL, stdout, a.quiet);
	if ((ret = setup_seccomp(&a, &filters, &opts)))
		return ret;
	sig_fd = block_signals();
	opts.boot_timer = a.boot_timer;
	opts.serial_in_fd = serial_in_fd();
	if (instance_init(&in, a.id, EMBER_VERSION, &opts) < 0) {
		fprintf(stderr, "ember: out of memory\n");
		return EXIT_GENERIC;
	}
	in.ext.enabled = a.extensions;
	in.mmds.limit = a.mmds_limit ? a.mmds_limit : a.body_max;
	if (a.metadata && load_metadata(&in, a.metadata, &err) < 0) {
		fprintf(stderr, "ember: --metadata: %s\n", err.msg);
		return finish(&in, &api, EXIT_BAD_CONFIG);
	}
	if (a.config_file && load_config_file(&in, a.config_file, &err) < 0) {
		fprintf(stderr, "ember: bad configuration: %s\n", err.msg);
		return finish(&in, &api, EXIT_BAD_CONFIG);
	}
	ret = configure_and_start(&a, &in, &api, sig_fd);
	if (sig_fd >= 0)
		close(sig_fd);
	if (!ret && in.vm)
		ret = run_vm(&in);
	ret = finish(&in, &api, ret);
	seccomp_filters_free(&filters);
	return ret;
}
