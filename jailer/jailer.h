/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-jailer: Firecracker's jailer flags and order of operations
 * (jailer/README.md), plus an empty capability bounding set, no_new_privs
 * and an optional user namespace. Each step returns -errno with a message;
 * main() maps the failing step to its exit status.
 */
#ifndef EMBER_JAILER_H
#define EMBER_JAILER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "err.h"

/* Exit statuses: one per kind of failure, documented in jailer/README.md. */
enum jailer_exit {
	JAILER_EXIT_USAGE = 2,        /* unknown flag, missing value or required flag */
	JAILER_EXIT_ID = 10,          /* --id: charset or length */
	JAILER_EXIT_EXEC_FILE = 11,   /* --exec-file: missing or not a regular file */
	JAILER_EXIT_IDS = 12,         /* --uid/--gid not a number */
	JAILER_EXIT_CHROOT_BASE = 13, /* --chroot-base-dir missing or not a directory */
	JAILER_EXIT_CGROUP_ARG = 14,  /* --cgroup, --cgroup-version, --parent-cgroup */
	JAILER_EXIT_RLIMIT_ARG = 15,  /* --resource-limit */
	JAILER_EXIT_NETNS = 20,       /* joining --netns */
	JAILER_EXIT_RLIMIT = 21,      /* setrlimit */
	JAILER_EXIT_CGROUP = 22,      /* creating or joining the cgroup */
	JAILER_EXIT_JAIL = 23,        /* the jail directory, the binary's copy, pivot_root */
	JAILER_EXIT_DEVICES = 24,     /* device nodes in the jail */
	JAILER_EXIT_DAEMONIZE = 25,   /* --daemonize, --new-pid-ns, the pid file */
	JAILER_EXIT_PRIVS = 26,       /* capabilities, uid/gid, no_new_privs, user namespace */
	JAILER_EXIT_EXEC = 27,        /* exec of the binary */
};

#define JAILER_ID_MAX         64
#define JAILER_MAX_CGROUPS    32
#define JAILER_DEFAULT_BASE   "/srv/jailer"
#define JAILER_DEFAULT_NOFILE 2048

struct jailer_cgroup_prop {
	char file[64];       /* "cpuset.cpus" */
	char controller[32]; /* "cpuset" */
	const char *value;
};

struct jailer_args {
	const char *id;
	char exec_file[PATH_MAX]; /* canonical */
	const char *exec_name;    /* its last component */
	uid_t uid;
	gid_t gid;
	char chroot_base[PATH_MAX]; /* canonical */
	char jail_root[PATH_MAX];   /* <base>/<exec_name>/<id>/root */
	const char *netns;
	bool daemonize, new_pid_ns, new_user_ns;
	struct jailer_cgroup_prop cgroups[JAILER_MAX_CGROUPS];
	unsigned nr_cgroups;
	int cgroup_version;
	const char *parent_cgroup; /* default: exec_name */
	rlim_t nofile;
	rlim_t fsize; /* RLIM_INFINITY: not set */
	char **extra; /* after "--", for the binary */
	int nr_extra;
};

/* args.c: parse argv into a, validate every input; the failing check's
 * JAILER_EXIT_* in *status. */
int jailer_parse_args(int argc, char **argv, struct jailer_args *a, int *status,
		      struct ember_err *err);
bool jailer_id_valid(const char *id);
bool jailer_parent_cgroup_valid(const char *path);
int jailer_parse_cgroup(const char *arg, struct jailer_cgroup_prop *p, struct ember_err *err);
void jailer_usage(FILE *out);

/* cgroup.c: create <mount>/<parent>/<id> for every controller named, write
 * the values, move pid in. mounts: /proc/mounts (tests give their own). */
int jailer_cgroups_apply(const struct jailer_args *a, const char *mounts, pid_t pid,
			 struct ember_err *err);

/* jail.c */
int jailer_mkdir_p(const char *path, struct ember_err *err);
/* src's contents at dst, mode kept; chown'ed unless uid is (uid_t)-1. */
int jailer_copy_file(const char *src, const char *dst, uid_t uid, gid_t gid, struct ember_err *err);
int jailer_copy_exec(const struct jailer_args *a, struct ember_err *err);
int jailer_join_netns(const char *path, struct ember_err *err);
int jailer_set_rlimits(const struct jailer_args *a, struct ember_err *err);
/* Device numbers read from the host before the pivot. */
struct jailer_devices {
	dev_t kvm, tun, urandom, userfaultfd; /* userfaultfd 0: the host has none */
};
void jailer_find_devices(struct jailer_devices *d);
int jailer_pivot(const struct jailer_args *a, struct ember_err *err);
int jailer_make_devices(const struct jailer_args *a, const struct jailer_devices *d,
			struct ember_err *err);

/* libs.c: a dynamic binary's loader and libraries, copied into the jail. */
int jailer_copy_libs(const struct jailer_args *a, struct ember_err *err);
/* PT_INTERP of the ELF file at path: 1 (in interp), 0 static, -errno. */
int jailer_elf_interp(const char *path, char *interp, size_t n, struct ember_err *err);
/* One line of `ld.so --list`: 1 and the library's path, 0 for a line that
 * names no file (the vDSO), -ENOENT for "not found", -errno. */
int jailer_lib_line(const char *line, char *path, size_t n);

/* privs.c */
int jailer_drop_privileges(const struct jailer_args *a, int proc_fd, struct ember_err *err);

#endif
