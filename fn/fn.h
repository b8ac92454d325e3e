/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-fn: functions prepared once into a snapshot, then one fresh VM
 * cloned from that snapshot per request (prepare, invoke, serve). Each VM
 * is its own ember process, driven through ember's REST API; see
 * fn/README.md.
 */
#ifndef EMBER_FN_H
#define EMBER_FN_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_client.h"
#include "ember_proc.h"
#include "err.h"
#include "pager.h"

#define FN_NAME_MAX 64
#define FN_RUN_MAX  96 /* a clone's runtime directory: sockets must fit sun_path */

enum fn_backend { FN_BACKEND_FILE, FN_BACKEND_UFFD };

struct fn_http_req;
struct fn_http_resp;

struct fn_opts {
	char ember[PATH_MAX];  /* the ember binary */
	char kernel[PATH_MAX]; /* guest kernel and initramfs, for prepare */
	char initrd[PATH_MAX];
	char store[PATH_MAX];  /* the function store */
	char rundir[PATH_MAX]; /* where clones' sockets live */
	unsigned mem_mib, vcpus;
	unsigned timeout_ms;      /* one invocation, restore included */
	unsigned boot_timeout_ms; /* prepare: boot to the agent listening */
	enum fn_backend backend;
	bool prefetch; /* REAP: record, then prefetch the working set */
	bool seccomp;
	bool timings; /* print each clone's timings (JSON) on stderr */
	bool pool;    /* serve: each worker keeps a spare ember spawned ahead */
};

/* One prepared function: the files of its current snapshot. */
struct fn_snapshot {
	char name[FN_NAME_MAX + 1];
	char dir[PATH_MAX]; /* the generation directory */
	char state[PATH_MAX], mem[PATH_MAX], ws[PATH_MAX];
	uint64_t mem_size;
	unsigned http_port; /* an HTTP function's port in the guest; 0: stdin and stdout */
};

/* What one request's VM took, in microseconds from the clone's start. */
struct fn_timing {
	/* from the clock's start (the request, or ember's spawn) in us; connect:
	 * the agent's handshake done over vsock, the request not yet sent */
	uint64_t api_ready, load, prefetch, connect, answer, total;
	uint64_t prefetched_pages;
	const char *mode; /* "File", "Uffd", "Uffd+record", "Uffd+prefetch", ... */
	bool pooled;      /* restored in a spare ember spawned ahead (serve) */
	/* ember's own account of the load (GET /'s latencies_us, "load_"
	 * dropped from its phases' names), as JSON text; "" if none */
	char ember[1024];
};

struct fn_clone {
	char dir[FN_RUN_MAX]; /* runtime directory: api.sock, v.sock, uffd.sock, ember.log */
	pid_t pid;
	const struct fn_snapshot *snap;
	const struct fn_opts *opts;
	uint64_t t0;
	struct fn_timing t;
	/* the Uffd backend: a page server thread for this VM */
	bool pager_on, record, pager_started, answered;
	/* the request went to the agent: a failure after this is the
	 * function's business, before it the clone's (serve may retry) */
	bool delivered;
	int pager_listen, stop_fd;
	uint32_t *ws_pages;
	size_t ws_n;
	struct pager_memfile memfile;
	struct pager_vm vm;
	uint8_t *touched; /* record: a bit per page of the memory file */
	int pager_ret;
	struct ember_err pager_err;
	uint64_t pager_thread; /* pthread_t */
};

/* opts.c */
void fn_opts_defaults(struct fn_opts *o, const char *argv0);
uint64_t fn_now_us(void);

/* store.c */
int fn_store_check_name(const char *name, struct ember_err *err);
/* -ENOENT (message naming the store) when no such function is prepared. */
int fn_store_lookup(const char *store, const char *name, struct fn_snapshot *s,
		    struct ember_err *err);
/* A new, empty generation directory for `name`. */
int fn_store_new_generation(const char *store, const char *name, char *dir, size_t size,
			    struct ember_err *err);
/* Make `dir` the function's current snapshot; older generations go. */
int fn_store_publish(const char *store, const char *name, const char *dir, struct ember_err *err);
int fn_rm_rf(const char *path);

/* clone.c: one request's VM. fn_clone_start is fn_clone_spawn (an ember
 * process, its API up, nothing configured) then fn_clone_restore; serve
 * spawns spares ahead so a request only restores. */
int fn_clone_spawn(struct fn_clone *c, const struct fn_opts *o, struct ember_err *err);
int fn_clone_restore(struct fn_clone *c, const struct fn_snapshot *s, struct ember_err *err);
int fn_clone_start(struct fn_clone *c, const struct fn_opts *o, const struct fn_snapshot *s,
		   struct ember_err *err);
