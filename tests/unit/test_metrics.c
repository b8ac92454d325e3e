// SPDX-License-Identifier: Apache-2.0
/* Metrics lines: counter deltas, stored values, a sink that fails. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

Test(metrics, delta_subtracts_recursively_and_counts_new_keys_whole)
{
	json_t *prev =
	    json_pack("{s{sIsI}sI}", "block", "read_count", 10LL, "write_count", 5LL, "top", 7LL);
	json_t *now = json_pack("{s{sIsIsI}sIs{sI}}", "block", "read_count", 15LL, "write_count",
				5LL, "flush_count", 3LL, "top", 9LL, "net", "rx", 4LL);
	json_t *d = metrics_delta(now, prev);
	json_t *block = json_object_get(d, "block");

	cr_assert_eq(json_integer_value(json_object_get(block, "read_count")), 5);
	cr_assert_eq(json_integer_value(json_object_get(block, "write_count")), 0);
	cr_assert_eq(json_integer_value(json_object_get(block, "flush_count")), 3);
	cr_assert_eq(json_integer_value(json_object_get(d, "top")), 2);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "net"), "rx")), 4);
	json_decref(prev);
	json_decref(now);
	json_decref(d);
}

Test(metrics, a_counter_that_went_down_is_reported_whole)
{
	json_t *prev = json_pack("{sI}", "c", 100LL), *now = json_pack("{sI}", "c", 4LL);
	json_t *d = metrics_delta(now, prev);

	cr_assert_eq(json_integer_value(json_object_get(d, "c")), 4);
	json_decref(prev);
	json_decref(now);
	json_decref(d);
}

static json_t *read_line(FILE *f)
{
	char line[4096];

	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_eq(line[strlen(line) - 1], '\n', "one line per write");
	return json_loads(line, 0, NULL);
}

Test(metrics, lines_carry_timestamp_head_deltas_and_stores)
{
	char path[] = "/tmp/ember-metrics-test-XXXXXX";
	struct metrics m;
	struct ember_err err;
	json_t *l1, *l2;
	FILE *f;
	int fd = mkstemp(path);

	close(fd);
	metrics_init(&m);
	cr_assert_not(metrics_enabled(&m));
	cr_assert_eq(metrics_open(&m, path, &err), 0, "%s", err.msg);
	cr_assert_eq(metrics_write(&m, json_pack("{ss}", "id", "vm1"),
				   json_pack("{s{sI}}", "vcpu", "exit_io_in", 40LL),
				   json_pack("{s{sI}}", "latencies_us", "pause_vm", 12LL), &err),
		     0, "%s", err.msg);
	cr_assert_eq(metrics_write(&m, NULL, json_pack("{s{sI}}", "vcpu", "exit_io_in", 45LL),
				   json_pack("{s{sI}}", "latencies_us", "pause_vm", 12LL), &err),
		     0);
	f = fopen(path, "r");
	l1 = read_line(f);
	l2 = read_line(f);
	fclose(f);
	unlink(path);
	cr_assert_str_eq(json_object_iter_key(json_object_iter(l1)), "utc_timestamp_ms",
			 "the first key");
	cr_assert_str_eq(json_string_value(json_object_get(l1, "id")), "vm1");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(l1, "vcpu"), "exit_io_in")),
		     40);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(l2, "vcpu"), "exit_io_in")),
		     5, "a delta");
	cr_assert_eq(
	    json_integer_value(json_object_get(json_object_get(l2, "latencies_us"), "pause_vm")),
	    12, "a stored value, not a delta");
	json_decref(l1);
	json_decref(l2);
	metrics_close(&m);
}

Test(metrics, a_full_pipe_loses_the_line_and_counts_it)
{
	struct metrics m;
	struct ember_err err;
	char big[70000];
	int p[2];

	cr_assert_eq(pipe2(p, O_NONBLOCK), 0);
	metrics_init(&m);
	m.fd = p[1];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 4; i++)
		metrics_write(&m, json_pack("{ss}", "pad", big), json_object(), NULL, &err);
	cr_assert_gt(m.lost, 0, "a 64 KiB pipe cannot take 4 lines of 70 KB");
	close(p[0]);
	metrics_close(&m);
}

Test(log_ratelimit, a_burst_then_one_line_per_interval)
{
	struct log_ratelimit rl = { 0 };
	uint64_t t = 1000000000ULL, sup = 99;
	int passed = 0;

	for (int i = 0; i < 100; i++)
		passed += log_ratelimit_at(&rl, t, &sup);
	cr_assert_eq(passed, LOG_RL_BURST);
	cr_assert_not(log_ratelimit_at(&rl, t + LOG_RL_INTERVAL_NS / 2, &sup));
	cr_assert(log_ratelimit_at(&rl, t + LOG_RL_INTERVAL_NS, &sup));
	cr_assert_eq(sup, 91, "the 90 dropped in the burst and 1 after: %llu",
		     (unsigned long long)sup);
	cr_assert_not(log_ratelimit_at(&rl, t + LOG_RL_INTERVAL_NS, &sup));
	/* after a long quiet spell, a whole burst again */
	passed = 0;
	for (int i = 0; i < 100; i++)
		passed += log_ratelimit_at(&rl, t + 3600 * 1000000000ULL, &sup);
	cr_assert_eq(passed, LOG_RL_BURST);
}
