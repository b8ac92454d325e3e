// SPDX-License-Identifier: Apache-2.0
/* The API's pre-boot resources applied to a config (config_put): PUT and
 * PATCH semantics, path ids, replacement, and nothing changed on errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
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

Test(config_put, patch_only_for_machine_config)
{
	cr_assert_eq(config_put(&cfg, CONFIG_DRIVE, "a", DRIVE("a", "/a", "false"), true, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "PATCH"), "%s", err.msg);
}
