/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-oci: an OCI runtime with runc's command line that runs each
 * container in its own ember microVM. A `create` leaves a monitor process
 * (the pid engines wait on) that runs the VM, relays the container's stdio
 * and signals over the guest agent's container protocol
 * (rootfs/ctr_proto.h), and exits with the container's status. Later
 * commands find the container through its state directory under --root.
 */
#ifndef EMBER_OCI_H
#define EMBER_OCI_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../rootfs/ctr_proto.h"
#include "err.h"

#define OCI_VERSION      "1.0.2-dev" /* the runtime-spec version we follow */
#define OCI_DEFAULT_ROOT "/run/ember-oci"
#define OCI_ID_MAX       128
#define OCI_SOCK_MAX     100 /* a state directory path, so sockets fit sun_path */

/* The global flags (runc's, and ember's own for engines' runtime flags). */
struct oci_globals {
	char root[PATH_MAX];
	char log[PATH_MAX];
	bool log_json;
	bool systemd_cgroup;
	bool debug;
	/* ember: where its pieces are (defaults beside the binary) */
	char ember[PATH_MAX];
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char templates[PATH_MAX];
	bool boot; /* boot each VM instead of restoring a template */
	const char *argv0;
};

/* ---- log.c: runc's error lines (text or JSON) to --log and stderr ---- */
void oci_log_init(const struct oci_globals *g);
/* The one error a failed command reports: to --log and to stderr. */
void oci_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void oci_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The JSON or text form of one log line (for tests): malloc'ed. */
char *oci_log_format(bool json, const char *level, const char *msg, const char *when);

/* ---- cli.c: runc-style flags ---- */
enum oci_arg { OCI_FLAG_BOOL, OCI_FLAG_STRING, OCI_FLAG_LIST };
struct oci_flag {
	const char *name; /* long name */
	char short_name;  /* 0: none */
	enum oci_arg kind;
	void *value; /* bool *, const char **, or struct oci_list * */
};
struct oci_list {
	const char *item[64];
	unsigned n;
};
/* Parse argv against `flags` (either "--name value", "--name=value",
 * "-name" or "-n value"); what is not a flag goes to pos (in order). A
 * "--" ends the flags. Unknown flags and missing values are errors with
 * urfave/cli's wording, as runc prints them. */
int oci_parse_flags(int argc, char **argv, const struct oci_flag *flags, const char **pos,
		    int pos_max, int *npos, struct ember_err *err);
/* The flags before the first argument only, whose index goes to *first
 * (argc if none): what follows belongs to it (ember-oci [global flags]
 * COMMAND ..., exec ID COMMAND ARGS...). */
int oci_parse_flags_head(int argc, char **argv, const struct oci_flag *flags, int *first,
			 struct ember_err *err);
/* A signal by number or name, with or without "SIG": 0 or -EINVAL. */
int oci_parse_signal(const char *s, int *sig);
bool oci_valid_id(const char *id);

/* ---- spec.c: the bundle's config.json ---- */
struct oci_spec {
	json_t *json; /* the whole config, owned */
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX]; /* root.path, made absolute */
	bool root_readonly;
	json_t *process; /* borrowed from json */
	bool terminal;
	const char *hostname;
	/* linux.namespaces "network": path, or new (a namespace of its own) */
	const char *netns_path;
	bool netns_new;
	const char *cgroups_path;
	int64_t mem_limit;   /* linux.resources.memory.limit, bytes; 0: none */
	int64_t cpu_quota;   /* linux.resources.cpu.quota, us; 0: none */
	uint64_t cpu_period; /* us */
	int64_t pids_limit;  /* linux.resources.pids.limit; 0: none */
	json_t *annotations; /* borrowed, may be NULL */
	json_t *hooks;       /* borrowed, may be NULL */
};
int oci_spec_load(struct oci_spec *s, const char *bundle, struct ember_err *err);
/* The same checks on a config already parsed (tests, fuzzing). */
int oci_spec_parse(struct oci_spec *s, json_t *json, const char *bundle, struct ember_err *err);
void oci_spec_free(struct oci_spec *s);
/* A process object's checks (config's, or exec's --process). */
int oci_process_check(json_t *process, struct ember_err *err);

/* ---- guest.c: the request for the guest agent ---- */
struct oci_vm_shape {
	unsigned vcpus, mem_mib;
};
/* vCPUs and memory from linux.resources and ember's annotations. */
void oci_vm_shape(const struct oci_spec *s, struct oci_vm_shape *out);
/* PROC's JSON: the process, root on `device` of `sectors`, mounts with the
 * files the engine binds inlined, masked and read-only paths, sysctls and
 * `net` (may be NULL). Bind mounts of host directories are refused. */
int oci_guest_request(const struct oci_spec *s, const char *id, const char *device,
		      uint64_t sectors, json_t *net, char **out, struct ember_err *err);
