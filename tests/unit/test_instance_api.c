// SPDX-License-Identifier: Apache-2.0
/*
 * The control plane without KVM: requests through the router into the
 * resources and what they make of the configuration; config files and
 * snapshot configurations through the same table; dumps; metrics counts;
 * the snapshot load Firecracker does not recover from. Firecracker's exact
 * answers are in test_conformance.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_template.h"
#include "instance.h"
#include "routes.h"

static struct instance in;
static struct api_reply reply;
static char dir[] = "/tmp/ember-api-XXXXXX";
static char kernel[256], disk[256], disk2[256];

static void touch(char *path, size_t size, const char *name)
{
	FILE *f;

	snprintf(path, 256, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), (off_t)size), 0);
	fclose(f);
}

static void setup(void)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };

	cr_assert_not_null(mkdtemp(dir));
	touch(kernel, 4096, "vmlinux");
	touch(disk, 1 << 20, "disk.img");
	touch(disk2, 1 << 20, "disk2.img");
	cr_assert_eq(instance_init(&in, "unit", "9.9.9", &opts), 0);
	log_set_level(LOG_OFF);
	memset(&reply, 0, sizeof(reply));
}

static void teardown(void)
{
	char cmd[128];

	free(reply.body);
	instance_free(&in);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(instance_api, .init = setup, .fini = teardown);

static int call(enum http_verb verb, const char *path, const char *body)
{
	struct http_request req = { .verb = verb,
				    .body = (char *)body,
				    .body_len = body ? strlen(body) : 0 };

	snprintf(req.path, sizeof(req.path), "%s", path);
	free(reply.body);
	memset(&reply, 0, sizeof(reply));
	api_routes_handle(&in, &req, &reply);
	return reply.status;
}

static int callf(enum http_verb verb, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int callf(enum http_verb verb, const char *path, const char *fmt, ...)
{
	char body[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	return call(verb, path, body);
}

static json_t *answer(void)
{
	json_t *o = json_loads(reply.body ? reply.body : "", 0, NULL);

	cr_assert_not_null(o, "not JSON: %s", reply.body);
	return o;
}

static const char *fault(void)
{
	static char msg[1024];
	json_t *o = answer();

	snprintf(msg, sizeof(msg), "%s", json_string_value(json_object_get(o, "fault_message")));
	json_decref(o);
	return msg;
}

static int load(const char *text, bool restoring, struct ember_err *err)
{
	return res_load_config(&in, &in.cfg, text, restoring, err);
}

Test(instance_api, puts_land_in_the_configuration)
{
	cr_assert_eq(callf(HTTP_VERB_PUT, "/boot-source",
			   "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}",
			   kernel),
		     204, "%s", reply.body);
	cr_assert_eq(
	    callf(HTTP_VERB_PUT, "/drives/data",
		  "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": "
		  "false, \"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}",
		  disk),
	    204, "%s", reply.body);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/drives/root",
			   "{\"drive_id\": \"root\", \"path_on_host\": \"%s\", \"is_root_device\": "
			   "true, \"is_read_only\": true, \"partuuid\": \"abc\"}",
			   disk2),
		     204, "%s", reply.body);
	cr_assert_str_eq(in.cfg.boot.boot_args, "console=ttyS0");
	cr_assert_eq(in.cfg.nr_drives, 2);
	cr_assert_str_eq(in.cfg.drives[0].drive_id, "root", "the root drive goes first");
	cr_assert_str_eq(in.cfg.drives[0].partuuid, "abc");
	cr_assert(in.cfg.drives[0].is_read_only);
	cr_assert_eq(in.cfg.drives[1].rate_limiter.ops.size, 10);
	cr_assert_eq(in.cfg.drives[1].rate_limiter.ops.refill_time_ms, 100);
	/* A PUT with the same id replaces, in place. */
	cr_assert_eq(callf(HTTP_VERB_PUT, "/drives/data",
			   "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": "
			   "false}",
			   disk2),
		     204);
	cr_assert_eq(in.cfg.nr_drives, 2);
	cr_assert_str_eq(in.cfg.drives[1].path_on_host, disk2);
	cr_assert_not(in.cfg.drives[1].rate_limiter.set, "the limiter went with the old body");
}

