// SPDX-License-Identifier: Apache-2.0
/*
 * The VM's virtio-mmio devices: slots of 4 KiB from LAYOUT_VIRTIO_MMIO and
 * legacy GSIs from LAYOUT_VIRTIO_IRQ_FIRST in attach order (Firecracker's
 * layout), queue notifications through ioeventfds on the event loop,
 * interrupts through irqfds, and one virtio_mmio.device= entry each.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

static void on_notify(void *ctx, int fd, uint32_t events)
{
	struct virtio_mmio_notifier *n = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("%s: reading a notify eventfd: %s", n->t->ops->name, strerror(errno));
	virtio_mmio_kick(n->t, n->q);
}

static void on_blk_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_blk_ratelimit_expired(ctx);
}

/* Where the next device goes. */
static int next_slot(struct vm *vm, uint64_t *base, uint32_t *irq, struct ember_err *err)
{
	if (vm->nr_virtio == VM_MAX_VIRTIO)
		return err_set(err, ENOSPC, "too many virtio devices: at most %d (one IRQ each)",
			       VM_MAX_VIRTIO);
	*base = LAYOUT_VIRTIO_MMIO + vm->nr_virtio * (uint64_t)VIRTIO_MMIO_SLOT_SIZE;
	*irq = LAYOUT_VIRTIO_IRQ_FIRST + vm->nr_virtio;
	return 0;
}

/* The next slot's address and IRQ, and zeroed memory for its device. */
static void *new_device(struct vm *vm, size_t size, uint64_t *base, uint32_t *irq,
			struct ember_err *err)
{
	void *dev;

	if (next_slot(vm, base, irq, err))
		return NULL;
	dev = calloc(1, size);
	if (!dev)
		err_set(err, ENOMEM, "out of memory");
	return dev;
}

static int wire_queues(struct vm *vm, struct virtio_mmio *t, struct ember_err *err)
{
	uint64_t notify = t->base + VIRTIO_MMIO_QUEUE_NOTIFY;
	int ret = 0;

	for (unsigned q = 0; !ret && q < t->ops->num_queues; q++) {
		ret = kvm_ioeventfd(&vm->kvm, notify, 4, q, &t->notify_fds[q], err);
		if (!ret)
			ret = evloop_add(&vm->loop, t->notify_fds[q], EPOLLIN, on_notify,
					 &t->notifiers[q], err);
	}
	return ret;
}

/* Bus, irqfd, ioeventfds and the save/restore list for an initialised transport. */
static int attach(struct vm *vm, struct virtio_mmio *t, const char *name, struct ember_err *err)
{
	int ret;

	ret = bus_add(&vm->mmio, t->base, VIRTIO_MMIO_SLOT_SIZE, &virtio_mmio_bus_ops, t, err);
	if (!ret && vm->kvm.irqchip)
		ret = kvm_irqfd(&vm->kvm, (int)t->irq, &t->irq_fd, err);
	if (!ret)
		ret = wire_queues(vm, t, err);
	if (!ret)
		ret = vm_add_device(vm, name, &virtio_mmio_bus_ops, t, err);
	if (ret)
		return err_prefix(err, "%s", name);
	vm->virtio[vm->nr_virtio++] = t;
	log_info("%s at 0x%" PRIx64 ", IRQ %u", name, t->base, t->irq);
	return 0;
}

static void bucket(struct token_bucket *tb, const struct config_bucket *b, uint64_t now)
{
	tb_init(tb, b->size, b->one_time_burst, b->refill_time_ms, now);
}

static void blk_params(const struct config_drive *d, struct virtio_blk_params *p)
{
	const struct config_rate_limiter *rl = &d->rate_limiter;
	uint64_t now = ratelimit_now_ns();

	memset(p, 0, sizeof(*p));
	p->drive_id = d->drive_id;
	p->path = d->path_on_host;
	p->read_only = d->is_read_only;
	p->writeback = d->writeback;
	bucket(&p->bandwidth, &rl->bandwidth, now);
	bucket(&p->ops, &rl->ops, now);
}

static int add_drive(struct vm *vm, const struct config_drive *d, struct ember_err *err)
{
	struct virtio_blk_params p;
	struct virtio_blk *b;
	uint64_t base = 0;
	uint32_t irq = 0;
	int ret;

	b = new_device(vm, sizeof(*b), &base, &irq, err);
	if (!b)
		return -err->code;
	blk_params(d, &p);
	ret = virtio_blk_open(b, &p, &vm->mem, base, irq, err);
	if (ret) {
		free(b);
		return ret;
	}
	vm->blks[vm->nr_blks++] = b;
	ret = attach(vm, &b->transport, b->drive_id, err);
	if (!ret)
		ret = evloop_add(&vm->loop, b->rl.timer_fd, EPOLLIN, on_blk_timer, b, err);
	return ret;
}

