#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the guest kernel (ACPI, no MP table parsing) finds its CPUs,
# IOAPIC and virtio devices in ember's ACPI tables; powers off and resets
# through the FADT's registers; and with acpi=off still boots on the
# command line's devices. Then a distribution's kernel (Debian's generic
# one, which the test host runs: ACPI and MP table parsing, virtio-mmio a
# module) finds its CPUs and IOAPIC both ways: from the MADT, and with
# acpi=off from the MP table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# has NAME TEXT / has_err NAME TEXT: the guest's console / ember's log says it
# (exported: expect runs its condition in a new bash).
has() { grep -q -- "$2" "$E2E_TMP/$1.out"; }
has_err() { grep -q -- "$2" "$E2E_TMP/$1.err"; }
export -f has has_err
export E2E_TMP
truncate -s 1M "$E2E_TMP/scratch.img"

# acpi_config NAME VCPUS BOOT_ARGS: the initramfs guest with the root image
# and a scratch drive as virtio-blk, and vsock: three virtio-mmio devices.
acpi_config() {
	cat >"$E2E_TMP/$1.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "$3" },
  "machine-config": { "vcpu_count": $2, "mem_size_mib": 256 },
  "drives": [
    { "drive_id": "rootfs", "path_on_host": "$GUEST/rootfs.ext4", "is_root_device": true, "is_read_only": true },
    { "drive_id": "scratch", "path_on_host": "$E2E_TMP/scratch.img", "is_root_device": false }
  ],
  "vsock": { "guest_cid": 3, "uds_path": "$E2E_TMP/$1.vsock" }
}
JSON
	echo "$E2E_TMP/$1.json"
}

# What the guest found (no double quotes: the kernel's command line has no
# escape for them inside ember.cmd="..."). dmesg holds that command line
# too: each pattern has a bracket, so it does not match its own text.
report="echo cpus=\$(grep -c ^processor /proc/cpuinfo);"
report+=" echo madt=\$(dmesg | grep -c 'Using ACPI (MADT[)] for SMP');"
report+=" echo tables=\$(ls /sys/firmware/acpi/tables 2>/dev/null | xargs);"
report+=" echo acpi-virtio=\$(ls /sys/bus/platform/drivers/virtio-mmio 2>/dev/null | grep -c LNRO0005);"
report+=" echo cmdline-virtio=\$(ls /sys/bus/platform/drivers/virtio-mmio 2>/dev/null | grep -c virtio-mmio);"
report+=" echo ioapic=\$(grep -c IO-APIC /proc/interrupts); echo vdb=\$(cat /sys/block/vdb/size)"

cfg=$(acpi_config acpi 4 "$(guest_args "$report")")
run_ember acpi "$cfg"
expect acpi "a 4-vCPU guest brings up 4 CPUs from the MADT (no MP table parsing in this kernel)" \
	bash -c "[ $rc = 0 ] && has acpi 'cpus=4' && has acpi 'madt=1'"
expect acpi "the kernel reads ember's tables: DSDT, FACP, APIC" \
	bash -c "grep -q '^tables=.*APIC.*DSDT.*FACP' $E2E_TMP/acpi.out"
expect acpi "virtio_mmio binds the three devices the DSDT describes (LNRO0005), interrupts through the IOAPIC" \
	bash -c "has acpi 'acpi-virtio=3' && ! has acpi 'ioapic=0' && has acpi 'vdb=2048'"

# poweroff: the kernel enters S5 through SLEEP_CONTROL_REG; ember exits 0.
cfg=$(acpi_config off 2 "$(guest_args 'poweroff -f')")
run_ember off "$cfg"
expect off "the guest's poweroff ends ember with 0 (ACPI S5)" \
	bash -c "[ $rc = 0 ] && has_err off 'guest powered off (ACPI S5)'"

# reboot=a: the kernel resets through the FADT's RESET_REG, not the i8042.
cfg=$(acpi_config reset 1 "console=ttyS0 reboot=a panic=1 quiet ember.cmd=\\\"true\\\"")
run_ember reset "$cfg"
expect reset "an ACPI reboot ends ember with 0 (RESET_REG)" \
	bash -c "[ $rc = 0 ] && has_err reset 'guest reset through ACPI'"

# acpi=off: one CPU, the devices from the command line, the i8042 reset.
cfg=$(acpi_config noacpi 2 "$(guest_args "$report") acpi=off")
run_ember noacpi "$cfg"
expect noacpi "acpi=off still boots: the command line's virtio-mmio devices, one CPU" \
	bash -c "[ $rc = 0 ] && has noacpi 'ember-init: ready' && has noacpi 'cmdline-virtio=3' &&
		has noacpi 'acpi-virtio=0' && has noacpi 'cpus=1' && has noacpi 'vdb=2048'"

# Debian's kernel: EMBER_DISTRO_KERNEL (make kvm-test passes the test
# host's), else the one tests/testhost/prepare fetches.
distro=${EMBER_DISTRO_KERNEL:-$("$top/tests/testhost/prepare")/vmlinuz}
distro_config() {
	cat >"$E2E_TMP/$1.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$distro", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "$2" },
  "machine-config": { "vcpu_count": 4, "mem_size_mib": 256 }
}
JSON
	echo "$E2E_TMP/$1.json"
}
report="echo cpus=\$(grep -c ^processor /proc/cpuinfo);"
report+=" echo ioapic=\$(grep -c IO-APIC /proc/interrupts);"
report+=" echo madt=\$(dmesg | grep -c 'Using ACPI (MADT[)] for SMP');"
report+=" echo mptable=\$(dmesg | grep -c 'Intel MultiProcessor Specificatio[n]')"

cfg=$(distro_config distro "$(guest_args "$report")")
E2E_TIMEOUT=$((E2E_TIMEOUT * 4)) run_ember distro "$cfg"
expect distro "Debian's kernel (a bzImage) brings up 4 CPUs and the IOAPIC from the MADT" \
	bash -c "[ $rc = 0 ] && has distro 'cpus=4' && has distro 'madt=1' && has distro 'mptable=0' &&
		! has distro 'ioapic=0'"
# (Rarely, on a loaded test host, this kernel has lost a CPU during bring-up:
# what it said about its CPUs, for the next time.)
has distro 'cpus=4' || grep -aE 'CPU|smpboot|do_boot|Stuck|triple' "$E2E_TMP/distro.out" \
	"$E2E_TMP/distro.err" | head -20 | sed 's/^/    bring-up: /'

cfg=$(distro_config distro-mp "$(guest_args "$report") acpi=off")
E2E_TIMEOUT=$((E2E_TIMEOUT * 4)) run_ember distro-mp "$cfg"
expect distro-mp "with acpi=off it brings them up from ember's MP table" \
	bash -c "[ $rc = 0 ] && has distro-mp 'cpus=4' && has distro-mp 'mptable=1' &&
		has distro-mp 'madt=0' && ! has distro-mp 'ioapic=0'"

e2e_summary
