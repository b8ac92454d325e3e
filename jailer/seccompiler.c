// SPDX-License-Identifier: Apache-2.0
/* ember-seccompiler's core: seccomp JSON to ember's filter file, through libseccomp. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "seccomp_filter.h"
#include "seccompiler.h"

#define C(name)                                   \
	{                                         \
#name, (unsigned long long)(name) \
	}

/* Names a filter may use for argument values; numbers work everywhere too. */
static const struct {
	const char *name;
	unsigned long long value;
} constants[] = {
	/* KVM ioctls (Documentation/virt/kvm/api.rst) */
	C(KVM_RUN),
	C(KVM_GET_REGS),
	C(KVM_SET_REGS),
	C(KVM_GET_SREGS),
	C(KVM_SET_SREGS),
	C(KVM_GET_FPU),
	C(KVM_SET_FPU),
	C(KVM_GET_XSAVE),
	C(KVM_SET_XSAVE),
	C(KVM_GET_XCRS),
	C(KVM_SET_XCRS),
	C(KVM_GET_LAPIC),
	C(KVM_SET_LAPIC),
	C(KVM_GET_MSRS),
	C(KVM_SET_MSRS),
	C(KVM_GET_CPUID2),
	C(KVM_SET_CPUID2),
	C(KVM_GET_MP_STATE),
	C(KVM_SET_MP_STATE),
	C(KVM_GET_VCPU_EVENTS),
	C(KVM_SET_VCPU_EVENTS),
	C(KVM_GET_DEBUGREGS),
	C(KVM_SET_DEBUGREGS),
	C(KVM_GET_TSC_KHZ),
	C(KVM_SET_TSC_KHZ),
	C(KVM_KVMCLOCK_CTRL),
	C(KVM_TRANSLATE),
	C(KVM_CHECK_EXTENSION),
	C(KVM_GET_DIRTY_LOG),
	C(KVM_GET_IRQCHIP),
	C(KVM_SET_IRQCHIP),
	C(KVM_GET_CLOCK),
	C(KVM_SET_CLOCK),
	C(KVM_GET_PIT2),
	C(KVM_SET_PIT2),
	C(KVM_SET_USER_MEMORY_REGION),
	C(KVM_IOEVENTFD),
	C(KVM_IRQFD),
	C(KVM_IRQ_LINE),
	C(KVM_SET_GSI_ROUTING),
	C(KVM_SIGNAL_MSI),
	/* TAP (linux/if_tun.h) and terminals */
	C(TUNSETIFF),
	C(TUNSETOFFLOAD),
	C(TUNSETVNETHDRSZ),
	C(TCGETS),
	C(TCSETS),
	C(TCSETSW),
	C(TIOCGWINSZ),
	C(FIONBIO),
	C(FIOCLEX),
	/* sockets, fcntl, memory, prctl */
	C(AF_UNIX),
	C(AF_VSOCK),
	C(SOCK_STREAM),
	C(SOCK_DGRAM),
	C(SOCK_SEQPACKET),
	C(SOCK_CLOEXEC),
	C(SOCK_NONBLOCK),
	C(F_GETFD),
	C(F_SETFD),
	C(F_GETFL),
	C(F_SETFL),
	C(FD_CLOEXEC),
	C(O_NONBLOCK),
	C(EFD_CLOEXEC),
	C(EFD_NONBLOCK),
	C(PROT_NONE),
	C(PROT_READ),
	C(PROT_WRITE),
	C(MAP_SHARED),
	C(MAP_PRIVATE),
	C(MAP_ANONYMOUS),
	C(MAP_FIXED),
	C(MAP_NORESERVE),
	C(MAP_STACK),
	C(MADV_DONTNEED),
	C(MADV_FREE),
	C(PR_SET_NAME),
	C(PR_GET_NAME),
	C(SIGABRT),
};

