// SPDX-License-Identifier: Apache-2.0
/* The API's pre-boot resources applied to a config (config_put): PUT and
 * PATCH semantics, path ids, replacement, and nothing changed on errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct vm_config cfg;
static struct ember_err err;

static void setup(void)
{
	config_init(&cfg);
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	config_free(&cfg);
}

TestSuite(config_put, .init = setup, .fini = teardown);

static int put(enum config_resource r, const char *id, const char *json)
{
	return config_put(&cfg, r, id, json, false, &err);
}

static void refused(enum config_resource r, const char *id, const char *json, const char *words)
{
	cr_assert_eq(put(r, id, json), -EINVAL, "accepted: %s", json);
	cr_assert(strstr(err.msg, words), "\"%s\" lacks \"%s\"", err.msg, words);
}

#define DRIVE(id, path, root) \
	"{\"drive_id\": \"" id "\", \"path_on_host\": \"" path "\", \"is_root_device\": " root "}"
#define NET(id, tap, mac) \
	"{\"iface_id\": \"" id "\", \"host_dev_name\": \"" tap "\", \"guest_mac\": \"" mac "\"}"

Test(config_put, boot_source_replaces_the_old_one_whole)
{
	cr_assert_eq(put(CONFIG_BOOT_SOURCE, NULL,
			 "{\"kernel_image_path\": \"/k1\", \"boot_args\": \"console=ttyS0\"}"),
		     0, "%s", err.msg);
	cr_assert_eq(put(CONFIG_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k2\"}"), 0);
	cr_assert(cfg.has_boot);
	cr_assert_str_eq(cfg.boot.kernel_image_path, "/k2");
	cr_assert_null(cfg.boot.boot_args, "left out: back to the default");
}

Test(config_put, a_bad_boot_source_changes_nothing)
{
	cr_assert_eq(put(CONFIG_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k1\"}"), 0);
	refused(CONFIG_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k2\", \"initrd_path\": 7}",
		"`initrd_path` must be a string");
	cr_assert_str_eq(cfg.boot.kernel_image_path, "/k1");
}

Test(config_put, bodies_must_be_strict_json)
{
	refused(CONFIG_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k\"", "invalid JSON");
	refused(CONFIG_BOOT_SOURCE, NULL,
		"{\"kernel_image_path\": \"/a\", \"kernel_image_path\": \"/b\"}", "duplicate");
	refused(CONFIG_BOOT_SOURCE, NULL, "", "invalid JSON");
	refused(CONFIG_BOOT_SOURCE, NULL, NULL, "invalid JSON");
	refused(CONFIG_BOOT_SOURCE, NULL, "[1]", "must be a JSON object");
	refused(CONFIG_BOOT_SOURCE, NULL, "{\"kernel_image_path\": \"/k\", \"x\": 1}",
		"unknown field `x`");
	cr_assert_not(cfg.has_boot);
}

Test(config_put, machine_config_put_resets_what_it_leaves_out)
{
	cr_assert_eq(
	    put(CONFIG_MACHINE, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}"),
	    0, "%s", err.msg);
	cr_assert_eq(put(CONFIG_MACHINE, NULL, "{\"vcpu_count\": 4, \"mem_size_mib\": 512}"), 0);
	cr_assert_eq(cfg.machine.vcpu_count, 4);
	cr_assert_eq(cfg.machine.mem_size_mib, 512);
	cr_assert_not(cfg.machine.smt);
}

Test(config_put, machine_config_put_needs_both_sizes)
{
	refused(CONFIG_MACHINE, NULL, "{\"vcpu_count\": 2}", "missing field `mem_size_mib`");
	refused(CONFIG_MACHINE, NULL, "{\"mem_size_mib\": 256}", "missing field `vcpu_count`");
	cr_assert_eq(cfg.machine.vcpu_count, 1, "unchanged");
	cr_assert_eq(cfg.machine.mem_size_mib, 128, "unchanged");
}

Test(config_put, machine_config_patch_keeps_what_it_leaves_out)
{
	cr_assert_eq(put(CONFIG_MACHINE, NULL, "{\"vcpu_count\": 2, \"mem_size_mib\": 256}"), 0);
	cr_assert_eq(config_put(&cfg, CONFIG_MACHINE, NULL, "{\"mem_size_mib\": 1024}", true, &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.machine.vcpu_count, 2);
	cr_assert_eq(cfg.machine.mem_size_mib, 1024);
}

Test(config_put, a_bad_machine_config_patch_changes_nothing)
{
	cr_assert_eq(config_put(&cfg, CONFIG_MACHINE, NULL,
				"{\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}", true,
				&err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "1 or even"), "%s", err.msg);
	cr_assert_eq(config_put(&cfg, CONFIG_MACHINE, NULL, "{\"vcpu_count\": -1}", true, &err),
		     -EINVAL);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, 128);
	cr_assert_not(cfg.machine.smt);
}

Test(config_put, drives_are_added_then_replaced_by_id)
{
	cr_assert_eq(put(CONFIG_DRIVE, "data", DRIVE("data", "/d1", "false")), 0, "%s", err.msg);
	cr_assert_eq(put(CONFIG_DRIVE, "rootfs", DRIVE("rootfs", "/r", "true")), 0, "%s", err.msg);
	cr_assert_eq(put(CONFIG_DRIVE, "data", DRIVE("data", "/d2", "false")), 0, "%s", err.msg);
	cr_assert_eq(cfg.nr_drives, 2);
	cr_assert_str_eq(cfg.drives[0].drive_id, "rootfs", "the root drive comes first");
	cr_assert_str_eq(cfg.drives[1].path_on_host, "/d2");
}

Test(config_put, a_drive_that_becomes_root_moves_first)
{
	cr_assert_eq(put(CONFIG_DRIVE, "a", DRIVE("a", "/a", "false")), 0);
	cr_assert_eq(put(CONFIG_DRIVE, "b", DRIVE("b", "/b", "false")), 0);
	cr_assert_eq(put(CONFIG_DRIVE, "b", DRIVE("b", "/b", "true")), 0, "%s", err.msg);
	cr_assert_eq(cfg.nr_drives, 2);
	cr_assert_str_eq(cfg.drives[0].drive_id, "b");
	cr_assert_str_eq(cfg.drives[1].drive_id, "a");
}

Test(config_put, a_drive_id_must_match_the_path)
{
	refused(CONFIG_DRIVE, "rootfs", DRIVE("other", "/r", "true"), "differs from the path");
	cr_assert_eq(cfg.nr_drives, 0);
}

Test(config_put, a_second_root_drive_is_refused_and_the_first_stays)
{
	cr_assert_eq(put(CONFIG_DRIVE, "r1", DRIVE("r1", "/r1", "true")), 0);
	refused(CONFIG_DRIVE, "r2", DRIVE("r2", "/r2", "true"), "both root devices");
	cr_assert_eq(cfg.nr_drives, 1);
	cr_assert_eq(put(CONFIG_DRIVE, "r1", DRIVE("r1", "/r1b", "true")), 0,
		     "replacing the root with a root is fine: %s", err.msg);
	cr_assert_str_eq(cfg.drives[0].path_on_host, "/r1b");
}

Test(config_put, at_most_sixteen_drives)
{
	char id[8], body[128];

	for (int i = 0; i < CONFIG_MAX_DRIVES; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body), DRIVE("%s", "/x", "false"), id);
		cr_assert_eq(put(CONFIG_DRIVE, id, body), 0, "%s", err.msg);
	}
	refused(CONFIG_DRIVE, "one-more", DRIVE("one-more", "/x", "false"), "at most 16");
	cr_assert_eq(put(CONFIG_DRIVE, "d3", DRIVE("d3", "/y", "false")), 0,
		     "a replacement still fits: %s", err.msg);
}

Test(config_put, interfaces_are_added_then_replaced_by_id)
{
	cr_assert_eq(put(CONFIG_NET, "eth0", NET("eth0", "tap0", "06:00:ac:10:00:02")), 0, "%s",
		     err.msg);
	cr_assert_eq(put(CONFIG_NET, "eth0", NET("eth0", "tap9", "06:00:ac:10:00:02")), 0,
		     "the same MAC on its own replacement: %s", err.msg);
	cr_assert_eq(cfg.nr_nets, 1);
	cr_assert_str_eq(cfg.nets[0].host_dev_name, "tap9");
	refused(CONFIG_NET, "eth1", NET("eth1", "tap9", "06:00:ac:10:00:03"), "same TAP");
	refused(CONFIG_NET, "eth1", NET("eth1", "tap1", "06:00:ac:10:00:02"), "same guest_mac");
	refused(CONFIG_NET, "eth1", NET("eth2", "tap1", "06:00:ac:10:00:03"),
		"differs from the path");
	cr_assert_eq(cfg.nr_nets, 1);
}

Test(config_put, vsock_replaces_and_a_bad_one_keeps_the_old)
{
	cr_assert_eq(put(CONFIG_VSOCK, NULL, "{\"guest_cid\": 3, \"uds_path\": \"/v1\"}"), 0);
	cr_assert_eq(put(CONFIG_VSOCK, NULL, "{\"guest_cid\": 4, \"uds_path\": \"/v2\"}"), 0);
	refused(CONFIG_VSOCK, NULL, "{\"guest_cid\": 2, \"uds_path\": \"/v3\"}", "guest_cid");
	refused(CONFIG_VSOCK, NULL, "null", "must be a JSON object");
	cr_assert(cfg.vsock.set);
	cr_assert_eq(cfg.vsock.guest_cid, 4);
	cr_assert_str_eq(cfg.vsock.uds_path, "/v2");
}

Test(config_put, logger_levels_and_a_bad_one)
{
	cr_assert_eq(put(CONFIG_LOGGER, NULL, "{\"level\": \"Debug\", \"show_level\": true}"), 0,
		     "%s", err.msg);
	cr_assert_eq(cfg.logger.opts.level, LOG_DEBUG);
	refused(CONFIG_LOGGER, NULL, "{\"level\": \"Loud\"}", "unknown level");
	cr_assert_eq(cfg.logger.opts.level, LOG_DEBUG, "unchanged");
	cr_assert(cfg.logger.opts.show_level);
}

Test(config_put, patch_is_refused_where_firecracker_has_none)
{
	cr_assert_eq(config_put(&cfg, CONFIG_VSOCK, NULL,
				"{\"guest_cid\": 3, \"uds_path\": \"/v\"}", true, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "PATCH"), "%s", err.msg);
}

Test(config_put, drive_patch_changes_path_and_limiter_only)
{
	cr_assert_eq(put(CONFIG_DRIVE, "a", DRIVE("a", "/a", "true")), 0, "%s", err.msg);
	cr_assert_eq(config_put(&cfg, CONFIG_DRIVE, "a",
				"{\"drive_id\": \"a\", \"path_on_host\": \"/b\", \"rate_limiter\": "
				"{\"ops\": {\"size\": 10, \"refill_time\": 100}}}",
				true, &err),
		     0, "%s", err.msg);
	cr_assert_str_eq(cfg.drives[0].path_on_host, "/b");
	cr_assert_eq(cfg.drives[0].rate_limiter.ops.size, 10);
	cr_assert(cfg.drives[0].is_root_device, "untouched");
	cr_assert_eq(config_put(&cfg, CONFIG_DRIVE, "a", "{\"drive_id\": \"a\"}", true, &err), 0);
	cr_assert_str_eq(cfg.drives[0].path_on_host, "/b", "a PATCH without a path keeps it");
	cr_assert_eq(cfg.drives[0].rate_limiter.ops.size, 10, "and the limiter");
}

Test(config_put, drive_patch_bad_bodies)
{
	static const char *const bad[][2] = {
		{ "{\"drive_id\": \"b\", \"path_on_host\": \"/b\"}", "differs" },
		{ "{\"path_on_host\": \"/b\"}", "drive_id" },
		{ "{\"drive_id\": \"a\", \"is_read_only\": true}", "is_read_only" },
		{ "{\"drive_id\": \"a\", \"path_on_host\": 7}", "path_on_host" },
		{ "{\"drive_id\": \"a\", \"rate_limiter\": {\"ops\": {\"size\": -1}}}", "size" },
	};

	cr_assert_eq(put(CONFIG_DRIVE, "a", DRIVE("a", "/a", "true")), 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = config_put(&cfg, CONFIG_DRIVE, "a", bad[i][0], true, &err);

		cr_assert_lt(ret, 0, "accepted: %s", bad[i][0]);
		cr_assert(strstr(err.msg, bad[i][1]), "\"%s\" lacks \"%s\"", err.msg, bad[i][1]);
		cr_assert_str_eq(cfg.drives[0].path_on_host, "/a", "unchanged after %s", bad[i][0]);
	}
	cr_assert_eq(config_put(&cfg, CONFIG_DRIVE, "zz", "{\"drive_id\": \"zz\"}", true, &err),
		     -ENOENT);
	cr_assert(strstr(err.msg, "no such drive"), "%s", err.msg);
}

Test(config_put, net_patch_sets_only_rate_limiters)
{
	cr_assert_eq(put(CONFIG_NET, "eth0", NET("eth0", "tap0", "06:00:00:00:00:01")), 0, "%s",
		     err.msg);
	cr_assert_eq(config_put(&cfg, CONFIG_NET, "eth0",
				"{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"bandwidth\": "
				"{\"size\": 1000, \"refill_time\": 10}}}",
				true, &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.nets[0].tx_rate_limiter.bandwidth.size, 1000);
	cr_assert_eq(config_put(&cfg, CONFIG_NET, "eth0",
				"{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\"}", true,
				&err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "host_dev_name"), "%s", err.msg);
	cr_assert_str_eq(cfg.nets[0].host_dev_name, "tap0");
}

Test(config_put, metrics_needs_a_path_and_takes_string_properties)
{
	refused(CONFIG_METRICS, NULL, "{}", "metrics_path");
	refused(CONFIG_METRICS, NULL, "{\"metrics_path\": \"/m\", \"properties\": {\"a\": 1}}",
		"properties.a");
	refused(CONFIG_METRICS, NULL, "{\"metrics_path\": \"/m\", \"flush\": true}", "flush");
	cr_assert(!cfg.metrics.set);
	cr_assert_eq(put(CONFIG_METRICS, NULL,
			 "{\"metrics_path\": \"/m\", \"emit_id\": true, \"properties\": {\"a\": "
			 "\"b\"}}"),
		     0, "%s", err.msg);
	cr_assert_str_eq(cfg.metrics.metrics_path, "/m");
	cr_assert(cfg.metrics.emit_id);
	cr_assert_str_eq(cfg.metrics.properties, "{\"a\":\"b\"}");
}

Test(config_put, entropy_with_and_without_a_limiter)
{
	cr_assert_eq(put(CONFIG_ENTROPY, NULL, "{}"), 0, "%s", err.msg);
	cr_assert(cfg.entropy.set);
	cr_assert_eq(put(CONFIG_ENTROPY, NULL,
			 "{\"rate_limiter\": {\"bandwidth\": {\"size\": 4096, \"refill_time\": "
			 "1000}}}"),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.entropy.rate_limiter.bandwidth.size, 4096);
	refused(CONFIG_ENTROPY, NULL, "{\"rate_limiter\": 5}", "rate_limiter");
	refused(CONFIG_ENTROPY, NULL, "{\"source\": \"/dev/random\"}", "source");
	refused(CONFIG_ENTROPY, NULL, "null", "JSON object");
	cr_assert_eq(cfg.entropy.rate_limiter.bandwidth.size, 4096, "unchanged");
}

Test(config_put, the_config_file_takes_metrics_and_entropy_sections)
{
	cr_assert_eq(config_parse(&cfg,
				  "{\"metrics\": {\"metrics_path\": \"/m\"}, \"entropy\": "
				  "{\"rate_limiter\": null}}",
				  &err),
		     0, "%s", err.msg);
	cr_assert(cfg.metrics.set);
	cr_assert(cfg.entropy.set);
}

Test(config_put, dump_round_trips_through_the_config_file_parser)
{
	struct vm_config again;
	char *text, *text2;

	cr_assert_eq(put(CONFIG_BOOT_SOURCE, NULL,
			 "{\"kernel_image_path\": \"/k\", \"boot_args\": \"quiet\"}"),
		     0);
	cr_assert_eq(put(CONFIG_DRIVE, "a",
			 "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": "
			 "true, \"rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 9}}}"),
		     0, "%s", err.msg);
	cr_assert_eq(put(CONFIG_NET, "eth0", NET("eth0", "tap0", "06:00:00:00:00:01")), 0);
	cr_assert_eq(put(CONFIG_VSOCK, NULL, "{\"guest_cid\": 7, \"uds_path\": \"/v\"}"), 0);
	cr_assert_eq(put(CONFIG_ENTROPY, NULL, "{}"), 0);
	text = config_dump(&cfg);
	cr_assert_not_null(text);
	config_init(&again);
	cr_assert_eq(config_parse(&again, text, &err), 0, "%s in %s", err.msg, text);
	text2 = config_dump(&again);
	cr_assert_str_eq(text, text2);
	cr_assert_eq(again.drives[0].rate_limiter.ops.refill_time_ms, 9);
	cr_assert_eq(again.vsock.guest_cid, 7);
	free(text);
	free(text2);
	config_free(&again);
}
