/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-side client of the guest agent (rootfs/agent.c, protocol in
 * rootfs/README.md), through ember's vsock Unix socket and its
 * "CONNECT <port>" handshake. Used by ember-invoke and the FaaS runner.
 */
#ifndef EMBER_AGENT_CLIENT_H
#define EMBER_AGENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AGENT_PORT     1024
#define AGENT_DATA_MAX (64u << 20)

struct agent_conn {
	int fd;
	uint32_t local_port; /* from ember's "OK <port>" */
};

struct agent_result {
	int status; /* the function's exit status, 128 + signal if killed */
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
};

/* Connect to the agent behind `uds` (ember's vsock uds_path), retrying for
 * up to wait_ms while the guest is not listening yet. */
int agent_connect(struct agent_conn *c, const char *uds, unsigned port, unsigned wait_ms,
		  struct ember_err *err);
/* Fail a request whose answer has not come within timeout_ms (ETIMEDOUT). */
int agent_set_timeout(struct agent_conn *c, unsigned timeout_ms, struct ember_err *err);
/* Run /fn/<fn> in the guest with `in` on its stdin. */
int agent_invoke(struct agent_conn *c, const char *fn, const void *in, size_t in_len,
		 struct agent_result *res, struct ember_err *err);
/* An HTTP function's server (ember-fn --http): start it and wait up to
 * timeout_ms for 127.0.0.1:port to accept (res->status 0; otherwise its
 * exit status, 124 for the time, and res->out its output). */
int agent_http_start(struct agent_conn *c, unsigned port, unsigned timeout_ms,
		     struct agent_result *res, struct ember_err *err);
/* The server's output so far in res->out; res->status 0 while it runs. */
int agent_http_log(struct agent_conn *c, struct agent_result *res, struct ember_err *err);
/* From here on the connection is a byte pipe to the guest's 127.0.0.1:port. */
int agent_proxy(struct agent_conn *c, unsigned port, struct ember_err *err);
/* Ask the agent to stop: the guest then powers off and ember exits. */
int agent_stop(struct agent_conn *c, struct ember_err *err);
void agent_result_free(struct agent_result *res);
void agent_close(struct agent_conn *c);

/* Write all of p to fd (a socket, a pipe); -1 with errno on an error. */
int agent_write_all(int fd, const void *p, size_t len);

#endif
