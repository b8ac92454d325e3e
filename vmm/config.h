/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine's plain description of a VM: what vm_create() builds. No
 * parsing here: the control plane (vmm/resources/) fills it from API
 * requests and config files, and dumps it back. Optional fields remember
 * whether they were given, so GET /vm/config shows them as they came.
 */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define CONFIG_MAX_VCPUS       32
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_DEFAULT_BOOT_ARGS                                             \
	"reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux " \
	"i8042.dumbkbd swiotlb=noforce"

struct cpu_template;

struct config_boot {
	char *kernel_image_path;
	char *initrd_path; /* NULL: none */
	char *boot_args;   /* NULL: CONFIG_DEFAULT_BOOT_ARGS */
};

enum config_huge_pages {
	CONFIG_HUGE_NONE,        /* 4 KiB pages */
	CONFIG_HUGE_TRANSPARENT, /* madvise(MADV_HUGEPAGE) */
	CONFIG_HUGE_2M,          /* hugetlbfs 2 MiB pages */
};

/* Firecracker's static CPU templates (the deprecated machine-config field). */
enum config_cpu_template {
	CONFIG_TEMPLATE_NONE,
	CONFIG_TEMPLATE_C3,
	CONFIG_TEMPLATE_T2,
	CONFIG_TEMPLATE_T2S,
	CONFIG_TEMPLATE_T2CL,
	CONFIG_TEMPLATE_T2A,
};

struct config_machine {
	unsigned vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	bool track_dirty_pages;
	enum config_huge_pages huge_pages;
	enum config_cpu_template cpu_template;
};

/* Firecracker's TokenBucket: size 0 or refill_time 0 means unlimited. */
struct config_bucket {
	bool set;
	uint64_t size;
	bool has_burst; /* one_time_burst given (GET shows null otherwise) */
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

struct config_rate_limiter {
	bool set;
	struct config_bucket bandwidth; /* bytes */
	struct config_bucket ops;       /* operations */
};

#define CONFIG_MAX_DRIVES 16

enum config_io_engine { CONFIG_IO_SYNC, CONFIG_IO_ASYNC };

struct config_drive {
	char *drive_id;
	char *path_on_host;
	char *partuuid; /* NULL: root=/dev/vdX */
	bool is_root_device;
	bool is_read_only;
	bool writeback; /* cache_type "Writeback" (default "Unsafe") */
	enum config_io_engine io_engine;
	struct config_rate_limiter rate_limiter;
};

#define CONFIG_MAX_NETS 8

struct config_net {
	char *iface_id;
	char *host_dev_name; /* an existing TAP device */
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu; /* 0: none offered (VIRTIO_NET_F_MTU off) */
	struct config_rate_limiter rx_rate_limiter;
	struct config_rate_limiter tx_rate_limiter;
	bool mmds; /* named in mmds-config: the guest reaches MMDS through it */
};

/* PUT /mmds/config; the interfaces are those with config_net.mmds. */
struct config_mmds {
	bool set;
	bool v2;          /* version V2 (tokens); V1 answers without one */
	bool imds_compat; /* IMDS text whatever the Accept header */
	uint32_t ipv4;    /* host byte order; 169.254.169.254 unless given */
};

#define CONFIG_MMDS_DEFAULT_IPV4 0xa9fea9feu /* 169.254.169.254 */

#define CONFIG_MAX_PMEMS 8

/* PUT /pmem/{id}: a file as guest memory (virtio-pmem). */
struct config_pmem {
	char *id;
	char *path_on_host;
	bool root_device; /* root=/dev/pmemN */
	bool read_only;
	struct config_rate_limiter rate_limiter; /* flushes: ops, and the file's bytes */
};

struct config_vsock {
	bool set;
	uint64_t guest_cid; /* >= 3 */
	char *uds_path;
};

struct config_entropy {
	bool set;
	struct config_rate_limiter rate_limiter;
};

/* PUT /balloon (Firecracker's BalloonDeviceConfig); amount_mib follows
 * PATCH /balloon, stats_polling_interval_s PATCH /balloon/statistics. */
struct config_balloon {
	bool set;
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint16_t stats_polling_interval_s;
	bool free_page_hinting;
	bool free_page_reporting;
};

struct config_serial {
	char *out_path;              /* NULL: the caller's (stdout) */
	struct config_bucket output; /* bytes; excess output is dropped */
};

/* PUT /hotplug/memory: virtio-mem's region, in MiB. */
struct config_hotplug {
	bool set;
	uint32_t total_mib, block_mib, slot_mib;
};

#define CONFIG_HOTPLUG_BLOCK_MIB 2 /* Firecracker's defaults, and minimums */
#define CONFIG_HOTPLUG_SLOT_MIB  128

struct vm_config {
	bool has_boot;
	struct config_boot boot;
	struct config_machine machine;
	struct cpu_template *cpu_custom; /* PUT /cpu-config; NULL: none */
	struct config_serial serial;
	/* In Firecracker's attach order: the root drive first, then as listed. */
	struct config_drive drives[CONFIG_MAX_DRIVES];
	unsigned nr_drives;
	struct config_net nets[CONFIG_MAX_NETS];
	unsigned nr_nets;
	struct config_vsock vsock;
	struct config_entropy entropy;
	struct config_balloon balloon;
	struct config_mmds mmds;
	struct config_pmem pmems[CONFIG_MAX_PMEMS]; /* in the order configured */
	unsigned nr_pmems;
	struct config_hotplug hotplug;
};

void config_init(struct vm_config *cfg);
void config_free(struct vm_config *cfg);
void config_boot_free(struct config_boot *b);
void config_drive_free(struct config_drive *d);
void config_net_free(struct config_net *n);
void config_pmem_free(struct config_pmem *p);
/* The index of the drive or interface with this id, or -1. */
int config_find_drive(const struct vm_config *cfg, const char *id);
int config_find_net(const struct vm_config *cfg, const char *id);
int config_find_pmem(const struct vm_config *cfg, const char *id);
/* Guest memory page size the configuration asks for, in MiB multiples. */
unsigned config_mem_granule_mib(enum config_huge_pages h);

#endif