static void on_tap(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_net_tap_readable(ctx);
}

static void on_net_rx_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_net_rx_timer(ctx);
}

static void on_net_tx_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_net_tx_timer(ctx);
}

static void net_params(const struct config_net *c, struct virtio_net_params *p)
{
	uint64_t now = ratelimit_now_ns();

	memset(p, 0, sizeof(*p));
	p->iface_id = c->iface_id;
	p->tap_name = c->host_dev_name;
	p->has_mac = c->has_mac;
	memcpy(p->mac, c->mac, sizeof(p->mac));
	p->mtu = c->mtu;
	bucket(&p->rx_bandwidth, &c->rx_rate_limiter.bandwidth, now);
	bucket(&p->rx_ops, &c->rx_rate_limiter.ops, now);
	bucket(&p->tx_bandwidth, &c->tx_rate_limiter.bandwidth, now);
	bucket(&p->tx_ops, &c->tx_rate_limiter.ops, now);
}

static int watch_net(struct vm *vm, struct virtio_net *n, struct ember_err *err)
{
	/* Edge-triggered: the device reads until EAGAIN or until the guest has no
	 * buffers, and resumes on the guest's next rx kick. */
	int ret = evloop_add(&vm->loop, n->tap_fd, EPOLLIN | EPOLLET, on_tap, n, err);

	if (!ret)
		ret = evloop_add(&vm->loop, n->rx_rl.timer_fd, EPOLLIN, on_net_rx_timer, n, err);
	if (!ret)
		ret = evloop_add(&vm->loop, n->tx_rl.timer_fd, EPOLLIN, on_net_tx_timer, n, err);
	return ret;
}

static bool mmds_claims(void *ctx, const uint8_t *head, size_t len)
{
	return mmds_net_claims(ctx, head, len);
}

static void mmds_input(void *ctx, const uint8_t *frame, size_t len)
{
	mmds_net_input(ctx, frame, len);
}

static int mmds_output(void *dev, const uint8_t *frame, size_t len)
{
	return virtio_net_inject(dev, frame, len);
}

static void on_mmds_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd, (void)events;
	mmds_net_timer(ctx);
}

/* MMDS's network stack, when mmds-config names an interface. */
static int add_mmds(struct vm *vm, struct ember_err *err)
{
	const struct config_mmds *c = &vm->cfg->mmds;
	bool named = false;
	int ret;

	for (unsigned i = 0; i < vm->cfg->nr_nets; i++)
		named |= vm->cfg->nets[i].mmds;
	if (!c->set || !named || !vm->opts.mmds)
		return 0;
	ret = mmds_net_new(&vm->mmds_net, vm->opts.mmds, c->ipv4, c->v2, c->imds_compat, err);
	if (!ret)
		ret = evloop_add(&vm->loop, mmds_net_timer_fd(vm->mmds_net), EPOLLIN, on_mmds_timer,
				 vm->mmds_net, err);
	return ret;
}

/* The guest reaches MMDS through n: its frames for MMDS's address go there. */
static int detour_to_mmds(struct vm *vm, struct virtio_net *n, struct ember_err *err)
{
	struct virtio_net_detour d = { .claims = mmds_claims, .input = mmds_input };

	d.ctx = mmds_net_attach(vm->mmds_net, n, mmds_output, err);
	if (!d.ctx)
		return -err->code;
	return virtio_net_set_detour(n, &d, err);
}

static int add_net(struct vm *vm, const struct config_net *c, struct ember_err *err)
{
	struct virtio_net_params p;
	struct virtio_net *n;
	uint64_t base = 0;
	uint32_t irq = 0;
	int ret;

	n = new_device(vm, sizeof(*n), &base, &irq, err);
	if (!n)
		return -err->code;
	net_params(c, &p);
	ret = virtio_net_open(n, &p, &vm->mem, base, irq, err);
	if (ret) {
		free(n);
		return ret;
	}
	vm->nets[vm->nr_nets++] = n;
	ret = attach(vm, &n->transport, n->iface_id, err);
	if (!ret && c->mmds && vm->mmds_net)
		ret = detour_to_mmds(vm, n, err);
	return ret ? ret : watch_net(vm, n, err);
}

static void on_vsock(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_vsock_poll(ctx);
}

static void on_vsock_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_vsock_timer(ctx);
}

