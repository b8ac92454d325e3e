#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: boot the project's guest kernel under ember.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

has() { grep -q -- "$2" "$E2E_TMP/$1.out"; }
has_err() { grep -q -- "$2" "$E2E_TMP/$1.err"; }

# vmlinux (PVH) with the initramfs, 1 vCPU, default memory
cfg=$(vm_config pvh "$GUEST/vmlinux" "$GUEST/initramfs.cpio" 1 128 "$(guest_args 'echo hello-from-guest')")
run_ember pvh "$cfg"
expect pvh "vmlinux boots to ember-init: ready and exits 0" \
	bash -c "[ $rc = 0 ] && grep -q 'ember-init: ready' $E2E_TMP/pvh.out"
expect pvh "ember.cmd runs and its status is reported" \
	bash -c "grep -q hello-from-guest $E2E_TMP/pvh.out && grep -q 'ember-init: cmd exited 0' $E2E_TMP/pvh.out"
expect pvh "the i8042 reset is reported" has_err pvh "guest reset through the i8042"

# The console's reader going away must not kill ember (SIGPIPE)
set +e
with_deadline "$E2E_TIMEOUT" "$EMBER" --config-file "$E2E_TMP/pvh.json" --no-api \
	2>"$E2E_TMP/pipe.err" </dev/null | head -c 5 >/dev/null
rc=${PIPESTATUS[0]}
set -e
expect pipe "a closed console reader does not stop ember" \
	bash -c "[ $rc = 0 ] && grep -q 'guest reset' $E2E_TMP/pipe.err"

# A failing command's status comes back from the guest
cfg=$(vm_config status "$GUEST/vmlinux" "$GUEST/initramfs.cpio" 1 128 "$(guest_args 'exit 7')")
run_ember status "$cfg"
expect status "the guest command's exit status is reported" has status "ember-init: cmd exited 7"

# bzImage through the 64-bit boot protocol
cfg=$(vm_config bz "$GUEST/bzImage" "$GUEST/initramfs.cpio" 1 128 "$(guest_args 'echo bz-ok')")
run_ember bz "$cfg"
expect bz "bzImage boots to ember-init: ready and exits 0" \
	bash -c "[ $rc = 0 ] && grep -q 'ember-init: ready' $E2E_TMP/bz.out && grep -q bz-ok $E2E_TMP/bz.out"
expect bz "bzImage uses the 64-bit entry" has_err bz "bzImage, 64-bit entry"

# SMP: 2 vCPUs show 2 CPUs; 4 vCPUs show 4
for n in 2 4; do
	cfg=$(vm_config smp$n "$GUEST/vmlinux" "$GUEST/initramfs.cpio" $n 256 \
		"$(guest_args 'echo cpus=$(grep -c ^processor /proc/cpuinfo)')")
	run_ember smp$n "$cfg"
	expect smp$n "$n vCPUs show $n CPUs in /proc/cpuinfo" \
		bash -c "[ $rc = 0 ] && grep -q 'cpus=$n' $E2E_TMP/smp$n.out"
done

# The guest sees the memory it was given (within what the kernel reserves)
cfg=$(vm_config mem "$GUEST/vmlinux" "$GUEST/initramfs.cpio" 1 256 "$(guest_args 'grep MemTotal /proc/meminfo')")
run_ember mem "$cfg"
memkb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB.*/\1/p' "$E2E_TMP/mem.out" | head -1)
expect mem "a 256 MiB guest sees 200-256 MiB" \
	bash -c "[ -n '$memkb' ] && [ '$memkb' -gt 204800 ] && [ '$memkb' -le 262144 ]"

# Boot timer: the guest's write of 123 at 0xC0000000 is logged
cfg=$(vm_config timer "$GUEST/vmlinux" "$GUEST/initramfs.cpio" 1 128 "$(guest_args true)")
run_ember timer "$cfg" --boot-timer
expect timer "--boot-timer logs Guest-boot-time" has_err timer "Guest-boot-time = .* us .* ms, .* CPU us"
boot_us=$(sed -n 's/.*Guest-boot-time = *\([0-9]*\) us.*/\1/p' "$E2E_TMP/timer.err")
[ -n "$boot_us" ] && echo "    guest boot time: $boot_us us"

# Clear errors: a missing kernel, a file that is not a kernel, no memory
cfg=$(vm_config nokernel "$E2E_TMP/does-not-exist" "" 1 128 "console=ttyS0")
run_ember nokernel "$cfg"
expect nokernel "a missing kernel file is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'boot-source: Boot source error: The kernel file cannot be opened: No such file or directory' $E2E_TMP/nokernel.err"

head -c 65536 /dev/urandom >"$E2E_TMP/garbage"
cfg=$(vm_config garbage "$E2E_TMP/garbage" "" 1 128 "console=ttyS0")
run_ember garbage "$cfg"
expect garbage "a file that is not a kernel is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'not a kernel image' $E2E_TMP/garbage.err"

cfg=$(vm_config nomem "$GUEST/vmlinux" "" 1 0 "console=ttyS0")
run_ember nomem "$cfg"
expect nomem "mem_size_mib 0 is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -qF 'Machine config error: The memory size (MiB) is either 0' $E2E_TMP/nomem.err"

cfg=$(vm_config tiny "$GUEST/vmlinux" "" 1 8 "console=ttyS0")
run_ember tiny "$cfg"
expect tiny "a kernel that does not fit in memory is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'does not fit' $E2E_TMP/tiny.err"

e2e_summary