Test(instance_api, a_drive_that_becomes_root_moves_first_and_a_refusal_changes_nothing)
{
	callf(HTTP_VERB_PUT, "/drives/a",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"%s\", \"is_root_device\": false}", disk);
	callf(HTTP_VERB_PUT, "/drives/b",
	      "{\"drive_id\": \"b\", \"path_on_host\": \"%s\", \"is_root_device\": false}", disk);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/drives/b",
			   "{\"drive_id\": \"b\", \"path_on_host\": \"%s\", \"is_root_device\": "
			   "true}",
			   disk),
		     204);
	cr_assert_str_eq(in.cfg.drives[0].drive_id, "b");
	cr_assert_eq(callf(HTTP_VERB_PUT, "/drives/a",
			   "{\"drive_id\": \"a\", \"path_on_host\": \"%s/none\", "
			   "\"is_root_device\": false}",
			   dir),
		     400);
	cr_assert_str_eq(in.cfg.drives[1].path_on_host, disk, "the old drive a stays");
}

Test(instance_api, machine_config_put_resets_patch_keeps_and_templates_replace_each_other)
{
	cr_assert_eq(call(HTTP_VERB_PATCH, "/machine-config",
			  "{\"smt\": true, \"track_dirty_pages\": true, \"cpu_template\": \"T2\"}"),
		     204, "%s", reply.body);
	cr_assert(reply.deprecated);
	cr_assert_eq(in.cfg.machine.cpu_template, CONFIG_TEMPLATE_T2);
	cr_assert_eq(
	    call(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": 4, \"mem_size_mib\": 512}"),
	    204);
	cr_assert_not(in.cfg.machine.smt, "PUT: smt back to its default");
	cr_assert_not(in.cfg.machine.track_dirty_pages);
	cr_assert_eq(in.cfg.machine.cpu_template, CONFIG_TEMPLATE_T2,
		     "PUT without cpu_template keeps it, as Firecracker's update does");
	cr_assert_eq(call(HTTP_VERB_PUT, "/cpu-config",
			  "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0b0\", "
			  "\"flags\": 0, \"modifiers\": [{\"register\": \"ecx\", \"bitmap\": "
			  "\"0b1x0\"}]}], \"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": "
			  "\"0b1_0\"}], \"kvm_capabilities\": [\"121\", \"!7\"]}"),
		     204, "%s", reply.body);
	cr_assert_eq(in.cfg.machine.cpu_template, CONFIG_TEMPLATE_NONE, "custom replaces static");
	cr_assert_not_null(in.cfg.cpu_custom);
	cr_assert_eq(in.cfg.cpu_custom->nr_cpuid, 1);
	cr_assert_eq(in.cfg.cpu_custom->cpuid[0].reg, CPUID_ECX);
	cr_assert_eq(in.cfg.cpu_custom->cpuid[0].filter, 0x5, "1x0: bits 2 and 0 are set");
	cr_assert_eq(in.cfg.cpu_custom->cpuid[0].value, 0x4);
	cr_assert_eq(in.cfg.cpu_custom->msrs[0].addr, 0x10a);
	cr_assert_eq(in.cfg.cpu_custom->msrs[0].filter, 0x3, "'_' is skipped");
	cr_assert_eq(in.cfg.cpu_custom->msrs[0].value, 0x2);
	cr_assert(cpu_template_wants_cap(in.cfg.cpu_custom, 121, false));
	cr_assert_not(cpu_template_wants_cap(in.cfg.cpu_custom, 7, true));
	cr_assert_eq(call(HTTP_VERB_PATCH, "/machine-config", "{\"cpu_template\": \"C3\"}"), 204);
	cr_assert_null(in.cfg.cpu_custom, "a static template replaces the custom one");
}

