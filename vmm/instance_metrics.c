// SPDX-License-Identifier: Apache-2.0
/* What a metrics line reports: Firecracker's groups and names, for the
 * devices and counters ember has. */
#include <stdio.h>

#include "instance.h"

static void add(json_t *group, const char *key, uint64_t v)
{
	json_object_set_new(group, key, json_integer((json_int_t)v));
}

static json_t *group(json_t *root, const char *name)
{
	json_t *g = json_object_get(root, name);

	if (!g) {
		g = json_object();
		json_object_set_new(root, name, g);
	}
	return g;
}

static void api_requests(const struct instance *in, json_t *root)
{
	static const char *const groups[RES_NR_VERBS] = { "get_api_requests", "put_api_requests",
							  "patch_api_requests", NULL };
	char key[64];

	for (unsigned r = 0; r < res_count; r++)
		for (int v = 0; v < RES_NR_VERBS; v++) {
			const struct res_def *d = res_table[r];
			size_t i = r * RES_NR_VERBS + (size_t)v;
			json_t *g;

			if (!d->ops[v].when || !groups[v] || !d->metric)
				continue;
			g = group(root, groups[v]);
			snprintf(key, sizeof(key), "%s_count", d->metric);
			add(g, key,
			    in->api_count[i] +
				(uint64_t)json_integer_value(json_object_get(g, key)));
			snprintf(key, sizeof(key), "%s_fails", d->metric);
			add(g, key,
			    in->api_fails[i] +
				(uint64_t)json_integer_value(json_object_get(g, key)));
		}
	add(group(root, "deprecated_api"), "deprecated_http_api_calls", in->deprecated_calls);
}

/* Into the named group and the device's own (block_<id>), summed in the first. */
static void dev_add(json_t *all, json_t *one, const char *key, uint64_t v)
{
	add(all, key, v + (uint64_t)json_integer_value(json_object_get(all, key)));
	add(one, key, v);
}

static void block(const struct vm *vm, json_t *root)
{
	json_t *all = group(root, "block");
	char name[96];

	for (unsigned i = 0; vm && i < vm->nr_blks; i++) {
		const struct virtio_blk_stats *s = &vm->blks[i]->stats;
		json_t *one;

		snprintf(name, sizeof(name), "block_%s", vm->blks[i]->drive_id);
		one = group(root, name);
		dev_add(all, one, "read_bytes", s->read_bytes);
		dev_add(all, one, "write_bytes", s->write_bytes);
		dev_add(all, one, "read_count", s->reads);
		dev_add(all, one, "write_count", s->writes);
		dev_add(all, one, "flush_count", s->flushes);
		dev_add(all, one, "invalid_reqs_count", s->invalid);
		dev_add(all, one, "execute_fails", s->io_errors);
		dev_add(all, one, "rate_limiter_throttled_events", s->throttled);
	}
}

static void net(const struct vm *vm, json_t *root)
{
	json_t *all = group(root, "net");
	char name[96];

	for (unsigned i = 0; vm && i < vm->nr_nets; i++) {
		const struct virtio_net_stats *s = &vm->nets[i]->stats;
		json_t *one;

		snprintf(name, sizeof(name), "net_%s", vm->nets[i]->iface_id);
		one = group(root, name);
		dev_add(all, one, "rx_bytes_count", s->rx_bytes);
		dev_add(all, one, "rx_packets_count", s->rx_frames);
		dev_add(all, one, "rx_dropped_count", s->rx_dropped);
		dev_add(all, one, "rx_rate_limiter_throttled", s->rx_throttled);
		dev_add(all, one, "tx_bytes_count", s->tx_bytes);
		dev_add(all, one, "tx_packets_count", s->tx_frames);
		dev_add(all, one, "tx_dropped_count", s->tx_dropped);
		dev_add(all, one, "tx_malformed_frames", s->invalid);
		dev_add(all, one, "tx_rate_limiter_throttled", s->tx_throttled);
	}
}

static void vsock(const struct vm *vm, json_t *root)
{
	json_t *g = group(root, "vsock");
	const struct virtio_vsock_stats *s = vm && vm->vsock ? &vm->vsock->stats : NULL;
	const struct virtio_vsock_stats zero = { 0 };

	if (!s)
		s = &zero;
	add(g, "rx_bytes_count", s->rx_bytes);
	add(g, "tx_bytes_count", s->tx_bytes);
	add(g, "conns_added", s->conns_opened);
	add(g, "conns_removed", s->conns_closed);
	add(g, "conns_refused", s->refused);
	add(g, "invalid_packets", s->invalid);
}

static void entropy(const struct vm *vm, json_t *root)
{
	const struct virtio_rng_stats zero = { 0 };
	const struct virtio_rng_stats *s = vm && vm->rng ? &vm->rng->stats : &zero;
	json_t *g = group(root, "entropy");

	add(g, "entropy_event_count", s->requests);
	add(g, "entropy_bytes", s->bytes);
	add(g, "host_rng_fails", s->host_fails);
	add(g, "entropy_event_fails", s->invalid);
	add(g, "entropy_rate_limiter_throttled", s->throttled);
}

