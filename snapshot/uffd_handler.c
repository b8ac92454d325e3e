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
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pager.h"

struct conn {
	int sock;
	const struct pager_memfile *mem;
};

static void *vm_thread(void *arg)
{
	struct conn *c = arg;
	struct ember_err err = { 0 };
	struct pager_vm vm;

	if (pager_vm_accept(&vm, c->sock, c->mem, &err) < 0) {
		fprintf(stderr, "ember-uffd: VM %d: %s\n", (int)vm.pid, err.msg);
	} else {
		fprintf(stderr, "ember-uffd: serving VM %d (%u regions)\n", (int)vm.pid, vm.nr);
		pager_vm_serve(&vm, -1);
		fprintf(stderr,
			"ember-uffd: VM %d is gone (%llu pages copied, %llu zero pages, %llu "
			"errors)\n",
			(int)vm.pid, (unsigned long long)vm.copied, (unsigned long long)vm.zeroed,
			(unsigned long long)vm.errors);
	}
	pager_vm_close(&vm);
	free(c);
	return NULL;
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
	struct pager_memfile mem = { 0 };
	struct ember_err err = { 0 };
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
	if (pager_memfile_open(&mem, mem_path, &err) < 0) {
		fprintf(stderr, "ember-uffd: %s\n", err.msg);
		return 1;
	}
	if ((lfd = listen_on(sock_path)) < 0)
		return 1;
	fprintf(stderr, "ember-uffd: serving %s on %s\n", mem_path, sock_path);
	for (;;) {
		struct conn *c = calloc(1, sizeof(*c));
		pthread_t th;

		if (!c || (c->sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			free(c);
			if (errno == EINTR)
				continue;
			return 1;
		}
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