Test(instance_api, serial_and_entropy_settings)
{
	cr_assert_eq(call(HTTP_VERB_PUT, "/serial",
			  "{\"serial_out_path\": \"/tmp/x\", \"rate_limiter\": {\"size\": 10, "
			  "\"refill_time\": 5}}"),
		     204, "%s", reply.body);
	cr_assert_str_eq(in.cfg.serial.out_path, "/tmp/x");
	cr_assert_eq(in.cfg.serial.output.size, 10);
	cr_assert_eq(in.cfg.serial.output.refill_time_ms, 5);
	cr_assert_eq(call(HTTP_VERB_PUT, "/entropy", "{\"rate_limiter\": null}"), 204);
	cr_assert(in.cfg.entropy.set);
	cr_assert_not(in.cfg.entropy.rate_limiter.set);
}

Test(instance_api, balloon_before_boot)
{
	json_t *o;

	cr_assert_eq(call(HTTP_VERB_GET, "/balloon", NULL), 400);
	cr_assert_str_eq(fault(), "Balloon config error: No balloon device found.");
	cr_assert_eq(call(HTTP_VERB_PUT, "/balloon", "{\"amount_mib\": 1}"), 400);
	cr_assert(strstr(fault(), "missing field `deflate_on_oom`"), "%s", fault());
	cr_assert_eq(
	    call(HTTP_VERB_PUT, "/balloon", "{\"amount_mib\": 129, \"deflate_on_oom\": false}"),
	    400);
	cr_assert_str_eq(fault(), "Balloon config error: Amount of pages requested is too large.");
	cr_assert_eq(call(HTTP_VERB_PUT, "/balloon",
			  "{\"amount_mib\": 16, \"deflate_on_oom\": true, "
			  "\"stats_polling_interval_s\": 2, \"free_page_reporting\": true}"),
		     204, "%s", reply.body);
	cr_assert_eq(call(HTTP_VERB_GET, "/balloon", NULL), 200);
	o = answer();
	cr_assert_eq(json_integer_value(json_object_get(o, "amount_mib")), 16);
	cr_assert(json_is_true(json_object_get(o, "deflate_on_oom")));
	cr_assert_eq(json_integer_value(json_object_get(o, "stats_polling_interval_s")), 2);
	cr_assert(json_is_false(json_object_get(o, "free_page_hinting")));
	cr_assert(json_is_true(json_object_get(o, "free_page_reporting")));
	json_decref(o);
	cr_assert_eq(call(HTTP_VERB_GET, "/balloon/statistics", NULL), 400);
	cr_assert(strstr(fault(), "not supported before starting"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PATCH, "/balloon", "{\"amount_mib\": 1}"), 400);
	cr_assert(strstr(fault(), "not supported before starting"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PATCH, "/balloon/hinting/start", NULL), 400);
	cr_assert(strstr(fault(), "not supported before starting"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PATCH, "/balloon/hinting/go", NULL), 400);
	cr_assert_str_eq(fault(), "Unrecognized PATCH request path `/hinting/go`.");
	cr_assert_eq(call(HTTP_VERB_GET, "/balloon/hinting", NULL), 400);
	cr_assert_str_eq(fault(), "Unrecognized GET request path `/hinting/`.");
	cr_assert_eq(call(HTTP_VERB_PATCH, "/balloon/hinting/start", "{\"ack\": true}"), 400);
	cr_assert(strstr(fault(), "unknown field `ack`"), "%s", fault());
	cr_assert_eq(
	    call(HTTP_VERB_PUT, "/balloon", "{\"amount_mib\": 129, \"deflate_on_oom\": false}"),
	    400);
	cr_assert_eq(in.cfg.balloon.amount_mib, 16, "a refused PUT changes nothing");
	cr_assert_eq(call(HTTP_VERB_PUT, "/balloon",
			  "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"free_page_hinting\": "
			  "true}"),
		     204, "%s", reply.body);
	cr_assert(in.cfg.balloon.free_page_hinting);
	/* a target beyond 32 bits of pages, in a guest that large */
	cr_assert_eq(call(HTTP_VERB_PATCH, "/machine-config", "{\"mem_size_mib\": 33554432}"), 204,
		     "%s", reply.body);
	cr_assert_eq(call(HTTP_VERB_PUT, "/balloon",
			  "{\"amount_mib\": 16777216, \"deflate_on_oom\": false}"),
		     400);
	cr_assert_str_eq(fault(), "Balloon config error: Error creating the balloon device: "
				  "Requested memory should be less than 16777215MiB");
}