/* EXEC's JSON for `process`. */
int oci_guest_exec_request(const char *id, json_t *process, char **out, struct ember_err *err);

/* ---- state.c: a container's directory under --root ---- */
enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };
struct oci_state {
	char id[OCI_ID_MAX + 1];
	char dir[OCI_SOCK_MAX + 28]; /* checked to hold at most OCI_SOCK_MAX */
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char created[64];
	char cgroup[PATH_MAX]; /* the cgroup directory made for it, or "" */
	char netns[PATH_MAX];  /* the network namespace the monitor joined, or "" */
	char iface[32];        /* its interface joined to the VM's TAP, or "" */
	pid_t pid;             /* the monitor */
	uint64_t pid_start;    /* its start time (/proc/PID/stat), against pid reuse */
	json_t *annotations;   /* owned */
	json_t *hooks;         /* owned: poststop, for delete */
	enum oci_status status;
	int exit_status; /* once stopped, -1 if unknown */
	int lock_fd;
};
/* path = root/id: create it (EEXIST: "container with id exists") or open
 * it (ENOENT: "container does not exist"); both take its lock. */
int oci_state_create(struct oci_state *st, const char *root, const char *id, struct ember_err *err);
int oci_state_open(struct oci_state *st, const char *root, const char *id, struct ember_err *err);
int oci_state_save(const struct oci_state *st, struct ember_err *err);
/* The status now: the monitor's record, whether it still lives, paused. */
void oci_state_refresh(struct oci_state *st);
void oci_state_close(struct oci_state *st);
/* Remove the directory and what it holds. */
void oci_state_remove(struct oci_state *st);
const char *oci_status_name(enum oci_status s);
/* The OCI state JSON (runtime.md "State"). */
json_t *oci_state_json(const struct oci_state *st);
/* The monitor's record of the status: created, running, stopped N. */
int oci_state_mark(const char *dir, const char *status, int exit_status);
uint64_t oci_proc_start(pid_t pid);
int oci_mkdir_p(const char *path, mode_t mode);
/* path of a file in the state directory */
void oci_state_path(const struct oci_state *st, const char *file, char *out, size_t size);

/* ---- ctl.c: the monitor's control socket ---- */
/* One line (its newline cut) from fd, or what came before EOF; -ETIMEDOUT
 * when nothing more comes for timeout_ms. */
int oci_read_line(int fd, char *line, size_t size, int timeout_ms);
/* Send one command line ("START", "KILL 15 0", "STATUS"...) to the
 * monitor and return its answer line (after "OK "), or the error after
 * "ERR " as an error. */
int oci_ctl(const struct oci_state *st, const char *cmd, char *answer, size_t size,
	    unsigned timeout_ms, struct ember_err *err);

/* ---- vm.c: the microVM for a container ---- */
struct oci_vm {
	char dir[OCI_SOCK_MAX + 28]; /* the state directory: api.sock, v.sock, ember.log */
	pid_t pid;                   /* ember */
	struct oci_vm_shape shape;
	bool nic;
};
/* Start ember and bring the guest to its agent: restore the template of
 * this shape (built on first use) or, with --boot, boot it. Then the
 * container's root image becomes its drive. */
int oci_vm_start(struct oci_vm *vm, const struct oci_globals *g, const char *image,
		 struct ember_err *err);
int oci_vm_pause(const char *dir, bool pause, struct ember_err *err);
void oci_vm_stop(struct oci_vm *vm);
/* Build (if missing) the template for g and shape; its directory. */
int oci_template_get(const struct oci_globals *g, const struct oci_vm_shape *shape, bool nic,
		     char *dir, size_t size, struct ember_err *err);

/* ---- cgroup.c: the cgroup the engine names ---- */
/* linux.cgroupsPath as a path relative to each hierarchy ("" for none);
 * systemd's "slice:prefix:name" laid out as systemd does. */
int oci_cgroup_path(const char *cgroups_path, bool systemd, const char *id, char *out, size_t size,
		    struct ember_err *err);
/* Create it (in each hierarchy), apply the CPU quota and pids limit, move
 * `pid` in. */
int oci_cgroup_join(const char *rel, pid_t pid, const struct oci_spec *spec, struct ember_err *err);
void oci_cgroup_remove(const char *rel);

/* ---- net.c: the container's network, joined to the VM ---- */
#define OCI_TAP_NAME "ember0" /* in the container's network namespace */
/* Join the spec's network namespace (or make one); none at all (the
 * host's network) is refused. */
int oci_net_enter(const struct oci_spec *s, struct ember_err *err);
/* In that namespace: its interface (`iface`, "" if only lo) joined to a
 * new TAP by tc redirects, and the guest's `net` (NULL without one). */
int oci_net_setup(json_t **net, char *iface, size_t size, struct ember_err *err);
/* The TAP and the interface's ingress qdisc go. */
void oci_net_teardown(const char *iface);
/* A persistent TAP (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR: what ember opens) in
 * the current network namespace, up, with `mtu` (0: the default). */
