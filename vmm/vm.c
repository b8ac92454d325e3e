// SPDX-License-Identifier: Apache-2.0
/* The microVM: assembly of KVM, memory, devices and vCPUs; run and stop. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "acpi.h"
#include "cmdline.h"
#include "cpu_template.h"
#include "layout.h"
#include "log.h"
#include "seccomp_filter.h"
#include "mptable.h"

void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int status, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	if (vm->exit.kind == VM_EXIT_NONE) {
		vm->exit.kind = kind;
		vm->exit.status = status;
		va_start(ap, fmt);
		vsnprintf(vm->exit.msg, sizeof(vm->exit.msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->exit_lock);
	__atomic_store_n(&vm->exit_requested, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&vm->run_lock); /* wake parked vCPUs and a waiting pause */
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
	if (vm->exit_fd >= 0 && write(vm->exit_fd, &one, sizeof(one)) < 0) {
		/* eventfd saturated: the loop is already woken */
	}
}

bool vm_exit_requested(struct vm *vm)
{
	return __atomic_load_n(&vm->exit_requested, __ATOMIC_SEQ_CST);
}

void vm_vcpu_park(struct vm *vm, struct vcpu *v)
{
	pthread_mutex_lock(&vm->run_lock);
	if (vm->pause_requested && !vm_exit_requested(vm)) {
		vm->nr_parked++;
		pthread_cond_broadcast(&vm->run_cond);
		vcpu_clock_paused(v);
		while (vm->pause_requested && !vm_exit_requested(vm))
			pthread_cond_wait(&vm->run_cond, &vm->run_lock);
		vm->nr_parked--;
	}
	pthread_mutex_unlock(&vm->run_lock);
}

void vm_vcpu_done(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->nr_looping--;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

int vm_pause(struct vm *vm, struct ember_err *err)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->pause_requested = true;
	pthread_mutex_unlock(&vm->run_lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->run_lock);
	while (vm->nr_parked < vm->nr_looping && !vm_exit_requested(vm))
		pthread_cond_wait(&vm->run_cond, &vm->run_lock);
	vm->paused = !vm_exit_requested(vm);
	pthread_mutex_unlock(&vm->run_lock);
	if (!vm->paused)
		return err_set(err, ECANCELED, "the VM stopped while pausing");
	return 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->pause_requested = false;
	vm->paused = false;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->run_lock);
}

void vm_start_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->run_lock);
	vm->pause_requested = true;
	vm->paused = true;
	pthread_mutex_unlock(&vm->run_lock);
}

bool vm_paused(struct vm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->run_lock);
	p = vm->paused;
	pthread_mutex_unlock(&vm->run_lock);
	return p;
}

static void on_i8042_reset(void *ctx)
{
	vm_request_exit(ctx, VM_EXIT_RESET, 0, "guest reset through the i8042");
}

static void on_acpi_pm(void *ctx, enum acpi_pm_event e)
{
	if (e == ACPI_PM_EVENT_POWER_OFF)
		vm_request_exit(ctx, VM_EXIT_SHUTDOWN, 0, "guest powered off (ACPI S5)");
	else
		vm_request_exit(ctx, VM_EXIT_RESET, 0, "guest reset through ACPI");
}

int vm_add_device(struct vm *vm, const char *name, const struct device_ops *ops, void *dev,
		  struct ember_err *err)
{
	if (vm->nr_devices == VM_MAX_DEVICES)
		return err_set(err, ENOSPC, "too many devices");
	vm->devices[vm->nr_devices++] = (struct vm_device){ name, ops, dev };
	return 0;
}

