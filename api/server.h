/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server: HTTP/1.1 on a Unix socket, served by its own thread with
 * its own epoll set. Each complete request goes to the handler, one at a
 * time and in order; the handler may block (it hands the request to the
 * VMM thread and waits for the answer).
 */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"

#define API_MAX_CLIENTS 64
#define API_PATH_MAX    108 /* sun_path */

struct api_reply {
	int status;
	char *body;      /* malloc'ed JSON, or NULL */
	bool deprecated; /* answer with "Deprecation: true", as Firecracker */
};

typedef void (*api_handler)(void *ctx, const struct http_request *req, struct api_reply *reply);

struct api_client;
struct seccomp_filters;

struct api_server_config {
	const char *path; /* must not exist yet */
	size_t body_max;
	api_handler handle;
	void *ctx;
	const struct seccomp_filters *seccomp; /* the thread's filter; NULL: none */
};

struct api_server {
	int listen_fd, epfd, stop_fd;
	pthread_t thread;
	bool started;
	size_t body_max;
	api_handler handle;
	void *ctx;
	char path[API_PATH_MAX];
	struct api_client *clients;
	unsigned nr_clients;
	unsigned long requests; /* served, for metrics */
	const struct seccomp_filters *seccomp;
	sem_t ready; /* the thread has its filter (or failed: ready_ret) */
	int ready_ret;
	struct ember_err ready_err;
};

/* Listen on c->path and start the server's thread, which installs its
 * seccomp filter before it serves anything. */
int api_server_start(struct api_server *s, const struct api_server_config *c,
		     struct ember_err *err);
/* Stop the thread, close every connection and remove the socket. */
void api_server_stop(struct api_server *s);

#endif