Test(instance_api, config_file_sections_are_their_puts)
{
	struct ember_err err = { 0 };
	char text[2048];

	snprintf(
	    text, sizeof(text),
	    "{\"network-interfaces\": [], \"vsock\": {\"guest_cid\": 3, \"uds_path\": "
	    "\"/tmp/v.sock\"},"
	    " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"huge_pages\": "
	    "\"Transparent\"},"
	    " \"boot-source\": {\"kernel_image_path\": \"%s\"},"
	    " \"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"%s\", \"is_root_device\": "
	    "false},"
	    "              {\"drive_id\": \"r\", \"path_on_host\": \"%s\", \"is_root_device\": "
	    "true}],"
	    " \"balloon\": null, \"pmem\": [], \"mmds-config\": null, \"some-later-key\": 1}",
	    kernel, disk, disk2);
	cr_assert_eq(load(text, false, &err), 0, "%s", err.msg);
	cr_assert_eq(in.cfg.machine.vcpu_count, 2);
	cr_assert_eq(in.cfg.machine.huge_pages, CONFIG_HUGE_TRANSPARENT);
	cr_assert_eq(in.cfg.nr_drives, 2);
	cr_assert_str_eq(in.cfg.drives[0].drive_id, "r");
	cr_assert(in.cfg.vsock.set);
	cr_assert(in.cfg.has_boot);
}

Test(instance_api, config_file_errors_name_their_section)
{
	struct ember_err err = { 0 };

	cr_assert_lt(load("{\"machine-config\": {\"vcpu_count\": 1}}", false, &err), 0);
	cr_assert_str_eq(err.msg,
			 "machine-config: missing field `mem_size_mib` at line 1 column 36");
	cr_assert_lt(load("{\"drives\": {}}", false, &err), 0);
	cr_assert(strstr(err.msg, "drives: invalid type"), "%s", err.msg);
	cr_assert_lt(
	    load("{\"boot-source\": {\"kernel_image_path\": \"/nonexistent\"}}", false, &err), 0);
	cr_assert(strstr(err.msg, "The kernel file cannot be opened"), "%s", err.msg);
	cr_assert_lt(load("{\"pmem\": [{\"id\": \"p\"}]}", false, &err), 0);
	cr_assert(strstr(err.msg, "pmem: missing field `path_on_host`"), "%s", err.msg);
	cr_assert_lt(load("{\"memory-hotplug\": {\"total_size_mib\": 1000}}", false, &err), 0);
	cr_assert(strstr(err.msg, "Total size must be a multiple of slot size (128 MiB)"), "%s",
		  err.msg);
	cr_assert_lt(load("{\"memory-hotplug\": {\"total_size_mib\": 1024, \"block_size_mib\": 3}}",
			  false, &err),
		     0);
	cr_assert(strstr(err.msg, "Block size must be a power of 2"), "%s", err.msg);
	cr_assert_lt(load("[1, 2]", false, &err), 0);
	cr_assert_lt(load("{\"drives\": [", false, &err), 0);
	cr_assert(strstr(err.msg, "EOF while parsing"), "%s", err.msg);
}

Test(instance_api, a_snapshots_configuration_asks_nothing_of_the_host)
{
	struct ember_err err = { 0 };

	cr_assert_eq(
	    load("{\"boot-source\": {\"kernel_image_path\": \"/gone/vmlinux\"}, \"drives\": "
		 "[{\"drive_id\": \"r\", \"path_on_host\": \"/gone/r\", "
		 "\"is_root_device\": true}], \"logger\": {\"level\": \"Trace\"}}",
		 true, &err),
	    0, "%s", err.msg);
	cr_assert_str_eq(in.cfg.drives[0].path_on_host, "/gone/r");
	cr_assert_not(in.logger.set, "the logger is the process's, never the snapshot's");
}

