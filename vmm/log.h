/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: Firecracker's line format, a runtime level, per-thread names. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum log_level {
	LOG_OFF,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

struct log_options {
	enum log_level level;
	bool show_level;
	bool show_origin;
};

void log_configure(const char *instance_id, const struct log_options *opts);
/* Send log lines to a file or named pipe instead of stderr. */
int log_set_path(const char *path, struct ember_err *err);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parse "Error", "Warning", "Info", "Debug", "Trace", "Off" (any case). */
int log_parse_level(const char *name, enum log_level *out);
/* Name shown for lines from the calling thread ("main", "vcpu 0"...). */
void log_thread_name(const char *name);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The sink's fd, for a signal handler's last words. */
int log_fd(void);
/* Lines written to the sink that failed (a full pipe): logger.missed_log_count. */
uint64_t log_missed(void);

/*
 * Rate limit for messages a guest can trigger, one per call site: GCRA with
 * a burst of LOG_RL_BURST lines, then one per LOG_RL_INTERVAL_NS; the next
 * line that passes reports how many were suppressed.
 */
#define LOG_RL_BURST       10
#define LOG_RL_INTERVAL_NS 500000000ULL

struct log_ratelimit {
	uint64_t tat_ns; /* GCRA's theoretical arrival time */
	uint64_t suppressed;
};

/* May a line pass at now_ns? *suppressed: lines dropped since the last that passed. */
bool log_ratelimit_at(struct log_ratelimit *rl, uint64_t now_ns, uint64_t *suppressed);
bool log_ratelimit(struct log_ratelimit *rl, uint64_t *suppressed);

#define log_ratelimited(level, ...)                                               \
	do {                                                                      \
		static struct log_ratelimit log_rl_; /* this call site's state */ \
		uint64_t log_sup_;                                                \
		if (log_enabled(level) && log_ratelimit(&log_rl_, &log_sup_)) {   \
			if (log_sup_)                                             \
				log_msg(level, __FILE__, __LINE__,                \
					"%llu similar messages were suppressed",  \
					(unsigned long long)log_sup_);            \
			log_msg(level, __FILE__, __LINE__, __VA_ARGS__);          \
		}                                                                 \
	} while (0)
#define log_warn_rl(...) log_ratelimited(LOG_WARN, __VA_ARGS__)

#define log_error(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
