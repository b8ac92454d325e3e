// SPDX-License-Identifier: Apache-2.0
/*
 * ember-uffd: the page-fault handler for snapshots loaded with the Uffd
 * backend. It listens on a Unix socket; each VM that connects sends its
 * userfaultfd and region list (Firecracker's message), and a thread serves
 * that VM's missing pages from the memory file: UFFDIO_COPY of the page,
 * or UFFDIO_ZEROPAGE where the file has zeros (its holes). The thread ends
 * when the VM's connection closes.
 *   ember-uffd --socket PATH --mem-file FILE [--once]
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PAGE        4096
#define MAX_REGIONS 8

struct region {
	uint64_t base, size, offset;
};

struct memfile {
	const uint8_t *data;
	uint64_t size;
};

struct vm_conn {
	int sock, uffd;
	pid_t pid;
	struct region regions[MAX_REGIONS];
	unsigned nr;
	const struct memfile *mem;
	uint64_t copied, zeroed; /* pages served */
};

static int recv_handshake(struct vm_conn *c, char *buf, size_t size)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control) };
	struct cmsghdr *cm;
	ssize_t n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&c->uffd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

/* [{base_host_virt_addr, size, offset, page_size, ...}], inside the file. */
static int parse_regions(struct vm_conn *c, const char *text)
{
	json_t *root = json_loads(text, 0, NULL), *r;
	size_t i;
	int ret = json_is_array(root) && json_array_size(root) <= MAX_REGIONS ? 0 : -1;

	json_array_foreach(root, i, r)
	{
		json_int_t base, size, offset, page = PAGE;

		if (ret ||
		    json_unpack(r, "{s:I, s:I, s:I, s?I}", "base_host_virt_addr", &base, "size",
				&size, "offset", &offset, "page_size", &page) < 0 ||
		    base < 0 || size <= 0 || offset < 0 || page != PAGE ||
		    (uint64_t)offset > c->mem->size ||
		    (uint64_t)size > c->mem->size - (uint64_t)offset) {
			ret = -1;
			break;
		}
		c->regions[c->nr++] =
		    (struct region){ (uint64_t)base, (uint64_t)size, (uint64_t)offset };
	}
	json_decref(root);
	return ret;
}

static bool zero_page(const uint8_t *p)
{
	for (size_t i = 0; i < PAGE; i += 8)
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static void serve_fault(struct vm_conn *c, uint64_t addr)
{
	uint64_t page = addr & ~(uint64_t)(PAGE - 1);

	for (unsigned i = 0; i < c->nr; i++) {
		const struct region *r = &c->regions[i];
		const uint8_t *src;

		if (page < r->base || page - r->base >= r->size)
			continue;
		src = c->mem->data + r->offset + (page - r->base);
		if (zero_page(src)) {
			struct uffdio_zeropage z = { .range = { page, PAGE } };

			if (ioctl(c->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
				fprintf(stderr, "ember-uffd: UFFDIO_ZEROPAGE 0x%llx: %s\n",
					(unsigned long long)page, strerror(errno));
			c->zeroed++;
		} else {
			struct uffdio_copy cp = { .dst = page, .src = (uintptr_t)src, .len = PAGE };

			if (ioctl(c->uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
				fprintf(stderr, "ember-uffd: UFFDIO_COPY 0x%llx: %s\n",
					(unsigned long long)page, strerror(errno));
			c->copied++;
		}
		return;
	}
	fprintf(stderr, "ember-uffd: VM %d: a fault at 0x%llx outside its regions\n", (int)c->pid,
		(unsigned long long)addr);
}

/* Until the VM's connection ends. */
static void serve(struct vm_conn *c)
{
	struct pollfd p[2] = { { .fd = c->uffd, .events = POLLIN },
			       { .fd = c->sock, .events = POLLIN | POLLRDHUP } };
	struct uffd_msg msgs[16];

	for (;;) {
		ssize_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (p[1].revents)
			return;
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(c->uffd, msgs, sizeof(msgs));
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				serve_fault(c, msgs[i].arg.pagefault.address);
	}
}

static void *vm_thread(void *arg)
{
	struct vm_conn *c = arg;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[4096];

	if (!getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		c->pid = cred.pid;
	if (recv_handshake(c, msg, sizeof(msg)) < 0 || parse_regions(c, msg) < 0) {
		fprintf(stderr, "ember-uffd: VM %d: not a userfaultfd and a region list\n",
			(int)c->pid);
	} else {
		fprintf(stderr, "ember-uffd: serving VM %d (%u regions)\n", (int)c->pid, c->nr);
		serve(c);
		fprintf(stderr, "ember-uffd: VM %d is gone (%llu pages copied, %llu zero pages)\n",
			(int)c->pid, (unsigned long long)c->copied, (unsigned long long)c->zeroed);
	}
	if (c->uffd >= 0)
		close(c->uffd);
	close(c->sock);
	free(c);
	return NULL;
}

static int open_memfile(const char *path, struct memfile *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
		fprintf(stderr, "ember-uffd: %s: %s\n", path, fd < 0 ? strerror(errno) : "empty");
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "ember-uffd: cannot map %s: %s\n", path, strerror(errno));
		return -1;
	}
	m->data = p;
	m->size = (uint64_t)st.st_size;
	return 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path) || fd < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		fprintf(stderr, "ember-uffd: cannot listen on %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *sock_path = NULL, *mem_path = NULL;
	struct memfile mem;
	bool once = false, bad = false;
	int lfd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			sock_path = argv[++i];
		else if (!strcmp(argv[i], "--mem-file") && i + 1 < argc)
			mem_path = argv[++i];
		else if (!strcmp(argv[i], "--once"))
			once = true;
		else
			bad = true;
	}
	if (bad || !sock_path || !mem_path) {
		fputs("usage: ember-uffd --socket PATH --mem-file FILE [--once]\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (open_memfile(mem_path, &mem) < 0 || (lfd = listen_on(sock_path)) < 0)
		return 1;
	fprintf(stderr, "ember-uffd: serving %s on %s\n", mem_path, sock_path);
	for (;;) {
		struct vm_conn *c = calloc(1, sizeof(*c));
		pthread_t th;

		if (!c || (c->sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			free(c);
			if (errno == EINTR)
				continue;
			return 1;
		}
		c->uffd = -1;
		c->mem = &mem;
		if (once) {
			vm_thread(c);
			return 0;
		}
		if (pthread_create(&th, NULL, vm_thread, c) == 0) {
			pthread_detach(th);
		} else {
			close(c->sock);
			free(c);
		}
	}
}
