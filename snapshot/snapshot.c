// SPDX-License-Identifier: Apache-2.0
/* Snapshot state and memory files: written from a paused VM, checked and
 * restored onto a new one. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc64.h"
#include "log.h"
#include "snapshot.h"
#include "vm.h"

#define PAGE 4096

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < PAGE / sizeof(*q); i++)
		if (q[i])
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static bool page_wanted(const struct guest_region *r, uint64_t at, const uint64_t *dirty)
{
	uint64_t page = at / PAGE;

	if (dirty)
		return dirty[page / 64] >> (page % 64) & 1;
	return !page_is_zero(r->host + at);
}

/* One region at offset: runs of wanted pages are written, the rest stay
 * holes (the file was truncated to its full size first). Full: every page
 * that is not all zero; diff: the dirty ones, zero or not. */
static int write_region(int fd, const struct guest_region *r, off_t offset, const uint64_t *dirty)
{
	uint64_t run = 0;

	for (uint64_t at = 0; at <= r->size; at += PAGE) {
		int ret;

		if (at < r->size && page_wanted(r, at, dirty)) {
			run += PAGE;
			continue;
		}
		if (run &&
		    (ret = pwrite_all(fd, r->host + at - run, run, offset + (off_t)(at - run))) < 0)
			return ret;
		run = 0;
	}
	return 0;
}

/* Pages written since the last snapshot: KVM's log of the guest's writes
 * (read and cleared) and ember's own. Without tracking, a diff takes every
 * page resident in memory (Firecracker's mincore mode: larger, and only
 * right without swap), a full snapshot nothing (NULL). */
static int take_dirty(struct vm *vm, int i, bool diff, uint64_t **out, struct ember_err *err)
{
	const struct guest_region *r = &vm->mem.regions[i];
	struct kvm_dirty_log log = { .slot = (uint32_t)i };
	size_t words = (r->size / PAGE + 63) / 64;

	*out = NULL;
	if (!vm->cfg->machine.track_dirty_pages && !diff)
		return 0;
	*out = calloc(words, 8);
	if (!*out)
		return err_set(err, ENOMEM, "no memory for the dirty page bitmap");
	if (!vm->cfg->machine.track_dirty_pages)
		return guest_mem_resident(&vm->mem, i, *out, err);
	log.dirty_bitmap = *out;
	if (KVM_IOCTL(vm->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log, err) < 0) {
		free(*out);
		*out = NULL;
		return -err->code;
	}
	guest_mem_take_dirty(&vm->mem, i, *out);
	return 0;
}

/* virtio-mem's region follows RAM in the memory file, its whole size, with
 * its plugged blocks written (all of them in a diff too: no dirty log). */
static int write_hotplug(int fd, const struct guest_mem *mem)
{
	const struct guest_hotplug *h = &mem->hotplug;
	int ret = 0;

	for (uint64_t b = 0; !ret && b < h->size / h->block; b++) {
		struct guest_region r = { .size = h->block, .host = h->host + b * h->block };

		if (h->plugged[b / 64] >> (b % 64) & 1)
			ret = write_region(fd, &r, (off_t)(mem->size + b * h->block), NULL);
	}
	return ret;
}

static int write_memory(struct vm *vm, const char *path, bool diff, struct ember_err *err)
{
	const struct guest_mem *mem = &vm->mem;
	int ret = 0, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	off_t offset = 0;

	if (fd < 0)
		return err_errno(err, "cannot create the memory file %s", path);
	if (ftruncate(fd, (off_t)(mem->size + mem->hotplug.size)) < 0)
		ret = err_errno(err, "cannot size the memory file %s", path);
	for (int i = 0; !ret && i < mem->nr_regions; offset += (off_t)mem->regions[i++].size) {
		uint64_t *dirty;

		/* Taken for a full snapshot too: the next diff starts from here. */
		if ((ret = take_dirty(vm, i, diff, &dirty, err)) < 0)
			break;
		if ((ret = write_region(fd, &mem->regions[i], offset, diff ? dirty : NULL)) < 0)
			err_set(err, -ret, "writing the memory file %s: %s", path, strerror(-ret));
		free(dirty);
	}
	if (!ret && mem->hotplug.size && (ret = write_hotplug(fd, mem)) < 0)
		err_set(err, -ret, "writing the memory file %s: %s", path, strerror(-ret));
	if (close(fd) < 0 && !ret)
		ret = err_errno(err, "closing the memory file %s", path);
	return ret;
}

