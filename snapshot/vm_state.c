// SPDX-License-Identifier: Apache-2.0
/*
 * The VM-wide KVM state for a snapshot: the in-kernel PIC (master, slave)
 * and IOAPIC, the PIT and kvmclock (Documentation/virt/kvm/api.rst 4.26,
 * 4.27, 4.69, 4.70, 4.85, 4.86).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sys/ioctl.h>

#include "kvm.h"
#include "snapshot.h"
#include "state.h"

#define VM_STATE_MAGIC 0x4d56534bu /* "KSVM" */
#define NR_IRQCHIPS    3           /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */

/* The host's CLOCK_REALTIME at the kvmclock reading: KVM's own pairing
 * where it has one (KVM_CLOCK_REALTIME, Linux 5.16), else read now. */
static uint64_t wall_ns(const struct kvm *kvm, const struct kvm_clock_data *c)
{
	struct timespec ts;

	(void)kvm;
	if (c->flags & KVM_CLOCK_REALTIME)
		return c->realtime;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int snapshot_vm_save(const struct kvm *kvm, struct state_writer *w, struct ember_err *err)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };
	int ret = 0;

	state_put_u32(w, VM_STATE_MAGIC);
	state_put_u8(w, kvm->irqchip);
	for (int chip = 0; kvm->irqchip && !ret && chip < NR_IRQCHIPS; chip++) {
		struct kvm_irqchip c = { .chip_id = (uint32_t)chip };

		if (!(ret = KVM_IOCTL(kvm->vm_fd, KVM_GET_IRQCHIP, &c, err)))
			state_put(w, &c, sizeof(c));
	}
	if (kvm->irqchip && !ret && !(ret = KVM_IOCTL(kvm->vm_fd, KVM_GET_PIT2, &pit, err)))
		state_put(w, &pit, sizeof(pit));
	if (!ret && !(ret = KVM_IOCTL(kvm->vm_fd, KVM_GET_CLOCK, &clock, err)))
		state_put_u64(w, clock.clock);
	/* Since 1.1: the host's wall clock that goes with it, for clock_realtime. */
	if (!ret)
		state_put_u64(w, wall_ns(kvm, &clock));
	return ret < 0 ? err_prefix(err, "saving the VM's state") : 0;
}

static int restore_irqchips(const struct kvm *kvm, struct state_reader *r, struct ember_err *err)
{
	struct kvm_pit_state2 pit;
	int ret = 0;

	for (int chip = 0; !ret && chip < NR_IRQCHIPS; chip++) {
		struct kvm_irqchip c;

		if (!state_get(r, &c, sizeof(c)) || c.chip_id != (uint32_t)chip)
			return err_set(err, EINVAL, "interrupt controller %d: bad or missing state",
				       chip);
		ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_IRQCHIP, &c, err);
	}
	if (!ret && !state_get(r, &pit, sizeof(pit)))
		return err_set(err, EINVAL, "the PIT's state is cut short");
	return ret ? ret : KVM_IOCTL(kvm->vm_fd, KVM_SET_PIT2, &pit, err);
}

/* clock_realtime: kvmclock moves on by the wall time since the snapshot, by
 * KVM itself where it can (KVM_CLOCK_REALTIME), else by the same sum here. */
static void advance_clock(const struct kvm *kvm, struct kvm_clock_data *clock, uint64_t then)
{
	struct kvm_clock_data probe = { 0 };
	struct timespec ts;
	uint64_t now;

	if (ioctl(kvm->vm_fd, KVM_GET_CLOCK, &probe) == 0 && (probe.flags & KVM_CLOCK_REALTIME)) {
		clock->flags = KVM_CLOCK_REALTIME;
		clock->realtime = then;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (now > then)
		clock->clock += now - then;
}

int snapshot_vm_restore(const struct kvm *kvm, struct state_reader *r, unsigned minor,
			bool clock_realtime, struct ember_err *err)
{
	struct kvm_clock_data clock = { 0 };
	uint64_t then = 0;
	bool irqchip;
	int ret = 0;

	if (state_get_u32(r) != VM_STATE_MAGIC)
		return err_set(err, EINVAL, "no VM state here");
	irqchip = state_get_u8(r);
	if (irqchip != kvm->irqchip)
		return err_set(err, EINVAL, "the snapshot %s an in-kernel irqchip; this VM %s",
			       irqchip ? "has" : "has no", kvm->irqchip ? "has" : "has none");
	if (irqchip)
		ret = restore_irqchips(kvm, r, err);
	/* kvmclock goes on from the saved value: the guest sees no time pass,
	 * unless the load asked for clock_realtime. */
	clock.clock = state_get_u64(r);
	if (minor >= 1)
		then = state_get_u64(r);
	if (clock_realtime && then)
		advance_clock(kvm, &clock, then);
	if (!ret && r->failed)
		ret = err_set(err, EINVAL, "the VM's state is cut short");
	if (!ret)
		ret = KVM_IOCTL(kvm->vm_fd, KVM_SET_CLOCK, &clock, err);
	return ret < 0 ? err_prefix(err, "restoring the VM's state") : 0;
}