static int add_vsock(struct vm *vm, const struct config_vsock *c, struct ember_err *err)
{
	struct virtio_vsock *v;
	uint64_t base = 0;
	uint32_t irq = 0;
	int ret;

	v = new_device(vm, sizeof(*v), &base, &irq, err);
	if (!v)
		return -err->code;
	ret = virtio_vsock_open(v, c->guest_cid, c->uds_path, &vm->mem, base, irq, err);
	if (ret) {
		free(v);
		return ret;
	}
	vm->vsock = v;
	ret = attach(vm, &v->transport, "vsock", err);
	if (!ret)
		ret = evloop_add(&vm->loop, v->epfd, EPOLLIN, on_vsock, v, err);
	if (!ret)
		ret = evloop_add(&vm->loop, v->timer_fd, EPOLLIN, on_vsock_timer, v, err);
	return ret;
}

static void on_rng_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_rng_ratelimit_expired(ctx);
}

static int add_rng(struct vm *vm, const struct config_entropy *c, struct ember_err *err)
{
	struct token_bucket bw, ops;
	uint64_t now = ratelimit_now_ns();
	struct virtio_rng *r;
	uint64_t base = 0;
	uint32_t irq = 0;
	int ret;

	r = new_device(vm, sizeof(*r), &base, &irq, err);
	if (!r)
		return -err->code;
	bucket(&bw, &c->rate_limiter.bandwidth, now);
	bucket(&ops, &c->rate_limiter.ops, now);
	ret = virtio_rng_open(r, &bw, &ops, &vm->mem, base, irq, err);
	if (ret) {
		free(r);
		return ret;
	}
	vm->rng = r;
	ret = attach(vm, &r->transport, "entropy", err);
	if (!ret)
		ret = evloop_add(&vm->loop, r->rl.timer_fd, EPOLLIN, on_rng_timer, r, err);
	return ret;
}

static void on_balloon_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_balloon_stats_timer(ctx);
}

static int add_balloon(struct vm *vm, const struct config_balloon *c, struct ember_err *err)
{
	struct virtio_balloon_params p = {
		.num_pages = c->amount_mib * VIRTIO_BALLOON_PAGES_MIB,
		.deflate_on_oom = c->deflate_on_oom,
		.stats_interval_s = c->stats_polling_interval_s,
		.free_page_hinting = c->free_page_hinting,
		.free_page_reporting = c->free_page_reporting,
	};
	struct virtio_balloon *b;
	uint64_t base = 0;
	uint32_t irq = 0;
	int ret;

	b = new_device(vm, sizeof(*b), &base, &irq, err);
	if (!b)
		return -err->code;
	ret = virtio_balloon_open(b, &p, &vm->mem, base, irq, err);
	if (ret) {
		free(b);
		return err_prefix(err, "balloon");
	}
	vm->balloon = b;
	ret = attach(vm, &b->transport, "balloon", err);
	if (!ret && b->timer_fd >= 0)
		ret = evloop_add(&vm->loop, b->timer_fd, EPOLLIN, on_balloon_timer, b, err);
	return ret;
}

static void on_pmem_timer(void *ctx, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	virtio_pmem_ratelimit_expired(ctx);
}

/* Past RAM (and the 32-bit hole): the first region on a 1 GiB boundary,
 * the next ones each on VIRTIO_PMEM_ALIGN after the one before. */
static uint64_t pmem_gpa(const struct vm *vm)
{
	const struct guest_mem *m = &vm->mem;
	uint64_t end = LAYOUT_MMIO_END, gib = 1ull << 30;

	if (vm->nr_pmems) {
		const struct virtio_pmem *last = vm->pmems[vm->nr_pmems - 1];

		return last->gpa + last->map_len;
	}
	for (int i = 0; i < m->nr_regions; i++)
		if (m->regions[i].gpa + m->regions[i].size > end)
			end = m->regions[i].gpa + m->regions[i].size;
	return (end + gib - 1) & ~(gib - 1);
}

static int add_pmem(struct vm *vm, const struct config_pmem *c, struct ember_err *err)
{
	uint64_t now = ratelimit_now_ns(), base = 0;
	struct token_bucket bw, ops;
	struct virtio_pmem *p;
	uint32_t irq = 0;
	int ret;

	p = new_device(vm, sizeof(*p), &base, &irq, err);
	if (!p)
		return -err->code;
	bucket(&bw, &c->rate_limiter.bandwidth, now);
	bucket(&ops, &c->rate_limiter.ops, now);
	ret =
	    virtio_pmem_open(p, c->path_on_host, c->read_only, &bw, &ops, &vm->mem, base, irq, err);
	if (ret) {
		free(p);
		return err_prefix(err, "pmem %s", c->id);
	}
	virtio_pmem_place(p, pmem_gpa(vm));
	vm->pmems[vm->nr_pmems++] = p;
	ret = kvm_add_slot(&vm->kvm, (uint32_t)(vm->mem.nr_regions + (int)vm->nr_pmems - 1), p->gpa,
			   p->map_len, p->map, c->read_only, err);
	if (ret)
		return err_prefix(err, "pmem %s: its memory slot", c->id);
	ret = attach(vm, &p->transport, c->id, err);
	if (!ret)
		ret = evloop_add(&vm->loop, p->rl.timer_fd, EPOLLIN, on_pmem_timer, p, err);
	return ret;
}