static int lookup_one(const char *name, size_t len, unsigned long long *out)
{
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		if (strlen(constants[i].name) == len && !strncmp(constants[i].name, name, len)) {
			*out = constants[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

int seccompiler_constant(const char *name, unsigned long long *out)
{
	unsigned long long v = 0, one;

	for (const char *p = name;; p++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (lookup_one(p, len, &one) < 0)
			return -ENOENT;
		v |= one;
		if (!bar)
			break;
		p = bar;
	}
	*out = v;
	return 0;
}

/* "allow", "trap", "kill_process", "kill_thread" or "kill", "log",
 * {"errno": N}, {"trace": N}. */
static int parse_action(json_t *j, const char *what, uint32_t *out, struct ember_err *err)
{
	static const struct {
		const char *name;
		uint32_t action;
	} simple[] = {
		{ "allow", SCMP_ACT_ALLOW },
		{ "trap", SCMP_ACT_TRAP },
		{ "kill_process", SCMP_ACT_KILL_PROCESS },
		{ "kill_thread", SCMP_ACT_KILL_THREAD },
		{ "kill", SCMP_ACT_KILL_THREAD },
		{ "log", SCMP_ACT_LOG },
	};
	json_int_t n;

	for (size_t i = 0; json_is_string(j) && i < sizeof(simple) / sizeof(simple[0]); i++) {
		if (!strcmp(json_string_value(j), simple[i].name)) {
			*out = simple[i].action;
			return 0;
		}
	}
	if (json_is_object(j) && json_object_size(j) == 1 &&
	    json_is_integer(json_object_get(j, "errno")) &&
	    (n = json_integer_value(json_object_get(j, "errno"))) >= 0 && n <= 4095) {
		*out = SCMP_ACT_ERRNO((uint32_t)n);
		return 0;
	}
	if (json_is_object(j) && json_object_size(j) == 1 &&
	    json_is_integer(json_object_get(j, "trace")) &&
	    (n = json_integer_value(json_object_get(j, "trace"))) >= 0 && n <= 65535) {
		*out = SCMP_ACT_TRACE((uint32_t)n);
		return 0;
	}
	return err_set(err, EINVAL,
		       "%s: not an action (allow, trap, kill_process, kill_thread, log, "
		       "{\"errno\": N}, {\"trace\": N})",
		       what);
}

static int parse_value(json_t *j, unsigned long long *out, struct ember_err *err)
{
	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*out = (unsigned long long)json_integer_value(j);
		return 0;
	}
	if (json_is_string(j) && !seccompiler_constant(json_string_value(j), out))
		return 0;
	if (json_is_string(j))
		return err_set(err, EINVAL, "unknown constant \"%s\"", json_string_value(j));
	return err_set(err, EINVAL, "a value must be a non-negative number or a constant's name");
}

static int parse_op(json_t *j, struct scmp_arg_cmp *c, struct ember_err *err)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "eq", SCMP_CMP_EQ }, { "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT },
		{ "le", SCMP_CMP_LE }, { "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE },
	};
	json_t *mask = json_object_get(j, "masked_eq");

	for (size_t i = 0; json_is_string(j) && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!strcmp(json_string_value(j), ops[i].name)) {
			c->op = ops[i].op;
			return 0;
		}
	}
	if (json_is_object(j) && json_object_size(j) == 1 && mask) {
		unsigned long long m;

		c->op = SCMP_CMP_MASKED_EQ;
		if (parse_value(mask, &m, err) < 0)
			return -EINVAL;
		c->datum_a = m;
		return 0;
	}
	return err_set(err, EINVAL, "op must be eq, ne, lt, le, gt, ge or {\"masked_eq\": MASK}");
}

