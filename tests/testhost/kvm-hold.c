// SPDX-License-Identifier: Apache-2.0
/*
 * kvm-hold: keep one idle KVM VM (in-kernel irqchip, one vCPU that never
 * runs) open for the test host's whole life.
 *
 * Why: the first VM the kernel creates and the last one it destroys flip
 * static keys (preempt_notifier_key, and the local APIC's apic_sw_disabled
 * for the first vCPU), which the kernel applies by patching its own text
 * with int3 breakpoints while every CPU runs through the patched sites in
 * __schedule. Under QEMU's multi-threaded TCG that cross-modifying code
 * sometimes leaves the test host's CPUs looping in exc_int3 and __schedule
 * for good (seen: a few dozen back-to-back ember runs were enough). With
 * this VM held, every ember run only moves those counts between 1 and 2,
 * so no kernel text changes. Real KVM hosts never need this.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <errno.h>

static int fail(const char *what)
{
	fprintf(stderr, "testhost: kvm-hold: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm;

	if (kvm < 0)
		return fail("open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		return fail("KVM_CREATE_VCPU");
	for (;;)
		pause();
}