static void put_layout(struct state_writer *w, const struct guest_mem *mem)
{
	uint64_t offset = 0;

	state_put_u32(w, (uint32_t)mem->nr_regions);
	for (int i = 0; i < mem->nr_regions; offset += mem->regions[i++].size) {
		state_put_u64(w, mem->regions[i].gpa);
		state_put_u64(w, mem->regions[i].size);
		state_put_u64(w, offset);
	}
}

static int build_state(struct vm *vm, const char *config_json, struct state_writer *w,
		       struct ember_err *err)
{
	int ret;

	state_put_u64(w, SNAPSHOT_MAGIC);
	state_put_u32(w, SNAPSHOT_VERSION_MAJOR);
	state_put_u32(w, SNAPSHOT_VERSION_MINOR);
	state_put_u32(w, (uint32_t)strlen(config_json));
	state_put(w, config_json, strlen(config_json));
	put_layout(w, &vm->mem);
	ret = snapshot_vm_save(&vm->kvm, w, err);
	state_put_u32(w, vm->nr_vcpus);
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = snapshot_vcpu_save(&vm->vcpus[i], &vm->kvm, w, err);
	if (!ret)
		vm_save_devices(vm, w);
	if (!ret && w->failed)
		ret = err_set(err, ENOMEM, "out of memory for the snapshot's state");
	if (!ret)
		state_put_u64(w, crc64_update(0, w->buf, w->len));
	return ret;
}

static int write_file(const char *path, const void *buf, size_t len, struct ember_err *err)
{
	int ret, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_errno(err, "cannot create the snapshot file %s", path);
	ret = pwrite_all(fd, buf, len, 0);
	if (ret < 0)
		err_set(err, -ret, "writing the snapshot file %s: %s", path, strerror(-ret));
	if (close(fd) < 0 && !ret)
		ret = err_errno(err, "closing the snapshot file %s", path);
	return ret;
}

int snapshot_create(struct vm *vm, const char *config_json, const char *state_path,
		    const char *mem_path, bool diff, struct ember_err *err)
{
	struct state_writer w;
	int ret;

	state_writer_init(&w);
	ret = build_state(vm, config_json, &w, err);
	if (!ret && w.len > SNAPSHOT_FILE_MAX)
		ret = err_set(err, EFBIG, "the state is %zu bytes, more than %d", w.len,
			      SNAPSHOT_FILE_MAX);
	if (!ret)
		ret = write_file(state_path, w.buf, w.len, err);
	if (!ret)
		ret = write_memory(vm, mem_path, diff, err);
	state_writer_free(&w);
	return ret;
}

static int parse_layout(struct snapshot_file *f, struct state_reader *r, struct ember_err *err)
{
	uint64_t expect_offset = 0;

	f->nr_regions = state_get_u32(r);
	if (f->nr_regions == 0 || f->nr_regions > SNAPSHOT_MAX_REGIONS)
		return err_set(err, EINVAL, "%u memory regions (1 or 2 expected)", f->nr_regions);
	for (unsigned i = 0; i < f->nr_regions; i++) {
		struct snapshot_region *g = &f->regions[i];

		g->gpa = state_get_u64(r);
		g->size = state_get_u64(r);
		g->offset = state_get_u64(r);
		if (g->offset != expect_offset || !g->size || g->size % PAGE ||
		    g->size > (1ULL << 46) - f->mem_size)
			return err_set(err, EINVAL, "memory region %u is not where it should be",
				       i);
		expect_offset += g->size;
		f->mem_size += g->size;
	}
	return r->failed ? err_set(err, EINVAL, "the memory layout is cut short") : 0;
}

static int check_version(struct snapshot_file *f, struct state_reader *r, struct ember_err *err)
{
	if (state_get_u64(r) != SNAPSHOT_MAGIC)
		return err_set(err, EINVAL, "not an ember snapshot state file");
	f->major = state_get_u32(r);
	f->minor = state_get_u32(r);
	if (f->major != SNAPSHOT_VERSION_MAJOR || f->minor > SNAPSHOT_VERSION_MINOR)
		return err_set(err, EINVAL,
			       "snapshot format version %u.%u; this ember reads %d.0 to %d.%d",
			       f->major, f->minor, SNAPSHOT_VERSION_MAJOR, SNAPSHOT_VERSION_MAJOR,
			       SNAPSHOT_VERSION_MINOR);
	return 0;
}

