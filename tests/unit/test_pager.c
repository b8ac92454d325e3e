// SPDX-License-Identifier: Apache-2.0
/*
 * The Uffd page server and working-set files: a real userfaultfd on memory
 * of this process stands in for a VM's guest memory, so faults, prefetch
 * and recording run exactly as they do for ember.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pager.h"

#define PAGES 16
#define PG    PAGER_PAGE

static char dir[] = "/tmp/ember-pager-test.XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void path(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", dir, name);
}

static void write_bytes(const char *name, const void *p, size_t len)
{
	char file[256];
	FILE *f;

	path(file, name);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

TestSuite(workset, .init = setup, .fini = teardown);

Test(workset, a_recorded_set_reads_back_sorted)
{
	uint8_t touched[(PAGES + 7) / 8] = { 0 };
	const uint32_t want[] = { 0, 1, 2, 7, 15 };
	struct ember_err err = { 0 };
	uint32_t *pages;
	size_t n;
	char file[256];

	for (size_t i = 0; i < 5; i++)
		touched[want[i] / 8] |= (uint8_t)(1u << (want[i] % 8));
	path(file, "ws");
	cr_assert_eq(pager_ws_write(file, touched, PAGES, &err), 0, "%s", err.msg);
	cr_assert_eq(pager_ws_read(file, PAGES, &pages, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(n, 5);
	cr_assert_arr_eq(pages, want, sizeof(want));
	free(pages);
	cr_assert_lt(pager_ws_read(file, PAGES * 2, &pages, &n, &err), 0,
		     "a set recorded for another memory size is refused");
	cr_assert(strstr(err.msg, "another memory file"), "%s", err.msg);
}

static void expect_refused(const char *name, const char *what)
{
	struct ember_err err = { 0 };
	uint32_t *pages = NULL;
	size_t n = 0;
	char file[256];

	path(file, name);
	cr_assert_lt(pager_ws_read(file, PAGES, &pages, &n, &err), 0, "%s is refused", name);
	cr_assert(strstr(err.msg, what), "%s: %s", name, err.msg);
	cr_assert_null(pages);
}

Test(workset, bad_files_are_refused_with_a_reason)
{
	struct {
		char magic[8];
		uint32_t version, count;
		uint64_t nr;
		uint32_t pages[3];
	} f = { { 'E', 'M', 'B', 'R', 'W', 'S', 'E', 'T' }, 1, 3, PAGES, { 1, 2, 3 } };

	write_bytes("trunc", &f, offsetof(__typeof__(f), pages) + 2 * sizeof(uint32_t));
	expect_refused("trunc", "truncated");
	f.pages[2] = 1;
	write_bytes("unsorted", &f, offsetof(__typeof__(f), pages) + sizeof(f.pages));
	expect_refused("unsorted", "sorted");
	f.pages[2] = PAGES;
	write_bytes("range", &f, offsetof(__typeof__(f), pages) + sizeof(f.pages));
	expect_refused("range", "sorted page list");
	f.version = 7;
	write_bytes("version", &f, offsetof(__typeof__(f), pages) + sizeof(f.pages));
	expect_refused("version", "format 7");
	f.magic[0] = 'X';
	write_bytes("magic", &f, offsetof(__typeof__(f), pages) + sizeof(f.pages));
	expect_refused("magic", "not a working-set file");
	expect_refused("none", "cannot open");
}

/* A "VM": PAGES pages of this process under a userfaultfd, handed to the
 * pager over a socketpair in Firecracker's message format. */
struct fake_vm {
	uint8_t *mem;
	int uffd, sock;
	struct pager_memfile file;
	struct pager_vm vm;
	int stop;
	pthread_t th;
};

static int new_uffd(void)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), fd = -1;

	if (dev >= 0) {
		fd = ioctl(dev, _IO(0xAA, 0x00), O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	return fd >= 0 ? fd : (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
}

static void send_handshake(int sock, int uffd, const char *json)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)json, strlen(json) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	cr_assert_eq(sendmsg(sock, &mh, 0), (ssize_t)strlen(json));
}

/* The memory file: page i holds byte i + 1, except page 5, all zeros. */
static void make_memfile(struct fake_vm *v)
{
	static uint8_t data[PAGES * PG];
	struct ember_err err = { 0 };
	char file[256];

	for (int i = 0; i < PAGES; i++)
		memset(data + i * PG, i == 5 ? 0 : i + 1, PG);
	write_bytes("mem", data, sizeof(data));
	path(file, "mem");
	cr_assert_eq(pager_memfile_open(&v->file, file, &err), 0, "%s", err.msg);
}