/* Firecracker's balloon group. */
static void balloon(const struct vm *vm, json_t *root)
{
	const struct virtio_balloon_metrics zero = { 0 };
	const struct virtio_balloon_metrics *s = vm && vm->balloon ? &vm->balloon->metrics : &zero;
	json_t *g = group(root, "balloon");

	add(g, "activate_fails", s->activate_fails);
	add(g, "inflate_count", s->inflate_count);
	add(g, "stats_updates_count", s->stats_updates_count);
	add(g, "stats_update_fails", s->stats_update_fails);
	add(g, "deflate_count", s->deflate_count);
	add(g, "event_fails", s->event_fails);
	add(g, "free_page_report_count", s->free_page_report_count);
	add(g, "free_page_report_freed", s->free_page_report_freed);
	add(g, "free_page_report_fails", s->free_page_report_fails);
	add(g, "free_page_hint_count", s->free_page_hint_count);
	add(g, "free_page_hint_freed", s->free_page_hint_freed);
	add(g, "free_page_hint_fails", s->free_page_hint_fails);
}

/* Firecracker's pmem group and pmem_<id>, as block's. */
static void pmem(const struct vm *vm, json_t *root)
{
	json_t *all = group(root, "pmem");
	char name[96];

	add(all, "activate_fails", 0);
	add(all, "cfg_fails", 0);
	for (unsigned i = 0; vm && i < vm->nr_pmems; i++) {
		const struct virtio_pmem_stats *s = &vm->pmems[i]->stats;
		json_t *one;

		snprintf(name, sizeof(name), "pmem_%s", vm->cfg->pmems[i].id);
		one = group(root, name);
		add(one, "activate_fails", 0);
		add(one, "cfg_fails", 0);
		dev_add(all, one, "event_fails", s->fails);
		dev_add(all, one, "queue_event_count", s->queue_events);
		dev_add(all, one, "rate_limiter_throttled_events", s->throttled);
		dev_add(all, one, "rate_limiter_event_count", s->limiter_events);
	}
	if (!vm || !vm->nr_pmems) {
		add(all, "event_fails", 0);
		add(all, "queue_event_count", 0);
		add(all, "rate_limiter_throttled_events", 0);
		add(all, "rate_limiter_event_count", 0);
	}
}

/* Firecracker's mmds group: every key, zeros without an interface for it. */
static void mmds(const struct vm *vm, json_t *root)
{
	static const struct mmds_net_stats none;
	static const struct mmds_guest_stats no_guest;
	const struct mmds_net_stats *s = vm && vm->mmds_net ? mmds_net_stats(vm->mmds_net) : &none;
	const struct mmds_guest_stats *gs =
	    vm && vm->mmds_net ? mmds_net_guest_stats(vm->mmds_net) : &no_guest;
	json_t *g = group(root, "mmds");

	add(g, "rx_accepted", s->rx_accepted);
	add(g, "rx_accepted_err", s->rx_accepted_err);
	add(g, "rx_accepted_unusual", s->rx_accepted_unusual);
	add(g, "rx_bad_eth", s->rx_bad_eth);
	add(g, "rx_invalid_token", gs->rx_invalid_token);
	add(g, "rx_no_token", gs->rx_no_token);
	add(g, "rx_count", s->rx_count);
	add(g, "tx_bytes", s->tx_bytes);
	add(g, "tx_count", s->tx_count);
	add(g, "tx_errors", s->tx_errors);
	add(g, "tx_frames", s->tx_frames);
	add(g, "connections_created", s->connections_created);
	add(g, "connections_destroyed", s->connections_destroyed);
}

static void vcpus(const struct vm *vm, json_t *root)
{
	struct vcpu_stats sum = { 0 }, s;
	json_t *g = group(root, "vcpu");

	for (unsigned i = 0; vm && i < vm->nr_vcpus; i++) {
		vcpu_stats_read(&vm->vcpus[i], &s);
		sum.io_in += s.io_in;
		sum.io_out += s.io_out;
		sum.mmio_read += s.mmio_read;
		sum.mmio_write += s.mmio_write;
	}
	add(g, "exit_io_in", sum.io_in);
	add(g, "exit_io_out", sum.io_out);
	add(g, "exit_mmio_read", sum.mmio_read);
	add(g, "exit_mmio_write", sum.mmio_write);
}

static void uart(const struct vm *vm, json_t *root)
{
	json_t *g = group(root, "uart");

	add(g, "write_count", vm ? __atomic_load_n(&vm->serial.out_bytes, __ATOMIC_RELAXED) : 0);
	add(g, "missed_write_count",
	    vm ? __atomic_load_n(&vm->serial.out_dropped, __ATOMIC_RELAXED) : 0);
	add(g, "rate_limiter_dropped_bytes",
	    vm ? __atomic_load_n(&vm->serial.out_limited, __ATOMIC_RELAXED) : 0);
}

json_t *instance_metric_counters(const struct instance *in)
{
	json_t *root = json_object();
	json_t *logger;

	api_requests(in, root);
	block(in->vm, root);
	net(in->vm, root);
	vsock(in->vm, root);
	entropy(in->vm, root);
	balloon(in->vm, root);
	pmem(in->vm, root);
	mmds(in->vm, root);
	vcpus(in->vm, root);
	uart(in->vm, root);
	logger = group(root, "logger");
	add(logger, "missed_metrics_count", in->metrics.lost);
	add(logger, "missed_log_count", log_missed());
	return root;
}

json_t *instance_metric_stores(const struct instance *in)
{
	return json_pack("{s{sIsI}s{sIsIsIsIsI}}", "api_server", "process_startup_time_us",
			 (json_int_t)in->startup_us, "process_startup_time_cpu_us",
			 (json_int_t)in->startup_cpu_us, "latencies_us", "pause_vm",
			 (json_int_t)in->pause_us, "resume_vm", (json_int_t)in->resume_us,
			 "instance_start", (json_int_t)in->start_us, "full_create_snapshot",
			 (json_int_t)in->create_snapshot_us, "load_snapshot",
			 (json_int_t)in->load_snapshot_us);
}
