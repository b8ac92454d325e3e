// SPDX-License-Identifier: Apache-2.0
/* The metrics sink: NDJSON lines of counter deltas and stored values. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int metrics_open(struct metrics *m, const char *path, struct ember_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0640);

	if (fd < 0)
		return err_errno(err, "cannot open the metrics file %s", path);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	return 0;
}

bool metrics_enabled(const struct metrics *m)
{
	return m->fd >= 0;
}

json_t *metrics_delta(json_t *counters, json_t *prev)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(counters, key, v)
	{
		json_t *p = prev ? json_object_get(prev, key) : NULL;

		if (json_is_object(v)) {
			json_object_set_new(out, key,
					    metrics_delta(v, json_is_object(p) ? p : NULL));
		} else if (json_is_integer(v)) {
			json_int_t now = json_integer_value(v);
			json_int_t was = json_is_integer(p) ? json_integer_value(p) : 0;

			/* a counter that went down was reset (a device swapped): report it whole */
			json_object_set_new(out, key, json_integer(now >= was ? now - was : now));
		} else {
			json_object_set(out, key, v);
		}
	}
	return out;
}

static json_int_t utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Merge src's members into dst's, one level of groups deep. */
static void merge_groups(json_t *dst, json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach(src, key, v)
	{
		json_t *d = json_object_get(dst, key);

		if (json_is_object(d) && json_is_object(v))
			json_object_update(d, v);
		else
			json_object_set(dst, key, v);
	}
}

static json_t *build_line(struct metrics *m, json_t *head, json_t *counters, json_t *stores)
{
	json_t *line = json_object(), *delta = metrics_delta(counters, m->prev);

	json_object_set_new(line, "utc_timestamp_ms", json_integer(utc_ms()));
	if (head)
		json_object_update(line, head);
	merge_groups(line, delta);
	json_decref(delta); /* merge_groups took its own references */
	if (stores)
		merge_groups(line, stores);
	return line;
}

static int write_line(struct metrics *m, const char *text, struct ember_err *err)
{
	struct iovec iov[2] = { { (void *)text, strlen(text) }, { (void *)"\n", 1 } };
	size_t len = iov[0].iov_len + 1;
	ssize_t n = writev(m->fd, iov, 2); /* one line, one write */

	if (n == (ssize_t)len) {
		m->lines++;
		return 0;
	}
	m->lost++;
	if (n < 0)
		return err_errno(err, "writing metrics");
	return err_set(err, EAGAIN, "writing metrics: short write of %zd of %zu bytes", n, len);
}

int metrics_write(struct metrics *m, json_t *head, json_t *counters, json_t *stores,
		  struct ember_err *err)
{
	json_t *line;
	char *text;
	int ret;

	if (m->fd < 0) {
		json_decref(head);
		json_decref(counters);
		json_decref(stores);
		return 0;
	}
	line = build_line(m, head, counters, stores);
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	json_decref(head);
	json_decref(stores);
	if (!text) {
		json_decref(counters);
		return err_set(err, ENOMEM, "out of memory for a metrics line");
	}
	ret = write_line(m, text, err);
	free(text);
	/* Counters since this line; a lost line's counts go into the next one. */
	if (!ret) {
		json_decref(m->prev);
		m->prev = counters;
	} else {
		json_decref(counters);
	}
	return ret;
}

void metrics_close(struct metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	json_decref(m->prev);
	m->prev = NULL;
}