Test(instance_api, the_dump_loads_back_to_the_same_dump)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };
	struct ember_err err = { 0 };
	struct instance other;
	char *a, *b;

	callf(HTTP_VERB_PUT, "/boot-source",
	      "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", \"boot_args\": \"x=1\"}",
	      kernel, kernel);
	callf(HTTP_VERB_PUT, "/drives/r",
	      "{\"drive_id\": \"r\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
	      "\"cache_type\": \"Writeback\", \"io_engine\": \"Async\", \"rate_limiter\": "
	      "{\"bandwidth\": {\"size\": 100, \"one_time_burst\": 7, \"refill_time\": 10}}}",
	      disk);
	call(HTTP_VERB_PUT, "/machine-config",
	     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true, \"cpu_template\": \"T2S\"}");
	call(HTTP_VERB_PUT, "/vsock", "{\"guest_cid\": 9, \"uds_path\": \"/tmp/v\"}");
	call(HTTP_VERB_PUT, "/entropy", "{}");
	call(HTTP_VERB_PUT, "/balloon",
	     "{\"amount_mib\": 8, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1}");
	a = res_dump_config(&in);
	cr_assert_eq(instance_init(&other, "other", "0", &opts), 0);
	cr_assert_eq(res_load_config(&other, &other.cfg, a, true, &err), 0, "%s: %s", err.msg, a);
	b = res_dump_config(&other);
	cr_assert_str_eq(a, b);
	cr_assert(strstr(a, "\"cpu_template\":\"T2S\""), "%s", a);
	cr_assert(strstr(a, "\"one_time_burst\":7"), "%s", a);
	cr_assert(strstr(a, "\"balloon\":{\"amount_mib\":8,\"deflate_on_oom\":true,"
			    "\"stats_polling_interval_s\":1,\"free_page_hinting\":false,"
			    "\"free_page_reporting\":false}"),
		  "%s", a);
	free(a);
	free(b);
	instance_free(&other);
}

Test(instance_api, a_failed_snapshot_load_ends_the_process_unless_extensions)
{
	const char *body = "{\"snapshot_path\": \"/nonexistent/s\", \"mem_backend\": "
			   "{\"backend_type\": \"File\", \"backend_path\": \"/nonexistent/m\"}}";

	cr_assert_eq(call(HTTP_VERB_PUT, "/snapshot/load", body), 400);
	cr_assert_str_eq(fault(), "Load snapshot error: Failed to restore from snapshot: Failed to "
				  "get snapshot state from file: Failed to open snapshot file: No "
				  "such file or directory (os error 2)");
	cr_assert_eq(in.fatal_status, 1, "Firecracker ends the process after a failed restore");
	in.fatal_status = 0;
	in.ext.enabled = true;
	cr_assert_eq(call(HTTP_VERB_PUT, "/snapshot/load", body), 400);
	cr_assert_eq(in.fatal_status, 0, "--ember-extensions: a corrected load may follow");
}

