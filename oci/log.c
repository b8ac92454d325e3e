// SPDX-License-Identifier: Apache-2.0
/*
 * runc's logging as engines read it (../shared/reference/oci-runtime.md
 * 2.5): with --log-format json, one object per line,
 * {"level":"error","msg":"...","time":"RFC 3339"}; else logrus's text,
 * time="..." level=error msg="...". A failed command writes exactly one
 * error line to --log (podman parses the whole file as one object) and the
 * same message to stderr (conmon and the containerd shim pass it on).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"

static struct {
	char path[PATH_MAX];
	bool json, debug;
} sink;

void oci_log_init(const struct oci_globals *g)
{
	snprintf(sink.path, sizeof(sink.path), "%s", g->log);
	sink.json = g->log_json;
	sink.debug = g->debug;
}

static void now_rfc3339(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* logrus's text quoting: backslash before '"' and '\\', newlines escaped. */
static void text_quote(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 3 < size; s++) {
		if (*s == '"' || *s == '\\') {
			out[n++] = '\\';
			out[n++] = *s;
		} else if (*s == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *s;
		}
	}
	out[n] = '\0';
}

char *oci_log_format(bool json, const char *level, const char *msg, const char *when)
{
	char *line = NULL;

	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", when);

		line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
	} else {
		char q[2 * ERR_MSG_MAX + 8];

		text_quote(msg, q, sizeof(q));
		if (asprintf(&line, "time=\"%s\" level=%s msg=\"%s\"", when, level, q) < 0)
			line = NULL;
	}
	return line;
}

static void to_file(const char *level, const char *msg)
{
	char when[40], *line;
	int fd;

	if (!sink.path[0])
		return;
	now_rfc3339(when, sizeof(when));
	line = oci_log_format(sink.json, level, msg, when);
	fd = open(sink.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (line && fd >= 0) {
		size_t n = strlen(line);

		line[n] = '\n'; /* the NUL becomes the line's end */
		if (write(fd, line, n + 1) < 0) {
			/* nowhere left to report it */
		}
	}
	if (fd >= 0)
		close(fd);
	free(line);
}

void oci_log_error(const char *fmt, ...)
{
	char msg[2 * ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	to_file("error", msg);
	fprintf(stderr, "ember-oci: %s\n", msg);
}

void oci_log_debug(const char *fmt, ...)
{
	char msg[2 * ERR_MSG_MAX];
	va_list ap;

	if (!sink.debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	to_file("debug", msg);
}

int oci_fail(const struct ember_err *err)
{
	oci_log_error("%s", err->msg);
	return 1;
}