/* KVM slot numbers: RAM's, then pmem's, then virtio-mem's. */
#define MEM_DEV_FIRST_SLOT (GUEST_MEM_MAX_REGIONS + CONFIG_MAX_PMEMS)

static int mem_dev_slot(void *ctx, unsigned slot, bool present, struct ember_err *err)
{
	struct vm *vm = ctx;
	struct virtio_mem *m = vm->mem_dev;
	uint64_t off = (uint64_t)slot * m->slot_size;

	return kvm_add_slot(&vm->kvm, MEM_DEV_FIRST_SLOT + slot, m->gpa + off,
			    present ? m->slot_size : 0, m->map + off, false, err);
}

/* virtio-mem's region: past RAM and pmem, 1 GiB-aligned (Linux hot-plugs
 * memory in sections of 128 MiB). */
static int add_mem_dev(struct vm *vm, const struct config_hotplug *c, struct ember_err *err)
{
	uint64_t gib = 1ull << 30, gpa = (pmem_gpa(vm) + gib - 1) & ~(gib - 1), base = 0;
	uint32_t irq = 0;
	struct virtio_mem *m = new_device(vm, sizeof(*m), &base, &irq, err);
	int ret;

	if (!m)
		return -err->code;
	vm->mem_dev = m; /* before open: mem_dev_slot finds it there */
	ret = virtio_mem_open(m, &vm->mem, gpa, (uint64_t)c->total_mib << 20,
			      (uint64_t)c->block_mib << 20, (uint64_t)c->slot_mib << 20,
			      mem_dev_slot, vm, base, irq, err);
	if (!ret && vm->opts.mem_from_file) /* a snapshot's: after RAM in the file */
		ret = virtio_mem_map_file(m, vm->opts.mem_fd, vm->mem.size, err);
	if (ret) {
		virtio_mem_close(m);
		free(m);
		vm->mem_dev = NULL;
		return ret;
	}
	return attach(vm, &m->transport, "mem", err);
}

/* Firecracker's attach order: the balloon, block devices, network
 * interfaces, pmem, vsock, entropy, virtio-mem. */
int vm_virtio_create(struct vm *vm, struct ember_err *err)
{
	int ret = 0;

	if (vm->cfg->balloon.set)
		ret = add_balloon(vm, &vm->cfg->balloon, err);

	for (unsigned i = 0; !ret && i < vm->cfg->nr_drives; i++)
		ret = add_drive(vm, &vm->cfg->drives[i], err);
	if (!ret)
		ret = add_mmds(vm, err);
	for (unsigned i = 0; !ret && i < vm->cfg->nr_nets; i++)
		ret = add_net(vm, &vm->cfg->nets[i], err);
	for (unsigned i = 0; !ret && i < vm->cfg->nr_pmems; i++)
		ret = add_pmem(vm, &vm->cfg->pmems[i], err);
	if (!ret && vm->cfg->vsock.set)
		ret = add_vsock(vm, &vm->cfg->vsock, err);
	if (!ret && vm->cfg->entropy.set)
		ret = add_rng(vm, &vm->cfg->entropy, err);
	if (!ret && vm->cfg->hotplug.set)
		ret = add_mem_dev(vm, &vm->cfg->hotplug, err);
	return ret;
}

int vm_virtio_update_drive(struct vm *vm, const struct config_drive *d, bool new_path,
			   struct ember_err *err)
{
	struct virtio_blk_params p;
	struct virtio_blk *b = NULL;
	int ret = 0;

	for (unsigned i = 0; i < vm->nr_blks && !b; i++)
		if (!strcmp(vm->blks[i]->drive_id, d->drive_id))
			b = vm->blks[i];
	if (!b)
		return err_set(err, ENOENT, "drive %s: no such device", d->drive_id);
	blk_params(d, &p);
	if (new_path)
		ret = virtio_blk_swap(b, d->path_on_host, err);
	if (ret)
		return ret;
	pthread_mutex_lock(&b->transport.lock);
	ret = ratelimit_update(&b->rl, &p.bandwidth, &p.ops, err);
	pthread_mutex_unlock(&b->transport.lock);
	return ret;
}

