// SPDX-License-Identifier: Apache-2.0
/* Seccomp: the compiler's JSON, the file checks, and filters that really
 * stop a forbidden syscall (in a child process) with status 148. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "seccompiler.h"

static const char small_json[] =
    "{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
    "  {\"syscall\": \"write\"}, {\"syscall\": \"exit_group\"}]},"
    " \"api\": {\"default_action\": {\"errno\": 1}, \"filter_action\": \"allow\", \"filter\": ["
    "  {\"syscall\": \"write\"}, {\"syscall\": \"exit_group\"}]},"
    " \"vcpu\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
    "  {\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\","
    "   \"val\": \"KVM_RUN\", \"comment\": \"run\"}]},"
    "  {\"syscall\": \"write\"}, {\"syscall\": \"exit_group\"}]}}";

static void compile(const char *json, void **out, size_t *len)
{
	struct ember_err err = { 0 };

	cr_assert_eq(seccompiler_compile(json, strlen(json), out, len, &err), 0, "%s", err.msg);
}

static int compile_error(const char *json, struct ember_err *err)
{
	void *out = NULL;
	size_t len;
	int ret = seccompiler_compile(json, strlen(json), &out, &len, err);

	free(out);
	return ret;
}

/* Run fn in a child with kind's filter from f installed; its exit status. */
static int in_child(const struct seccomp_filters *f, enum seccomp_thread kind, int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct ember_err err = { 0 };
		int null_fd = open("/dev/null", O_WRONLY);

		dup2(null_fd, STDERR_FILENO); /* the handler's report */
		/* exit_group itself: under ASan, _exit() runs the leak checker,
		 * whose syscalls no filter allows. */
		if (seccomp_handler_install(&err) < 0 || seccomp_thread_apply(f, kind, &err) < 0)
			syscall(SYS_exit_group, 99);
		syscall(SYS_exit_group, fn());
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static int call_getppid(void)
{
	return syscall(SYS_getppid) > 0 ? 0 : 1;
}

static int kvm_run_on_bad_fd(void)
{
	/* Allowed: the kernel answers EBADF. */
	return ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 0 : 1;
}

static int other_ioctl(void)
{
	ioctl(-1, KVM_SET_REGS, 0);
	return 0;
}

static struct seccomp_filters load_default(void)
{
	struct seccomp_filters f;
	struct ember_err err = { 0 };

	cr_assert_eq(
	    seccomp_filters_parse(&f, seccomp_default_filter, seccomp_default_filter_len, &err), 0,
	    "%s", err.msg);
	return f;
}

Test(seccomp, the_builtin_filters_parse_and_every_thread_has_one)
{
	struct seccomp_filters f = load_default();

	for (int k = 0; k < SECCOMP_NR_THREADS; k++)
		cr_assert_gt(f.len[k], 10, "%s: %u instructions", seccomp_thread_name(k), f.len[k]);
	seccomp_filters_free(&f);
}

Test(seccomp, a_forbidden_syscall_exits_148_on_every_builtin_list)
{
	struct seccomp_filters f = load_default();

	for (int k = 0; k < SECCOMP_NR_THREADS; k++)
		cr_assert_eq(in_child(&f, k, call_getppid), SECCOMP_EXIT_STATUS, "%s",
			     seccomp_thread_name(k));
	cr_assert_eq(in_child(NULL, SECCOMP_THREAD_VMM, call_getppid), 0, "no filter: allowed");
	seccomp_filters_free(&f);
}

Test(seccomp, vcpu_ioctls_are_filtered_by_request_number)
{
	struct seccomp_filters f = load_default();

	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VCPU, kvm_run_on_bad_fd), 0);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VCPU, other_ioctl), SECCOMP_EXIT_STATUS);
	seccomp_filters_free(&f);
}

static int unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd >= 0 ? 0 : 1;
}

static int inet_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int exec_mapping(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int data_mapping(void)
{
	return mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		       MAP_FAILED
		   ? 1
		   : 0;
}

Test(seccomp, the_vmm_list_allows_unix_sockets_and_data_memory_only)
{
	struct seccomp_filters f = load_default();

	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VMM, unix_socket), 0);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VMM, inet_socket), SECCOMP_EXIT_STATUS);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VMM, data_mapping), 0);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VMM, exec_mapping), SECCOMP_EXIT_STATUS);
	seccomp_filters_free(&f);
}

static int getppid_errno(void)
{
	return syscall(SYS_getppid) < 0 && errno == EPERM ? 7 : 0;
}

Test(seccomp, a_compiled_json_filter_acts_as_written)
{
	struct seccomp_filters f;
	struct ember_err err = { 0 };
	void *buf;
	size_t len;

	compile(small_json, &buf, &len);
	cr_assert_eq(seccomp_filters_parse(&f, buf, len, &err), 0, "%s", err.msg);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VMM, call_getppid), SECCOMP_EXIT_STATUS);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_API, getppid_errno), 7, "errno(1) default");
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VCPU, kvm_run_on_bad_fd), 0);
	cr_assert_eq(in_child(&f, SECCOMP_THREAD_VCPU, other_ioctl), SECCOMP_EXIT_STATUS);
	seccomp_filters_free(&f);
	free(buf);
}

Test(seccomp, named_constants_combine_with_bars)
{
	unsigned long long v;

	cr_assert_eq(seccompiler_constant("KVM_RUN", &v), 0);
	cr_assert_eq(v, KVM_RUN);
	cr_assert_eq(seccompiler_constant("SOCK_NONBLOCK|SOCK_CLOEXEC", &v), 0);
	cr_assert_eq(v, SOCK_NONBLOCK | SOCK_CLOEXEC);
	cr_assert_eq(seccompiler_constant("KVM_RUNX", &v), -ENOENT);
	cr_assert_eq(seccompiler_constant("KVM_RUN|", &v), -ENOENT);
}

