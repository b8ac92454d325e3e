/* SPDX-License-Identifier: Apache-2.0 */
/* One microVM: KVM, memory, vCPUs, devices, and the VMM event loop. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "acpi_pm.h"
#include "boot.h"
#include "boottimer.h"
#include "blk.h"
#include "net.h"
#include "vsock.h"
#include "rng.h"
#include "balloon.h"
#include "pmem.h"
#include "mem.h"
#include "bus.h"
#include "cmdline.h"
#include "config.h"
#include "err.h"
#include "evloop.h"
#include "guest_mem.h"
#include "i8042.h"
#include "kvm.h"
#include "layout.h"
#include "mmds_net.h"
#include "serial.h"
#include "vcpu.h"

enum vm_exit_kind {
	VM_EXIT_NONE,
	VM_EXIT_RESET,    /* i8042 reset line: the guest rebooted */
	VM_EXIT_SHUTDOWN, /* triple fault or ACPI-less power off */
	VM_EXIT_HALT,
	VM_EXIT_SIGNAL, /* ember was asked to stop */
	VM_EXIT_ERROR,
};

struct vm_exit {
	enum vm_exit_kind kind;
	int status; /* ember's exit status for this outcome */
	char msg[ERR_MSG_MAX];
};

struct seccomp_filters;

struct vm_options {
	const char *kvm_path; /* NULL: /dev/kvm */
	int serial_out_fd;    /* -1: discard guest output */
	int serial_in_fd;     /* -1: no input */
	bool boot_timer;
	uint64_t start_wall_us;
	uint64_t start_cpu_us;
	unsigned timeout_ms; /* 0: run until the guest stops */
	/* Each thread's filter, installed as vm_run starts it; NULL: none. */
	const struct seccomp_filters *seccomp;
	/* Snapshot restore: guest memory is mem_fd's file, mapped MAP_PRIVATE. */
	bool mem_from_file;
	int mem_fd;
	/* MMDS's data store, which the guest reads over the named interfaces. */
	const struct mmds_store *mmds;
	/* A VM made ahead while ember sat idle (vm_spare_make): vm_create takes
	 * it instead of making one; NULL or closed (vm_fd -1): none. */
	struct kvm *spare;
};

/* Entry in the VM's fixed-order device list (creation, save, restore). */
struct vm_device {
	const char *name;
	const struct device_ops *ops;
	void *dev;
};

#define VM_MAX_DEVICES 32
#define VM_MAX_VIRTIO  (LAYOUT_VIRTIO_IRQ_LAST - LAYOUT_VIRTIO_IRQ_FIRST + 1)

/* How long vm_create's steps took (us): a restore's breakdown reports them. */
struct vm_create_times {
	uint64_t kvm;     /* /dev/kvm, KVM_CREATE_VM, irqchip, PIT */
	uint64_t memory;  /* guest memory mapped and its KVM slots */
	uint64_t devices; /* legacy and virtio-mmio devices */
	uint64_t vcpus;   /* KVM_CREATE_VCPU and each vCPU's set-up */
	bool spare;       /* the VM was made ahead (kvm is then ~0) */
};

struct vm {
	const struct vm_config *cfg;
	struct vm_create_times create_us;
	struct vm_options opts;
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct vcpu vcpus[CONFIG_MAX_VCPUS];
	unsigned nr_vcpus;
	struct boot_image image;

	struct vm_device devices[VM_MAX_DEVICES];
	int nr_devices;
	struct serial serial;
	struct i8042 i8042;
	struct acpi_pm acpi_pm;
	struct boottimer boottimer;
	bool legacy_ready;
	/* virtio-mmio devices in attach order: slot i at LAYOUT_VIRTIO_MMIO + i * 4K */
	struct virtio_mmio *virtio[VM_MAX_VIRTIO];
	unsigned nr_virtio;
	struct virtio_blk *blks[CONFIG_MAX_DRIVES];
	unsigned nr_blks;
	struct virtio_net *nets[CONFIG_MAX_NETS];
	unsigned nr_nets;
	struct virtio_vsock *vsock;
	struct virtio_rng *rng;
	struct virtio_balloon *balloon;
	struct virtio_pmem *pmems[CONFIG_MAX_PMEMS];
	unsigned nr_pmems;
	struct mmds_net *mmds_net;  /* with an interface named in mmds-config */
	struct virtio_mem *mem_dev; /* memory hot-plug */
	int serial_irq_fd;
	int i8042_irq_fd;