/* One region of `size` bytes at the start of the file. */
static int fake_vm_start(struct fake_vm *v, unsigned long long size)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct ember_err err = { 0 };
	char json[512];
	int sv[2];

	make_memfile(v);
	v->mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(v->mem, MAP_FAILED);
	v->uffd = new_uffd();
	if (v->uffd < 0)
		cr_skip_test("no userfaultfd here (%s)", strerror(errno));
	cr_assert_eq(ioctl(v->uffd, UFFDIO_API, &api), 0);
	reg.range = (struct uffdio_range){ (uintptr_t)v->mem, PAGES * PG };
	cr_assert_eq(ioctl(v->uffd, UFFDIO_REGISTER, &reg), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(json, sizeof(json),
		 "[{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": 0, \"page_size\": "
		 "4096, \"page_size_kib\": 4}]",
		 (unsigned long long)(uintptr_t)v->mem, size);
	send_handshake(sv[0], v->uffd, json);
	v->sock = sv[0];
	return pager_vm_accept(&v->vm, sv[1], &v->file, &err) < 0 ? -err.code : 0;
}

static void *serve_thread(void *arg)
{
	struct fake_vm *v = arg;

	pager_vm_serve(&v->vm, v->stop);
	return NULL;
}

static void fake_vm_stop(struct fake_vm *v)
{
	eventfd_write(v->stop, 1);
	pthread_join(v->th, NULL);
	pager_vm_close(&v->vm);
	close(v->sock);
	close(v->uffd);
	close(v->stop);
	munmap(v->mem, PAGES * PG);
	pager_memfile_close(&v->file);
}

TestSuite(pager, .init = setup, .fini = teardown);

Test(pager, faults_are_served_from_the_file_and_recorded)
{
	uint8_t touched[(PAGES + 7) / 8] = { 0 };
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, PAGES * PG), 0);
	cr_assert_eq(v.vm.nr, 1);
	v.vm.touched = touched;
	v.stop = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(pthread_create(&v.th, NULL, serve_thread, &v), 0);
	cr_assert_eq(v.mem[0], 1, "page 0 comes from the file");
	cr_assert_eq(v.mem[3 * PG + 100], 4, "page 3 too");
	cr_assert_eq(v.mem[5 * PG + 7], 0, "page 5 is a zero page");
	fake_vm_stop(&v);
	cr_assert_eq(v.vm.copied, 2);
	cr_assert_eq(v.vm.zeroed, 1);
	cr_assert_eq(v.vm.errors, 0);
	cr_assert_eq(touched[0], (1u << 0) | (1u << 3) | (1u << 5), "the touched pages: 0, 3, 5");
	cr_assert_eq(touched[1], 0);
}

Test(pager, a_prefetched_set_is_in_place_before_any_fault)
{
	const uint32_t set[] = { 1, 2, 3, 9, 15 };
	struct ember_err err = { 0 };
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, PAGES * PG), 0);
	cr_assert_eq(pager_vm_prefetch(&v.vm, set, 5, &err), 0, "%s", err.msg);
	cr_assert_eq(v.vm.prefetched, 5);
	v.stop = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(pthread_create(&v.th, NULL, serve_thread, &v), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(v.mem[set[i] * PG + 1], set[i] + 1, "page %u", set[i]);
	cr_assert_eq(v.mem[4 * PG], 5, "page 4 was not prefetched: a fault brings it");
	fake_vm_stop(&v);
	cr_assert_eq(v.vm.copied, 1, "only page 4 faulted");
}

/* A page of a run already in place (EEXIST stops one UFFDIO_COPY there):
 * the pages after it are prefetched all the same. */