int oci_net_tap_create(const char *name, unsigned mtu, struct ember_err *err);
int oci_net_tap_delete(const char *name);

/* ---- monitor.c ---- */
struct oci_monitor_args {
	const struct oci_globals *g;
	struct oci_state *st;
	const struct oci_spec *spec;
	const char *image;          /* the root image, the VM's drive */
	bool nic;                   /* the VM gets a NIC on OCI_TAP_NAME */
	const char *request;        /* the guest's PROC JSON */
	const char *console_socket; /* may be NULL */
	int report_fd;              /* to create: "READY <pid>\n" or "ERR <msg>\n" */
};
/* The container's life; never returns (exits with its status). */
void oci_monitor_main(struct oci_monitor_args *a) __attribute__((noreturn));

/* ---- stream.c: the host's side of a process stream ---- */
struct oci_stream {
	struct ctr_reader rd;
	int conn;        /* to the agent */
	int in_fd;       /* stdin to forward, -1: none */
	int out_fd;      /* stdout (the terminal's, with a tty) */
	int err_fd;      /* stderr, -1 with a tty */
	pid_t guest_pid; /* from READY */
	bool started, exited;
	int status;
	char error[ERR_MSG_MAX]; /* from an ERROR frame */
};
int oci_stream_open(struct oci_stream *s, const char *dir, const char *verb, const char *json,
		    unsigned wait_ms, struct ember_err *err);
int oci_stream_send(struct oci_stream *s, uint8_t type, const void *data, uint32_t len);
int oci_stream_send_u32(struct oci_stream *s, uint8_t type, uint32_t v);
/* Read what the agent sent and act on it (output, exit...): 0 go on,
 * 1 the stream ended, -1 on an error. */
int oci_stream_pump(struct oci_stream *s);
/* Wait for READY (or the error the setup gave). */
int oci_stream_wait_ready(struct oci_stream *s, unsigned timeout_ms, struct ember_err *err);
/* Forward what is on in_fd: 0, or 1 at its end (STDIN_EOF sent). */
int oci_stream_forward_stdin(struct oci_stream *s);
void oci_stream_close(struct oci_stream *s);

/* A process's relay (the monitor's, an exec's): the stream, stdin or the
 * terminal, signals; until the process exits. */
struct oci_relay {
	struct oci_stream *s;
	int sig_fd;      /* from oci_relay_signals() */
	int tty;         /* the terminal's slave we hold, or -1 */
	bool stdin_open; /* in_fd not at its end yet */
	bool forwarding; /* the process runs: stdin and signals go to it */
	int extra_fd;    /* -1, or one more fd to watch (the monitor's control socket) */
	void (*on_extra)(void *ctx);
	/* SIGCHLD, and the signals that come while not forwarding */
	void (*on_signal)(void *ctx, int sig);
	void *ctx;
};
/* Block the signals a relay handles; their signalfd. */
int oci_relay_signals(void);
/* Until EXIT: the process's status; -1 when the stream failed first. */
int oci_relay_run(struct oci_relay *r);

/* ---- tty.c ---- */
/* A pty pair; the master goes over the console socket (SCM_RIGHTS). */
int oci_tty_open(int *master, int *slave, struct ember_err *err);
int oci_tty_send_master(const char *socket_path, int master, struct ember_err *err);
/* The window size of `fd`, as a RESIZE payload. */
int oci_tty_size(int fd, uint8_t out[4]);

/* ---- commands (cmd_*.c) ---- */
typedef int (*oci_cmd_fn)(struct oci_globals *g, int argc, char **argv);
int oci_cmd_create(struct oci_globals *g, int argc, char **argv);
int oci_cmd_run(struct oci_globals *g, int argc, char **argv);
int oci_cmd_start(struct oci_globals *g, int argc, char **argv);
int oci_cmd_state(struct oci_globals *g, int argc, char **argv);
int oci_cmd_kill(struct oci_globals *g, int argc, char **argv);
int oci_cmd_delete(struct oci_globals *g, int argc, char **argv);
int oci_cmd_exec(struct oci_globals *g, int argc, char **argv);
int oci_cmd_ps(struct oci_globals *g, int argc, char **argv);
int oci_cmd_pause(struct oci_globals *g, int argc, char **argv);
int oci_cmd_resume(struct oci_globals *g, int argc, char **argv);
int oci_cmd_list(struct oci_globals *g, int argc, char **argv);
int oci_cmd_features(struct oci_globals *g, int argc, char **argv);

/* Write `pid` to `path` as runc does: a temporary file renamed over it. */
int oci_write_pid_file(const char *path, pid_t pid, struct ember_err *err);
/* A command's failure: the error logged, status 1. */
int oci_fail(const struct ember_err *err);

#endif
