// SPDX-License-Identifier: Apache-2.0
/* A vCPU's KVM binary statistics (see kvm_stats.h). */
#include "kvm_stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DESCS_MAX (256u << 10) /* KVM's vCPU table is a few KiB */

const char *const kvm_stat_names[KVM_STAT_NR] = {
	[KVM_STAT_EXITS] = "exits",           [KVM_STAT_PF_TAKEN] = "pf_taken",
	[KVM_STAT_PF_FIXED] = "pf_fixed",     [KVM_STAT_IO_EXITS] = "io_exits",
	[KVM_STAT_MMIO_EXITS] = "mmio_exits", [KVM_STAT_HALT_EXITS] = "halt_exits",
};

static int stat_named(const char *name, size_t max)
{
	for (int i = 0; i < KVM_STAT_NR; i++)
		if (strnlen(name, max) == strlen(kvm_stat_names[i]) &&
		    !memcmp(name, kvm_stat_names[i], strlen(kvm_stat_names[i])))
			return i;
	return -1;
}

void kvm_stats_index(struct kvm_stats *s, const uint8_t *descs, size_t len, uint32_t n,
		     uint32_t desc_size, uint64_t data_offset)
{
	const size_t head = sizeof(struct kvm_stats_desc);

	for (int i = 0; i < KVM_STAT_NR; i++)
		s->where[i] = -1;
	if (desc_size <= head || data_offset > INT64_MAX / 2)
		return;
	for (uint64_t i = 0; i < n && (i + 1) * desc_size <= len; i++) {
		struct kvm_stats_desc d;
		const uint8_t *p = descs + i * desc_size;
		int k;

		memcpy(&d, p, head);
		k = stat_named((const char *)p + head, desc_size - head);
		/* a single counter of 8 bytes (type and unit do not matter here) */
		if (k >= 0 && d.size == 1 && d.offset < INT32_MAX)
			s->where[k] = (int64_t)(data_offset + d.offset);
	}
}

static int read_descs(struct kvm_stats *s, const struct kvm_stats_header *h, struct ember_err *err)
{
	uint32_t desc_size = (uint32_t)sizeof(struct kvm_stats_desc) + h->name_size;
	size_t len = (size_t)h->num_desc * desc_size;
	uint8_t *buf;
	int ret = 0;

	if (h->name_size > 4096 || len > DESCS_MAX)
		return err_set(err, EPROTO, "KVM's statistics table is %zu bytes", len);
	buf = malloc(len ? len : 1);
	if (!buf)
		return err_set(err, ENOMEM, "out of memory");
	if (pread(s->fd, buf, len, h->desc_offset) != (ssize_t)len)
		ret = err_errno(err, "reading KVM's statistics descriptors");
	else
		kvm_stats_index(s, buf, len, h->num_desc, desc_size, h->data_offset);
	free(buf);
	return ret;
}

int kvm_stats_open(struct kvm_stats *s, int vcpu_fd, struct ember_err *err)
{
	struct kvm_stats_header h;
	int ret;

	for (int i = 0; i < KVM_STAT_NR; i++)
		s->where[i] = -1;
	s->fd = ioctl(vcpu_fd, KVM_GET_STATS_FD, NULL);
	if (s->fd < 0)
		return err_set(err, EOPNOTSUPP, "this kernel's KVM has no binary statistics");
	if (pread(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		ret = err_errno(err, "reading KVM's statistics header");
	else
		ret = read_descs(s, &h, err);
	if (ret < 0)
		kvm_stats_close(s);
	return ret;
}

void kvm_stats_read(const struct kvm_stats *s, uint64_t out[KVM_STAT_NR])
{
	for (int i = 0; i < KVM_STAT_NR; i++) {
		out[i] = 0;
		if (s->fd >= 0 && s->where[i] >= 0 &&
		    pread(s->fd, &out[i], sizeof(out[i]), s->where[i]) != sizeof(out[i]))
			out[i] = 0;
	}
}

void kvm_stats_close(struct kvm_stats *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