Test(instance_api, a_loads_working_set_is_embers_own_field)
{
#define WS_LOAD                                                                                  \
	"{\"snapshot_path\": \"/nonexistent/s\", \"mem_backend\": {\"backend_type\": \"File\", " \
	"\"backend_path\": \"/nonexistent/m\"}, \"working_set_path\": %s}"
	/* Firecracker has no such field: serde's unknown field, before any file is read */
	cr_assert_eq(callf(HTTP_VERB_PUT, "/snapshot/load", WS_LOAD, "\"/w\""), 400);
	cr_assert(strstr(fault(), "unknown field `working_set_path`"), "%s", fault());
	cr_assert_eq(in.fatal_status, 0, "a body refused by its parser is not a failed restore");
	in.ext.enabled = true;
	cr_assert_eq(callf(HTTP_VERB_PUT, "/snapshot/load", WS_LOAD, "5"), 400);
	cr_assert(strstr(fault(), "invalid type: integer `5`, expected a string"), "%s", fault());
	/* taken: the load goes on to the state file, which is missing */
	cr_assert_eq(callf(HTTP_VERB_PUT, "/snapshot/load", WS_LOAD, "\"/w\""), 400);
	cr_assert(strstr(fault(), "Failed to open snapshot file"), "%s", fault());
	cr_assert_eq(callf(HTTP_VERB_PUT, "/snapshot/load", WS_LOAD, "null"), 400);
	cr_assert(strstr(fault(), "Failed to open snapshot file"), "%s", fault());
}

Test(instance_api, extensions_show_only_when_asked)
{
	json_t *o;

	cr_assert_eq(call(HTTP_VERB_GET, "/version", NULL), 200);
	o = answer();
	cr_assert_eq(json_object_size(o), 1, "%s", reply.body);
	json_decref(o);
	in.ext.enabled = true;
	cr_assert_eq(call(HTTP_VERB_GET, "/version", NULL), 200);
	o = answer();
	cr_assert_str_eq(json_string_value(json_object_get(o, "ember_version")), "9.9.9");
	json_decref(o);
}

Test(instance_api, metrics_count_requests_by_resource_and_verb)
{
	char path[] = "/tmp/ember-metrics-XXXXXX", line[16384];
	json_t *o, *put, *patch;
	FILE *f;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/metrics", "{\"metrics_path\": \"%s\"}", path), 204);
	callf(HTTP_VERB_PUT, "/metrics", "{\"metrics_path\": \"%s\"}", path);
	call(HTTP_VERB_PUT, "/boot-source", "{}");
	call(HTTP_VERB_PATCH, "/machine-config", "{\"vcpu_count\": 2}");
	call(HTTP_VERB_PUT, "/vsock",
	     "{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/u\"}");
	cr_assert_eq(instance_flush_metrics(&in, &(struct ember_err){ 0 }), 0);
	f = fopen(path, "r");
	cr_assert(f && fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	o = json_loads(line, 0, NULL);
	cr_assert_not_null(o, "%s", line);
	put = json_object_get(o, "put_api_requests");
	patch = json_object_get(o, "patch_api_requests");
	cr_assert_eq(json_integer_value(json_object_get(put, "metrics_count")), 2);
	cr_assert_eq(json_integer_value(json_object_get(put, "metrics_fails")), 1);
	cr_assert_eq(json_integer_value(json_object_get(put, "boot_source_fails")), 1);
	cr_assert_eq(json_integer_value(json_object_get(patch, "machine_cfg_count")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "deprecated_api"),
							"deprecated_http_api_calls")),
		     1);
	json_decref(o);
}

