/* SPDX-License-Identifier: Apache-2.0 */
/* The VM's configuration in Firecracker's config-file schema. */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

#define CONFIG_MAX_VCPUS       32
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_DEFAULT_BOOT_ARGS                                             \
	"reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux " \
	"i8042.dumbkbd swiotlb=noforce"

struct config_boot {
	char *kernel_image_path;
	char *initrd_path; /* NULL: none */
	char *boot_args;   /* NULL: CONFIG_DEFAULT_BOOT_ARGS */
};

struct config_machine {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	bool huge_pages;       /* "2M" */
	char cpu_template[16]; /* "None" or a template name */
};

struct config_logger {
	bool set;
	char *log_path;
	struct log_options opts;
};

/* Firecracker's TokenBucket: size 0 or refill_time 0 means unlimited. */
struct config_bucket {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

struct config_rate_limiter {
	struct config_bucket bandwidth; /* bytes */
	struct config_bucket ops;       /* operations */
};

#define CONFIG_MAX_DRIVES 16

struct config_drive {
	char *drive_id;
	char *path_on_host;
	char *partuuid; /* NULL: root=/dev/vdX */
	bool is_root_device;
	bool is_read_only;
	bool writeback; /* cache_type "Writeback" (default "Unsafe") */
	struct config_rate_limiter rate_limiter;
};

#define CONFIG_MAX_NETS 8

struct config_net {
	char *iface_id;
	char *host_dev_name; /* an existing TAP device */
	bool has_mac;
	uint8_t mac[6];
	struct config_rate_limiter rx_rate_limiter;
	struct config_rate_limiter tx_rate_limiter;
};

struct config_vsock {
	bool set;
	uint64_t guest_cid; /* >= 3 */
	char *uds_path;
};

struct config_metrics {
	bool set;
	char *metrics_path;
	bool emit_id;
	char *properties; /* JSON object text of string values, or NULL */
};

struct config_entropy {
	bool set;
	struct config_rate_limiter rate_limiter;
};

struct vm_config {
	bool has_boot;
	struct config_boot boot;
	struct config_machine machine;
	struct config_logger logger;
	char *serial_out_path; /* NULL: stdout */
	/* In Firecracker's attach order: the root drive first, then as listed. */
	struct config_drive drives[CONFIG_MAX_DRIVES];
	unsigned nr_drives;
	struct config_net nets[CONFIG_MAX_NETS];
	unsigned nr_nets;
	struct config_vsock vsock;
	struct config_metrics metrics;
	struct config_entropy entropy;
};

void config_init(struct vm_config *cfg);
void config_free(struct vm_config *cfg);
/* Parse Firecracker's config-file JSON. Unknown keys, duplicate keys, wrong
 * types and out-of-range values are errors with a message naming the field. */
int config_parse(struct vm_config *cfg, const char *json, struct ember_err *err);
int config_load_file(struct vm_config *cfg, const char *path, struct ember_err *err);

/* The API's pre-boot resources. The config file's sections go through the
 * same code, but a file may not name a drive or interface twice, while a
 * PUT replaces the one with its id. */
enum config_resource {
	CONFIG_BOOT_SOURCE, /* PUT /boot-source */
	CONFIG_MACHINE,     /* PUT and PATCH /machine-config */
	CONFIG_DRIVE,       /* PUT /drives/{id}; PATCH: path_on_host, rate_limiter */
	CONFIG_NET,         /* PUT /network-interfaces/{id}; PATCH: rate limiters */
	CONFIG_VSOCK,       /* PUT /vsock */
	CONFIG_LOGGER,      /* PUT /logger */
	CONFIG_METRICS,     /* PUT /metrics */
	CONFIG_ENTROPY,     /* PUT /entropy */
};

/* Apply a request body (JSON text). `id` is the path's id, which must match
 * the body's. On an error the config is unchanged and err says why. */
int config_put(struct vm_config *cfg, enum config_resource res, const char *id, const char *json,
	       bool patch, struct ember_err *err);
/* The index of the drive or interface with this id, or -1. */
int config_find_drive(const struct vm_config *cfg, const char *id);
int config_find_net(const struct vm_config *cfg, const char *id);
/* The config in the config file's schema, as GET /vm/config shows it:
 * malloc'ed JSON text, or NULL when out of memory. */
char *config_dump(const struct vm_config *cfg);
/* Checks that need the whole config (boot source present...). */
int config_validate(const struct vm_config *cfg, struct ember_err *err);

#endif
