// SPDX-License-Identifier: Apache-2.0
/*
 * ember-fn: per-request VMs from a snapshot.
 *   ember-fn prepare DIR [--name NAME]   build, boot, warm up, snapshot
 *   ember-fn prepare --image REF [--handler CMD]   the same from an image
 *   ember-fn prepare ... --http PORT       the function is an HTTP server
 *   ember-fn invoke NAME < payload        one fresh clone answers
 *   ember-fn serve --listen ADDR          POST /fn/NAME over HTTP
 * Exit status of invoke: the function's (an HTTP function's: 0 for a
 * status below 400, else 1); 125 when ember-fn itself fails.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fn.h"

#define EXIT_OWN 125

enum {
	OPT_STORE = 256,
	OPT_EMBER,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_RUNDIR,
	OPT_MEM,
	OPT_VCPUS,
	OPT_TIMEOUT,
	OPT_BOOT_TIMEOUT,
	OPT_BACKEND,
	OPT_NO_PREFETCH,
	OPT_NO_SECCOMP,
	OPT_TIMINGS,
	OPT_NAME,
	OPT_WARMUP,
	OPT_LISTEN,
	OPT_MAX_VMS,
	OPT_QUEUE,
	OPT_NO_POOL,
	OPT_IMAGE,
	OPT_HANDLER,
	OPT_HTTP,
	OPT_REUSE,
};

static const struct option options[] = {
	{ "store", required_argument, NULL, OPT_STORE },
	{ "ember", required_argument, NULL, OPT_EMBER },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "rundir", required_argument, NULL, OPT_RUNDIR },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "no-prefetch", no_argument, NULL, OPT_NO_PREFETCH },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "timings", no_argument, NULL, OPT_TIMINGS },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "max-vms", required_argument, NULL, OPT_MAX_VMS },
	{ "queue", required_argument, NULL, OPT_QUEUE },
	{ "no-pool", no_argument, NULL, OPT_NO_POOL },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "handler", required_argument, NULL, OPT_HANDLER },
	{ "http", required_argument, NULL, OPT_HTTP },
	{ "reuse", required_argument, NULL, OPT_REUSE },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

struct cli {
	struct fn_opts o;
	const char *cmd, *arg, *name, *warmup, *listen, *image, *handler;
	unsigned max_vms, queue, http_port, reuse;
};

static void usage(FILE *f)
{
	fputs("usage: ember-fn prepare DIR [--name NAME] [--warmup FILE] [--mem MIB] [--vcpus N]\n"
	      "                [--kernel FILE] [--initrd FILE] [--boot-timeout MS]\n"
	      "                [--http PORT]\n"
	      "       ember-fn prepare --image REF [--handler CMD] [the same options]\n"
	      "                REF: containers-storage:NAME, oci:DIR[:TAG], oci-archive:FILE,\n"
	      "                docker-archive:FILE, docker://REF\n"
	      "       ember-fn invoke NAME [--backend File|Uffd] [--no-prefetch] [--timings]\n"
	      "                [--timeout MS] < payload\n"
	      "       ember-fn serve --listen HOST:PORT|PATH [--max-vms N] [--queue N]\n"
	      "                [--backend File|Uffd] [--no-prefetch] [--no-pool] [--timeout MS]\n"
	      "                [--reuse N]\n"
	      "common: --store DIR (default $EMBER_FN_STORE, else ~/.local/share/ember/fn),\n"
	      "        --ember FILE, --rundir DIR, --no-seccomp\n",
	      f);
}

static int number(const char *s, unsigned lo, unsigned hi, const char *what, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "ember-fn: %s must be a number from %u to %u, not \"%s\"\n", what,
			lo, hi, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int path_opt(char *dst, size_t size, const char *v)
{
	if (strlen(v) >= size) {
		fprintf(stderr, "ember-fn: path too long: %s\n", v);
		return -1;
	}
	snprintf(dst, size, "%s", v);
	return 0;
}

static int backend_opt(struct cli *c, const char *v)
{
	if (!strcasecmp(v, "file"))
		c->o.backend = FN_BACKEND_FILE;
	else if (!strcasecmp(v, "uffd"))
		c->o.backend = FN_BACKEND_UFFD;
	else
		return fprintf(stderr, "ember-fn: --backend is File or Uffd, not \"%s\"\n", v), -1;
	return 0;
}

static int one_opt(struct cli *c, int opt, const char *v)
{
	switch (opt) {
	case OPT_STORE: return path_opt(c->o.store, sizeof(c->o.store), v);
	case OPT_EMBER: return path_opt(c->o.ember, sizeof(c->o.ember), v);
	case OPT_KERNEL: return path_opt(c->o.kernel, sizeof(c->o.kernel), v);
	case OPT_INITRD: return path_opt(c->o.initrd, sizeof(c->o.initrd), v);
	case OPT_RUNDIR: return path_opt(c->o.rundir, FN_RUN_MAX - 32, v);
	case OPT_MEM: return number(v, 32, 65536, "--mem", &c->o.mem_mib);
	case OPT_VCPUS: return number(v, 1, 32, "--vcpus", &c->o.vcpus);
	case OPT_TIMEOUT: return number(v, 1, 3600000, "--timeout", &c->o.timeout_ms);
	case OPT_BOOT_TIMEOUT:
		return number(v, 1, 3600000, "--boot-timeout", &c->o.boot_timeout_ms);
	case OPT_BACKEND: return backend_opt(c, v);
	case OPT_NO_PREFETCH: c->o.prefetch = false; return 0;
	case OPT_NO_SECCOMP: c->o.seccomp = false; return 0;
	case OPT_NO_POOL: c->o.pool = false; return 0;
	case OPT_TIMINGS: c->o.timings = true; return 0;
	case OPT_NAME: c->name = v; return 0;
	case OPT_WARMUP: c->warmup = v; return 0;
	case OPT_IMAGE: c->image = v; return 0;
	case OPT_HANDLER: c->handler = v; return 0;
	case OPT_HTTP: return number(v, 1, 65535, "--http", &c->http_port);
	case OPT_REUSE: return number(v, 1, 1000000, "--reuse", &c->reuse);
	case OPT_LISTEN: c->listen = v; return 0;
	case OPT_MAX_VMS: return number(v, 1, 1024, "--max-vms", &c->max_vms);
	case OPT_QUEUE: return number(v, 0, 65536, "--queue", &c->queue);
	case 'h': usage(stdout); exit(0);
	default: return -1;
	}
}

static int parse(struct cli *c, int argc, char **argv)
{
	int opt;

	fn_opts_defaults(&c->o, argv[0]);
	c->max_vms = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	c->queue = 64;
	c->reuse = 1;
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			exit(0);
		}
		return -1;
	}
	c->cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1)
		if (one_opt(c, opt, optarg) < 0)
			return -1;
	if (optind < argc)
		c->arg = argv[optind++];
	return optind == argc ? 0 : -1;
}

static int read_stdin(char **data, size_t *len)
{
	size_t cap = 65536;

	*len = 0;
	*data = malloc(cap);
	while (*data) {
		size_t n = fread(*data + *len, 1, cap - *len, stdin);

		*len += n;
		if (n == 0)
			return ferror(stdin) ? -1 : 0;
		if (*len == cap && cap >= AGENT_DATA_MAX)
			return -1;
		if (*len == cap)
			*data = realloc(*data, cap *= 2);
	}
	return -1;
}

static void write_out(FILE *f, const char *p, size_t len)
{
	if (len && fwrite(p, 1, len, f) != len)
		perror("ember-fn: write");
	fflush(f);
}

/* An HTTP function: POST / with the payload; its body on stdout. */
static int invoke_http(struct fn_clone *clone, const char *in, size_t len, struct ember_err *err)
{
	struct fn_http_req req = { .method = "POST", .target = "/", .body = in, .body_len = len };
	struct agent_result log = { 0 };
	struct ember_err log_err = { 0 };
	struct fn_http_resp resp;
	int ret;

	if (fn_http_resp_init(&resp, false) < 0)
		return err_set(err, ENOMEM, "out of memory");
	ret = fn_clone_http(clone, &req, &resp, err);
	if (ret < 0 && err->code == EPIPE && !fn_clone_http_log(clone, &log, &log_err)) {
		fprintf(stderr, "ember-fn: %s; the function's output:\n", resp.error);
		write_out(stderr, log.out, log.out_len);
		ret = 1;
	} else if (!ret) {
		write_out(stdout, resp.body, resp.body_len);
		if (resp.status >= 400)
			fprintf(stderr, "ember-fn: the function answered %d %s\n", resp.status,
				resp.reason);
		ret = resp.status >= 400;
	}
	agent_result_free(&log);
	fn_http_resp_free(&resp);
	return ret;
}

