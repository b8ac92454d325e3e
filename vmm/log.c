// SPDX-License-Identifier: Apache-2.0
/* Logging: one write(2) per line, so lines from threads never interleave. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

/* Process-wide logger settings: configured once at start-up. */
static struct {
	char id[64];
	int fd;
	struct log_options opts;
} logger = {
	.id = "anonymous-instance",
	.fd = STDERR_FILENO,
	.opts = { .level = LOG_INFO },
};

static _Thread_local char thread_name[32] = "main";
static uint64_t missed_lines; /* atomic */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {
	[LOG_OFF] = "Off",   [LOG_ERROR] = "Error", [LOG_WARN] = "Warning",
	[LOG_INFO] = "Info", [LOG_DEBUG] = "Debug", [LOG_TRACE] = "Trace",
};

void log_configure(const char *instance_id, const struct log_options *opts)
{
	if (instance_id)
		snprintf(logger.id, sizeof(logger.id), "%s", instance_id);
	if (opts)
		logger.opts = *opts;
}

int log_set_path(const char *path, struct ember_err *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);

	if (fd < 0)
		return err_errno(err, "cannot open log file %s", path);
	if (logger.fd != STDERR_FILENO)
		close(logger.fd);
	logger.fd = fd;
	return 0;
}

void log_set_level(enum log_level level)
{
	logger.opts.level = level;
}

bool log_enabled(enum log_level level)
{
	return level != LOG_OFF && level <= logger.opts.level;
}

int log_parse_level(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(name, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(name, "warn")) {
		*out = LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

void log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

static size_t format_prefix(char *buf, size_t size, enum log_level level, const char *file,
			    int line)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%09ld [%s:%s", ts.tv_nsec, logger.id,
			      thread_name);
	if (logger.opts.show_level && n < size)
		n += (size_t)snprintf(buf + n, size - n, ":%s", level_names[level]);
	if (logger.opts.show_origin && n < size)
		n += (size_t)snprintf(buf + n, size - n, ":%s:%d", file, line);
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, "] ");
	return n < size ? n : size - 1;
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	size_t n;
	va_list ap;
	int saved = errno;

	if (!log_enabled(level))
		return;
	n = format_prefix(buf, sizeof(buf) - 1, level, file, line);
	va_start(ap, fmt);
	n += (size_t)vsnprintf(buf + n, sizeof(buf) - 1 - n, fmt, ap);
	va_end(ap);
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(logger.fd, buf, n) != (ssize_t)n) /* counted: nowhere else to report it */
		__atomic_add_fetch(&missed_lines, 1, __ATOMIC_RELAXED);
	errno = saved;
}

int log_fd(void)
{
	return __atomic_load_n(&logger.fd, __ATOMIC_RELAXED);
}

uint64_t log_missed(void)
{
	return __atomic_load_n(&missed_lines, __ATOMIC_RELAXED);
}

bool log_ratelimit_at(struct log_ratelimit *rl, uint64_t now_ns, uint64_t *suppressed)
{
	const uint64_t tolerance = (LOG_RL_BURST - 1) * LOG_RL_INTERVAL_NS;
	bool pass;

	pthread_mutex_lock(&ratelimit_lock);
	/* tat_ns starts at 0: the first call always passes */
	pass = rl->tat_ns <= now_ns + tolerance;
	if (pass) {
		rl->tat_ns = (rl->tat_ns > now_ns ? rl->tat_ns : now_ns) + LOG_RL_INTERVAL_NS;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return pass;
}

bool log_ratelimit(struct log_ratelimit *rl, uint64_t *suppressed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return log_ratelimit_at(rl, (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec,
				suppressed);
}