/* Legacy devices in a fixed order: serial, i8042, ACPI PM ports, boot timer. */
static int create_devices(struct vm *vm, struct ember_err *err)
{
	int ret;

	if (vm->kvm.irqchip) {
		ret = kvm_irqfd(&vm->kvm, SERIAL_IRQ, &vm->serial_irq_fd, err);
		if (!ret)
			ret = kvm_irqfd(&vm->kvm, I8042_IRQ, &vm->i8042_irq_fd, err);
		if (ret)
			return ret;
	}
	serial_init(&vm->serial, vm->opts.serial_out_fd, vm->serial_irq_fd);
	if (vm->cfg->serial.output.set) {
		const struct config_bucket *b = &vm->cfg->serial.output;
		struct token_bucket tb;

		tb_init(&tb, b->size, b->one_time_burst, b->refill_time_ms, ratelimit_now_ns());
		serial_set_limit(&vm->serial, &tb);
	}
	i8042_init(&vm->i8042, vm->i8042_irq_fd, on_i8042_reset, vm);
	vm->legacy_ready = true;
	ret = bus_add(&vm->pio, SERIAL_PORT_BASE, SERIAL_PORT_LEN, &serial_ops, &vm->serial, err);
	if (!ret)
		ret = vm_add_device(vm, "serial", &serial_ops, &vm->serial, err);
	if (!ret)
		ret =
		    bus_add(&vm->pio, I8042_DATA_PORT, I8042_PORT_LEN, &i8042_ops, &vm->i8042, err);
	if (!ret)
		ret = vm_add_device(vm, "i8042", &i8042_ops, &vm->i8042, err);
	acpi_pm_init(&vm->acpi_pm, on_acpi_pm, vm);
	if (!ret)
		ret = bus_add(&vm->pio, ACPI_PM_PORT, ACPI_PM_LEN, &acpi_pm_ops, &vm->acpi_pm, err);
	if (!ret)
		ret = vm_add_device(vm, "acpi-pm", &acpi_pm_ops, &vm->acpi_pm, err);
	if (!ret && vm->opts.boot_timer) {
		boottimer_init(&vm->boottimer, vm->opts.start_wall_us, vm->opts.start_cpu_us);
		ret = bus_add(&vm->mmio, LAYOUT_BOOT_TIMER, BOOTTIMER_LEN, &boottimer_ops,
			      &vm->boottimer, err);
		if (!ret)
			ret = vm_add_device(vm, "boot-timer", &boottimer_ops, &vm->boottimer, err);
	}
	return ret;
}

/* The CPUID every vCPU starts from: KVM's, with the CPU template applied;
 * and the KVM capabilities a custom template adds. */
static int template_cpuid(struct vm *vm, struct cpuid_table *t, const struct cpu_template **tmpl,
			  struct ember_err *err)
{
	int ret = cpu_template_select(vm->cfg, tmpl, err);

	if (!ret)
		ret = cpuid_get_supported(vm->kvm.sys_fd, t, err);
	if (!ret)
		ret = cpu_template_apply_cpuid(*tmpl, t, err);
	for (unsigned i = 0; !ret && *tmpl && i < (*tmpl)->nr_caps; i++) {
		const struct cpu_kvm_cap *c = &(*tmpl)->caps[i];

		if (!c->remove && kvm_check_cap(&vm->kvm, c->cap) <= 0)
			ret = err_set(err, ENOTSUP, "Kvm error: Missing KVM capabilities: %#x",
				      c->cap);
	}
	return ret;
}

static int create_vcpus(struct vm *vm, struct ember_err *err)
{
	const struct cpu_template *tmpl = NULL;
	struct cpuid_table *cpuid = malloc(sizeof(*cpuid));
	int ret;

	if (!cpuid)
		return err_set(err, ENOMEM, "out of memory");
	ret = template_cpuid(vm, cpuid, &tmpl, err);
	for (unsigned i = 0; !ret && i < vm->cfg->machine.vcpu_count; i++) {
		ret = vcpu_create(&vm->vcpus[i], vm, i, err);
		if (!ret)
			vm->nr_vcpus++;
		if (!ret)
			ret = vcpu_configure(&vm->vcpus[i], cpuid, tmpl, err);
	}
	free(cpuid);
	return ret;
}

static int init_fds(struct vm *vm, struct ember_err *err)
{
	vm->exit_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vm->exit_fd < 0)
		return err_errno(err, "eventfd");
	return evloop_init(&vm->loop, err);
}

/* The time since *t into *out, and *t moved on. */
static void lap(uint64_t *out, uint64_t *t)
{
	uint64_t now = boottimer_now_us(CLOCK_MONOTONIC);

	*out = now - *t;
	*t = now;
}