/* {"index": 0-5, "type": "dword"|"qword", "op": ..., "val": ..., "comment": ...} */
static int parse_arg(json_t *j, struct scmp_arg_cmp *c, struct ember_err *err)
{
	json_t *index, *type, *op, *val, *comment;
	unsigned long long v;
	bool dword;

	if (json_unpack_ex(j, NULL, JSON_STRICT, "{s:o, s:o, s:o, s:o, s?o}", "index", &index,
			   "type", &type, "op", &op, "val", &val, "comment", &comment) < 0)
		return err_set(err, EINVAL,
			       "an argument needs exactly index, type, op, val "
			       "and an optional comment");
	if (!json_is_integer(index) || json_integer_value(index) < 0 ||
	    json_integer_value(index) > 5)
		return err_set(err, EINVAL, "an argument's index must be 0 to 5");
	if (!json_is_string(type) ||
	    (strcmp(json_string_value(type), "dword") && strcmp(json_string_value(type), "qword")))
		return err_set(err, EINVAL, "an argument's type must be \"dword\" or \"qword\"");
	memset(c, 0, sizeof(*c));
	c->arg = (unsigned)json_integer_value(index);
	if (parse_op(op, c, err) < 0 || parse_value(val, &v, err) < 0)
		return -EINVAL;
	dword = !strcmp(json_string_value(type), "dword");
	if (dword && v > UINT32_MAX)
		return err_set(err, EINVAL, "value %llu does not fit a dword", v);
	/* A dword's eq compares the low 32 bits only, whatever the upper half holds. */
	if (dword && c->op == SCMP_CMP_EQ) {
		c->op = SCMP_CMP_MASKED_EQ;
		c->datum_a = UINT32_MAX;
	}
	/* masked_eq: datum_a is the mask, datum_b the value; otherwise datum_a. */
	if (c->op == SCMP_CMP_MASKED_EQ)
		c->datum_b = v;
	else
		c->datum_a = v;
	return 0;
}

/* {"syscall": NAME, "args": [...], "comment": ...} */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, json_t *j, struct ember_err *err)
{
	struct scmp_arg_cmp cmps[6];
	json_t *name, *args = NULL, *comment, *a;
	size_t i, n = 0;
	int nr, ret;

	if (json_unpack_ex(j, NULL, JSON_STRICT, "{s:o, s?o, s?o}", "syscall", &name, "args", &args,
			   "comment", &comment) < 0 ||
	    !json_is_string(name))
		return err_set(err, EINVAL,
			       "a rule needs a syscall name, and may have args and "
			       "a comment");
	nr = seccomp_syscall_resolve_name(json_string_value(name));
	if (nr == __NR_SCMP_ERROR)
		return err_set(err, EINVAL, "unknown syscall \"%s\"", json_string_value(name));
	if (args && (!json_is_array(args) || json_array_size(args) > 6))
		return err_set(err, EINVAL, "%s: args must be a list of at most 6 conditions",
			       json_string_value(name));
	json_array_foreach(args, i, a)
	{
		if (parse_arg(a, &cmps[n++], err) < 0)
			return err_prefix(err, "%s", json_string_value(name));
	}
	ret = seccomp_rule_add_exact_array(ctx, action, nr, (unsigned)n, cmps);
	if (ret < 0)
		return err_set(err, -ret, "%s: libseccomp refused the rule (%s)",
			       json_string_value(name), strerror(-ret));
	return 0;
}

