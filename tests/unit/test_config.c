// SPDX-License-Identifier: Apache-2.0
/* Config-file validation: each bad input is its own test. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "config.h"

#define KERNEL "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

static int parse(const char *json, struct vm_config *cfg, struct ember_err *err)
{
	config_init(cfg);
	return config_parse(cfg, json, err);
}

/* Parse text expected to fail; return the message. */
static const char *bad(const char *json)
{
	static struct ember_err err;
	struct vm_config cfg;
	int ret;

	memset(&err, 0, sizeof(err));
	ret = parse(json, &cfg, &err);
	if (ret == 0)
		ret = config_validate(&cfg, &err);
	config_free(&cfg);
	cr_assert_lt(ret, 0, "accepted: %s", json);
	return err.msg;
}

#define BAD(name, json, needle)                                                             \
	Test(config_bad, name)                                                              \
	{                                                                                   \
		const char *msg = bad(json);                                                \
		cr_assert(strstr(msg, needle), "message \"%s\" lacks \"%s\"", msg, needle); \
	}

Test(config, full_example)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(parse("{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\", "
			   "\"boot_args\": \"console=ttyS0\", \"initrd_path\": \"/initrd\"},"
			   "\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, "
			   "\"smt\": false, \"cpu_template\": \"T2\", \"huge_pages\": \"None\"},"
			   "\"drives\": [], \"network-interfaces\": []}",
			   &cfg, &err),
		     0, "%s", err.msg);
	cr_assert_eq(config_validate(&cfg, &err), 0);
	cr_assert_str_eq(cfg.boot.kernel_image_path, "/vmlinux");
	cr_assert_str_eq(cfg.boot.boot_args, "console=ttyS0");
	cr_assert_str_eq(cfg.boot.initrd_path, "/initrd");
	cr_assert_eq(cfg.machine.vcpu_count, 2);
	cr_assert_eq(cfg.machine.mem_size_mib, 256);
	cr_assert_str_eq(cfg.machine.cpu_template, "T2");
	config_free(&cfg);
}

Test(config, defaults)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(parse("{" KERNEL "}", &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg.machine.vcpu_count, 1);
	cr_assert_eq(cfg.machine.mem_size_mib, 128);
	cr_assert_null(cfg.boot.boot_args);
	cr_assert_null(cfg.boot.initrd_path);
	cr_assert_str_eq(cfg.machine.cpu_template, "None");
	config_free(&cfg);
}

Test(config, logger_and_serial_sections)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(parse("{" KERNEL ", \"logger\": {\"level\": \"Debug\", \"show_level\": true},"
			   "\"serial\": {\"serial_out_path\": \"/tmp/s\"}}",
			   &cfg, &err),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.logger.opts.level, LOG_DEBUG);
	cr_assert(cfg.logger.opts.show_level);
	cr_assert_str_eq(cfg.serial_out_path, "/tmp/s");
	config_free(&cfg);
}

BAD(invalid_json, "{\"boot-source\": ", "invalid JSON")
BAD(not_an_object, "[1, 2]", "must be a JSON object")
BAD(duplicate_keys, "{" KERNEL ", " KERNEL "}", "duplicate")
BAD(unknown_section, "{" KERNEL ", \"gpu\": {}}", "unknown configuration section `gpu`")
BAD(unknown_field, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"kernel\": 1}}",
    "unknown field `kernel`")
BAD(missing_boot_source, "{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}}",
    "missing boot-source")
BAD(missing_kernel_path, "{\"boot-source\": {\"boot_args\": \"x\"}}",
    "missing field `kernel_image_path`")
BAD(kernel_path_not_string, "{\"boot-source\": {\"kernel_image_path\": 5}}", "must be a string")
BAD(boot_source_not_object, "{\"boot-source\": \"/k\"}", "boot-source must be a JSON object")
BAD(vcpu_zero, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 0, \"mem_size_mib\": 64}}",
    "`vcpu_count` is 0")
BAD(vcpu_too_many, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 33, \"mem_size_mib\": 64}}",
    "between 1 and 32")
BAD(vcpu_negative, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": -1, \"mem_size_mib\": 64}}",
    "`vcpu_count` is -1")
BAD(vcpu_float, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 1.5, \"mem_size_mib\": 64}}",
    "must be an integer")
BAD(vcpu_string, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": \"2\", \"mem_size_mib\": 64}}",
    "must be an integer")
BAD(mem_zero, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 0}}",
    "`mem_size_mib` is 0")
BAD(mem_huge,
    "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 99999999999}}",
    "`mem_size_mib`")
BAD(mem_missing, "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 1}}",
    "missing field `mem_size_mib`")
BAD(smt_not_bool,
    "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": 1}}",
    "`smt` must be true or false")
