// SPDX-License-Identifier: Apache-2.0
/* ember-jailer: every input checked with its own exit status, and cgroups
 * v1 and v2 written into a fake hierarchy (a directory and a mounts file). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jailer.h"

static char dir[] = "/tmp/ember-jailer-test.XXXXXX";
static char exe[PATH_MAX];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/ember", dir);
	close(open(exe, O_WRONLY | O_CREAT, 0755));
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Parse argv (NULL-terminated); the status of the failing check, or 0. */
static int parse(struct jailer_args *a, struct ember_err *err, const char **argv)
{
	int argc = 0, status = 0;

	while (argv[argc])
		argc++;
	if (jailer_parse_args(argc, (char **)argv, a, &status, err) == 0)
		return 0;
	cr_assert_neq(status, 0, "a failure must have a status");
	return status;
}

#define ARGV(...) ((const char *[]){ "ember-jailer", __VA_ARGS__, NULL })

Test(jailer_args, a_full_command_line_gives_the_jail_path_and_the_extra_args, .init = setup,
     .fini = teardown)
{
	struct jailer_args a;
	struct ember_err err = { 0 };
	const char **argv =
	    ARGV("--id", "vm-1", "--exec-file", exe, "--uid", "123", "--gid", "456",
		 "--chroot-base-dir", dir, "--cgroup", "cpuset.cpus=0", "--cgroup-version", "2",
		 "--resource-limit", "fsize=1000", "--", "--api-sock", "/run/x.sock");

	cr_assert_eq(parse(&a, &err, argv), 0, "%s", err.msg);
	cr_assert_eq(a.uid, 123);
	cr_assert_eq(a.gid, 456);
	cr_assert_str_eq(a.exec_name, "ember");
	cr_assert_str_eq(a.parent_cgroup, "ember", "the default parent is the exec name");
	cr_assert_eq(a.cgroup_version, 2);
	cr_assert_eq(a.nr_cgroups, 1);
	cr_assert_str_eq(a.cgroups[0].controller, "cpuset");
	cr_assert_str_eq(a.cgroups[0].file, "cpuset.cpus");
	cr_assert_str_eq(a.cgroups[0].value, "0");
	cr_assert_eq(a.fsize, 1000);
	cr_assert_eq(a.nofile, JAILER_DEFAULT_NOFILE);
	cr_assert_eq(a.nr_extra, 2);
	cr_assert_str_eq(a.extra[0], "--api-sock");
	char want[PATH_MAX * 2];
	snprintf(want, sizeof(want), "%s/ember/vm-1/root", dir);
	cr_assert_str_eq(a.jail_root, want);
}

/* A valid command line with id, uid and the last flags replaced. */
#define WITH(id, uid, ...)                                                                         \
	ARGV("--id", id, "--exec-file", exe, "--uid", uid, "--gid", "1", "--chroot-base-dir", dir, \
	     __VA_ARGS__)

Test(jailer_args, each_bad_input_has_its_own_status, .init = setup, .fini = teardown)
{
	struct jailer_args a;
	struct ember_err err = { 0 };
	const struct {
		const char **argv;
		int status;
	} cases[] = {
		{ ARGV("--id", "x", "--uid", "1", "--gid", "1"), JAILER_EXIT_USAGE },
		{ ARGV("--bogus"), JAILER_EXIT_USAGE },
		{ WITH("x", "1", "stray"), JAILER_EXIT_USAGE },
		{ WITH("a_b", "1", "--new-pid-ns"), JAILER_EXIT_ID },
		{ WITH("x", "1", "--exec-file", "/nonexistent"), JAILER_EXIT_EXEC_FILE },
		{ WITH("x", "1", "--exec-file", dir), JAILER_EXIT_EXEC_FILE },
		{ WITH("x", "-1", "--new-pid-ns"), JAILER_EXIT_IDS },
		{ WITH("x", "1", "--chroot-base-dir", exe), JAILER_EXIT_CHROOT_BASE },
		{ WITH("x", "1", "--cgroup-version", "3"), JAILER_EXIT_CGROUP_ARG },
		{ WITH("x", "1", "--parent-cgroup", "/abs"), JAILER_EXIT_CGROUP_ARG },
		{ WITH("x", "1", "--cgroup", "../tasks=1"), JAILER_EXIT_CGROUP_ARG },
		{ WITH("x", "1", "--resource-limit", "core=1"), JAILER_EXIT_RLIMIT_ARG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(&a, &err, cases[i].argv), cases[i].status, "case %zu: %s", i,
			     err.msg);
		cr_assert_neq(err.msg[0], '\0', "case %zu has a message", i);
	}
	parse(&a, &err, cases[0].argv);
	cr_assert(strstr(err.msg, "required"), "%s", err.msg);
}