/* libseccomp writes BPF to an fd: a memfd brings it back into memory. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_filter **insns, size_t *n,
		      struct ember_err *err)
{
	int ret, fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	off_t size;

	if (fd < 0)
		return err_errno(err, "memfd_create");
	ret = seccomp_export_bpf(ctx, fd);
	if (ret < 0) {
		close(fd);
		return err_set(err, -ret, "libseccomp cannot export the filter");
	}
	size = lseek(fd, 0, SEEK_END);
	*n = (size_t)size / sizeof(struct sock_filter);
	*insns = malloc((size_t)size + 1);
	if (!*insns || pread(fd, *insns, (size_t)size, 0) != size)
		ret = err_set(err, EIO, "reading back the exported filter");
	close(fd);
	return ret;
}

/* One thread kind: {"default_action", "filter_action", "filter": [...]} */
static int compile_kind(json_t *j, struct sock_filter **insns, size_t *n, struct ember_err *err)
{
	json_t *def, *act, *rules, *rule;
	uint32_t def_action, filter_action;
	scmp_filter_ctx ctx;
	size_t i;
	int ret = 0;

	if (json_unpack_ex(j, NULL, JSON_STRICT, "{s:o, s:o, s:o}", "default_action", &def,
			   "filter_action", &act, "filter", &rules) < 0 ||
	    !json_is_array(rules))
		return err_set(err, EINVAL,
			       "needs exactly default_action, filter_action and a "
			       "filter list");
	if (parse_action(def, "default_action", &def_action, err) < 0 ||
	    parse_action(act, "filter_action", &filter_action, err) < 0)
		return -EINVAL;
	ctx = seccomp_init(def_action);
	if (!ctx)
		return err_set(err, ENOMEM, "seccomp_init failed");
	/* A binary search on the syscall number: every syscall pays log(n), not n. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	json_array_foreach(rules, i, rule)
	{
		if ((ret = add_rule(ctx, filter_action, rule, err)) < 0)
			break;
	}
	if (!ret)
		ret = export_bpf(ctx, insns, n, err);
	seccomp_release(ctx);
	return ret;
}

static int assemble(struct sock_filter *progs[], size_t lens[], void **out, size_t *out_len,
		    struct ember_err *err)
{
	struct seccomp_file_header h = { .magic = SECCOMP_FILE_MAGIC,
					 .version = SECCOMP_FILE_VERSION };
	size_t total = 0;
	char *p;

	for (int k = 0; k < SECCOMP_NR_THREADS; k++) {
		if (lens[k] > SECCOMP_MAX_INSNS)
			return err_set(err, E2BIG,
				       "%s: %zu instructions, more than the kernel's %d",
				       seccomp_thread_name(k), lens[k], SECCOMP_MAX_INSNS);
		h.nr_insns[k] = (uint32_t)lens[k];
		total += lens[k];
	}
	*out_len = sizeof(h) + total * sizeof(struct sock_filter);
	if (*out_len > SECCOMP_FILE_MAX)
		return err_set(err, E2BIG, "the filters need %zu bytes, more than %d", *out_len,
			       SECCOMP_FILE_MAX);
	*out = p = malloc(*out_len);
	if (!p)
		return err_set(err, ENOMEM, "no memory");
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (int k = 0; k < SECCOMP_NR_THREADS; p += lens[k] * sizeof(struct sock_filter), k++)
		memcpy(p, progs[k], lens[k] * sizeof(struct sock_filter));
	return 0;
}

static int compile_all(json_t *root, void **out, size_t *out_len, struct ember_err *err)
{
	struct sock_filter *progs[SECCOMP_NR_THREADS] = { NULL };
	size_t lens[SECCOMP_NR_THREADS] = { 0 };
	int ret = 0;

	for (int k = 0; !ret && k < SECCOMP_NR_THREADS; k++) {
		json_t *j = json_object_get(root, seccomp_thread_name(k));

		if (!json_is_object(j))
			ret = err_set(err, EINVAL, "no \"%s\" object", seccomp_thread_name(k));
		else if ((ret = compile_kind(j, &progs[k], &lens[k], err)) < 0)
			err_prefix(err, "%s", seccomp_thread_name(k));
	}
	if (!ret && json_object_size(root) != SECCOMP_NR_THREADS)
		ret = err_set(err, EINVAL, "only \"vmm\", \"api\" and \"vcpu\" may be given");
	if (!ret)
		ret = assemble(progs, lens, out, out_len, err);
	for (int k = 0; k < SECCOMP_NR_THREADS; k++)
		free(progs[k]);
	return ret;
}

int seccompiler_compile(const char *text, size_t len, void **out, size_t *out_len,
			struct ember_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	int ret;

	*out = NULL;
	*out_len = 0;
	if (!root)
		return err_set(err, EINVAL, "line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root))
		ret = err_set(err, EINVAL, "the top level must be an object");
	else
		ret = compile_all(root, out, out_len, err);
	json_decref(root);
	return ret;
}
