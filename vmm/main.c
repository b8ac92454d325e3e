// SPDX-License-Identifier: Apache-2.0
/* ember: command-line entry point. Parses flags, builds the VM, runs it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "boottimer.h"
#include "check_kvm.h"
#include "config.h"
#include "log.h"
#include "vm.h"

#define EMBER_VERSION    "0.1.0"
#define EXIT_GENERIC     1
#define EXIT_BAD_CONFIG  152
#define EXIT_ARG_PARSING 153

struct args {
	const char *config_file;
	const char *api_sock;
	const char *id;
	const char *log_path;
	const char *level;
	bool no_api;
	bool boot_timer;
	bool check_kvm;
	bool quiet;
	bool show_level;
	bool show_origin;
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
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fputs("usage: ember --config-file FILE --no-api [options]\n"
	      "       ember --check-kvm [-q]\n\n"
	      "  --config-file FILE   Firecracker-format VM configuration (JSON)\n"
	      "  --no-api             run from the config file alone\n"
	      "  --boot-timer         log the time until the guest writes the boot-timer magic\n"
	      "  --check-kvm          check whether this host's KVM can run ember's guests\n"
	      "  -q                   with --check-kvm: no report, exit status only\n"
	      "  --id ID              instance id shown in log lines\n"
	      "  --log-path PATH      write log lines to PATH instead of stderr\n"
	      "  --level LEVEL        Error, Warning, Info (default), Debug, Trace or Off\n"
	      "  --show-level, --show-log-origin   more detail in log lines\n"
	      "  --version, --help\n",
	      out);
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "q", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: a->config_file = optarg; break;
		case OPT_NO_API: a->no_api = true; break;
		case OPT_API_SOCK: a->api_sock = optarg; break;
		case OPT_BOOT_TIMER: a->boot_timer = true; break;
		case OPT_CHECK_KVM: a->check_kvm = true; break;
		case OPT_ID: a->id = optarg; break;
		case OPT_LOG_PATH: a->log_path = optarg; break;
		case OPT_LEVEL: a->level = optarg; break;
		case OPT_SHOW_LEVEL: a->show_level = true; break;
		case OPT_SHOW_ORIGIN: a->show_origin = true; break;
		case 'q': a->quiet = true; break;
		case OPT_VERSION: printf("ember v%s\n", EMBER_VERSION); exit(0);
		case OPT_HELP: usage(stdout); exit(0);
		default:
			fprintf(stderr, "ember: unknown or incomplete option %s\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ember: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	return 0;
}

static int check_args(const struct args *a)
{
	if (a->check_kvm)
		return 0;
	if (a->no_api && !a->config_file) {
		fprintf(stderr, "ember: --no-api requires --config-file\n");
		return -1;
	}
	if (!a->no_api) {
		fprintf(stderr,
			"ember: the API socket%s%s is not available in this version; "
			"run with --config-file FILE --no-api\n",
			a->api_sock ? " " : "", a->api_sock ? a->api_sock : "");
		return -1;
	}
	return 0;
}

/* Command line flags override the config file's logger section. */
static int setup_logging(const struct args *a, const struct vm_config *cfg)
{
	struct log_options opts = cfg->logger.opts;
	const char *path = a->log_path ? a->log_path : cfg->logger.log_path;
	struct ember_err err = { 0 };

	if (a->level && log_parse_level(a->level, &opts.level) < 0) {
		fprintf(stderr, "ember: unknown log level %s\n", a->level);
		return EXIT_ARG_PARSING;
	}
	opts.show_level |= a->show_level;
	opts.show_origin |= a->show_origin;
	log_configure(a->id, &opts);
	if (path && log_set_path(path, &err) < 0) {
		fprintf(stderr, "ember: %s\n", err.msg);
		return EXIT_BAD_CONFIG;
	}
	return 0;
}

static int open_serial_out(const struct vm_config *cfg)
{
	if (!cfg->serial_out_path)
		return STDOUT_FILENO;
	return open(cfg->serial_out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK,
		    0640);
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

static int run_vm(const struct vm_config *cfg, const struct vm_options *opts)
{
	struct ember_err err = { 0 };
	struct vm_exit ex = { 0 };
	struct termios saved;
	bool raw;
	struct vm *vm = calloc(1, sizeof(*vm));
	int ret;

	if (!vm)
		return EXIT_GENERIC;
	ret = vm_create(vm, cfg, opts, &err);
	if (!ret)
		ret = vm_load_kernel(vm, &err);
	if (ret) {
		log_error("cannot build the microVM: %s", err.msg);
		vm_destroy(vm);
		free(vm);
		return EXIT_BAD_CONFIG;
	}
	raw = raw_terminal(&saved);
	ret = vm_run(vm, &ex, &err);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (ex.kind == VM_EXIT_ERROR || ex.kind == VM_EXIT_SIGNAL)
		log_error("%s", ex.msg);
	else
		log_info("%s", ex.msg);
	vm_destroy(vm);
	free(vm);
	return ret && ex.kind == VM_EXIT_NONE ? EXIT_GENERIC : ex.status;
}

int main(int argc, char **argv)
{
	struct vm_options opts = {
		.start_wall_us = boottimer_now_us(CLOCK_MONOTONIC),
		.start_cpu_us = boottimer_now_us(CLOCK_PROCESS_CPUTIME_ID),
	};
	struct ember_err err = { 0 };
	struct vm_config cfg;
	struct args a;
	int ret;

	/* A closed console reader must not kill the VM: writes fail and are counted. */
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &a) < 0 || check_args(&a) < 0)
		return EXIT_ARG_PARSING;
	if (a.check_kvm)
		return check_kvm_run(NULL, stdout, a.quiet);
	config_init(&cfg);
	if (config_load_file(&cfg, a.config_file, &err) < 0 || config_validate(&cfg, &err) < 0) {
		fprintf(stderr, "ember: bad configuration: %s\n", err.msg);
		config_free(&cfg);
		return EXIT_BAD_CONFIG;
	}
	ret = setup_logging(&a, &cfg);
	opts.boot_timer = a.boot_timer;
	opts.serial_out_fd = open_serial_out(&cfg);
	opts.serial_in_fd = serial_in_fd();
	if (!ret && opts.serial_out_fd < 0) {
		fprintf(stderr, "ember: cannot open serial output %s: %s\n", cfg.serial_out_path,
			strerror(errno));
		ret = EXIT_BAD_CONFIG;
	}
	if (!ret)
		ret = run_vm(&cfg, &opts);
	config_free(&cfg);
	return ret;
}