/* serve --reuse: the clock and timings restart for the clone's next request. */
void fn_clone_again(struct fn_clone *c);
int fn_clone_run(struct fn_clone *c, const void *in, size_t len, struct agent_result *res,
		 struct ember_err *err);
/* An HTTP function's request; on a broken answer, fn_clone_http_log. */
int fn_clone_http(struct fn_clone *c, const struct fn_http_req *req, struct fn_http_resp *resp,
		  struct ember_err *err);
/* The function's server's output so far (res->out). */
int fn_clone_http_log(struct fn_clone *c, struct agent_result *res, struct ember_err *err);
void fn_clone_destroy(struct fn_clone *c);
/* Ask the clone's ember where its load's time went (for --timings). */
void fn_clone_ember_times(struct fn_clone *c);
void fn_timing_print(const struct fn_clone *c);

/* reap.c: the clone's page server (Uffd backend, REAP). */
int fn_pager_start(struct fn_clone *c, struct ember_err *err);
void fn_pager_stop(struct fn_clone *c);

/* image.c: a function's root from a container image (skopeo, umoci). The
 * handler's spec (args, env, cwd, uid, gid) goes in the root as
 * FN_IMAGE_SPEC, where the guest agent looks for it. */
#define FN_IMAGE_SPEC ".ember-fn.json"
int fn_image_check_ref(const char *ref, struct ember_err *err);
int fn_image_default_name(const char *ref, char *name, size_t size, struct ember_err *err);
/* Whether the image in an OCI layout has an Entrypoint or a Cmd. */
int fn_image_has_command(const char *layout, bool *has, struct ember_err *err);
/* The handler from an unpacked bundle's config.json (`image_cmd`: the image
 * has a command), or `handler` (run by the image's /bin/sh -c) instead. */
int fn_image_handler(const char *config_path, bool image_cmd, const char *handler, json_t **spec,
		     struct ember_err *err);
/* Unpack `ref` under `work` (created); `root` gets the root's path. */
int fn_image_unpack(const char *ref, const char *handler, const char *work, char *root, size_t size,
		    struct ember_err *err);

/* http_fn.c: HTTP functions. A request as serve got it, for the server. */
#define FN_HTTP_HEAD_MAX (64u << 10)
#define FN_HTTP_BODY_MAX (64u << 20)
struct fn_http_req {
	const char *method, *target; /* "POST", "/path?query" */
	const char *headers;         /* "Name: value\r\n" lines, as the client sent them */
	size_t headers_len;
	const char *body;
	size_t body_len;
};
/* The function's answer: status, its headers as lines, its body. */
struct fn_http_resp {
	int status;
	char reason[64];
	char *head, *body;
	size_t head_len, body_len;
	bool complete, head_request;
	char error[160];
	/* the parser's */
	void *parser;
	size_t head_cap, body_cap;
	bool in_value;
};
/* Copy `lines` without hop-by-hop fields (and Content-Length, unless
 * keep_length) into out (as large as len): the length copied. */
size_t fn_http_copy_headers(char *out, const char *lines, size_t len, bool keep_length);
/* The request for the server: a malloc'ed buffer. */
int fn_http_build(const struct fn_http_req *r, char **out, size_t *len, struct ember_err *err);
int fn_http_resp_init(struct fn_http_resp *r, bool head_request);
/* 1 once the answer is whole, 0 for more, -EPROTO (r->error says why);
 * len 0 is the end of the stream: -EPIPE if the answer is not whole. */
int fn_http_resp_feed(struct fn_http_resp *r, const char *data, size_t len);
void fn_http_resp_free(struct fn_http_resp *r);
/* Send the request on fd and read the answer into r (initialised). */
int fn_http_exchange(int fd, const char *req, size_t req_len, struct fn_http_resp *r,
		     struct ember_err *err);

/* prepare.c, invoke in main.c, serve.c. A function's source: a directory
 * with its handler, or a container image. */
struct fn_source {
	const char *dir;
	const char *image, *handler;
	unsigned http_port; /* --http: the function is a server on this port */
};
int fn_prepare(const struct fn_opts *o, const struct fn_source *src, const char *name,
	       const char *warmup_path, struct ember_err *err);
/* reuse: requests one clone serves, one after another (1: a fresh VM each). */
int fn_serve(const struct fn_opts *o, const char *listen_addr, unsigned max_vms, unsigned queue,
	     unsigned reuse, struct ember_err *err);

#endif
