// SPDX-License-Identifier: Apache-2.0
/* KVM tests with tiny hand-made guests, entered in 64-bit mode at 1 MiB. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "snapshot.h"
#include "vm.h"

/* Each guest is position-independent 64-bit code between NAME_start/_end. */
#define GUEST(name, body)                                                                        \
	__asm__(".pushsection .rodata\n.globl " #name "_start\n" #name "_start:\n.code64\n" body \
		"\n.globl " #name "_end\n" #name "_end:\n.popsection\n");                        \
	extern const uint8_t name##_start[], name##_end[]

#define RESET "mov $0xfe, %al\n out %al, $0x64\n 9: jmp 9b\n"

/* EFER.LMA (bit 10) -> 'L', then "OK\n", then reset through the i8042. */
GUEST(longmode, "mov $0xc0000080, %ecx\n rdmsr\n mov $0x3f8, %dx\n"
		"mov $'x', %al\n bt $10, %eax\n jnc 1f\n mov $'L', %al\n 1: out %al, (%dx)\n"
		"mov %cr4, %rax\n mov $'x', %al\n bt $5, %rax\n jnc 2f\n mov $'P', %al\n"
		"2: out %al, (%dx)\n"
		"mov $'O', %al\n out %al, (%dx)\n mov $'K', %al\n out %al, (%dx)\n"
		"mov $'\\n', %al\n out %al, (%dx)\n" RESET);

/* rep outsb: one exit carrying many bytes. */
GUEST(outs, "lea msg(%rip), %rsi\n mov $(msg_end - msg), %ecx\n mov $0x3f8, %dx\n"
	    "rep outsb\n" RESET "msg: .ascii \"hello from a tiny guest\\n\"\nmsg_end:\n");

/* i8042 self-test (0xAA -> 0x55) and command byte read, then reset. */
GUEST(kbd, "mov $0xaa, %al\n out %al, $0x64\n in $0x60, %al\n mov $0x3f8, %dx\n out %al, (%dx)\n"
	   "mov $0x20, %al\n out %al, $0x64\n in $0x64, %al\n and $1, %al\n out %al, (%dx)\n"
	   "in $0x60, %al\n out %al, (%dx)\n" RESET);

/* Run code from the MMIO hole, where no memory slot is: an emulation failure. */
GUEST(badfetch, "mov $0xd0000000, %rax\n jmp *%rax\n");

/* ud2 with an empty IDT: #UD -> #DF -> triple fault. */
GUEST(triple, "ud2\n");

struct tiny {
	struct vm_config cfg;
	struct vm *vm;
	struct vm_exit ex;
	struct ember_err err;
	int out_fd;
	char out[256];
};

static void tiny_run(struct tiny *t, const uint8_t *start, const uint8_t *end)
{
	struct vm_options opts = { .serial_in_fd = -1, .timeout_ms = 10000 };
	ssize_t n;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("no usable /dev/kvm");
	memset(t, 0, sizeof(*t));
	config_init(&t->cfg);
	t->cfg.machine.mem_size_mib = 4;
	t->out_fd = memfd_create("serial", 0);
	cr_assert(t->out_fd >= 0);
	opts.serial_out_fd = t->out_fd;
	t->vm = calloc(1, sizeof(*t->vm));
	cr_assert_eq(vm_create(t->vm, &t->cfg, &opts, &t->err), 0, "vm_create: %s", t->err.msg);
	cr_assert_eq(vm_load_raw(t->vm, LAYOUT_HIMEM, start, (size_t)(end - start), &t->err), 0,
		     "vm_load_raw: %s", t->err.msg);
	cr_assert_eq(vm_run(t->vm, &t->ex, &t->err), 0, "vm_run: %s", t->err.msg);
	n = pread(t->out_fd, t->out, sizeof(t->out) - 1, 0);
	t->out[n > 0 ? n : 0] = '\0';
	vm_destroy(t->vm);
	free(t->vm);
	close(t->out_fd);
	config_free(&t->cfg);
}

Test(tiny_guest, long_mode_entry, .timeout = 120)
{
	struct tiny t;

	tiny_run(&t, longmode_start, longmode_end);
	cr_assert_str_eq(t.out, "LPOK\n", "guest printed \"%s\"", t.out);
	cr_assert_eq(t.ex.kind, VM_EXIT_RESET, "exit: %s", t.ex.msg);
	cr_assert_eq(t.ex.status, 0);
}

Test(tiny_guest, string_pio_to_uart, .timeout = 120)
{
	struct tiny t;

	tiny_run(&t, outs_start, outs_end);
	cr_assert_str_eq(t.out, "hello from a tiny guest\n");
	cr_assert_eq(t.ex.kind, VM_EXIT_RESET, "exit: %s", t.ex.msg);
}

Test(tiny_guest, i8042_self_test_and_reset, .timeout = 120)
{
	struct tiny t;

	tiny_run(&t, kbd_start, kbd_end);
	/* 0x55 self-test pass, OBF set for the command byte, command byte 0x01 */
	cr_assert_eq((unsigned char)t.out[0], 0x55, "self-test answered 0x%02x",
		     (unsigned char)t.out[0]);
	cr_assert_eq(t.out[1], 1);
	cr_assert_eq(t.out[2], 1);
	cr_assert_eq(t.ex.kind, VM_EXIT_RESET);
	cr_assert(strstr(t.ex.msg, "i8042"), "exit: %s", t.ex.msg);
	cr_assert_eq(t.ex.status, 0);
}

Test(tiny_guest, internal_error_is_reported_not_hung, .timeout = 120)
{
	struct tiny t;

	tiny_run(&t, badfetch_start, badfetch_end);
	cr_assert_eq(t.ex.kind, VM_EXIT_ERROR, "exit: %s", t.ex.msg);
	cr_assert_neq(t.ex.status, 0);
	cr_assert(strstr(t.ex.msg, "KVM_EXIT_INTERNAL_ERROR"), "exit: %s", t.ex.msg);
	cr_assert(strstr(t.ex.msg, "RIP 0x"), "exit: %s", t.ex.msg);
}

Test(tiny_guest, triple_fault_is_a_clean_shutdown, .timeout = 120)
{
	struct tiny t;

	tiny_run(&t, triple_start, triple_end);
	cr_assert_eq(t.ex.kind, VM_EXIT_SHUTDOWN, "exit: %s", t.ex.msg);
	cr_assert_eq(t.ex.status, 0);
	cr_assert(strstr(t.ex.msg, "triple fault"), "exit: %s", t.ex.msg);
}

/* Count up forever in the quadword at 0x2000. */
GUEST(counter, "mov $0x2000, %rbx\n 1: incq (%rbx)\n jmp 1b\n");

struct runner {
	struct vm *vm;
	struct vm_exit ex;
	struct ember_err err;
	int ret;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->ret = vm_run(r->vm, &r->ex, &r->err);
	return NULL;
}

static uint64_t counter_value(struct vm *vm)
{
	volatile uint64_t *p = guest_mem_ptr(&vm->mem, 0x2000, sizeof(uint64_t));

	cr_assert(p);
	return *p;
}

static uint64_t wait_counter_above(struct vm *vm, uint64_t min)
{
	for (int i = 0; i < 10000; i++) {
		uint64_t c = counter_value(vm);

		if (c > min)
			return c;
		usleep(1000);
	}
	cr_assert_fail("the guest's counter stayed at %llu", (unsigned long long)min);
	return 0;
}

Test(tiny_guest, pause_stops_every_vcpu_and_resume_restarts_them, .timeout = 120)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1, .timeout_ms = 60000 };
	struct runner r = { 0 };
	struct vm_config cfg;
	pthread_t th;
	uint64_t c;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("no usable /dev/kvm");
	config_init(&cfg);
	cfg.machine.mem_size_mib = 4;
	cfg.machine.vcpu_count = 2; /* both count: pause must stop both */
	r.vm = calloc(1, sizeof(*r.vm));
	cr_assert_eq(vm_create(r.vm, &cfg, &opts, &r.err), 0, "vm_create: %s", r.err.msg);
	cr_assert_eq(vm_load_raw(r.vm, LAYOUT_HIMEM, counter_start,
				 (size_t)(counter_end - counter_start), &r.err),
		     0, "vm_load_raw: %s", r.err.msg);
	cr_assert_eq(pthread_create(&th, NULL, run_thread, &r), 0);
	c = wait_counter_above(r.vm, 0);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(vm_pause(r.vm, &r.err), 0, "vm_pause: %s", r.err.msg);
		cr_assert(vm_paused(r.vm));
		c = counter_value(r.vm);
		usleep(100000);
		cr_assert_eq(counter_value(r.vm), c, "the counter moved while paused");
		vm_resume(r.vm);
		cr_assert_not(vm_paused(r.vm));
		c = wait_counter_above(r.vm, c);
	}
	cr_assert_eq(vm_pause(r.vm, &r.err), 0, "vm_pause: %s", r.err.msg);
	/* Stopping a paused VM must not hang: parked vCPUs leave on the exit request. */
	vm_request_exit(r.vm, VM_EXIT_SIGNAL, 0, "test done");
	pthread_join(th, NULL);
	cr_assert_eq(r.ret, 0, "vm_run: %s", r.err.msg);
	cr_assert_eq(r.ex.kind, VM_EXIT_SIGNAL, "exit: %s", r.ex.msg);
	vm_destroy(r.vm);
	free(r.vm);
	config_free(&cfg);
}