	struct evloop loop;
	int exit_fd; /* eventfd: a vCPU or device asks the VMM to stop */
	int signal_fd;
	int timer_fd;
	pthread_mutex_t exit_lock;
	struct vm_exit exit;
	int exit_requested; /* atomic */

	/* Pause: vCPU threads park in vm_vcpu_park() while pause_requested. */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;
	bool pause_requested;
	bool paused;
	unsigned nr_looping; /* vCPU threads in their run loop */
	unsigned nr_parked;
};

/* KVM VM, memory, irqchip, devices and configured vCPUs. No kernel yet. */
/* The VM part that depends on no configuration (/dev/kvm opened, the VM
 * with its irqchip and PIT), made before a request needs it. */
int vm_spare_make(struct kvm *spare, const char *kvm_path, struct ember_err *err);
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opts,
	      struct ember_err *err);
/* Add a device to the save/restore list. */
int vm_add_device(struct vm *vm, const char *name, const struct device_ops *ops, void *dev,
		  struct ember_err *err);
/* vm_virtio.c: the configured virtio devices, their command line, teardown. */
int vm_virtio_create(struct vm *vm, struct ember_err *err);
int vm_virtio_cmdline(struct vm *vm, struct cmdline *cl, struct ember_err *err);
/* PATCH /pmem/{id}: pmem i's flush rate limiter. */
int vm_virtio_update_pmem(struct vm *vm, unsigned i, const struct config_rate_limiter *rl,
			  struct ember_err *err);
void vm_virtio_destroy(struct vm *vm);
/* After boot (PATCH): a drive's new backing file and/or rate limiter, an
 * interface's new rate limiters, as the config now says. */
int vm_virtio_update_drive(struct vm *vm, const struct config_drive *d, bool new_path,
			   struct ember_err *err);
int vm_virtio_update_net(struct vm *vm, const struct config_net *c, struct ember_err *err);

/* Load kernel, initrd, command line and boot structures from the config. */
int vm_load_kernel(struct vm *vm, struct ember_err *err);
/* Tiny guests: copy code to gpa and enter it in 64-bit mode on every vCPU. */
int vm_load_raw(struct vm *vm, uint64_t gpa, const void *code, size_t len, struct ember_err *err);
/* Start the vCPUs and run the event loop until the VM stops. */
int vm_run(struct vm *vm, struct vm_exit *out, struct ember_err *err);
/* Called from any thread: record why the VM stops (first caller wins). */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool vm_exit_requested(struct vm *vm);
/* Stop every vCPU (each tells its guest's kvmclock) and wait until all have
 * stopped; resume restarts them. Called from the VMM thread while vm_run runs. */
int vm_pause(struct vm *vm, struct ember_err *err);
void vm_resume(struct vm *vm);
/* Before vm_run: every vCPU parks before its first KVM_RUN (a restored VM
 * loaded without resume_vm); vm_resume lets them go. */
void vm_start_paused(struct vm *vm);
bool vm_paused(struct vm *vm);
/* vCPU threads: park here after a kick while a pause is requested; done on leaving the loop. */
void vm_vcpu_park(struct vm *vm, struct vcpu *v);
void vm_vcpu_done(struct vm *vm);
/* Each device's state through its save hook, in list order. */
void vm_save_devices(struct vm *vm, struct state_writer *w);
int vm_restore_devices(struct vm *vm, struct state_reader *r, struct ember_err *err);
void vm_destroy(struct vm *vm);

#endif
