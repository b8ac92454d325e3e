// SPDX-License-Identifier: Apache-2.0
/*
 * One vCPU's KVM state for a snapshot: TSC frequency, CPUID, registers,
 * segment registers, XSAVE, XCRs, debug registers, LAPIC, MSRs, MP state and
 * pending events (Documentation/virt/kvm/api.rst, 4.x). Saved while every
 * vCPU is parked; restored onto freshly created vCPUs in dependency order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm.h"
#include "snapshot.h"
#include "state.h"
#include "vcpu.h"

#define VCPU_STATE_MAGIC      0x55504376u /* "vCPU" */
#define MAX_CPUID_ENTRIES     256
#define MAX_SAVED_MSRS        1024
#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

static int get_cpuid(struct vcpu *v, struct state_writer *w, struct ember_err *err)
{
	size_t size =
	    sizeof(struct kvm_cpuid2) + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);
	int ret;

	if (!c)
		return err_set(err, ENOMEM, "no memory for CPUID");
	c->nent = MAX_CPUID_ENTRIES;
	ret = KVM_IOCTL(v->fd, KVM_GET_CPUID2, c, err);
	if (!ret) {
		state_put_u32(w, c->nent);
		state_put(w, c->entries, c->nent * sizeof(c->entries[0]));
	}
	free(c);
	return ret;
}

static int set_cpuid(struct vcpu *v, struct state_reader *r, struct ember_err *err)
{
	uint32_t n = state_get_u32(r);
	struct kvm_cpuid2 *c;
	int ret;

	if (n > MAX_CPUID_ENTRIES)
		return err_set(err, EINVAL, "%u CPUID entries (at most %d)", n, MAX_CPUID_ENTRIES);
	c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
	if (!c)
		return err_set(err, ENOMEM, "no memory for CPUID");
	c->nent = n;
	state_get(r, c->entries, n * sizeof(c->entries[0]));
	ret = r->failed ? err_set(err, EINVAL, "the CPUID entries are cut short")
			: KVM_IOCTL(v->fd, KVM_SET_CPUID2, c, err);
	free(c);
	return ret;
}

/* Read MSRs list[0..n) into out: KVM_GET_MSRS stops at the first it cannot
 * read, which is left out. The number kept, or -errno. */
static int read_msrs(struct vcpu *v, const uint32_t *list, uint32_t n, struct kvm_msr_entry *out,
		     struct kvm_msrs *req, struct ember_err *err)
{
	uint32_t done = 0, kept = 0;

	while (done < n) {
		int got;

		req->nmsrs = n - done;
		for (uint32_t i = 0; i < req->nmsrs; i++)
			req->entries[i] = (struct kvm_msr_entry){ .index = list[done + i] };
		got = ioctl(v->fd, KVM_GET_MSRS, req);
		if (got < 0)
			return err_errno(err, "KVM_GET_MSRS");
		memcpy(&out[kept], req->entries, (size_t)got * sizeof(out[0]));
		kept += (uint32_t)got;
		done += (uint32_t)got + 1;
	}
	return (int)kept;
}

static int get_msrs(struct vcpu *v, const struct kvm *kvm, struct state_writer *w,
		    struct ember_err *err)
{
	uint32_t n = kvm->msr_index ? kvm->msr_index->nmsrs : 0;
	struct kvm_msr_entry *out;
	struct kvm_msrs *req;
	uint64_t tsc = 0;
	int kept = -ENOMEM;

	if (n > MAX_SAVED_MSRS)
		n = MAX_SAVED_MSRS;
	out = calloc(n + 1, sizeof(*out));
	req = calloc(1, sizeof(*req) + (n + 1) * sizeof(req->entries[0]));
	if (!out || !req)
		err_set(err, ENOMEM, "no memory for MSRs");
	else
		kept = read_msrs(v, n ? kvm->msr_index->indices : NULL, n, out, req, err);
	for (int i = 0; i < kept; i++)
		if (out[i].index == MSR_IA32_TSC)
			tsc = out[i].data;
	/* A deadline of 0 never fires after a restore: arm it at the current TSC
	 * (Firecracker does the same). */
	for (int i = 0; i < kept; i++)
		if (out[i].index == MSR_IA32_TSC_DEADLINE && !out[i].data)
			out[i].data = tsc;
	if (kept >= 0) {
		state_put_u32(w, (uint32_t)kept);
		for (int i = 0; i < kept; i++) {
			state_put_u32(w, out[i].index);
			state_put_u64(w, out[i].data);
		}
	}
	free(out);
	free(req);
	return kept < 0 ? kept : 0;
}

static int set_msrs(struct vcpu *v, struct state_reader *r, struct ember_err *err)
{
	uint32_t n = state_get_u32(r);
	struct kvm_msrs *m;
	int got;

	if (n > MAX_SAVED_MSRS)
		return err_set(err, EINVAL, "%u MSRs (at most %d)", n, MAX_SAVED_MSRS);
	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return err_set(err, ENOMEM, "no memory for MSRs");
	m->nmsrs = n;
	for (uint32_t i = 0; i < n; i++) {
		m->entries[i].index = state_get_u32(r);
		m->entries[i].data = state_get_u64(r);
	}
	got = r->failed ? -2 : ioctl(v->fd, KVM_SET_MSRS, m);
	if (got == -2)
		err_set(err, EINVAL, "the MSRs are cut short");
	else if (got < 0)
		err_errno(err, "KVM_SET_MSRS");
	else if ((uint32_t)got != n)
		err_set(err, EINVAL, "KVM_SET_MSRS took %d of %u MSRs (MSR 0x%x refused)", got, n,
			m->entries[got].index);
	free(m);
	return got >= 0 && (uint32_t)got == n ? 0 : -EINVAL;
}