Test(instance_api, mmds_store_and_config)
{
	struct ember_err err = { 0 };
	json_t *o;

	cr_assert_eq(call(HTTP_VERB_GET, "/mmds", NULL), 200);
	cr_assert_str_eq(reply.body, "{}", "an empty store is an object");
	cr_assert_eq(call(HTTP_VERB_PATCH, "/mmds", "{\"a\": 1}"), 400);
	cr_assert_str_eq(fault(), "MMDS error: The MMDS data store is not initialized.");
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds", "{\"z\": {\"b\": \"x\"}, \"a\": [1, true]}"),
		     204);
	cr_assert_eq(call(HTTP_VERB_PATCH, "/mmds", "{\"z\": {\"c\": \"y\"}}"), 204);
	cr_assert_eq(call(HTTP_VERB_GET, "/mmds", NULL), 200);
	cr_assert_str_eq(reply.body, "{\"a\":[1,true],\"z\":{\"b\":\"x\",\"c\":\"y\"}}",
			 "sorted keys, as serde_json's maps");
	in.mmds.limit = 40;
	cr_assert_eq(call(HTTP_VERB_PATCH, "/mmds", "{\"long\": \"aaaaaaaaaaaaaaaaaaaa\"}"), 413);
	cr_assert_str_eq(fault(), "MMDS limit exceeded error: The MMDS patch request doesn't fit.");
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds", "\"just a string, but over forty bytes long\""),
		     413);
	cr_assert_eq(call(HTTP_VERB_GET, "/mmds", NULL), 200);
	cr_assert_str_eq(reply.body, "{\"a\":[1,true],\"z\":{\"b\":\"x\",\"c\":\"y\"}}",
			 "refusals change nothing");

	/* PUT /mmds/config: its checks in Firecracker's order */
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config", "{\"version\": \"V2\"}"), 400);
	cr_assert(strstr(fault(), "missing field `network_interfaces`"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config",
			  "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"\"}"),
		     400);
	cr_assert(strstr(fault(), "invalid IPv4 address syntax"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config",
			  "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"1.1.1.1\"}"),
		     400);
	cr_assert_str_eq(fault(), "MMMDS config error: The MMDS IPv4 address is not link local.");
	cr_assert_eq(
	    call(HTTP_VERB_PUT, "/mmds/config",
		 "{\"network_interfaces\": [\"eth0\"], \"ipv4_address\": \"169.254.0.7\"}"),
	    400, "the first /24 is not usable");
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config", "{\"network_interfaces\": []}"), 400);
	cr_assert(strstr(fault(), "is empty"), "%s", fault());
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}"),
		     400);
	cr_assert(strstr(fault(), "does not correspond to any existing network interface"), "%s",
		  fault());
	cr_assert_eq(call(HTTP_VERB_GET, "/vm/config", NULL), 200);
	o = answer();
	cr_assert(json_is_null(json_object_get(o, "mmds-config")));
	json_decref(o);

	cr_assert_eq(load("{\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": "
			  "\"tap0\"}, {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}]}",
			  true, &err),
		     0, "%s", err.msg);
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config", "{\"network_interfaces\": [\"eth1\"]}"),
		     204);
	cr_assert(reply.deprecated, "V1, the default, is deprecated");
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config",
			  "{\"version\": \"V2\", \"network_interfaces\": [\"eth1\", \"eth0\"], "
			  "\"ipv4_address\": \"169.254.170.2\", \"imds_compat\": true}"),
		     204);
	cr_assert_not(reply.deprecated);
	cr_assert_eq(call(HTTP_VERB_GET, "/vm/config", NULL), 200);
	o = answer();
	cr_assert_str_eq(
	    json_dumps(json_object_get(o, "mmds-config"), JSON_COMPACT | JSON_PRESERVE_ORDER),
	    "{\"version\":\"V2\",\"network_interfaces\":[\"eth0\",\"eth1\"],"
	    "\"ipv4_address\":\"169.254.170.2\",\"imds_compat\":true}",
	    "interfaces in their order, as Firecracker lists them");
	json_decref(o);
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/foo", "{}"), 400);
}

Test(instance_api, mmds_after_boot_needs_an_interface)
{
	in.state = INSTANCE_RUNNING;
	cr_assert_eq(call(HTTP_VERB_GET, "/mmds", NULL), 400);
	cr_assert_str_eq(fault(), "MMDS error: The MMDS data store is not initialized.");
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds", "{}"), 400);
	cr_assert_eq(call(HTTP_VERB_PUT, "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}"),
		     400);
	cr_assert(strstr(fault(), "not supported after starting"), "%s", fault());
	in.cfg.mmds.set = true;
	cr_assert_eq(call(HTTP_VERB_GET, "/mmds", NULL), 400, "set, but no interface names it");
	in.state = INSTANCE_NOT_STARTED;
}