int vm_virtio_update_net(struct vm *vm, const struct config_net *c, struct ember_err *err)
{
	struct virtio_net_params p;
	struct virtio_net *n = NULL;
	int rx, tx;

	for (unsigned i = 0; i < vm->nr_nets && !n; i++)
		if (!strcmp(vm->nets[i]->iface_id, c->iface_id))
			n = vm->nets[i];
	if (!n)
		return err_set(err, ENOENT, "network interface %s: no such device", c->iface_id);
	net_params(c, &p);
	pthread_mutex_lock(&n->transport.lock);
	rx = ratelimit_update(&n->rx_rl, &p.rx_bandwidth, &p.rx_ops, err);
	tx = rx < 0 ? 0 : ratelimit_update(&n->tx_rl, &p.tx_bandwidth, &p.tx_ops, err);
	pthread_mutex_unlock(&n->transport.lock);
	return rx < 0 ? rx : tx;
}

int vm_virtio_update_pmem(struct vm *vm, unsigned i, const struct config_rate_limiter *rl,
			  struct ember_err *err)
{
	struct virtio_pmem *p = i < vm->nr_pmems ? vm->pmems[i] : NULL;
	uint64_t now = ratelimit_now_ns();
	struct token_bucket bw, ops;
	int ret;

	if (!p)
		return err_set(err, ENOENT, "pmem %u: no such device", i);
	bucket(&bw, &rl->bandwidth, now);
	bucket(&ops, &rl->ops, now);
	pthread_mutex_lock(&p->transport.lock);
	ret = ratelimit_update(&p->rl, &bw, &ops, err);
	pthread_mutex_unlock(&p->transport.lock);
	return ret;
}

static int root_cmdline(const struct config_drive *d, struct cmdline *cl, struct ember_err *err)
{
	const char *mode = d->is_read_only ? "ro" : "rw";

	if (d->partuuid)
		return cmdline_appendf(cl, err, "root=PARTUUID=%s %s", d->partuuid, mode);
	return cmdline_appendf(cl, err, "root=/dev/vda %s", mode);
}

int vm_virtio_cmdline(struct vm *vm, struct cmdline *cl, struct ember_err *err)
{
	int ret = 0;

	/* The root drive, if any, is the first drive and so /dev/vda; a root
	 * pmem is /dev/pmemN, N its place among them. */
	if (vm->cfg->nr_drives && vm->cfg->drives[0].is_root_device)
		ret = root_cmdline(&vm->cfg->drives[0], cl, err);
	for (unsigned i = 0; !ret && i < vm->cfg->nr_pmems; i++)
		if (vm->cfg->pmems[i].root_device)
			ret = cmdline_appendf(cl, err, "root=/dev/pmem%u %s", i,
					      vm->cfg->pmems[i].read_only ? "ro" : "rw");
	for (unsigned i = 0; !ret && i < vm->nr_virtio; i++)
		ret = cmdline_appendf(cl, err, "virtio_mmio.device=4K@0x%" PRIx64 ":%u",
				      vm->virtio[i]->base, vm->virtio[i]->irq);
	return ret;
}

void vm_virtio_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_blks; i++) {
		virtio_blk_close(vm->blks[i]);
		free(vm->blks[i]);
	}
	vm->nr_blks = 0;
	if (vm->mem_dev) {
		virtio_mem_close(vm->mem_dev);
		free(vm->mem_dev);
		vm->mem_dev = NULL;
	}
	mmds_net_free(vm->mmds_net); /* before the devices it sends through */
	vm->mmds_net = NULL;
	for (unsigned i = 0; i < vm->nr_nets; i++) {
		virtio_net_close(vm->nets[i]);
		free(vm->nets[i]);
	}
	vm->nr_nets = 0;
	if (vm->vsock) {
		virtio_vsock_close(vm->vsock);
		free(vm->vsock);
		vm->vsock = NULL;
	}
	if (vm->balloon) {
		virtio_balloon_close(vm->balloon);
		free(vm->balloon);
		vm->balloon = NULL;
	}
	if (vm->rng) {
		virtio_rng_close(vm->rng);
		free(vm->rng);
		vm->rng = NULL;
	}
	for (unsigned i = 0; i < vm->nr_pmems; i++) {
		virtio_pmem_close(vm->pmems[i]);
		free(vm->pmems[i]);
	}
	vm->nr_pmems = 0;
	vm->nr_virtio = 0;
}
