// SPDX-License-Identifier: Apache-2.0
/* Kernel command-line assembly. */
#include "cmdline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cmdline_init(struct cmdline *cl)
{
	cl->len = 0;
	cl->buf[0] = '\0';
}

int cmdline_append(struct cmdline *cl, const char *words, struct ember_err *err)
{
	size_t add;

	while (*words == ' ')
		words++;
	add = strlen(words);
	while (add && words[add - 1] == ' ')
		add--;
	if (!add)
		return 0;
	if (cl->len + (cl->len ? 1 : 0) + add + 1 > sizeof(cl->buf))
		return err_set(err, E2BIG, "kernel command line would exceed %zu bytes",
			       sizeof(cl->buf) - 1);
	if (cl->len)
		cl->buf[cl->len++] = ' ';
	memcpy(cl->buf + cl->len, words, add);
	cl->len += add;
	cl->buf[cl->len] = '\0';
	return 0;
}

int cmdline_appendf(struct cmdline *cl, struct ember_err *err, const char *fmt, ...)
{
	char tmp[LAYOUT_CMDLINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return err_set(err, E2BIG, "kernel command line parameter too long");
	return cmdline_append(cl, tmp, err);
}

bool cmdline_has(const struct cmdline *cl, const char *key)
{
	size_t klen = strlen(key);
	bool quoted = false;

	for (size_t i = 0; i < cl->len; i++) {
		const char *p = cl->buf + i;

		if (!quoted && (i == 0 || p[-1] == ' ') && !strncmp(p, key, klen) &&
		    (p[klen] == '\0' || p[klen] == ' ' || p[klen] == '='))
			return true;
		if (*p == '"')
			quoted = !quoted;
	}
	return false;
}