BAD(smt_odd_vcpus,
    "{" KERNEL ", \"machine-config\": {\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}}",
    "1 or even")
BAD(unknown_cpu_template,
    "{" KERNEL
    ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"Z9\"}}",
    "unknown cpu_template \"Z9\" (known: None, T2)")
BAD(bad_huge_pages,
    "{" KERNEL
    ", \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, \"huge_pages\": \"1G\"}}",
    "`huge_pages`")
BAD(unsupported_balloon, "{" KERNEL ", \"balloon\": {\"amount_mib\": 1}}", "balloon: not supported")
BAD(vsock_reserved_cid, "{" KERNEL ", \"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}",
    "vsock: `guest_cid` is 2, it must be between 3 and")
BAD(vsock_without_path, "{" KERNEL ", \"vsock\": {\"guest_cid\": 3}}",
    "vsock: missing field `uds_path`")
BAD(vsock_unknown_field,
    "{" KERNEL ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\", \"port\": 1}}",
    "vsock: unknown field `port`")

#define NET(id, tap, mac) \
	"{\"iface_id\": \"" id "\", \"host_dev_name\": \"" tap "\", \"guest_mac\": \"" mac "\"}"
BAD(net_without_tap, "{" KERNEL ", \"network-interfaces\": [{\"iface_id\": \"eth0\"}]}",
    "network interface eth0: missing field `host_dev_name`")
BAD(net_bad_mac,
    "{" KERNEL ", \"network-interfaces\": [" NET("eth0", "tap0", "06:00:ac:10:00") "]}",
    "`guest_mac` must look like")
BAD(net_mac_with_junk,
    "{" KERNEL ", \"network-interfaces\": [" NET("eth0", "tap0", "06:00:ac:10:00:0g") "]}",
    "`guest_mac` must look like")
BAD(net_multicast_mac,
    "{" KERNEL ", \"network-interfaces\": [" NET("eth0", "tap0", "01:00:ac:10:00:02") "]}",
    "multicast")
BAD(net_long_tap_name,
    "{" KERNEL
    ", \"network-interfaces\": [" NET("eth0", "tap0123456789abcd", "06:00:ac:10:00:02") "]}",
    "`host_dev_name` must be 1 to 15 characters")
BAD(net_duplicate_id,
    "{" KERNEL ", \"network-interfaces\": [" NET("eth0", "tap0", "06:00:ac:10:00:02") "," NET(
	"eth0", "tap1", "06:00:ac:10:00:03") "]}",
    "`eth0` is listed twice")
BAD(net_shared_tap,
    "{" KERNEL ", \"network-interfaces\": [" NET("eth0", "tap0", "06:00:ac:10:00:02") "," NET(
	"eth1", "tap0", "06:00:ac:10:00:03") "]}",
    "use the same TAP tap0")

Test(config, vsock)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(parse("{" KERNEL ", \"vsock\": {\"vsock_id\": \"vsock0\", \"guest_cid\": 52, "
			   "\"uds_path\": \"/tmp/v.sock\"}}",
			   &cfg, &err),
		     0, "%s", err.msg);
	cr_assert(cfg.vsock.set);
	cr_assert_eq(cfg.vsock.guest_cid, 52);
	cr_assert_str_eq(cfg.vsock.uds_path, "/tmp/v.sock");
	config_free(&cfg);
}

/* Sections apply in any order: one never touches another's fields. */
Test(config, vsock_before_network_interfaces)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(
	    parse("{" KERNEL ", \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}, "
		  "\"network-interfaces\": [" NET("eth0", "tap0", "06:00:ac:10:00:02") "," NET(
		      "eth1", "tap1", "06:00:ac:10:00:03") "]}",
		  &cfg, &err),
	    0, "%s", err.msg);
	cr_assert_eq(cfg.nr_nets, 2);
	cr_assert_not_null(cfg.vsock.uds_path);
	cr_assert_str_eq(cfg.vsock.uds_path, "/tmp/v.sock");
	config_free(&cfg);
}

Test(config, network_interfaces)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(
	    parse("{" KERNEL ", \"network-interfaces\": [" NET(
		      "eth0", "tap0",
		      "06:00:AC:10:00:02") ","
					   "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
					   "\"tx_rate_limiter\": {\"ops\": {\"size\": 100, "
					   "\"refill_time\": 1000}}}]}",
		  &cfg, &err),
	    0, "%s", err.msg);
	cr_assert_eq(cfg.nr_nets, 2);
	cr_assert_str_eq(cfg.nets[0].iface_id, "eth0");
	cr_assert_str_eq(cfg.nets[0].host_dev_name, "tap0");
	cr_assert(cfg.nets[0].has_mac);
	cr_assert_arr_eq(cfg.nets[0].mac, "\x06\x00\xac\x10\x00\x02", 6);
	cr_assert_not(cfg.nets[1].has_mac);
	cr_assert_eq(cfg.nets[1].tx_rate_limiter.ops.size, 100);
	cr_assert_eq(cfg.nets[1].rx_rate_limiter.bandwidth.size, 0);
	config_free(&cfg);
}

