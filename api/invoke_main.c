// SPDX-License-Identifier: Apache-2.0
/*
 * ember-invoke: run a function in a guest through its agent.
 *   ember-invoke --uds PATH --fn NAME [--port N] [--wait MS] < payload
 *   ember-invoke --uds PATH --stop [--wait MS]
 * The function's stdout and stderr are written to ours and its exit status
 * is ours; ember-invoke's own failures exit 125.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_client.h"

#define EXIT_INVOKE 125

struct opts {
	const char *uds;
	const char *fn;
	unsigned port;
	unsigned wait_ms;
	int stop;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ember-invoke --uds PATH --fn NAME [--port N] [--wait MS] < payload\n"
		   "       ember-invoke --uds PATH --stop [--wait MS]\n");
}

/* 0, 1 for --help, -1 for a bad command line. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "uds", required_argument, NULL, 'u' },
		{ "fn", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "stop", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .port = AGENT_PORT, .wait_ms = 0 };
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'u': o->uds = optarg; break;
		case 'f': o->fn = optarg; break;
		case 'p': o->port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': o->wait_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o->stop = 1; break;
		case 'h': return 1;
		default: return -1;
		}
	}
	if (!o->uds || (!o->fn == !o->stop) || optind != argc)
		return -1;
	return 0;
}

static int read_stdin(char **buf, size_t *len, struct ember_err *err)
{
	size_t cap = 65536;
	ssize_t n;

	*len = 0;
	*buf = malloc(cap);
	while (*buf && (n = read(0, *buf + *len, cap - *len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(err, "reading the payload");
		*len += (size_t)n;
		if (*len > AGENT_DATA_MAX)
			return err_set(err, EFBIG, "the payload is larger than 64 MiB");
		if (*len == cap) {
			char *bigger = realloc(*buf, cap * 2);

			if (!bigger)
				return err_set(err, ENOMEM, "out of memory");
			*buf = bigger;
			cap *= 2;
		}
	}
	return *buf ? 0 : err_set(err, ENOMEM, "out of memory");
}

static int invoke(struct agent_conn *c, const char *fn, struct ember_err *err)
{
	struct agent_result res;
	char *in = NULL;
	size_t len = 0;
	int ret = read_stdin(&in, &len, err);

	if (!ret)
		ret = agent_invoke(c, fn, in, len, &res, err);
	free(in);
	if (ret)
		return ret;
	fwrite(res.out, 1, res.out_len, stdout);
	fwrite(res.err, 1, res.err_len, stderr);
	fflush(stdout);
	ret = res.status;
	agent_result_free(&res);
	return ret;
}

int main(int argc, char **argv)
{
	struct ember_err err = { 0 };
	struct agent_conn c;
	struct opts o;
	int ret;

	ret = parse(argc, argv, &o);
	if (ret) {
		usage(ret > 0 ? stdout : stderr);
		return ret > 0 ? 0 : 2;
	}
	if (agent_connect(&c, o.uds, o.port, o.wait_ms, &err) < 0) {
		fprintf(stderr, "ember-invoke: %s\n", err.msg);
		return EXIT_INVOKE;
	}
	ret = o.stop ? agent_stop(&c, &err) : invoke(&c, o.fn, &err);
	agent_close(&c);
	if (ret < 0) {
		fprintf(stderr, "ember-invoke: %s\n", err.msg);
		return EXIT_INVOKE;
	}
	return ret;
}
