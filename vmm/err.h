/* SPDX-License-Identifier: Apache-2.0 */
/* Error objects: library code returns -errno and fills one of these. */
#ifndef EMBER_ERR_H
#define EMBER_ERR_H

#define ERR_MSG_MAX 512

struct ember_err {
	int code;              /* positive errno */
	char msg[ERR_MSG_MAX]; /* becomes the API's fault_message */
};

/* Fill err (if not NULL) and return -code. */
int err_set(struct ember_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like err_set with code = errno, appending ": strerror(errno)". */
int err_errno(struct ember_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend context ("loading kernel: ...") and return -err->code. */
int err_prefix(struct ember_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
