// SPDX-License-Identifier: Apache-2.0
/* The API as the VMM thread serves it before boot, without KVM: each route's
 * validation with one case per bad body, state rules, GET answers, metrics. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"

static struct instance in;
static struct api_reply reply;

static void setup(void)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1 };

	instance_init(&in, "unit", "9.9.9", &opts);
	log_set_level(LOG_OFF);
	memset(&reply, 0, sizeof(reply));
}

static void teardown(void)
{
	free(reply.body);
	instance_free(&in);
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
	instance_api(&in, &req, &reply);
	return reply.status;
}

static json_t *answer(void)
{
	json_t *o = json_loads(reply.body ? reply.body : "", 0, NULL);

	cr_assert_not_null(o, "not JSON: %s", reply.body);
	return o;
}

/* 400 with a fault_message containing `words`. */
static void refused(enum http_verb verb, const char *path, const char *body, const char *words)
{
	json_t *o;

	cr_assert_eq(call(verb, path, body), 400, "%s %s %s: %d", http_verb_name(verb), path,
		     body ? body : "", reply.status);
	o = answer();
	cr_assert(json_is_string(json_object_get(o, "fault_message")), "%s", reply.body);
	cr_assert(strstr(json_string_value(json_object_get(o, "fault_message")), words),
		  "%s %s: \"%s\" lacks \"%s\"", path, body ? body : "", reply.body, words);
	json_decref(o);
}

Test(instance_api, get_info_and_version)
{
	json_t *o;

	cr_assert_eq(call(HTTP_VERB_GET, "/", NULL), 200);
	o = answer();
	cr_assert_str_eq(json_string_value(json_object_get(o, "id")), "unit");
	cr_assert_str_eq(json_string_value(json_object_get(o, "state")), "Not started");
	cr_assert_str_eq(json_string_value(json_object_get(o, "vmm_version")), "9.9.9");
	json_decref(o);
	cr_assert_eq(call(HTTP_VERB_GET, "/version", NULL), 200);
	o = answer();
	cr_assert(json_is_string(json_object_get(o, "firecracker_version")), "%s", reply.body);
	json_decref(o);
}

Test(instance_api, puts_show_in_vm_config_and_machine_config)
{
	json_t *o;

	cr_assert_eq(call(HTTP_VERB_PUT, "/boot-source", "{\"kernel_image_path\": \"/k\"}"), 204);
	cr_assert_eq(call(HTTP_VERB_PATCH, "/machine-config", "{\"mem_size_mib\": 256}"), 204);
	cr_assert_eq(call(HTTP_VERB_PUT, "/drives/d1",
			  "{\"drive_id\": \"d1\", \"path_on_host\": \"/d\", "
			  "\"is_root_device\": false}"),
		     204);
	cr_assert_eq(call(HTTP_VERB_GET, "/vm/config", NULL), 200);
	o = answer();
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "boot-source"),
							   "kernel_image_path")),
			 "/k");
	cr_assert_eq(json_array_size(json_object_get(o, "drives")), 1);
	json_decref(o);
	cr_assert_eq(call(HTTP_VERB_GET, "/machine-config", NULL), 200);
	o = answer();
	cr_assert_eq(json_integer_value(json_object_get(o, "mem_size_mib")), 256);
	cr_assert_eq(json_integer_value(json_object_get(o, "vcpu_count")), 1);
	json_decref(o);
}

/* One case per bad body, per route. */
Test(instance_api, bad_boot_source_bodies)
{
	refused(HTTP_VERB_PUT, "/boot-source", "{}", "kernel_image_path");
	refused(HTTP_VERB_PUT, "/boot-source", "{\"kernel_image_path\": 5}", "kernel_image_path");
	refused(HTTP_VERB_PUT, "/boot-source", "{\"kernel_image_path\": \"/k\", \"x\": 1}", "x");
	refused(HTTP_VERB_PUT, "/boot-source",
		"{\"kernel_image_path\": \"/k\", \"kernel_image_path\": \"/j\"}", "duplicate");
	refused(HTTP_VERB_PUT, "/boot-source", "[1]", "object");
	refused(HTTP_VERB_PUT, "/boot-source", "{\"kernel_image_path\": ", "invalid JSON");
}

Test(instance_api, bad_machine_config_bodies)
{
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}",
		"vcpu_count");
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 128}",
		"vcpu_count");
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": -1, \"mem_size_mib\": 128}",
		"vcpu_count");
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -5}",
		"mem_size_mib");
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}",
		"vcpu_count");
	refused(HTTP_VERB_PUT, "/machine-config", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}",
		"vcpu_count");
	refused(HTTP_VERB_PATCH, "/machine-config", "{\"smt\": 1}", "smt");
	refused(HTTP_VERB_PATCH, "/machine-config", "{\"huge_pages\": \"1G\"}", "huge_pages");
	refused(HTTP_VERB_PATCH, "/machine-config", "{\"cpus\": 2}", "cpus");
}

