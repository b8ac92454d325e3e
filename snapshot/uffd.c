// SPDX-License-Identifier: Apache-2.0
/*
 * The Uffd memory backend: guest memory stays anonymous and empty; a
 * userfaultfd registered on it goes, with the region list, to a page-fault
 * handler on a Unix socket (ember-uffd, or any handler written for
 * Firecracker: one message, a JSON array of {base_host_virt_addr, size,
 * offset, page_size, page_size_kib}, the fd by SCM_RIGHTS).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest_mem.h"
#include "snapshot.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00) /* /dev/userfaultfd, Linux 6.1 */
#endif

/* /dev/userfaultfd where the jail has one (it needs no capability for the
 * kernel-mode faults KVM takes), else the syscall. */
static int new_uffd(struct ember_err *err)
{
	int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	int fd = -1;

	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(err, "cannot create a userfaultfd (no /dev/userfaultfd, and "
				      "vm.unprivileged_userfaultfd is 0?)");
	return fd;
}

static int register_regions(int uffd, const struct guest_mem *mem, struct ember_err *err)
{
	struct uffdio_api api = { .api = UFFD_API };

	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return err_errno(err, "UFFDIO_API");
	for (int i = 0; i < mem->nr_regions; i++) {
		struct uffdio_register reg = {
			.range = { (uintptr_t)mem->regions[i].host, mem->regions[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
			return err_errno(err, "UFFDIO_REGISTER of memory region %d", i);
	}
	return 0;
}

/* Firecracker's message: the regions as JSON. */
static int describe(const struct guest_mem *mem, char *buf, size_t size)
{
	size_t n = (size_t)snprintf(buf, size, "[");
	uint64_t offset = 0;

	for (int i = 0; i < mem->nr_regions && n < size; offset += mem->regions[i++].size)
		n += (size_t)snprintf(
		    buf + n, size - n,
		    "%s{\"base_host_virt_addr\":%" PRIuPTR ",\"size\":%" PRIu64
		    ",\"offset\":%" PRIu64 ",\"page_size\":4096,\"page_size_kib\":4}",
		    i ? "," : "", (uintptr_t)mem->regions[i].host, mem->regions[i].size, offset);
	if (n < size)
		n += (size_t)snprintf(buf + n, size - n, "]");
	return n < size ? (int)n : -1;
}

static int send_uffd(int sock, int uffd, const char *msg, size_t len, struct ember_err *err)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return err_errno(err, "sending the userfaultfd to the page-fault handler");
	return 0;
}

static int connect_handler(const char *path, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "the handler's socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return err_errno(err, "socket");
	if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err_errno(err, "cannot connect to the page-fault handler at %s", path);
		close(sock);
		return -err->code;
	}
	return sock;
}

int snapshot_uffd_connect(const struct guest_mem *mem, const char *path, int *sock_out,
			  int *uffd_out, struct ember_err *err)
{
	char msg[512];
	int len = describe(mem, msg, sizeof(msg));
	int uffd, sock, ret;

	*sock_out = *uffd_out = -1;
	if (len < 0)
		return err_set(err, EOVERFLOW, "the region list is too long");
	sock = connect_handler(path, err);
	if (sock < 0)
		return sock;
	uffd = new_uffd(err);
	ret = uffd < 0 ? uffd : register_regions(uffd, mem, err);
	if (!ret)
		ret = send_uffd(sock, uffd, msg, (size_t)len, err);
	if (ret < 0) {
		if (uffd >= 0)
			close(uffd);
		close(sock);
		return ret;
	}
	/* Both stay open: the registration outlives a handler that dies (a
	 * fault then waits, never reads zeros), and its socket's end says so. */
	*sock_out = sock;
	*uffd_out = uffd;
	return 0;
}