int vm_spare_make(struct kvm *spare, const char *kvm_path, struct ember_err *err)
{
	int ret = kvm_open(spare, kvm_path, err);

	if (!ret)
		ret = kvm_create_vm(spare, true, err);
	if (ret)
		kvm_close(spare);
	return ret;
}

/* The spare if there is one (it is this VM's now), else a new VM. */
static int take_spare(struct vm *vm, const struct vm_options *opts, struct ember_err *err)
{
	if (opts->spare && opts->spare->vm_fd >= 0) {
		vm->kvm = *opts->spare;
		opts->spare->vm_fd = opts->spare->sys_fd = -1;
		opts->spare->msr_index = NULL;
		vm->opts.spare = NULL;
		vm->create_us.spare = true;
		return 0;
	}
	return vm_spare_make(&vm->kvm, opts->kvm_path, err);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct vm_options *opts,
	      struct ember_err *err)
{
	uint64_t bytes = cfg->machine.mem_size_mib << 20;
	uint64_t t = boottimer_now_us(CLOCK_MONOTONIC);
	enum guest_mem_pages pages = cfg->machine.huge_pages == CONFIG_HUGE_2M ? GUEST_MEM_2M
				     : cfg->machine.huge_pages == CONFIG_HUGE_TRANSPARENT
					 ? GUEST_MEM_THP
					 : GUEST_MEM_4K;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->opts = *opts;
	vm->serial_irq_fd = vm->i8042_irq_fd = vm->exit_fd = vm->signal_fd = vm->timer_fd = -1;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->loop.epfd = -1;
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	bus_init(&vm->pio, "port I/O bus");
	bus_init(&vm->mmio, "MMIO bus");

	/* Firecracker takes any usize and fails here; MiB beyond 2^43 overflow bytes. */
	if (cfg->machine.mem_size_mib > (1ULL << 43))
		return err_set(err, ENOMEM,
			       "Invalid Memory Configuration: Cannot create mmap region: Out of "
			       "memory (os error 12)");
	ret = init_fds(vm, err);
	if (!ret)
		ret = take_spare(vm, opts, err);
	lap(&vm->create_us.kvm, &t);
	if (!ret && opts->mem_from_file)
		ret = guest_mem_init_file(&vm->mem, bytes, opts->mem_fd, pages, err);
	else if (!ret)
		ret = guest_mem_init(&vm->mem, bytes, pages, err);
	if (!ret)
		ret = kvm_set_memory(&vm->kvm, &vm->mem, cfg->machine.track_dirty_pages, err);
	if (!ret && cfg->machine.track_dirty_pages)
		ret = guest_mem_track_dirty(&vm->mem, err);
	lap(&vm->create_us.memory, &t);
	if (!ret)
		ret = create_devices(vm, err);
	if (!ret)
		ret = vm_virtio_create(vm, err);
	lap(&vm->create_us.devices, &t);
	if (!ret)
		ret = create_vcpus(vm, err);
	lap(&vm->create_us.vcpus, &t);
	return ret;
}

static int open_ro(const char *path, const char *what, int *fd, struct ember_err *err)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return err_errno(err, "cannot open %s %s", what, path);
	return 0;
}

static int build_cmdline(struct vm *vm, struct cmdline *cl, struct ember_err *err)
{
	const struct config_boot *b = &vm->cfg->boot;
	int ret;

	cmdline_init(cl);
	ret = cmdline_append(cl, b->boot_args ? b->boot_args : CONFIG_DEFAULT_BOOT_ARGS, err);
	if (!ret && !cmdline_has(cl, "pci"))
		ret = cmdline_append(cl, "pci=off", err);
	if (!ret && vm->opts.boot_timer && !cmdline_has(cl, "ember.boottimer"))
		ret = cmdline_append(cl, "ember.boottimer=1", err);
	if (!ret)
		ret = vm_virtio_cmdline(vm, cl, err);
	return ret;
}

static int load_initrd(struct vm *vm, uint64_t *gpa, uint64_t *size, struct ember_err *err)
{
	const char *path = vm->cfg->boot.initrd_path;
	int fd, ret;

	*gpa = *size = 0;
	if (!path)
		return 0;
	ret = open_ro(path, "initrd", &fd, err);
	if (ret)
		return ret;
	ret = boot_load_initrd(&vm->mem, fd, &vm->image, gpa, size, err);
	close(fd);
	return ret < 0 ? err_prefix(err, "initrd %s", path) : 0;
}