Test(jailer_args, ids_are_letters_digits_and_dashes_up_to_64)
{
	char long_id[66];

	cr_assert(jailer_id_valid("551e7604-e35c-42b3-b825-416853441234"));
	cr_assert(!jailer_id_valid(""));
	cr_assert(!jailer_id_valid("a/b"));
	cr_assert(!jailer_id_valid("a.b"));
	cr_assert(!jailer_id_valid("a b"));
	memset(long_id, 'a', 64);
	long_id[64] = '\0';
	cr_assert(jailer_id_valid(long_id));
	long_id[64] = 'a';
	long_id[65] = '\0';
	cr_assert(!jailer_id_valid(long_id));
}

Test(jailer_args, the_parent_cgroup_stays_below_the_mount)
{
	cr_assert(jailer_parent_cgroup_valid("ember"));
	cr_assert(jailer_parent_cgroup_valid("a/b/c"));
	cr_assert(!jailer_parent_cgroup_valid(""));
	cr_assert(!jailer_parent_cgroup_valid("/ember"));
	cr_assert(!jailer_parent_cgroup_valid(".."));
	cr_assert(!jailer_parent_cgroup_valid("a/../b"));
	cr_assert(!jailer_parent_cgroup_valid("a/./b"));
	cr_assert(!jailer_parent_cgroup_valid("a//b"));
	cr_assert(!jailer_parent_cgroup_valid("a/"));
}

Test(jailer_args, cgroup_values_name_a_controller_file)
{
	struct jailer_cgroup_prop p;
	struct ember_err err = { 0 };

	cr_assert_eq(jailer_parse_cgroup("memory.limit_in_bytes=1G", &p, &err), 0, "%s", err.msg);
	cr_assert_str_eq(p.controller, "memory");
	cr_assert_str_eq(p.file, "memory.limit_in_bytes");
	cr_assert_str_eq(p.value, "1G");
	cr_assert_lt(jailer_parse_cgroup("cpuset.cpus", &p, &err), 0);
	cr_assert_lt(jailer_parse_cgroup("cpuset.cpus=", &p, &err), 0);
	cr_assert_lt(jailer_parse_cgroup("tasks=1", &p, &err), 0, "no controller");
	cr_assert_lt(jailer_parse_cgroup("cpu./x=1", &p, &err), 0, "no path");
	cr_assert_lt(jailer_parse_cgroup("cpu.shares=1\n2", &p, &err), 0, "one line");
}