Test(pager, a_page_already_there_does_not_cut_a_prefetched_run_short)
{
	const uint32_t first[] = { 4 }, run[] = { 2, 3, 4, 5, 6, 7 };
	struct ember_err err = { 0 };
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, PAGES * PG), 0);
	cr_assert_eq(pager_vm_prefetch(&v.vm, first, 1, &err), 0, "%s", err.msg);
	cr_assert_eq(pager_vm_prefetch(&v.vm, run, 6, &err), 0, "%s", err.msg);
	cr_assert_eq(v.vm.prefetched, 6, "page 4 once, then 2, 3, 5, 6 and 7");
	cr_assert_eq(v.vm.errors, 0);
	v.stop = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(pthread_create(&v.th, NULL, serve_thread, &v), 0);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(v.mem[run[i] * PG + 9], run[i] == 5 ? 0 : run[i] + 1, "page %u",
			     run[i]);
	fake_vm_stop(&v);
	cr_assert_eq(v.vm.copied + v.vm.zeroed, 0, "no page of the run faulted");
}

/* ember-fn's two threads: the fault service runs while the set is copied,
 * and pages one has placed are taken as they are by the other. */
Test(pager, faults_and_a_prefetch_run_at_once)
{
	const uint32_t set[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct ember_err err = { 0 };
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, PAGES * PG), 0);
	v.stop = eventfd(0, EFD_CLOEXEC);
	cr_assert_eq(pthread_create(&v.th, NULL, serve_thread, &v), 0);
	cr_assert_eq(v.mem[2 * PG + 5], 3, "page 2 faulted in before the prefetch");
	cr_assert_eq(v.mem[12 * PG], 13, "page 12, outside the set");
	cr_assert_eq(pager_vm_prefetch(&v.vm, set, 10, &err), 0, "%s", err.msg);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(v.mem[set[i] * PG + 3], i == 5 ? 0 : set[i] + 1, "page %u", set[i]);
	fake_vm_stop(&v);
	cr_assert_eq(v.vm.prefetched, 9, "the set but page 2, which a fault placed");
	cr_assert_eq(v.vm.copied, 2, "pages 2 and 12 faulted");
	cr_assert_eq(v.vm.errors, 0);
}

Test(pager, a_stopped_prefetch_copies_no_more)
{
	const uint32_t set[] = { 1, 2, 3 };
	struct ember_err err = { 0 };
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, PAGES * PG), 0);
	atomic_store(&v.vm.prefetch_stop, true);
	cr_assert_eq(pager_vm_prefetch(&v.vm, set, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(v.vm.prefetched, 0);
	atomic_store(&v.vm.prefetch_stop, false);
	cr_assert_eq(pager_vm_prefetch(&v.vm, set, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(v.vm.prefetched, 3);
	pager_vm_close(&v.vm);
	close(v.sock);
	close(v.uffd);
	munmap(v.mem, PAGES * PG);
	pager_memfile_close(&v.file);
}

/* A VM in a process of its own, which ends before the prefetch: the copy
 * finds no process (ESRCH), which is where a clone that answered before
 * its set was in leaves the prefetch. */
Test(pager, a_prefetch_for_a_vm_that_has_ended_stops_quietly)
{
	const uint32_t set[] = { 1, 2, 3 };
	struct ember_err err = { 0 };
	struct fake_vm v = { 0 };
	int sv[2], status = 0;
	pid_t pid;

	make_memfile(&v);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct uffdio_api api = { .api = UFFD_API };
		struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
		uint8_t *mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int uffd = new_uffd();
		char json[512];

		reg.range = (struct uffdio_range){ (uintptr_t)mem, PAGES * PG };
		if (mem == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0 ||
		    ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
			_exit(2);
		snprintf(json, sizeof(json),
			 "[{\"base_host_virt_addr\": %llu, \"size\": %llu, \"offset\": 0, "
			 "\"page_size\": 4096, \"page_size_kib\": 4}]",
			 (unsigned long long)(uintptr_t)mem, (unsigned long long)PAGES * PG);
		send_handshake(sv[0], uffd, json);
		_exit(0);
	}
	close(sv[0]);
	if (pager_vm_accept(&v.vm, sv[1], &v.file, &err) < 0) {
		waitpid(pid, &status, 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s", err.msg);
		cr_skip_test("no userfaultfd here");
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(pager_vm_prefetch(&v.vm, set, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(v.vm.prefetched, 0);
	pager_vm_close(&v.vm);
	pager_memfile_close(&v.file);
}

Test(pager, a_region_outside_the_file_is_refused)
{
	struct fake_vm v = { 0 };

	cr_assert_eq(fake_vm_start(&v, 2 * PAGES * PG), -EPROTO);
	pager_vm_close(&v.vm);
	close(v.sock);
	close(v.uffd);
	munmap(v.mem, PAGES * PG);
	pager_memfile_close(&v.file);
}