/* A fixed-size struct through one GET/SET pair. */
struct blob {
	unsigned long get, set;
	const char *get_name, *set_name;
	size_t size;
};

#define BLOB(name, type)                                                                         \
	{                                                                                        \
		KVM_GET_##name, KVM_SET_##name, "KVM_GET_" #name, "KVM_SET_" #name, sizeof(type) \
	}

static const struct blob blobs[] = {
	BLOB(SREGS, struct kvm_sregs),         BLOB(REGS, struct kvm_regs),
	BLOB(XSAVE, struct kvm_xsave),         BLOB(XCRS, struct kvm_xcrs),
	BLOB(DEBUGREGS, struct kvm_debugregs), BLOB(LAPIC, struct kvm_lapic_state),
};

static int get_blob(struct vcpu *v, const struct blob *b, struct state_writer *w,
		    struct ember_err *err)
{
	uint8_t buf[sizeof(struct kvm_xsave) > sizeof(struct kvm_sregs) ? sizeof(struct kvm_xsave)
									: sizeof(struct kvm_sregs)];
	int ret = kvm_ioctl_named(v->fd, b->get, b->get_name, buf, err);

	if (!ret)
		state_put(w, buf, b->size);
	return ret;
}

static int set_blob(struct vcpu *v, const struct blob *b, struct state_reader *r,
		    struct ember_err *err)
{
	uint8_t buf[sizeof(struct kvm_xsave) > sizeof(struct kvm_sregs) ? sizeof(struct kvm_xsave)
									: sizeof(struct kvm_sregs)];

	if (!state_get(r, buf, b->size))
		return err_set(err, EINVAL, "%s's state is cut short", b->set_name);
	return kvm_ioctl_named(v->fd, b->set, b->set_name, buf, err);
}

int snapshot_vcpu_save(struct vcpu *v, const struct kvm *kvm, struct state_writer *w,
		       struct ember_err *err)
{
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	int ret;

	state_put_u32(w, VCPU_STATE_MAGIC);
	state_put_u32(w, khz > 0 ? (uint32_t)khz : 0);
	ret = get_cpuid(v, w, err);
	for (size_t i = 0; !ret && i < sizeof(blobs) / sizeof(blobs[0]); i++)
		ret = get_blob(v, &blobs[i], w, err);
	if (!ret)
		ret = get_msrs(v, kvm, w, err);
	if (!ret && !(ret = KVM_IOCTL(v->fd, KVM_GET_MP_STATE, &mp, err)))
		state_put(w, &mp, sizeof(mp));
	if (!ret && !(ret = KVM_IOCTL(v->fd, KVM_GET_VCPU_EVENTS, &ev, err)))
		state_put(w, &ev, sizeof(ev));
	return ret < 0 ? err_prefix(err, "saving vCPU %u", v->index) : 0;
}

/* The saved TSC frequency, where it differs from this vCPU's and KVM can scale. */
static int set_tsc_khz(struct vcpu *v, uint32_t khz, struct ember_err *err)
{
	int now = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

	if (!khz || (now > 0 && (uint32_t)now == khz))
		return 0;
	if (ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
		return err_errno(err, "KVM_SET_TSC_KHZ %u (this host's TSC runs at %d kHz)", khz,
				 now);
	return 0;
}

int snapshot_vcpu_restore(struct vcpu *v, struct state_reader *r, struct ember_err *err)
{
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	int ret;

	if (state_get_u32(r) != VCPU_STATE_MAGIC)
		return err_set(err, EINVAL, "vCPU %u: no vCPU state here", v->index);
	ret = set_tsc_khz(v, state_get_u32(r), err);
	if (!ret)
		ret = set_cpuid(v, r, err);
	/* sregs first: they set the APIC base the LAPIC state needs, and the
	 * LAPIC before the MSRs, whose TSC deadline arms its timer. */
	for (size_t i = 0; !ret && i < sizeof(blobs) / sizeof(blobs[0]); i++)
		ret = set_blob(v, &blobs[i], r, err);
	if (!ret)
		ret = set_msrs(v, r, err);
	if (!ret && !state_get(r, &mp, sizeof(mp)))
		ret = err_set(err, EINVAL, "the MP state is cut short");
	if (!ret)
		ret = KVM_IOCTL(v->fd, KVM_SET_MP_STATE, &mp, err);
	if (!ret && !state_get(r, &ev, sizeof(ev)))
		ret = err_set(err, EINVAL, "the vCPU events are cut short");
	if (!ret)
		ret = KVM_IOCTL(v->fd, KVM_SET_VCPU_EVENTS, &ev, err);
	return ret < 0 ? err_prefix(err, "restoring vCPU %u", v->index) : 0;
}