static int invoke_run(struct fn_clone *clone, const char *in, size_t len, struct ember_err *err)
{
	struct agent_result res = { 0 };
	int ret = fn_clone_run(clone, in, len, &res, err);

	if (ret < 0)
		return ret;
	write_out(stdout, res.out, res.out_len);
	write_out(stderr, res.err, res.err_len);
	ret = res.status;
	agent_result_free(&res);
	return ret;
}

static int invoke(struct cli *c)
{
	struct ember_err err = { 0 };
	struct fn_snapshot snap;
	struct fn_clone clone = { 0 };
	size_t len;
	char *in = NULL;
	int ret;

	if (read_stdin(&in, &len) < 0) {
		fprintf(stderr, "ember-fn: cannot read the payload (at most 64 MiB) from stdin\n");
		free(in);
		return EXIT_OWN;
	}
	ret = fn_store_lookup(c->o.store, c->arg, &snap, &err);
	if (!ret)
		ret = fn_clone_start(&clone, &c->o, &snap, &err);
	if (!ret)
		ret = snap.http_port ? invoke_http(&clone, in, len, &err)
				     : invoke_run(&clone, in, len, &err);
	if (c->o.timings && clone.t0)
		fn_clone_ember_times(&clone);
	if (clone.t0) /* started, if only in part */
		fn_clone_destroy(&clone);
	free(in);
	if (ret < 0) {
		fprintf(stderr, "ember-fn: %s\n", err.msg);
		return EXIT_OWN;
	}
	if (c->o.timings)
		fn_timing_print(&clone);
	return ret;
}