/* Fake hierarchies under dir, described by dir/mounts. */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void assert_file(const char *rel, const char *want)
{
	char path[PATH_MAX * 2], got[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s is missing", path);
	if (!fgets(got, sizeof(got), f))
		got[0] = '\0';
	fclose(f);
	got[strcspn(got, "\n")] = '\0';
	cr_assert_str_eq(got, want, "%s", rel);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
}

static void v1_hierarchy(char *mounts, size_t size)
{
	char text[PATH_MAX * 3];

	make_dir("cpuset");
	make_dir("cpu");
	put("cpuset/cpuset.cpus", "0-3\n");
	put("cpuset/cpuset.mems", "0\n");
	snprintf(text, sizeof(text),
		 "proc /proc proc rw 0 0\ncgroup %s/cpuset cgroup rw,nosuid,cpuset 0 0\n"
		 "cgroup %s/cpu cgroup rw,cpu,cpuacct 0 0\n",
		 dir, dir);
	put("mounts", text);
	snprintf(mounts, size, "%s/mounts", dir);
}

static struct jailer_args args_with(const char *parent)
{
	struct jailer_args a = { .id = "vm1", .parent_cgroup = parent, .cgroup_version = 1 };
	struct ember_err err = { 0 };

	cr_assert_eq(jailer_parse_cgroup("cpuset.cpus=2", &a.cgroups[0], &err), 0);
	cr_assert_eq(jailer_parse_cgroup("cpu.shares=10", &a.cgroups[1], &err), 0);
	a.nr_cgroups = 2;
	return a;
}

Test(jailer_cgroup, v1_creates_one_cgroup_per_controller_and_inherits_cpusets, .init = setup,
     .fini = teardown)
{
	char mounts[PATH_MAX * 2];
	struct jailer_args a = args_with("fc/group");
	struct ember_err err = { 0 };

	v1_hierarchy(mounts, sizeof(mounts));
	cr_assert_eq(jailer_cgroups_apply(&a, mounts, 4242, &err), 0, "%s", err.msg);
	assert_file("cpuset/fc/cpuset.cpus", "0-3");
	assert_file("cpuset/fc/group/cpuset.mems", "0");
	assert_file("cpuset/fc/group/vm1/cpuset.mems", "0");
	assert_file("cpuset/fc/group/vm1/cpuset.cpus", "2");
	assert_file("cpuset/fc/group/vm1/tasks", "4242");
	assert_file("cpu/fc/group/vm1/cpu.shares", "10");
	assert_file("cpu/fc/group/vm1/tasks", "4242");
}

Test(jailer_cgroup, v1_without_the_controller_mounted_is_a_clear_error, .init = setup,
     .fini = teardown)
{
	char mounts[PATH_MAX * 2];
	struct jailer_args a = args_with("fc");
	struct ember_err err = { 0 };

	v1_hierarchy(mounts, sizeof(mounts));
	cr_assert_eq(jailer_parse_cgroup("memory.limit_in_bytes=1M", &a.cgroups[2], &err), 0);
	a.nr_cgroups = 3;
	cr_assert_eq(jailer_cgroups_apply(&a, mounts, 1, &err), -ENOENT);
	cr_assert(strstr(err.msg, "memory controller"), "%s", err.msg);
}

static void v2_hierarchy(char *mounts, size_t size)
{
	char text[PATH_MAX * 2];

	make_dir("unified");
	snprintf(text, sizeof(text), "cgroup2 %s/unified cgroup2 rw,nsdelegate 0 0\n", dir);
	put("mounts", text);
	snprintf(mounts, size, "%s/mounts", dir);
}

Test(jailer_cgroup, v2_enables_controllers_down_the_tree_and_joins, .init = setup, .fini = teardown)
{
	char mounts[PATH_MAX * 2];
	struct jailer_args a = { .id = "vm2", .parent_cgroup = "fc", .cgroup_version = 2 };
	struct ember_err err = { 0 };

	v2_hierarchy(mounts, sizeof(mounts));
	cr_assert_eq(jailer_parse_cgroup("pids.max=10", &a.cgroups[0], &err), 0);
	a.nr_cgroups = 1;
	cr_assert_eq(jailer_cgroups_apply(&a, mounts, 77, &err), 0, "%s", err.msg);
	assert_file("unified/cgroup.subtree_control", "+pids");
	assert_file("unified/fc/cgroup.subtree_control", "+pids");
	assert_file("unified/fc/vm2/pids.max", "10");
	assert_file("unified/fc/vm2/cgroup.procs", "77");
}

Test(jailer_cgroup, v2_without_values_joins_an_existing_parent_only, .init = setup,
     .fini = teardown)
{
	char mounts[PATH_MAX * 2], path[PATH_MAX * 2];
	struct jailer_args a = { .id = "vm3", .parent_cgroup = "fc", .cgroup_version = 2 };
	struct ember_err err = { 0 };

	v2_hierarchy(mounts, sizeof(mounts));
	cr_assert_eq(jailer_cgroups_apply(&a, mounts, 5, &err), 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/unified/fc", dir);
	cr_assert_neq(access(path, F_OK), 0, "nothing is created");
	make_dir("unified/fc");
	cr_assert_eq(jailer_cgroups_apply(&a, mounts, 5, &err), 0, "%s", err.msg);
	assert_file("unified/fc/cgroup.procs", "5");
}

Test(jailer_libs, the_loaders_listing_gives_each_librarys_path)
{
	char path[PATH_MAX];

	cr_assert_eq(jailer_lib_line("\tlinux-vdso.so.1 (0x00007ffd)", path, sizeof(path)), 0);
	cr_assert_eq(jailer_lib_line("\tliblwip.so.0 => /lib/x86_64-linux-gnu/liblwip.so.0 "
				     "(0x00007f40)",
				     path, sizeof(path)),
		     1);
	cr_assert_str_eq(path, "/lib/x86_64-linux-gnu/liblwip.so.0");
	cr_assert_eq(jailer_lib_line("\t/lib64/ld-linux-x86-64.so.2 (0x7f)", path, sizeof(path)),
		     1);
	cr_assert_str_eq(path, "/lib64/ld-linux-x86-64.so.2");
	cr_assert_eq(jailer_lib_line("\tlibgone.so.1 => not found", path, sizeof(path)), -ENOENT);
	cr_assert_eq(jailer_lib_line("\tlibx.so => /lib/../etc/x (0x1)", path, sizeof(path)),
		     -EINVAL);
	cr_assert_eq(jailer_lib_line("\tlibx.so => /lib/libx.so (0x1)", path, 8), -ENAMETOOLONG);
}

Test(jailer_libs, a_dynamic_binary_names_its_loader_and_a_static_one_none, .init = setup,
     .fini = teardown)
{
	struct ember_err err = { 0 };
	char interp[PATH_MAX];

	cr_assert_eq(jailer_elf_interp("/bin/sh", interp, sizeof(interp), &err), 1, "%s", err.msg);
	cr_assert_eq(access(interp, X_OK), 0, "%s", interp);
	/* busybox-static (make deps) is a static binary on every machine */
	cr_assert_eq(jailer_elf_interp("/bin/busybox", interp, sizeof(interp), &err), 0, "%s",
		     err.msg);
	/* exe is empty: not ELF */
	cr_assert_eq(jailer_elf_interp(exe, interp, sizeof(interp), &err), -ENOEXEC);
}

Test(jailer_libs, the_jail_gets_the_loader_and_every_library_at_its_path, .init = setup,
     .fini = teardown)
{
	struct ember_err err = { 0 };
	struct jailer_args a = { .exec_name = "sh" };
	char interp[PATH_MAX], path[PATH_MAX * 2], cmd[PATH_MAX * 3];

	snprintf(a.exec_file, sizeof(a.exec_file), "/bin/sh");
	snprintf(a.jail_root, sizeof(a.jail_root), "%s/root", dir);
	cr_assert_eq(jailer_copy_exec(&a, &err), 0, "%s", err.msg);
	cr_assert_eq(jailer_copy_libs(&a, &err), 0, "%s", err.msg);
	cr_assert_eq(jailer_elf_interp("/bin/sh", interp, sizeof(interp), &err), 1);
	snprintf(path, sizeof(path), "%s%s", a.jail_root, interp);
	cr_assert_eq(access(path, R_OK), 0, "%s", path);
	/* The copy runs in a chroot of it alone: nothing missing (root only). */
	snprintf(cmd, sizeof(cmd), "chroot %s /sh -c 'exit 7' 2>/dev/null", a.jail_root);
	if (geteuid() == 0)
		cr_assert_eq(WEXITSTATUS(system(cmd)), 7);
	/* Again over the first copy: the files are rewritten, not refused. */
	cr_assert_eq(jailer_copy_libs(&a, &err), 0, "%s", err.msg);
}
