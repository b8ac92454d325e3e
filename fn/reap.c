// SPDX-License-Identifier: Apache-2.0
/*
 * A clone's page server for the Uffd backend, with REAP (ASPLOS'21): the
 * first restore of a snapshot records the pages the VM touches; later
 * restores copy that working set in one pass, in runs of adjacent pages,
 * from the moment ember connects. The VM does not wait for the pass (REAP
 * paused it until then): the pass has a thread of its own, and the page
 * server's thread serves the VM's faults meanwhile, so a fault never waits
 * behind a run of the set (nor behind one slow copy in it).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fn.h"

#define ACCEPT_TIMEOUT_MS 30000

static int accept_vm(struct fn_clone *c)
{
	struct pollfd p[2] = { { .fd = c->pager_listen, .events = POLLIN },
			       { .fd = c->stop_fd, .events = POLLIN } };

	if (poll(p, 2, ACCEPT_TIMEOUT_MS) <= 0 || !(p[0].revents & POLLIN))
		return err_set(&c->pager_err, ETIMEDOUT, "pager: ember never connected");
	return accept4(c->pager_listen, NULL, NULL, SOCK_CLOEXEC);
}

/* The working set's pass, beside the fault service. */
static void *prefetch_main(void *arg)
{
	struct fn_clone *c = arg;
	struct ember_err err = { 0 };

	/* a failed prefetch only leaves more to fault in */
	if (pager_vm_prefetch(&c->vm, c->ws_pages, c->ws_n, &err) < 0)
		fprintf(stderr, "ember-fn: %s\n", err.msg);
	c->t.prefetch = fn_now_us() - c->t0;
	c->t.prefetched_pages = c->vm.prefetched;
	return NULL;
}

static void *pager_main(void *arg)
{
	struct fn_clone *c = arg;
	int sock = accept_vm(c);
	pthread_t th;
	bool prefetching = false;

	c->vm.sock = c->vm.uffd = -1;
	if (sock < 0) {
		c->pager_ret = sock;
	} else {
		c->pager_ret = pager_vm_accept(&c->vm, sock, &c->memfile, &c->pager_err);
		c->vm.touched = c->touched;
	}
	if (c->pager_ret)
		return NULL;
	atomic_init(&c->vm.prefetch_stop, false);
	/* without its thread, every page is served on demand */
	if (c->ws_pages)
		prefetching = !pthread_create(&th, NULL, prefetch_main, c);
	pager_vm_serve(&c->vm, c->stop_fd);
	if (prefetching) {
		atomic_store(&c->vm.prefetch_stop, true);
		pthread_join(th, NULL);
	}
	return NULL;
}

static int listen_on(const char *path, struct ember_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return err_errno(err, "pager: socket");
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return err_set(err, ENAMETOOLONG, "pager: %s is too long for a socket", path);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		err_errno(err, "pager: cannot listen on %s", path);
		close(fd);
		return -err->code;
	}
	return fd;
}

static int open_fds(struct fn_clone *c, struct ember_err *err)
{
	char path[FN_RUN_MAX + 16];

	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0)
		return err_errno(err, "pager: eventfd");
	snprintf(path, sizeof(path), "%s/uffd.sock", c->dir);
	c->pager_listen = listen_on(path, err);
	return c->pager_listen < 0 ? c->pager_listen : 0;
}

int fn_pager_start(struct fn_clone *c, struct ember_err *err)
{
	uint64_t nr_pages = c->snap->mem_size / PAGER_PAGE;
	pthread_t th;
	int ret;

	c->stop_fd = c->pager_listen = -1;
	ret = open_fds(c, err);
	if (!ret)
		ret = pager_memfile_open(&c->memfile, c->snap->mem, err);
	if (!ret && c->record && !(c->touched = calloc(1, (size_t)(nr_pages + 7) / 8)))
		ret = err_set(err, ENOMEM, "pager: out of memory");
	if (!ret && (ret = -pthread_create(&th, NULL, pager_main, c)) < 0)
		ret = err_set(err, -ret, "pager: cannot start its thread");
	if (ret)
		return ret;
	c->pager_thread = (uint64_t)th;
	c->pager_started = true;
	return 0;
}

static void save_working_set(struct fn_clone *c)
{
	struct ember_err err = { 0 };

	if (!c->touched || !c->answered || c->pager_ret < 0 || !c->vm.copied)
		return;
	if (pager_ws_write(c->snap->ws, c->touched, c->snap->mem_size / PAGER_PAGE, &err) < 0)
		fprintf(stderr, "ember-fn: %s\n", err.msg);
}

void fn_pager_stop(struct fn_clone *c)
{
	if (c->pager_started) {
		eventfd_write(c->stop_fd, 1);
		pthread_join((pthread_t)c->pager_thread, NULL);
		c->pager_started = false;
		save_working_set(c);
		pager_vm_close(&c->vm);
	}
	if (c->pager_listen >= 0)
		close(c->pager_listen);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	c->pager_listen = c->stop_fd = -1;
	pager_memfile_close(&c->memfile);
	free(c->touched);
	free(c->ws_pages);
	c->touched = NULL;
	c->ws_pages = NULL;
}