static void assert_refused(const char *json, const char *words)
{
	struct ember_err err = { 0 };

	cr_assert_lt(compile_error(json, &err), 0, "accepted: %s", json);
	cr_assert(strstr(err.msg, words), "\"%s\" not in: %s", words, err.msg);
}

#define KIND(body) \
	"{\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [" body "]}"
#define ALL(vmm) "{\"vmm\": " vmm ", \"api\": " KIND("") ", \"vcpu\": " KIND("") "}"

Test(seccomp, bad_json_gets_a_clear_error)
{
	assert_refused("{", "line 1");
	assert_refused("[]", "top level");
	assert_refused("{\"vmm\": " KIND("") ", \"api\": " KIND("") "}", "no \"vcpu\"");
	assert_refused("{\"vmm\": " KIND("") ", \"api\": " KIND("") ", \"vcpu\": " KIND(
			   "") ", \"gpu\": " KIND("") "}",
		       "only");
	assert_refused(ALL(KIND("{\"syscall\": \"no_such_call\"}")), "unknown syscall");
	assert_refused(ALL(KIND("{\"syscall\": \"read\", \"bogus\": 1}")), "a rule needs");
	assert_refused(ALL("{\"default_action\": \"explode\", \"filter_action\": \"allow\", "
			   "\"filter\": []}"),
		       "not an action");
	assert_refused(ALL(KIND("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 6, \"type\": "
				"\"dword\", \"op\": \"eq\", \"val\": 1}]}")),
		       "index");
	assert_refused(ALL(KIND("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": "
				"\"dword\", \"op\": \"eq\", \"val\": 4294967296}]}")),
		       "dword");
	assert_refused(ALL(KIND("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": "
				"\"dword\", \"op\": \"eq\", \"val\": \"KVM_NOPE\"}]}")),
		       "unknown constant");
	assert_refused(ALL(KIND("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": "
				"\"word\", \"op\": \"eq\", \"val\": 1}]}")),
		       "type");
	assert_refused(ALL(KIND("{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": "
				"\"dword\", \"op\": \"like\", \"val\": 1}]}")),
		       "op must be");
}

/* A compiled file with its header changed by fn. */
static void assert_file_refused(void (*fn)(unsigned char *, size_t *), const char *words)
{
	struct seccomp_filters f;
	struct ember_err err = { 0 };
	unsigned char *buf = malloc(seccomp_default_filter_len + 64);
	size_t len = seccomp_default_filter_len;

	memcpy(buf, seccomp_default_filter, len);
	fn(buf, &len);
	cr_assert_lt(seccomp_filters_parse(&f, buf, len, &err), 0);
	cr_assert(strstr(err.msg, words), "\"%s\" not in: %s", words, err.msg);
	free(buf);
}

static void truncate_it(unsigned char *b, size_t *len)
{
	(void)b;
	*len -= 3;
}

static void short_header(unsigned char *b, size_t *len)
{
	(void)b;
	*len = 10;
}

static void bad_magic(unsigned char *b, size_t *len)
{
	(void)len;
	b[0] = 'X';
}

static void bad_version(unsigned char *b, size_t *len)
{
	(void)len;
	b[8] = 9;
}

static void huge_count(unsigned char *b, size_t *len)
{
	uint32_t n = 5000;

	(void)len;
	memcpy(b + 12, &n, 4);
}

/* The vmm program's first jump now points past its end. */
static void wild_jump(unsigned char *b, size_t *len)
{
	struct sock_filter *in = (struct sock_filter *)(b + sizeof(struct seccomp_file_header));

	(void)len;
	for (int i = 0;; i++) {
		if (BPF_CLASS(in[i].code) == BPF_JMP && BPF_OP(in[i].code) != BPF_JA) {
			in[i].jt = 250;
			return;
		}
	}
}

/* A load beyond struct seccomp_data. */
static void wild_load(unsigned char *b, size_t *len)
{
	struct sock_filter *in = (struct sock_filter *)(b + sizeof(struct seccomp_file_header));

	(void)len;
	in[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4096);
}

Test(seccomp, a_bad_filter_file_is_refused_before_anything_runs)
{
	assert_file_refused(truncate_it, "header describes");
	assert_file_refused(short_header, "not an ember seccomp filter");
	assert_file_refused(bad_magic, "not an ember seccomp filter");
	assert_file_refused(bad_version, "version 9");
	assert_file_refused(huge_count, "at most 4096");
	assert_file_refused(wild_jump, "vmm filter: instruction");
	assert_file_refused(wild_load, "vmm filter: instruction 0");
}

Test(seccomp, a_missing_or_oversized_file_is_refused)
{
	struct seccomp_filters f;
	struct ember_err err = { 0 };

	cr_assert_eq(seccomp_filters_load(&f, "/nonexistent/filter.bpf", &err), -ENOENT);
	cr_assert(strstr(err.msg, "/nonexistent/filter.bpf"), "%s", err.msg);
	cr_assert_lt(seccomp_filters_load(&f, "/dev/zero", &err), 0);
	cr_assert(strstr(err.msg, "regular file"), "%s", err.msg);
}

Test(seccomp, a_program_must_end_with_a_return)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
	};
	struct ember_err err = { 0 };

	cr_assert_eq(seccomp_program_check(prog, 2, &err), 0, "%s", err.msg);
	cr_assert_lt(seccomp_program_check(prog, 3, &err), 0);
	cr_assert(strstr(err.msg, "return"), "%s", err.msg);
	cr_assert_lt(seccomp_program_check(prog, 0, &err), 0);
}
