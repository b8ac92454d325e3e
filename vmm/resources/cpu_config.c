// SPDX-License-Identifier: Apache-2.0
/*
 * PUT /cpu-config: a custom CPU template (Firecracker's CustomCpuTemplate,
 * x86_64): KVM capabilities to add ("121") or drop ("!121"), CPUID leaf
 * modifiers and MSR modifiers, each register a "0b" bitmap of 0, 1 and x
 * (leave alone), '_' for readability. The config file's "cpu-config" is
 * the same object or the path of a file that holds it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_template.h"
#include "instance.h"
#include "resource.h"

#define CPU_CONFIG_FILE_MAX (1 << 20)

static const struct field reg_fields[] = {
	{ .name = "register", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "bitmap", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field leaf_fields[] = {
	{ .name = "leaf", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "subleaf", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "flags", .type = FT_U32, .flags = F_REQUIRED },
	{ .name = "modifiers",
	  .type = FT_ARRAY,
	  .flags = F_REQUIRED,
	  .item = FT_OBJECT,
	  .sub = reg_fields },
	{ 0 },
};

static const struct field msr_fields[] = {
	{ .name = "addr", .type = FT_STRING, .flags = F_REQUIRED },
	{ .name = "bitmap", .type = FT_STRING, .flags = F_REQUIRED },
	{ 0 },
};

static const struct field fields[] = {
	{ .name = "kvm_capabilities", .type = FT_ARRAY, .item = FT_STRING },
	{ .name = "cpuid_modifiers", .type = FT_ARRAY, .item = FT_OBJECT, .sub = leaf_fields },
	{ .name = "msr_modifiers", .type = FT_ARRAY, .item = FT_OBJECT, .sub = msr_fields },
	{ 0 },
};

/* "0x1f" or "0b101": Firecracker takes no other form for leaves and MSRs. */
static int parse_number(const struct body *b, const char *key, uint32_t *out, struct ember_err *err)
{
	const char *s = body_str(b->value, key);
	int base = !strncmp(s, "0x", 2) ? 16 : !strncmp(s, "0b", 2) ? 2 : 0;
	unsigned long long v;
	char *end;

	if (!base)
		return body_error(b, key, err,
				  "No supported number system prefix found in value [%s]. Make "
				  "sure to prefix the number with '0x' for hexadecimal numbers or "
				  "'0b' for binary numbers.",
				  s);
	errno = 0;
	v = strtoull(s + 2, &end, base);
	if (errno || end == s + 2 || *end || v > UINT32_MAX || strchr(s + 2, '-') ||
	    strchr(s + 2, '+'))
		return body_error(b, key, err,
				  "Failed to parse string [%s] as a number for CPU template", s);
	*out = (uint32_t)v;
	return 0;
}

/* The tri-state bitmap, read from its last character (bit 0) up. */
static int parse_bitmap(const struct body *b, unsigned bits, uint64_t *filter, uint64_t *value,
			struct ember_err *err)
{
	const char *s = body_str(b->value, "bitmap");
	const char *p = !strncmp(s, "0b", 2) ? s + 2 : s;
	unsigned i = 0;

	*filter = *value = 0;
	for (const char *c = p + strlen(p); c-- > p;) {
		if (*c == '_')
			continue;
		if (i == bits)
			return body_error(b, "bitmap", err,
					  "Failed to parse string [%s] as a bitmap - string is too "
					  "long",
					  s);
		if (*c == '0' || *c == '1')
			*filter |= 1ull << i;
		if (*c == '1')
			*value |= 1ull << i;
		else if (*c != '0' && *c != 'x')
			return body_error(b, "bitmap", err,
					  "Failed to parse string [%s] as a bitmap - unknown "
					  "character: %d",
					  s, *c);
		i++;
	}
	return 0;
}

static int parse_reg(const struct body *b, uint32_t leaf, uint32_t subleaf, uint32_t flags,
		     struct cpu_cpuid_mod *m, struct ember_err *err)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx", NULL };
	int r = body_enum(b->value, "register", regs, -1);
	uint64_t filter, value;
	int ret;

	if (r < 0)
		return body_error(b, "register", err,
				  "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]");
	ret = parse_bitmap(b, 32, &filter, &value, err);
	*m = (struct cpu_cpuid_mod){
		leaf, subleaf, flags, (enum cpuid_reg)r, (uint32_t)filter, (uint32_t)value
	};
	return ret;
}

static int parse_leaves(const struct body *b, struct cpu_template *t, struct ember_err *err)
{
	struct cpu_cpuid_mod *mods = NULL;
	struct body list, leaf, regs, reg;
	size_t n = 0, i, j;
	json_t *x;

	body_enter(&list, b, "cpuid_modifiers", 0);
	json_array_foreach(list.value, i, x)
	{
		uint32_t l = 0, s = 0, flags = (uint32_t)body_u64(x, "flags", 0);
		struct cpu_cpuid_mod *more;
		json_t *y;

		body_enter(&leaf, &list, NULL, i);
		if (parse_number(&leaf, "leaf", &l, err) || parse_number(&leaf, "subleaf", &s, err))
			goto fail;
		body_enter(&regs, &leaf, "modifiers", 0);
		more = realloc(mods, (n + json_array_size(regs.value) + 1) * sizeof(*mods));
		if (!more)
			goto nomem;
		mods = more;
		json_array_foreach(regs.value, j, y)
		{
			body_enter(&reg, &regs, NULL, j);
			if (parse_reg(&reg, l, s, flags, &mods[n++], err))
				goto fail;
		}
	}
	t->cpuid = mods;
	t->nr_cpuid = (unsigned)n;
	return 0;
nomem:
	err_set(err, ENOMEM, "out of memory");
fail:
	free(mods);
	return -err->code;
}

