// SPDX-License-Identifier: Apache-2.0
/* Error objects: formatting and context prefixes. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct ember_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (code <= 0)
		code = EINVAL;
	if (!err)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -code;
}

int err_errno(struct ember_err *err, const char *fmt, ...)
{
	int code = errno ? errno : EIO;
	size_t len;
	va_list ap;

	if (!err)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(code));
	return -code;
}

/* Append s at *off, truncating at the end of dst (always NUL-terminated). */
static void append(char *dst, size_t size, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + 1 >= size)
		return;
	if (n > size - 1 - *off)
		n = size - 1 - *off;
	memcpy(dst + *off, s, n);
	*off += n;
	dst[*off] = '\0';
}

int err_prefix(struct ember_err *err, const char *fmt, ...)
{
	size_t off = 0;
	char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -EINVAL;
	if (err->code <= 0)
		err->code = EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	err->msg[0] = '\0';
	append(err->msg, sizeof(err->msg), &off, prefix);
	append(err->msg, sizeof(err->msg), &off, ": ");
	append(err->msg, sizeof(err->msg), &off, old);
	return -err->code;
}
