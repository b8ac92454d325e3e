/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel command-line assembly with the boot protocol's length limit. */
#ifndef EMBER_CMDLINE_H
#define EMBER_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "layout.h"

struct cmdline {
	char buf[LAYOUT_CMDLINE_MAX];
	size_t len; /* excluding the NUL */
};

void cmdline_init(struct cmdline *cl);
/* Append words, separated by one space; fails without change when full. */
int cmdline_append(struct cmdline *cl, const char *words, struct ember_err *err);
int cmdline_appendf(struct cmdline *cl, struct ember_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True if a parameter `key` or `key=...` is present outside quotes. */
bool cmdline_has(const struct cmdline *cl, const char *key);

#endif