#define DRIVE(id, root) \
	"{\"drive_id\": \"" id "\", \"path_on_host\": \"/d\", \"is_root_device\": " root "}"
BAD(two_root_drives, "{" KERNEL ", \"drives\": [" DRIVE("a", "true") "," DRIVE("b", "true") "]}",
    "`a` and `b` are both root devices")
BAD(duplicate_drive_id,
    "{" KERNEL ", \"drives\": [" DRIVE("a", "false") "," DRIVE("a", "false") "]}",
    "drives: `a` is listed twice")
BAD(drive_without_is_root_device,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\"}]}",
    "drive a: missing field `is_root_device`")
BAD(drive_without_path,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"is_root_device\": true}]}",
    "drive a: missing field `path_on_host`")
BAD(drive_without_id, "{" KERNEL ", \"drives\": [{\"path_on_host\": \"/d\"}]}",
    "drives[0]: missing field `drive_id`")
BAD(drive_unknown_field,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"readonly\": true}]}",
    "drives[0]: unknown field `readonly`")
BAD(drive_bad_cache_type,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"cache_type\": \"Fast\"}]}",
    "`cache_type` must be \"Unsafe\" or \"Writeback\"")
BAD(drive_vhost_user,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"socket\": \"/s\"}]}",
    "vhost-user drives")
BAD(drives_not_a_list, "{" KERNEL ", \"drives\": {}}", "drives must be a JSON array")
BAD(rate_limiter_unknown_bucket,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"rate_limiter\": {\"bytes\": {}}}]}",
    "drive a: rate_limiter: unknown field `bytes`")
BAD(rate_limiter_negative_size,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"rate_limiter\": {\"ops\": {\"size\": -1, "
    "\"refill_time\": 100}}}]}",
    "rate_limiter.ops: `size` is -1")
BAD(rate_limiter_without_refill_time,
    "{" KERNEL ", \"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/d\", "
    "\"is_root_device\": true, \"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}]}",
    "rate_limiter.bandwidth: missing field `refill_time`")

Test(config, drives_root_first_with_options)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	cr_assert_eq(
	    parse(
		"{" KERNEL ", \"drives\": [" DRIVE(
		    "data",
		    "false") ","
			     "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/root.ext4\", "
			     "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": "
			     "null, "
			     "\"cache_type\": \"Writeback\", \"io_engine\": \"Sync\", "
			     "\"rate_limiter\": {\"bandwidth\": {\"size\": 1048576, "
			     "\"one_time_burst\": 4096, \"refill_time\": 1000}, \"ops\": null}}]}",
		&cfg, &err),
	    0, "%s", err.msg);
	cr_assert_eq(cfg.nr_drives, 2);
	cr_assert_str_eq(cfg.drives[0].drive_id, "rootfs");
	cr_assert(cfg.drives[0].is_root_device);
	cr_assert(cfg.drives[0].is_read_only);
	cr_assert(cfg.drives[0].writeback);
	cr_assert_null(cfg.drives[0].partuuid);
	cr_assert_eq(cfg.drives[0].rate_limiter.bandwidth.size, 1048576);
	cr_assert_eq(cfg.drives[0].rate_limiter.bandwidth.one_time_burst, 4096);
	cr_assert_eq(cfg.drives[0].rate_limiter.bandwidth.refill_time_ms, 1000);
	cr_assert_eq(cfg.drives[0].rate_limiter.ops.size, 0);
	cr_assert_str_eq(cfg.drives[1].drive_id, "data");
	cr_assert_str_eq(cfg.drives[1].path_on_host, "/d");
	cr_assert_not(cfg.drives[1].is_read_only);
	cr_assert_not(cfg.drives[1].writeback);
	config_free(&cfg);
}
BAD(bad_log_level, "{" KERNEL ", \"logger\": {\"level\": \"Loud\"}}", "unknown level")
BAD(nul_in_string, "{\"boot-source\": {\"kernel_image_path\": \"/k\\u0000x\"}}", "NUL")

Test(config, missing_file)
{
	struct ember_err err = { 0 };
	struct vm_config cfg;

	config_init(&cfg);
	cr_assert_lt(config_load_file(&cfg, "/nonexistent/vm.json", &err), 0);
	cr_assert(strstr(err.msg, "cannot open config file /nonexistent/vm.json"), "%s", err.msg);
	config_free(&cfg);
}