static int load_image(struct vm *vm, struct ember_err *err)
{
	const char *path = vm->cfg->boot.kernel_image_path;
	int fd, ret;

	ret = open_ro(path, "kernel image", &fd, err);
	if (ret)
		return ret;
	ret = boot_load_kernel(&vm->mem, fd, &vm->image, err);
	close(fd);
	return ret < 0 ? err_prefix(err, "kernel image %s", path) : 0;
}

/* The ACPI tables' view of the machine: its vCPUs and virtio devices. */
static int write_acpi(struct vm *vm, struct ember_err *err)
{
	struct acpi_machine m = { .nr_vcpus = vm->nr_vcpus, .nr_virtio = vm->nr_virtio };

	for (unsigned i = 0; i < vm->nr_virtio; i++)
		m.virtio[i] = (struct acpi_mmio_device){ vm->virtio[i]->base, VIRTIO_MMIO_SLOT_SIZE,
							 vm->virtio[i]->irq };
	return acpi_write(&vm->mem, &m, err);
}

int vm_load_kernel(struct vm *vm, struct ember_err *err)
{
	struct boot_extra x = { .rsdp_gpa = ACPI_RSDP_GPA };
	struct cmdline cl;
	int ret;

	ret = load_image(vm, err);
	if (!ret)
		ret = load_initrd(vm, &x.initrd_gpa, &x.initrd_size, err);
	if (!ret)
		ret = build_cmdline(vm, &cl, err);
	if (!ret)
		ret = boot_write_cmdline(&vm->mem, cl.buf, err);
	if (!ret)
		ret = boot_write_params(&vm->mem, &vm->image, cl.len + 1, &x, err);
	/* Both: the MP table for kernels without ACPI, the tables for the rest
	 * (a kernel with both takes the MADT). */
	if (!ret)
		ret = mptable_write(&vm->mem, vm->nr_vcpus, err);
	if (!ret)
		ret = write_acpi(vm, err);
	if (!ret)
		ret = vcpu_write_boot_tables(&vm->mem, err);
	if (!ret)
		ret = vcpu_set_boot_regs(&vm->vcpus[0], vm->image.proto, vm->image.entry, err);
	if (!ret)
		log_info("kernel %s (%s, %s entry at 0x%" PRIx64 "), command line: %s",
			 vm->cfg->boot.kernel_image_path,
			 vm->image.format == BOOT_FMT_ELF ? "ELF" : "bzImage",
			 vm->image.proto == BOOT_PVH ? "PVH" : "64-bit", vm->image.entry, cl.buf);
	return ret;
}

int vm_load_raw(struct vm *vm, uint64_t gpa, const void *code, size_t len, struct ember_err *err)
{
	int ret = guest_mem_write(&vm->mem, gpa, code, len, err);

	if (!ret)
		ret = vcpu_write_boot_tables(&vm->mem, err);
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vcpu_set_boot_regs(&vm->vcpus[i], BOOT_LINUX64, gpa, err);
	return ret;
}

static void on_exit_event(void *ctx, int fd, uint32_t events)
{
	struct vm *vm = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("reading the exit eventfd: %s", strerror(errno));
	if (vm_exit_requested(vm))
		vm->loop.stop = true;
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) == sizeof(si))
		vm_request_exit(ctx, VM_EXIT_SIGNAL, 128 + (int)si.ssi_signo,
				"stopped by signal %s", strsignal((int)si.ssi_signo));
}

static void on_serial_input(void *ctx, int fd, uint32_t events)
{
	struct vm *vm = ctx;
	uint8_t buf[SERIAL_IN_FIFO];
	uint32_t room = serial_input_room(&vm->serial);
	ssize_t n;

	(void)events;
	if (room == 0)
		return; /* level-triggered: we are called again once the guest reads */
	n = read(fd, buf, room);
	if (n > 0) {
		serial_input(&vm->serial, buf, (uint32_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		evloop_del(&vm->loop, fd); /* EOF: no more input */
	}
}

static void on_timeout(void *ctx, int fd, uint32_t events)
{
	struct vm *vm = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) == sizeof(v))
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "the VM did not stop within %u ms",
				vm->opts.timeout_ms);
}