static void counter_vm(struct runner *r, struct vm_config *cfg, const struct vm_options *opts)
{
	r->vm = calloc(1, sizeof(*r->vm));
	cr_assert_eq(vm_create(r->vm, cfg, opts, &r->err), 0, "vm_create: %s", r->err.msg);
}

static void stop_vm(struct runner *r, pthread_t th)
{
	vm_request_exit(r->vm, VM_EXIT_SIGNAL, 0, "test done");
	pthread_join(th, NULL);
	cr_assert_eq(r->ret, 0, "vm_run: %s", r->err.msg);
	vm_destroy(r->vm);
	free(r->vm);
}

/* A 2-vCPU guest counting in memory, snapshotted while paused, restored
 * into a second VM from the files: the count is there and goes on. */
Test(tiny_guest, a_snapshot_restores_into_a_new_vm_and_the_guest_goes_on, .timeout = 120)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1, .timeout_ms = 60000 };
	char dir[] = "/tmp/ember-snap.XXXXXX", state[64], mem[64];
	struct runner a = { 0 }, b = { 0 };
	struct snapshot_file f;
	struct vm_config cfg, cfg2;
	pthread_t th;
	uint64_t c;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("no usable /dev/kvm");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(mem, sizeof(mem), "%s/mem", dir);
	config_init(&cfg);
	cfg.machine.mem_size_mib = 4;
	cfg.machine.vcpu_count = 2;
	counter_vm(&a, &cfg, &opts);
	cr_assert_eq(vm_load_raw(a.vm, LAYOUT_HIMEM, counter_start,
				 (size_t)(counter_end - counter_start), &a.err),
		     0, "vm_load_raw: %s", a.err.msg);
	cr_assert_eq(pthread_create(&th, NULL, run_thread, &a), 0);
	wait_counter_above(a.vm, 1000);
	cr_assert_eq(vm_pause(a.vm, &a.err), 0, "vm_pause: %s", a.err.msg);
	c = counter_value(a.vm);
	cr_assert_eq(snapshot_create(a.vm, "{\"machine\": \"counter\"}", state, mem, false, &a.err),
		     0, "snapshot: %s", a.err.msg);
	stop_vm(&a, th);

	cr_assert_eq(snapshot_read(&f, state, &b.err), 0, "snapshot_read: %s", b.err.msg);
	cr_assert_str_eq(f.config_json, "{\"machine\": \"counter\"}",
			 "the caller's blob comes back");
	config_init(&cfg2);
	cfg2.machine = cfg.machine;
	opts.mem_from_file = true;
	opts.mem_fd = open(mem, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(opts.mem_fd, 0);
	counter_vm(&b, &cfg2, &opts);
	cr_assert_eq(snapshot_restore(b.vm, &f, false, &b.err), 0, "restore: %s", b.err.msg);
	cr_assert_eq(counter_value(b.vm), c, "the restored memory holds the count");
	cr_assert_eq(pthread_create(&th, NULL, run_thread, &b), 0);
	wait_counter_above(b.vm, c + 1000);
	stop_vm(&b, th);
	close(opts.mem_fd);
	snapshot_file_free(&f);
	config_free(&cfg);
	config_free(&cfg2);
	unlink(state);
	unlink(mem);
	rmdir(dir);
}

