// SPDX-License-Identifier: Apache-2.0
/* Per-thread seccomp filters: load and check compiled programs, install, report violations. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "seccomp_filter.h"

static const char *const thread_names[SECCOMP_NR_THREADS] = { "vmm", "api", "vcpu" };

/* For the SIGSYS handler, which can reach nothing else: the metrics sink
 * (process-wide, like the log) and the calling thread's kind. */
static int handler_metrics_fd = -1;
static _Thread_local const char *thread_kind = "unfiltered";

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	return kind < SECCOMP_NR_THREADS ? thread_names[kind] : "?";
}

/* Loads of seccomp_data: 32-bit, aligned, inside the struct (kernel/seccomp.c). */
static bool load_ok(const struct sock_filter *in)
{
	return in->k < sizeof(struct seccomp_data) && !(in->k & 3);
}

static bool jump_ok(const struct sock_filter *in, size_t pc, size_t len)
{
	if (BPF_OP(in->code) == BPF_JA)
		return in->k < len - pc - 1;
	return (size_t)in->jt < len - pc - 1 && (size_t)in->jf < len - pc - 1;
}

/* One instruction the kernel's seccomp_check_filter() and bpf_check_classic() allow? */
static bool insn_ok(const struct sock_filter *in, size_t pc, size_t len)
{
	switch (in->code) {
	case BPF_LD | BPF_W | BPF_ABS: return load_ok(in);
	case BPF_LD | BPF_W | BPF_LEN:
	case BPF_LDX | BPF_W | BPF_LEN:
	case BPF_RET | BPF_K:
	case BPF_RET | BPF_A:
	case BPF_LD | BPF_IMM:
	case BPF_LDX | BPF_IMM:
	case BPF_MISC | BPF_TAX:
	case BPF_MISC | BPF_TXA:
	case BPF_ALU | BPF_NEG: return true;
	case BPF_LD | BPF_MEM:
	case BPF_LDX | BPF_MEM:
	case BPF_ST:
	case BPF_STX: return in->k < BPF_MEMWORDS;
	case BPF_ALU | BPF_DIV | BPF_K:
	case BPF_ALU | BPF_MOD | BPF_K: return in->k != 0;
	case BPF_JMP | BPF_JA:
	case BPF_JMP | BPF_JEQ | BPF_K:
	case BPF_JMP | BPF_JEQ | BPF_X:
	case BPF_JMP | BPF_JGE | BPF_K:
	case BPF_JMP | BPF_JGE | BPF_X:
	case BPF_JMP | BPF_JGT | BPF_K:
	case BPF_JMP | BPF_JGT | BPF_X:
	case BPF_JMP | BPF_JSET | BPF_K:
	case BPF_JMP | BPF_JSET | BPF_X: return jump_ok(in, pc, len);
	}
	/* The remaining ALU operations, on K or X. */
	if (BPF_CLASS(in->code) != BPF_ALU)
		return false;
	switch (BPF_OP(in->code)) {
	case BPF_ADD:
	case BPF_SUB:
	case BPF_MUL:
	case BPF_DIV:
	case BPF_MOD:
	case BPF_AND:
	case BPF_OR:
	case BPF_XOR:
	case BPF_LSH:
	case BPF_RSH: return true;
	}
	return false;
}

int seccomp_program_check(const struct sock_filter *insns, size_t len, struct ember_err *err)
{
	if (len == 0 || len > SECCOMP_MAX_INSNS)
		return err_set(err, EINVAL, "%zu instructions (1 to %d allowed)", len,
			       SECCOMP_MAX_INSNS);
	for (size_t pc = 0; pc < len; pc++)
		if (!insn_ok(&insns[pc], pc, len))
			return err_set(err, EINVAL, "instruction %zu (code 0x%x) is not valid here",
				       pc, insns[pc].code);
	if (BPF_CLASS(insns[len - 1].code) != BPF_RET)
		return err_set(err, EINVAL, "the program does not end with a return");
	return 0;
}

static int check_header(const struct seccomp_file_header *h, size_t len, size_t *total,
			struct ember_err *err)
{
	*total = 0;
	if (len < sizeof(*h) || memcmp(h->magic, SECCOMP_FILE_MAGIC, sizeof(h->magic)))
		return err_set(err, EINVAL,
			       "not an ember seccomp filter file (compile one with "
			       "ember-seccompiler)");
	if (h->version != SECCOMP_FILE_VERSION)
		return err_set(err, EINVAL, "format version %u; this ember reads version %u",
			       h->version, SECCOMP_FILE_VERSION);
	for (int k = 0; k < SECCOMP_NR_THREADS; k++) {
		if (h->nr_insns[k] > SECCOMP_MAX_INSNS)
			return err_set(err, EINVAL,
				       "the %s filter has %u instructions (at most %d)",
				       thread_names[k], h->nr_insns[k], SECCOMP_MAX_INSNS);
		*total += h->nr_insns[k];
	}
	if (len != sizeof(*h) + *total * sizeof(struct sock_filter))
		return err_set(err, EINVAL, "%zu bytes, but the header describes %zu", len,
			       sizeof(*h) + *total * sizeof(struct sock_filter));
	return 0;
}

int seccomp_filters_parse(struct seccomp_filters *f, const void *data, size_t len,
			  struct ember_err *err)
{
	struct seccomp_file_header h;
	struct sock_filter *insns;
	size_t total;