static int add_timeout(struct vm *vm, struct ember_err *err)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = vm->opts.timeout_ms / 1000,
			      .tv_nsec = (long)(vm->opts.timeout_ms % 1000) * 1000000 },
	};

	vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vm->timer_fd < 0)
		return err_errno(err, "timerfd_create");
	if (timerfd_settime(vm->timer_fd, 0, &its, NULL) < 0)
		return err_errno(err, "timerfd_settime");
	return evloop_add(&vm->loop, vm->timer_fd, EPOLLIN, on_timeout, vm, err);
}

static int add_loop_sources(struct vm *vm, sigset_t *sigs, struct ember_err *err)
{
	int ret;

	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGHUP);
	vm->signal_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (vm->signal_fd < 0)
		return err_errno(err, "signalfd");
	ret = evloop_add(&vm->loop, vm->exit_fd, EPOLLIN, on_exit_event, vm, err);
	if (!ret)
		ret = evloop_add(&vm->loop, vm->signal_fd, EPOLLIN, on_signal, vm, err);
	if (!ret && vm->opts.serial_in_fd >= 0)
		ret =
		    evloop_add(&vm->loop, vm->opts.serial_in_fd, EPOLLIN, on_serial_input, vm, err);
	if (!ret && vm->opts.timeout_ms)
		ret = add_timeout(vm, err);
	return ret;
}

static void stop_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
}

int vm_run(struct vm *vm, struct vm_exit *out, struct ember_err *err)
{
	sigset_t sigs, old;
	int ret;

	ret = add_loop_sources(vm, &sigs, err);
	if (ret)
		return ret;
	/* vCPU threads inherit the mask: SIGINT/TERM/HUP arrive on the signalfd. */
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->run_lock);
		vm->nr_looping++;
		pthread_mutex_unlock(&vm->run_lock);
		ret = vcpu_start(&vm->vcpus[i], err);
		if (ret)
			vm_vcpu_done(vm);
	}
	/* Everything is built and every vCPU started: from here the VMM thread
	 * only serves its event loop (and API requests after boot). */
	if (!ret)
		ret = seccomp_thread_apply(vm->opts.seccomp, SECCOMP_THREAD_VMM, err);
	if (!ret)
		ret = evloop_run(&vm->loop, err);
	if (ret)
		vm_request_exit(vm, VM_EXIT_ERROR, 1, "%s", err->msg);
	stop_vcpus(vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&vm->exit_lock);
	*out = vm->exit;
	pthread_mutex_unlock(&vm->exit_lock);
	return ret;
}

void vm_save_devices(struct vm *vm, struct state_writer *w)
{
	for (int i = 0; i < vm->nr_devices; i++)
		if (vm->devices[i].ops->save)
			vm->devices[i].ops->save(vm->devices[i].dev, w);
}

int vm_restore_devices(struct vm *vm, struct state_reader *r, struct ember_err *err)
{
	for (int i = 0; i < vm->nr_devices; i++) {
		const struct vm_device *d = &vm->devices[i];

		if (d->ops->restore && d->ops->restore(d->dev, r, err) < 0)
			return err_prefix(err, "restoring %s", d->name);
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vm_destroy(struct vm *vm)
{
	stop_vcpus(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	vm->nr_vcpus = 0;
	if (vm->legacy_ready) {
		serial_destroy(&vm->serial);
		i8042_destroy(&vm->i8042);
		vm->legacy_ready = false;
	}
	vm_virtio_destroy(vm);
	vm->nr_devices = 0;
	evloop_free(&vm->loop);
	close_fd(&vm->exit_fd);
	close_fd(&vm->signal_fd);
	close_fd(&vm->timer_fd);
	close_fd(&vm->serial_irq_fd);
	close_fd(&vm->i8042_irq_fd);
	guest_mem_free(&vm->mem);
	kvm_close(&vm->kvm);
	pthread_mutex_destroy(&vm->exit_lock);
	pthread_mutex_destroy(&vm->run_lock);
	pthread_cond_destroy(&vm->run_cond);
}