static int parse_config(struct snapshot_file *f, struct state_reader *r, struct ember_err *err)
{
	uint32_t len = state_get_u32(r);

	if (r->failed || len > r->len - r->pos)
		return err_set(err, EINVAL, "the configuration is cut short");
	f->config_json = malloc(len + 1);
	if (!f->config_json)
		return err_set(err, ENOMEM, "no memory for the snapshot's configuration");
	state_get(r, f->config_json, len);
	f->config_json[len] = '\0';
	return 0;
}

/* Magic and version first (a newer format says so), then the CRC over
 * everything, then the header's contents. */
int snapshot_parse(struct snapshot_file *f, const void *data, size_t len, struct ember_err *err)
{
	uint64_t crc;
	int ret;

	memset(f, 0, sizeof(*f));
	if (len < 24 + 8 || len > SNAPSHOT_FILE_MAX)
		return err_set(err, EINVAL, "a state file of %zu bytes cannot be a snapshot", len);
	f->buf = malloc(len);
	if (!f->buf)
		return err_set(err, ENOMEM, "no memory for the state file");
	memcpy(f->buf, data, len);
	memcpy(&crc, f->buf + len - 8, 8);
	f->len = len - 8;
	state_reader_init(&f->rest, f->buf, f->len);
	ret = check_version(f, &f->rest, err);
	if (!ret && crc64_update(0, f->buf, f->len) != crc)
		ret = err_set(err, EINVAL, "the state file is corrupt (CRC mismatch)");
	if (!ret)
		ret = parse_config(f, &f->rest, err);
	if (!ret)
		ret = parse_layout(f, &f->rest, err);
	if (ret < 0)
		snapshot_file_free(f);
	return ret;
}

int snapshot_read(struct snapshot_file *f, const char *path, struct ember_err *err)
{
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n = -1;
	int ret, fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(f, 0, sizeof(*f));
	if (fd < 0)
		return err_errno(err, "cannot open the snapshot file %s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SNAPSHOT_FILE_MAX)
		ret = err_set(err, EINVAL, "%s: not a regular file of at most %d bytes", path,
			      SNAPSHOT_FILE_MAX);
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		ret = err_set(err, ENOMEM, "no memory for %s", path);
	else if ((n = pread(fd, buf, (size_t)st.st_size + 1, 0)) != st.st_size)
		ret = n < 0 ? err_errno(err, "reading %s", path)
			    : err_set(err, EIO, "%s changed while it was read", path);
	else
		ret = snapshot_parse(f, buf, (size_t)n, err);
	free(buf);
	close(fd);
	return ret;
}

void snapshot_file_free(struct snapshot_file *f)
{
	free(f->buf);
	free(f->config_json);
	memset(f, 0, sizeof(*f));
}

static int check_layout(const struct vm *vm, const struct snapshot_file *f, struct ember_err *err)
{
	if ((unsigned)vm->mem.nr_regions != f->nr_regions)
		return err_set(err, EINVAL, "the VM has %d memory regions, the snapshot %u",
			       vm->mem.nr_regions, f->nr_regions);
	for (unsigned i = 0; i < f->nr_regions; i++)
		if (vm->mem.regions[i].gpa != f->regions[i].gpa ||
		    vm->mem.regions[i].size != f->regions[i].size)
			return err_set(err, EINVAL, "memory region %u differs from the snapshot's",
				       i);
	return 0;
}

int snapshot_restore(struct vm *vm, struct snapshot_file *f, bool clock_realtime,
		     struct ember_err *err)
{
	struct state_reader *r = &f->rest;
	int ret = check_layout(vm, f, err);

	if (!ret)
		ret = snapshot_vm_restore(&vm->kvm, r, f->minor, clock_realtime, err);
	if (!ret && state_get_u32(r) != vm->nr_vcpus)
		ret = err_set(err, EINVAL,
			      "the snapshot's vCPU count differs from its configuration");
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = snapshot_vcpu_restore(&vm->vcpus[i], r, err);
	if (!ret)
		ret = vm_restore_devices(vm, r, err);
	if (!ret && (r->failed || r->pos != r->len))
		ret = err_set(err, EINVAL, "the device states do not match the configuration");
	/* The guest's kvmclock learns it was stopped: no soft-lockup reports. */
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		vcpu_clock_paused(&vm->vcpus[i]);
	return ret;
}