Test(instance_api, bad_drive_bodies)
{
	refused(HTTP_VERB_PUT, "/drives/a",
		"{\"drive_id\": \"b\", \"path_on_host\": \"/b\", "
		"\"is_root_device\": false}",
		"differs");
	refused(HTTP_VERB_PUT, "/drives/a", "{\"drive_id\": \"a\", \"is_root_device\": false}",
		"path_on_host");
	refused(HTTP_VERB_PUT, "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"/a\"}",
		"is_root_device");
	refused(HTTP_VERB_PUT, "/drives/a",
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": \"yes\"}",
		"is_root_device");
	refused(HTTP_VERB_PUT, "/drives/a",
		"{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false, "
		"\"cache_type\": \"Fast\"}",
		"cache_type");
	refused(HTTP_VERB_PATCH, "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"/b\"}",
		"not supported before starting");
}

Test(instance_api, bad_network_interface_bodies)
{
	refused(HTTP_VERB_PUT, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}",
		"host_dev_name");
	refused(HTTP_VERB_PUT, "/network-interfaces/eth0",
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"xx\"}",
		"guest_mac");
	refused(HTTP_VERB_PUT, "/network-interfaces/eth0",
		"{\"iface_id\": \"eth0\", \"host_dev_name\": \"a-name-longer-than-15\"}",
		"host_dev_name");
	refused(HTTP_VERB_PATCH, "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}",
		"not supported before starting");
}

Test(instance_api, bad_vsock_entropy_logger_metrics_bodies)
{
	refused(HTTP_VERB_PUT, "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/v\"}", "guest_cid");
	refused(HTTP_VERB_PUT, "/vsock", "{\"guest_cid\": 3}", "uds_path");
	refused(HTTP_VERB_PUT, "/entropy", "{\"rate_limiter\": {\"ops\": {\"size\": \"x\"}}}",
		"size");
	refused(HTTP_VERB_PUT, "/logger", "{\"level\": \"Chatty\"}", "level");
	refused(HTTP_VERB_PUT, "/logger", "{\"log_path\": \"/nonexistent-dir/log\"}",
		"nonexistent-dir");
	refused(HTTP_VERB_PUT, "/metrics", "{}", "metrics_path");
	refused(HTTP_VERB_PUT, "/metrics", "{\"metrics_path\": \"/nonexistent-dir/m\"}",
		"nonexistent-dir");
}

Test(instance_api, bad_actions_and_vm_bodies)
{
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": \"Reboot\"}", "Reboot");
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": 1}", "action_type");
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": \"FlushMetrics\", \"now\": true}",
		"action_type");
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": \"FlushMetrics\"}",
		"not supported before starting");
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": \"SendCtrlAltDel\"}",
		"not supported before starting");
	refused(HTTP_VERB_PUT, "/actions", "{\"action_type\": \"InstanceStart\"}", "boot-source");
	refused(HTTP_VERB_PATCH, "/vm", "{\"state\": \"Paused\"}", "not supported before starting");
}

Test(instance_api, routing_errors_are_400s)
{
	refused(HTTP_VERB_PUT, "/nothing", "{}", "Invalid request method and/or path");
	refused(HTTP_VERB_GET, "/", "{}", "cannot have a body");
	refused(HTTP_VERB_PUT, "/vsock", NULL, "empty");
}

Test(instance_api, metrics_are_set_once_and_count_requests)
{
	char path[] = "/tmp/ember-metrics-XXXXXX", line[8192];
	char body[128];
	json_t *o;
	FILE *f;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	snprintf(body, sizeof(body), "{\"metrics_path\": \"%s\"}", path);
	cr_assert_eq(call(HTTP_VERB_PUT, "/metrics", body), 204, "%s", reply.body);
	refused(HTTP_VERB_PUT, "/metrics", body, "Reinitialization of metrics not allowed.");
	call(HTTP_VERB_PUT, "/boot-source", "{}");
	cr_assert_eq(instance_flush_metrics(&in, &(struct ember_err){ 0 }), 0);
	f = fopen(path, "r");
	cr_assert(f && fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	o = json_loads(line, 0, NULL);
	cr_assert_not_null(o, "%s", line);
	cr_assert_eq(json_integer_value(
			 json_object_get(json_object_get(o, "put_api_requests"), "metrics_count")),
		     2);
	cr_assert_eq(json_integer_value(
			 json_object_get(json_object_get(o, "put_api_requests"), "metrics_fails")),
		     1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "put_api_requests"),
							"boot_source_fails")),
		     1);
	json_decref(o);
}
