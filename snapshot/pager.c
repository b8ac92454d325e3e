// SPDX-License-Identifier: Apache-2.0
/* The Uffd backend's page server (see pager.h). */
#include "pager.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int pager_memfile_open(struct pager_memfile *m, const char *path, struct ember_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return err_errno(err, "cannot open the memory file %s", path);
	if (fstat(fd, &st) < 0 || st.st_size < PAGER_PAGE) {
		close(fd);
		return err_set(err, EINVAL, "the memory file %s is empty", path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return err_errno(err, "cannot map the memory file %s", path);
	m->data = p;
	m->size = (uint64_t)st.st_size;
	return 0;
}

void pager_memfile_close(struct pager_memfile *m)
{
	if (m->data)
		munmap((void *)m->data, m->size);
	m->data = NULL;
}

static int recv_handshake(struct pager_vm *vm, char *buf, size_t size, struct ember_err *err)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(vm->sock, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return err_set(err, EPROTO, "the VM sent no handshake");
	buf[n] = '\0';
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return err_set(err, EPROTO, "the VM's handshake carries no userfaultfd");
	memcpy(&vm->uffd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

static int add_region(struct pager_vm *vm, json_t *r)
{
	json_int_t base, size, offset, page = PAGER_PAGE;

	if (json_unpack(r, "{s:I, s:I, s:I, s?I}", "base_host_virt_addr", &base, "size", &size,
			"offset", &offset, "page_size", &page) < 0 ||
	    base < 0 || size <= 0 || offset < 0 || page != PAGER_PAGE ||
	    ((base | size | offset) & (PAGER_PAGE - 1)) || (uint64_t)offset > vm->mem->size ||
	    (uint64_t)size > vm->mem->size - (uint64_t)offset)
		return -1;
	vm->regions[vm->nr++] =
	    (struct pager_region){ (uint64_t)base, (uint64_t)size, (uint64_t)offset };
	return 0;
}

/* [{base_host_virt_addr, size, offset, page_size, ...}], inside the file. */
static int parse_regions(struct pager_vm *vm, const char *text, struct ember_err *err)
{
	json_t *root = json_loads(text, 0, NULL), *r;
	size_t i;
	int ret = json_is_array(root) && json_array_size(root) <= PAGER_MAX_REGIONS ? 0 : -1;

	json_array_foreach(root, i, r)
	{
		if (ret || (ret = add_region(vm, r)) < 0)
			break;
	}
	json_decref(root);
	if (ret < 0)
		return err_set(err, EPROTO,
			       "the VM's region list is not valid for a %llu-byte "
			       "memory file",
			       (unsigned long long)vm->mem->size);
	return 0;
}

int pager_vm_accept(struct pager_vm *vm, int sock, const struct pager_memfile *mem,
		    struct ember_err *err)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[4096];

	memset(vm, 0, sizeof(*vm));
	vm->sock = sock;
	vm->uffd = -1;
	vm->mem = mem;
	if (!getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		vm->pid = cred.pid;
	if (recv_handshake(vm, msg, sizeof(msg), err) < 0)
		return -err->code;
	return parse_regions(vm, msg, err);
}

/* The region holding file offset `off`, and how many bytes follow in it. */
static const struct pager_region *region_of_offset(const struct pager_vm *vm, uint64_t off)
{
	for (unsigned i = 0; i < vm->nr; i++)
		if (off >= vm->regions[i].offset &&
		    off - vm->regions[i].offset < vm->regions[i].size)
			return &vm->regions[i];
	return NULL;
}

/* A run of pages in one UFFDIO_COPY. The kernel stops at a page that is
 * there already: EAGAIN with the bytes copied before it, or EEXIST when it
 * is the first; the copy goes on past that page. */
static int copy_run(struct pager_vm *vm, uint64_t off, uint64_t len)
{
	const struct pager_region *r = region_of_offset(vm, off);
	struct uffdio_copy cp;
	unsigned busy = 0;

	if (!r)
		return 0; /* the list was made for a bigger VM: nothing to do there */
	if (len > r->size - (off - r->offset))
		len = r->size - (off - r->offset);
	while (len) {
		uint64_t step;

		cp = (struct uffdio_copy){ .dst = r->base + (off - r->offset),
					   .src = (uintptr_t)(vm->mem->data + off),
					   .len = len };
		if (ioctl(vm->uffd, UFFDIO_COPY, &cp) == 0)
			cp.copy = (int64_t)len;
		else if (errno == EEXIST)
			cp.copy = 0;
		else if (errno != EAGAIN || (cp.copy <= 0 && ++busy > 1000))
			return -errno;
		if (cp.copy < 0) /* EAGAIN, nothing copied: the mm was changing */
			continue;
		vm->prefetched += (uint64_t)cp.copy / PAGER_PAGE;
		step = (uint64_t)cp.copy + (cp.copy < (int64_t)len ? PAGER_PAGE : 0);
		off += step;
		len -= step < len ? step : len;
	}
	return 0;
}

int pager_vm_prefetch(struct pager_vm *vm, const uint32_t *pages, size_t n, struct ember_err *err)
{
	for (size_t i = 0; i < n && !atomic_load(&vm->prefetch_stop);) {
		size_t j = i + 1;
		int ret;

		while (j < n && pages[j] == pages[j - 1] + 1)
			j++;
		ret = copy_run(vm, (uint64_t)pages[i] * PAGER_PAGE, (uint64_t)(j - i) * PAGER_PAGE);
		if (ret == -ESRCH)
			return 0; /* the VM's process has ended (a clone answered and went) */
		if (ret < 0)
			return err_set(err, -ret, "prefetch: UFFDIO_COPY of page %u: %s", pages[i],
				       strerror(-ret));
		i = j;
	}
	return 0;
}

static bool zero_page(const uint8_t *p)
{
	for (size_t i = 0; i < PAGER_PAGE; i += 8)
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static void fill_page(struct pager_vm *vm, uint64_t page, uint64_t off)
{
	const uint8_t *src = vm->mem->data + off;
	int ret;

	if (zero_page(src)) {
		struct uffdio_zeropage z = { .range = { page, PAGER_PAGE } };

		ret = ioctl(vm->uffd, UFFDIO_ZEROPAGE, &z);
		vm->zeroed++;
	} else {
		struct uffdio_copy cp = { .dst = page, .src = (uintptr_t)src, .len = PAGER_PAGE };

		ret = ioctl(vm->uffd, UFFDIO_COPY, &cp);
		vm->copied++;
	}
	if (ret < 0 && errno == EEXIST) {
		/* there already (another vCPU's fault, a prefetch): the copy that
		 * put it there may have woken no one waiting on this fault */
		struct uffdio_range w = { page, PAGER_PAGE };

		ioctl(vm->uffd, UFFDIO_WAKE, &w);
	} else if (ret < 0) {
		vm->errors++;
	}
	if (vm->touched)
		vm->touched[off / PAGER_PAGE / 8] |= (uint8_t)(1u << (off / PAGER_PAGE % 8));
}

static void serve_fault(struct pager_vm *vm, uint64_t addr)
{
	uint64_t page = addr & ~(uint64_t)(PAGER_PAGE - 1);

	for (unsigned i = 0; i < vm->nr; i++) {
		const struct pager_region *r = &vm->regions[i];

		if (page >= r->base && page - r->base < r->size) {
			fill_page(vm, page, r->offset + (page - r->base));
			return;
		}
	}
	vm->errors++; /* outside its regions: the VM stays blocked, as it should */
}

void pager_vm_serve(struct pager_vm *vm, int stop_fd)
{
	struct pollfd p[3] = { { .fd = vm->uffd, .events = POLLIN },
			       { .fd = vm->sock, .events = POLLIN | POLLRDHUP },
			       { .fd = stop_fd, .events = POLLIN } };
	struct uffd_msg msgs[16];

	for (;;) {
		ssize_t n;

		if (poll(p, stop_fd >= 0 ? 3 : 2, -1) < 0 && errno != EINTR)
			return;
		if (p[1].revents || (stop_fd >= 0 && p[2].revents))
			return;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(vm->uffd, msgs, sizeof(msgs));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				serve_fault(vm, msgs[i].arg.pagefault.address);
	}
}

void pager_vm_close(struct pager_vm *vm)
{
	if (vm->uffd >= 0)
		close(vm->uffd);
	if (vm->sock >= 0)
		close(vm->sock);
	vm->uffd = vm->sock = -1;
}