static int parse_msrs(const struct body *b, struct cpu_template *t, struct ember_err *err)
{
	struct cpu_msr_mod *mods;
	struct body list, m;
	size_t i;
	json_t *x;

	body_enter(&list, b, "msr_modifiers", 0);
	mods = calloc(json_array_size(list.value) + 1, sizeof(*mods));
	if (!mods)
		return err_set(err, ENOMEM, "out of memory");
	json_array_foreach(list.value, i, x)
	{
		body_enter(&m, &list, NULL, i);
		if (parse_number(&m, "addr", &mods[i].addr, err) ||
		    parse_bitmap(&m, 64, &mods[i].filter, &mods[i].value, err)) {
			free(mods);
			return -err->code;
		}
	}
	t->msrs = mods;
	t->nr_msrs = (unsigned)json_array_size(list.value);
	return 0;
}

static int parse_caps(const struct body *b, struct cpu_template *t, struct ember_err *err)
{
	struct cpu_kvm_cap *caps;
	struct body list;
	size_t i;
	json_t *x;

	body_enter(&list, b, "kvm_capabilities", 0);
	caps = calloc(json_array_size(list.value) + 1, sizeof(*caps));
	if (!caps)
		return err_set(err, ENOMEM, "out of memory");
	json_array_foreach(list.value, i, x)
	{
		const char *s = json_string_value(x), *num = s + (*s == '!');
		unsigned long v;
		char *end;

		errno = 0;
		v = strtoul(num, &end, 10);
		if (errno || end == num || *end || v > UINT32_MAX || *num == '-' || *num == '+') {
			struct body el;

			free(caps);
			body_enter(&el, &list, NULL, i);
			return body_error(&el, NULL, err,
					  "Failed to parse string [%s] as a kvm capability - can "
					  "not convert to numeric: invalid digit found in string",
					  s);
		}
		caps[i] = (struct cpu_kvm_cap){ (uint32_t)v, *s == '!' };
	}
	t->caps = caps;
	t->nr_caps = (unsigned)json_array_size(list.value);
	return 0;
}

static void free_template(void *t)
{
	cpu_template_free(t);
}

static int parse(struct res_call *c, struct ember_err *err)
{
	struct cpu_template *t;
	int ret = body_check(&c->body, fields, "struct CustomCpuTemplate", 0, err);

	if (ret)
		return ret;
	t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(err, ENOMEM, "out of memory");
	t->name = "custom";
	t->owned = true;
	c->args = t;
	c->free_args = free_template;
	ret = parse_caps(&c->body, t, err);
	if (!ret)
		ret = parse_leaves(&c->body, t, err);
	if (!ret)
		ret = parse_msrs(&c->body, t, err);
	return ret;
}

/* A custom template replaces the static one (Firecracker keeps one). */
static int apply(struct instance *in, struct res_call *c, struct ember_err *err)
{
	(void)in;
	(void)err;
	cpu_template_free(c->cfg->cpu_custom);
	c->cfg->cpu_custom = c->args;
	c->cfg->machine.cpu_template = CONFIG_TEMPLATE_NONE;
	c->args = NULL;
	return 0;
}

static char *read_file(const char *path, struct ember_err *err)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return err_errno(err, "cannot open the CPU template %s", path), NULL;
	buf = malloc(CPU_CONFIG_FILE_MAX + 1);
	n = buf ? fread(buf, 1, CPU_CONFIG_FILE_MAX, f) : 0;
	fclose(f);
	if (!buf)
		return err_set(err, ENOMEM, "out of memory"), NULL;
	buf[n] = '\0';
	return buf;
}

/* The config file: the template itself, or the path of a file holding it. */
static int file(struct instance *in, struct res_call *c, struct ember_err *err)
{
	struct res_call own = *c;
	char *text;
	int ret;

	if (!json_is_string(c->body.value)) {
		ret = parse(c, err);
		return ret ? ret : apply(in, c, err);
	}
	if (c->restoring) /* a snapshot names no host file */
		return err_set(err, EINVAL, "a snapshot's cpu-config cannot be a path");
	text = read_file(json_string_value(c->body.value), err);
	if (!text)
		return -err->code;
	own.body = (struct body){ .text = text, .value = body_parse(text, err) };
	ret = own.body.value ? parse(&own, err) : -EBADMSG;
	if (!ret)
		ret = apply(in, &own, err);
	if (own.free_args)
		own.free_args(own.args);
	json_decref(own.body.value);
	free(text);
	return ret;
}

const struct res_def res_cpu_config = {
	.path = "cpu-config",
	.metric = "cpu_cfg",
	.ops = { [RES_PUT] = { RES_PRE, false, parse, apply } },
	.key = "cpu-config",
	.file = file,
	.dump = res_dump_null, /* as Firecracker: never shown */
};