	memset(f, 0, sizeof(*f));
	memcpy(&h, data, len < sizeof(h) ? len : sizeof(h));
	if (check_header(&h, len, &total, err) < 0)
		return -EINVAL;
	insns = malloc(total ? total * sizeof(*insns) : 1);
	if (!insns)
		return err_set(err, ENOMEM, "no memory for the seccomp filters");
	memcpy(insns, (const char *)data + sizeof(h), total * sizeof(*insns));
	f->buf = insns;
	for (int k = 0; k < SECCOMP_NR_THREADS; insns += h.nr_insns[k++]) {
		f->insns[k] = insns;
		f->len[k] = (unsigned short)h.nr_insns[k];
		if (f->len[k] && seccomp_program_check(insns, f->len[k], err) < 0) {
			seccomp_filters_free(f);
			return err_prefix(err, "the %s filter", thread_names[k]);
		}
	}
	return 0;
}

int seccomp_filters_load(struct seccomp_filters *f, const char *path, struct ember_err *err)
{
	char *buf = NULL;
	struct stat st;
	ssize_t n = -1;
	int ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(f, 0, sizeof(*f));
	if (fd < 0)
		return err_errno(err, "cannot open the seccomp filter %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SECCOMP_FILE_MAX)
		ret = err_set(err, EINVAL, "%s: not a regular file of at most %d bytes", path,
			      SECCOMP_FILE_MAX);
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		ret = err_set(err, ENOMEM, "no memory for %s", path);
	else if ((n = read(fd, buf, (size_t)st.st_size + 1)) != st.st_size)
		ret = n < 0 ? err_errno(err, "reading %s", path)
			    : err_set(err, EIO, "%s changed while it was read", path);
	else if ((ret = seccomp_filters_parse(f, buf, (size_t)n, err)) < 0)
		err_prefix(err, "seccomp filter %s", path);
	free(buf);
	close(fd);
	return ret;
}

void seccomp_filters_free(struct seccomp_filters *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}

#ifdef EMBER_TEST_FORBIDDEN
/* The test build (build/tests/ember-forbidden): the thread kind named in
 * EMBER_TEST_FORBIDDEN makes a syscall no list allows, right after its
 * filter is in. getppid() harms nothing when it is let through. */
static void test_forbidden(enum seccomp_thread kind)
{
	const char *which = getenv("EMBER_TEST_FORBIDDEN");

	if (which && !strcmp(which, thread_names[kind]))
		log_info("test: getppid() on the %s thread returned %ld", which,
			 (long)syscall(SYS_getppid));
}
#else
static void test_forbidden(enum seccomp_thread kind)
{
	(void)kind;
}
#endif

static int install(const struct seccomp_filters *f, enum seccomp_thread kind, struct ember_err *err)
{
	struct sock_fprog prog;

	if (!f || kind >= SECCOMP_NR_THREADS || !f->len[kind])
		return 0;
	prog.len = f->len[kind];
	prog.filter = f->insns[kind];
	/* Without no_new_privs an unprivileged thread may not install a filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_errno(err, "prctl(PR_SET_NO_NEW_PRIVS)");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return err_errno(err, "installing the %s thread's seccomp filter",
				 thread_names[kind]);
	thread_kind = thread_names[kind];
	return 0;
}

int seccomp_thread_apply(const struct seccomp_filters *f, enum seccomp_thread kind,
			 struct ember_err *err)
{
	int ret = install(f, kind, err);

	if (!ret)
		test_forbidden(kind);
	return ret;
}

/* The handler's formatting: async-signal-safe, no stdio. */
static size_t put_str(char *buf, size_t at, size_t size, const char *s)
{
	while (*s && at < size)
		buf[at++] = *s++;
	return at;
}

static size_t put_u64(char *buf, size_t at, size_t size, uint64_t v)
{
	char digits[20];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 20);
	while (n && at < size)
		buf[at++] = digits[--n];
	return at;
}

/* Raw syscalls: a sanitizer's interceptors could make calls the filter forbids. */
static void write_all(int fd, const char *buf, size_t len)
{
	if (fd >= 0 && syscall(SYS_write, fd, buf, len) < 0)
		return; /* the process is about to exit: nowhere else to say it */
}

static void report_metrics(void)
{
	struct timespec ts = { 0 };
	char line[128];
	size_t n;
	int fd = __atomic_load_n(&handler_metrics_fd, __ATOMIC_RELAXED);

	if (fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = put_str(line, 0, sizeof(line), "{\"utc_timestamp_ms\":");
	n = put_u64(line, n, sizeof(line),
		    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	n = put_str(line, n, sizeof(line), ",\"seccomp\":{\"num_faults\":1}}\n");
	write_all(fd, line, n);
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[192];
	size_t n;

	(void)sig;
	(void)uc;
	n = put_str(msg, 0, sizeof(msg), "ember: seccomp: the ");
	n = put_str(msg, n, sizeof(msg), thread_kind);
	n = put_str(msg, n, sizeof(msg), " thread made syscall ");
	n = put_u64(msg, n, sizeof(msg), (uint64_t)(unsigned)si->si_syscall);
	n = put_str(msg, n, sizeof(msg), ", which its filter forbids; exiting with status 148\n");
	write_all(log_fd(), msg, n);
	report_metrics();
	syscall(SYS_exit_group, SECCOMP_EXIT_STATUS);
}

int seccomp_handler_install(struct ember_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigset_t set;

	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return err_errno(err, "sigaction(SIGSYS)");
	/* A blocked SIGSYS from seccomp kills with a core dump instead of the handler. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

void seccomp_handler_metrics_fd(int fd)
{
	__atomic_store_n(&handler_metrics_fd, fd, __ATOMIC_RELAXED);
}
