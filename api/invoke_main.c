// SPDX-License-Identifier: Apache-2.0
/*
 * ember-invoke: run a function in a guest through its agent.
 *   ember-invoke --uds PATH --fn NAME [--port N] [--wait MS] < payload
 *   ember-invoke --uds PATH --stop [--wait MS]
 *   ember-invoke --uds PATH --http-start PORT [--start-timeout MS] [--wait MS]
 *   ember-invoke --uds PATH --proxy PORT [--wait MS] < request
 * The function's stdout and stderr are written to ours and its exit status
 * is ours; ember-invoke's own failures exit 125. --http-start starts an
 * HTTP function's server (ember-fn prepare --http) and exits 0 once it
 * accepts on PORT, else with its status and its output on stderr; --proxy
 * sends stdin to the guest's 127.0.0.1:PORT as it is, half-closes, and
 * copies what comes back to stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_client.h"

#define EXIT_INVOKE 125

struct opts {
	const char *uds;
	const char *fn;
	unsigned port;
	unsigned wait_ms;
	int stop;
	unsigned http_start, proxy, start_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ember-invoke --uds PATH --fn NAME [--port N] [--wait MS] < payload\n"
		   "       ember-invoke --uds PATH --stop [--wait MS]\n"
		   "       ember-invoke --uds PATH --http-start PORT [--start-timeout MS] [--wait "
		   "MS]\n"
		   "       ember-invoke --uds PATH --proxy PORT [--wait MS] < request\n");
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
		{ "http-start", required_argument, NULL, 'H' },
		{ "start-timeout", required_argument, NULL, 'T' },
		{ "proxy", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .port = AGENT_PORT, .wait_ms = 0, .start_ms = 30000 };
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'u': o->uds = optarg; break;
		case 'f': o->fn = optarg; break;
		case 'p': o->port = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': o->wait_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o->stop = 1; break;
		case 'H': o->http_start = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'T': o->start_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'P': o->proxy = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': return 1;
		default: return -1;
		}
	}
	if (!o->uds || optind != argc || (!!o->fn + o->stop + !!o->http_start + !!o->proxy) != 1)
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

static int http_start(struct agent_conn *c, const struct opts *o, struct ember_err *err)
{
	struct agent_result res;
	int ret = agent_set_timeout(c, o->start_ms + 10000, err);

	if (!ret)
		ret = agent_http_start(c, o->http_start, o->start_ms, &res, err);
	if (ret)
		return ret;
	fwrite(res.out, 1, res.out_len, stderr);
	ret = res.status;
	agent_result_free(&res);
	return ret;
}

static int proxy(struct agent_conn *c, unsigned port, struct ember_err *err)
{
	char *in = NULL, buf[65536];
	size_t len = 0;
	ssize_t n;
	int ret = agent_proxy(c, port, err);

	if (!ret)
		ret = read_stdin(&in, &len, err);
	if (!ret && agent_write_all(c->fd, in, len) < 0)
		ret = err_errno(err, "sending the request");
	free(in);
	if (ret)
		return ret;
	shutdown(c->fd, SHUT_WR);
	agent_set_timeout(c, 0, err); /* as long as the server takes */
	while ((n = read(c->fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(err, "reading the answer");
		fwrite(buf, 1, (size_t)n, stdout);
	}
	fflush(stdout);
	return 0;
}

static int run(struct agent_conn *c, const struct opts *o, struct ember_err *err)
{
	if (o->stop)
		return agent_stop(c, err);
	if (o->http_start)
		return http_start(c, o, err);
	if (o->proxy)
		return proxy(c, o->proxy, err);
	return invoke(c, o->fn, err);
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
	ret = run(&c, &o, &err);
	agent_close(&c);
	if (ret < 0) {
		fprintf(stderr, "ember-invoke: %s\n", err.msg);
		return EXIT_INVOKE;
	}
	return ret;
}
