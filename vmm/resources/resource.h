/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control plane's resources, one unit each (as Firecracker's
 * vmm_config/): its body's fields and checks, how it is applied to the
 * instance, and how GET /vm/config shows it. One table (res_table) serves
 * the API's routes (api/routes.c), the config file and snapshot loads
 * (res_load_config) and the dump (res_dump_config).
 *
 * A request runs in Firecracker's order: the body is parsed (serde's
 * messages), then the state is checked (pre- or post-boot), then it is
 * applied (the resource's own messages).
 */
#ifndef EMBER_RESOURCE_H
#define EMBER_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

struct instance;
struct res_call;

enum res_verb { RES_GET, RES_PUT, RES_PATCH, RES_DELETE, RES_NR_VERBS };

#define RES_PRE  0x1 /* before InstanceStart (or a snapshot load) */
#define RES_POST 0x2 /* after it */

/* --- bodies, checked as serde_json would check them (body.c) ---------- */

enum field_type {
	FT_STRING,
	FT_BOOL,
	FT_U8,
	FT_U16,
	FT_U32,
	FT_U64,
	FT_USIZE,
	FT_I32,
	FT_OBJECT, /* `sub` are its fields */
	FT_ARRAY,  /* of `item`; objects of `sub` */
	FT_ENUM,   /* a string among `variants` */
	FT_ANY,    /* checked by the resource itself */
};

#define F_REQUIRED 0x1 /* serde: a field with neither Option nor default */
#define F_NULLABLE 0x2 /* serde: Option<T>, null is "absent" */
#define F_OPEN     0x4 /* FT_OBJECT: unknown fields are ignored, not refused */

struct field {
	const char *name;
	enum field_type type;
	unsigned flags;
	const struct field *sub;     /* FT_OBJECT, FT_ARRAY of objects: NULL-name-terminated */
	enum field_type item;        /* FT_ARRAY */
	const char *const *variants; /* FT_ENUM: NULL-terminated */
	const char *what;            /* serde's name of the type: "struct TokenBucketConfig" */
};

/* One step into a JSON document: an object's key, or (key NULL) an index. */
struct body_step {
	const char *key;
	size_t index;
};

#define BODY_MAX_DEPTH 8

/* A JSON value being read, the text it came from (for "at line L column
 * C"), and where it sits in that text. */
struct body {
	const char *text; /* NULL: no positions */
	json_t *value;
	struct body_step path[BODY_MAX_DEPTH];
	int depth;
};

/* Parse a request body or a file: jansson, duplicate keys refused. The
 * message is serde's kind ("EOF while parsing a value at line 1 column 0").
 * Every body error has code EBADMSG: the API adds Firecracker's "An error
 * occurred when deserializing the json body of a request: ..." to them. */
json_t *body_parse(const char *text, struct ember_err *err);
/* Check value against fields: unknown fields (unless flags has F_OPEN),
 * types, enum variants, missing required fields, in document order. */
int body_check(const struct body *b, const struct field *fields, const char *what, unsigned flags,
	       struct ember_err *err);
/* A message of serde's kind at a path's position (e.g. a custom check). */
int body_error(const struct body *b, const char *key, struct ember_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A sub-body: key (or index when key is NULL) of b. */
void body_enter(struct body *sub, const struct body *b, const char *key, size_t index);

/* Getters for a checked object: absent and null both give the default. */
const char *body_str(json_t *o, const char *key);
bool body_bool(json_t *o, const char *key, bool dflt);
uint64_t body_u64(json_t *o, const char *key, uint64_t dflt);
int body_enum(json_t *o, const char *key, const char *const *variants, int dflt);
bool body_has(json_t *o, const char *key);
/* strdup that reports ENOMEM; NULL in, NULL out. */
int body_dup(const char *s, char **out, struct ember_err *err);

/* --- rate limiters, shared by drives, interfaces, entropy, serial ------- */

extern const struct field res_bucket_fields[];
extern const struct field res_limiter_fields[];
/* A body's optional RateLimiter field. */
#define RES_LIMITER_FIELD(n)                                                                    \
	{                                                                                       \
		.name = (n), .type = FT_OBJECT, .flags = F_NULLABLE, .sub = res_limiter_fields, \
		.what = "struct RateLimiterConfig"                                              \
	}
void res_get_bucket(json_t *o, struct config_bucket *b);
void res_get_limiter(json_t *o, struct config_rate_limiter *rl);
json_t *res_dump_bucket(const struct config_bucket *b);
json_t *res_dump_limiter(const struct config_rate_limiter *rl);

/* "No such file or directory (os error 2)": Rust's io::Error, as
 * Firecracker's messages quote it. */
const char *res_os_error(int errnum, char *buf, size_t size);
/* Whether id is 1 to 64 letters, digits and '_' (Firecracker's ids). */
bool res_id_valid(const char *id);
/* Hot-plug after boot (PUT or DELETE of a device): Firecracker needs PCI,
 * which ember does not have. */
int res_no_hotplug(struct instance *in, struct res_call *c, struct ember_err *err);
/* 200 with body as compact JSON; takes the reference (NULL: ENOMEM). */
int res_reply(struct res_call *c, json_t *body, struct ember_err *err);
/* What Firecracker always shows as null in GET /vm/config. */
json_t *res_dump_null(const struct instance *in);

/* --- one request ---------------------------------------------------------- */

struct res_call {
	const struct res_def *res;
	enum res_verb verb;
	const char *id;        /* the path's {id} (or action), or NULL */
	struct body body;      /* the parsed request body (value NULL without one) */
	struct vm_config *cfg; /* what PUTs change: the instance's, or a load's */
	bool restoring;        /* a snapshot's configuration: the host is not asked */
	bool ext;              /* --ember-extensions: ember's own fields are taken */
	void *args;            /* what the op's parse made of the body */
	void (*free_args)(void *args);
	/* The answer: 204, or 200 with reply (malloc'ed JSON). */
	int status;
	char *reply;
	bool deprecated; /* "Deprecation: true", and the message logged */
};

struct res_op {
	unsigned when;  /* RES_PRE | RES_POST; 0: no such operation */
	bool boot_path; /* a configuration for booting: no snapshot load after it */
	/* The body into c->args (or only checked); NULL: no body checks. */
	int (*parse)(struct res_call *c, struct ember_err *err);
	int (*apply)(struct instance *in, struct res_call *c, struct ember_err *err);
};

struct res_def {
	const char *path;   /* the API path's first segment: "drives"; NULL: none */
	const char *sub;    /* a fixed second segment: "config" in /vm/config */
	bool has_id;        /* /drives/{id} */
	bool has_action;    /* /balloon/hinting/{action}: the action in the call's id */
	bool patch_no_body; /* its PATCH may come without a body */
	const char *metric; /* put_api_requests.<metric>_count */
	struct res_op ops[RES_NR_VERBS];
	/* The config file's and GET /vm/config's key, or NULL. */
	const char *key;
	/* The process's (logger, metrics), not the VM's: a snapshot's
	 * configuration never sets it. */
	bool process;
	/* File sections that are arrays of PUT bodies: the field naming each
	 * one's id ("drive_id"); NULL: the section is one PUT body. */
	const char *file_id;
	/* A file section, when not simply PUT (cpu-config may name a file). */
	int (*file)(struct instance *in, struct res_call *c, struct ember_err *err);
	json_t *(*dump)(const struct instance *in);
};

/* Every resource, in the order a config file's sections are applied. */
extern const struct res_def *const res_table[];
extern const unsigned res_count;
/* The index of a resource in res_table (for per-resource counters). */
unsigned res_index(const struct res_def *d);
/* The resource at /first[/second]; with has_id, second is its id. */
const struct res_def *res_find(const char *first, const char *second);

/* Run one call: parse, state check, apply (api/routes.c and the tests). */
int res_call_run(struct instance *in, struct res_call *c, struct ember_err *err);
void res_call_free(struct res_call *c);
/* Apply a config file's (or snapshot's) JSON text: each section as its PUT. */
int res_load_config(struct instance *in, struct vm_config *cfg, const char *text, bool restoring,
		    struct ember_err *err);
/* GET /vm/config: malloc'ed JSON text, or NULL when out of memory. */
char *res_dump_config(const struct instance *in);

/* The resources (one file each). */
extern const struct res_def res_actions, res_boot_source, res_cpu_config, res_drives, res_entropy,
    res_instance_info, res_logger, res_machine_config, res_metrics, res_network_interfaces,
    res_serial, res_snapshot_create, res_snapshot_load, res_version, res_vm_config, res_vm_state,
    res_vsock, res_balloon, res_balloon_statistics, res_balloon_hinting, res_mmds, res_mmds_config,
    res_pmem, res_memory_hotplug;

#endif