Test(instance_api, pmem_devices_before_boot)
{
	char body[1024];
	json_t *o;

	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm0",
			   "{\"id\": \"pm0\", \"path_on_host\": \"%s\", \"root_device\": true}",
			   disk),
		     204, "%s", reply.body);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm1",
			   "{\"id\": \"pm1\", \"path_on_host\": \"%s\", \"root_device\": true}",
			   disk2),
		     400);
	cr_assert_str_eq(fault(), "Pmem config error: A root pmem device already exist");
	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm1",
			   "{\"id\": \"pm1\", \"path_on_host\": \"%s\", \"read_only\": true, "
			   "\"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}",
			   disk2),
		     204, "%s", reply.body);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm0",
			   "{\"id\": \"pm0\", \"path_on_host\": \"%s\", \"root_device\": true}",
			   disk),
		     204, "replacing the root pmem with a root pmem");
	cr_assert_eq(call(HTTP_VERB_PUT, "/pmem/pm2",
			  "{\"id\": \"pm2\", \"path_on_host\": \"/nonexistent/file\"}"),
		     400);
	cr_assert_str_eq(fault(), "Pmem config error: Error accessing underlying file: No such "
				  "file or directory (os error 2)");
	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm2",
			   "{\"id\": \"other\", \"path_on_host\": \"%s\"}", disk),
		     400);
	cr_assert_str_eq(fault(), "The id from the path does not match the id from the body!");
	snprintf(body, sizeof(body), "%s/empty", dir);
	fclose(fopen(body, "w"));
	cr_assert_eq(
	    callf(HTTP_VERB_PUT, "/pmem/pm3", "{\"id\": \"pm3\", \"path_on_host\": \"%s\"}", body),
	    400);
	cr_assert(strstr(fault(), "zero size"), "%s", fault());
	cr_assert_eq(
	    callf(HTTP_VERB_PUT, "/drives/rootfs",
		  "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": "
		  "false}",
		  disk),
	    204);
	cr_assert_eq(in.cfg.nr_pmems, 2);
	cr_assert_eq(call(HTTP_VERB_GET, "/vm/config", NULL), 200);
	o = answer();
	cr_assert_eq(json_array_size(json_object_get(o, "pmem")), 2);
	cr_assert(json_is_true(
	    json_object_get(json_array_get(json_object_get(o, "pmem"), 0), "root_device")));
	cr_assert_eq(
	    json_integer_value(json_object_get(
		json_object_get(
		    json_object_get(json_array_get(json_object_get(o, "pmem"), 1), "rate_limiter"),
		    "ops"),
		"size")),
	    10);
	json_decref(o);
	cr_assert_eq(call(HTTP_VERB_PATCH, "/pmem/pm0", "{\"id\": \"pm0\"}"), 400);
	cr_assert(strstr(fault(), "not supported before starting"), "%s", fault());
}

Test(instance_api, a_root_pmem_beside_a_root_drive_is_refused)
{
	cr_assert_eq(
	    callf(HTTP_VERB_PUT, "/drives/rootfs",
		  "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": "
		  "true}",
		  disk),
	    204);
	cr_assert_eq(callf(HTTP_VERB_PUT, "/pmem/pm0",
			   "{\"id\": \"pm0\", \"path_on_host\": \"%s\", \"root_device\": true}",
			   disk2),
		     400);
	cr_assert_str_eq(fault(), "Pmem config error: Attempt to add pmem as a root device while "
				  "the root device defined as a block device");
}

Test(instance_api, metrics_have_firecrackers_mmds_and_pmem_groups)
{
	json_t *m = instance_metric_counters(&in);
	json_t *mmds = json_object_get(m, "mmds"), *pmem = json_object_get(m, "pmem");

	cr_assert_eq(json_object_size(mmds), 13, "every key of Firecracker's MmdsMetrics");
	cr_assert(json_is_integer(json_object_get(mmds, "rx_no_token")));
	cr_assert(json_is_integer(json_object_get(mmds, "connections_destroyed")));
	cr_assert_eq(json_object_size(pmem), 6, "Firecracker's PmemMetrics, even with no device");
	cr_assert(json_is_integer(json_object_get(pmem, "rate_limiter_event_count")));
	json_decref(m);
}