static void *read_file(const char *path, size_t size)
{
	uint8_t *buf = calloc(1, size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(buf && fd >= 0, "%s", path);
	cr_assert_eq(pread(fd, buf, size, 0), (ssize_t)size, "%s is short", path);
	close(fd);
	return buf;
}

static void copy_file(const char *from, const char *to, size_t size)
{
	void *buf = read_file(from, size);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

/* A full snapshot, then the guest runs on, then a diff and a full snapshot
 * of the same moment. The diff rebased onto the first full snapshot equals
 * the second byte for byte. With dirty tracking the diff holds the pages
 * written since; without, every page resident in memory (mincore). */
static void diff_rebase(bool track)
{
	struct vm_options opts = { .serial_in_fd = -1, .serial_out_fd = -1, .timeout_ms = 60000 };
	char dir[] = "/tmp/ember-diff.XXXXXX", p[6][80];
	const char *names[6] = { "base.state", "base.mem", "diff.state",
				 "diff.mem",   "full.mem", "full.state" };
	size_t size = 4 << 20;
	struct runner a = { 0 };
	struct vm_config cfg;
	pthread_t th;
	uint8_t *merged, *full;
	uint64_t c;

	if (access("/dev/kvm", R_OK | W_OK))
		cr_skip_test("no usable /dev/kvm");
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 6; i++)
		snprintf(p[i], sizeof(p[i]), "%s/%s", dir, names[i]);
	config_init(&cfg);
	cfg.machine.mem_size_mib = 4;
	cfg.machine.track_dirty_pages = track;
	counter_vm(&a, &cfg, &opts);
	cr_assert_eq(vm_load_raw(a.vm, LAYOUT_HIMEM, counter_start,
				 (size_t)(counter_end - counter_start), &a.err),
		     0, "vm_load_raw: %s", a.err.msg);
	cr_assert_eq(pthread_create(&th, NULL, run_thread, &a), 0);
	c = wait_counter_above(a.vm, 1000);
	cr_assert_eq(vm_pause(a.vm, &a.err), 0, "%s", a.err.msg);
	cr_assert_eq(snapshot_create(a.vm, "{}", p[0], p[1], false, &a.err), 0, "%s", a.err.msg);
	vm_resume(a.vm);
	wait_counter_above(a.vm, counter_value(a.vm) + 100000);
	cr_assert_eq(vm_pause(a.vm, &a.err), 0, "%s", a.err.msg);
	c = counter_value(a.vm);
	cr_assert_eq(snapshot_create(a.vm, "{}", p[2], p[3], true, &a.err), 0, "%s", a.err.msg);
	cr_assert_eq(snapshot_create(a.vm, "{}", p[5], p[4], false, &a.err), 0, "%s", a.err.msg);
	stop_vm(&a, th);

	cr_assert_eq(snapshot_rebase(p[1], p[3], &a.err), 0, "rebase: %s", a.err.msg);
	merged = read_file(p[1], size);
	full = read_file(p[4], size);
	cr_assert_eq(memcmp(merged, full, size), 0,
		     "the rebased base differs from the full snapshot");
	cr_assert_eq(*(uint64_t *)(merged + 0x2000), c, "the count at the diff is in the merge");
	free(merged);
	free(full);
	cr_assert_lt(snapshot_rebase(p[1], p[0], &a.err), 0, "a state file is no diff of it");
	copy_file(p[4], p[1], 0); /* an empty file: sizes differ */
	cr_assert_lt(snapshot_rebase(p[1], p[3], &a.err), 0);
	cr_assert(strstr(a.err.msg, "not snapshots of one VM"), "%s", a.err.msg);
	for (int i = 0; i < 6; i++)
		unlink(p[i]);
	rmdir(dir);
	config_free(&cfg);
}

Test(tiny_guest, a_diff_rebased_onto_its_base_equals_a_full_snapshot, .timeout = 120)
{
	diff_rebase(true);
}

Test(tiny_guest, a_diff_without_dirty_tracking_takes_resident_pages, .timeout = 120)
{
	diff_rebase(false);
}