static int prepare(struct cli *c)
{
	struct ember_err err = { 0 };
	struct fn_source from = { .image = c->image,
				  .handler = c->handler,
				  .http_port = c->http_port };
	char src[PATH_MAX], base[PATH_MAX], name[FN_NAME_MAX + 1];
	const char *fn_name = c->name;

	if (c->image && !fn_name) {
		if (fn_image_default_name(c->image, name, sizeof(name), &err) < 0)
			goto fail;
		fn_name = name;
	} else if (!c->image) {
		if (!realpath(c->arg, src)) {
			fprintf(stderr, "ember-fn: %s: %s\n", c->arg, strerror(errno));
			return EXIT_OWN;
		}
		snprintf(base, sizeof(base), "%s", src);
		from.dir = src;
		fn_name = fn_name ? fn_name : basename(base);
	}
	if (fn_prepare(&c->o, &from, fn_name, c->warmup, &err) == 0)
		return 0;
fail:
	fprintf(stderr, "ember-fn: %s\n", err.msg);
	return EXIT_OWN;
}

static int serve(struct cli *c)
{
	struct ember_err err = { 0 };

	if (!c->listen) {
		fprintf(stderr, "ember-fn: serve needs --listen HOST:PORT or a socket path\n");
		return 2;
	}
	if (fn_serve(&c->o, c->listen, c->max_vms, c->queue, c->reuse, &err) < 0) {
		fprintf(stderr, "ember-fn: %s\n", err.msg);
		return EXIT_OWN;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };

	signal(SIGPIPE, SIG_IGN);
	if (parse(&c, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(c.cmd, "prepare") && !c.arg != !c.image && (!c.handler || c.image))
		return prepare(&c);
	if (!strcmp(c.cmd, "invoke") && c.arg)
		return invoke(&c);
	if (!strcmp(c.cmd, "serve") && !c.arg)
		return serve(&c);
	usage(stderr);
	return 2;
}
