#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: memory hot-plug (virtio-mem) as a Firecracker client drives it
# (PUT, PATCH, GET /hotplug/memory). Firecracker's checks and messages; a
# 128 MiB guest given 256 MiB more after boot, which it onlines (the boot
# argument Firecracker's docs give, memhp_default_state=online_movable),
# fills with a 100 MiB file (its checksum printed over and over) and uses
# for a 150 MiB buffer; a snapshot restored in a new process, where the
# plugged memory and the file are intact; then half given back, the file
# still intact.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pids=""
trap 'for p in $pids; do kill -KILL $p 2>/dev/null || true; done; rm -rf "$E2E_TMP"' EXIT
json_is() { jq -en "input | $1" >/dev/null; } # json_is FILTER <<<JSON
fault_has() { [ "$code" = 400 ] && grep -q "$1" <<<"$body"; }
plugged_is() { api GET /hotplug/memory && json_is ".plugged_size_mib == $1" <<<"$body"; }

# (No double quotes in guest commands: they sit in ember.cmd="...".)
cmd='while true; do m=$(awk '"'"'/MemTotal/ {print $2}'"'"' /proc/meminfo); echo memtotal $m;'
cmd+=' if [ $m -gt 300000 ] && [ ! -f /tmp/big ]; then'
cmd+=' dd if=/dev/urandom of=/tmp/big bs=1M count=100 2>/dev/null;'
cmd+=' dd if=/dev/zero of=/dev/null bs=150M count=1 2>/dev/null && echo dd-ok; fi;'
cmd+=' [ -f /tmp/big ] && echo sum $(md5sum </tmp/big | cut -c1-32);'
cmd+=' sleep 0.5; done'
boot=$(jq -n --arg k "$GUEST/vmlinux" \
	--arg a "console=ttyS0 reboot=k panic=1 quiet memhp_default_state=online_movable ember.cmd=\"$cmd\"" \
	'{kernel_image_path: $k, boot_args: $a}')
memtotal() { tr -d '\r' <"$OUT" | grep '^memtotal ' | tail -n 1 | cut -d' ' -f2; }
sums() { tr -d '\r' <"$OUT" | grep '^sum ' | cut -d' ' -f2; } # the guest's file's checksums
has_sums() { [ "$(sums | wc -l)" -ge "$1" ]; }

start_ember a
api PUT /hotplug/memory '{"total_size_mib": 512, "block_size_mib": 3}'
check "a block size that is no power of 2: Firecracker's 400" \
	fault_has "Memory hotplug config error: Block size must be a power of 2"
api PUT /hotplug/memory '{"total_size_mib": 100}'
check "a total below the slot size: 400" \
	fault_has "Total size must not be lower than slot size (128 MiB)"
api PUT /hotplug/memory '{"total_size_mib": 512, "colour": 1}'
check "an unknown field: serde's 400" fault_has "unknown field"
api GET /hotplug/memory
check "GET before boot: 400 (after boot only, as Firecracker)" test "$code" = 400
api PUT /hotplug/memory '{"total_size_mib": 512}'
check "PUT /hotplug/memory with the default block and slot sizes: 204" test "$code" = 204
api GET /vm/config
check "GET /vm/config shows memory-hotplug with its defaults" \
	json_is '."memory-hotplug" == {"total_size_mib": 512, "block_size_mib": 2, "slot_size_mib": 128}' <<<"$body"
api PUT /boot-source "$boot"
api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": true}"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart with a virtio-mem device: 204" test "$code" = 204
wait_for 90 bash -c "grep -q '^memtotal' '$OUT' || ! kill -0 $pid" || true
before=$(memtotal)
check "the guest boots with its 128 MiB (MemTotal ${before:-none} kB)" test "${before:-0}" -lt 140000
api GET /hotplug/memory
check "GET after boot: nothing plugged or requested" \
	json_is '. == {"block_size_mib": 2, "total_size_mib": 512, "slot_size_mib": 128, "plugged_size_mib": 0, "requested_size_mib": 0}' <<<"$body"
api PATCH /hotplug/memory '{"requested_size_mib": 3}'
check "a size that is no multiple of the block: 400" fault_has "Size 3145728 is invalid"
api PATCH /hotplug/memory '{"requested_size_mib": 1024}'
check "a size beyond the total: 400" fault_has "is invalid"
api PATCH /hotplug/memory '{"requested_size_mib": 256}'
check "PATCH requested_size_mib 256: 204" test "$code" = 204
wait_for 60 plugged_is 256 || true
check "the guest plugs 256 MiB" plugged_is 256
wait_for 120 bash -c "tr -d '\r' <'$OUT' | grep -q '^dd-ok'" || true
after=$(memtotal)
check "the guest has them: MemTotal ${before:-?} to ${after:-?} kB" \
	test "${after:-0}" -ge "$((${before:-0} + 250000))"
check "and uses them: a 150 MiB buffer fits in the 128 MiB guest beside a 100 MiB file" \
	bash -c "tr -d '\r' <'$OUT' | grep -q '^dd-ok'"
wait_for 120 has_sums 1 || true
sum=$(sums | head -n 1)
check "the guest's 100 MiB file has a checksum (${sum:-none})" test -n "$sum"
snapshot_to s
check "a snapshot of a VM with hot-plugged memory: 204" test "$code" = 204
stop_ember

start_ember b
load_from s
check "PUT /snapshot/load (File): 204" test "$code" = 204
api GET /hotplug/memory
check "the restored device has its 256 MiB plugged and requested" \
	json_is '.plugged_size_mib == 256 and .requested_size_mib == 256' <<<"$body"
wait_for 120 has_sums 1 || true
restored=$(sums | head -n 1)
check "the restored guest's file is intact (its memory came back from the memory file)" \
	test -n "$sum" -a "$restored" = "$sum"
api PATCH /hotplug/memory '{"requested_size_mib": 128}'
check "PATCH requested_size_mib 128 after the restore: 204" test "$code" = 204
wait_for 120 plugged_is 128 || true
check "the guest gives 128 MiB back" plugged_is 128
n=$(sums | wc -l)
wait_for 120 has_sums $((n + 1)) || true
others=$(sums | grep -cv "^$sum\$" || true)
check "and its file is still intact ($(sums | wc -l) checksums, $others different)" \
	test -n "$sum" -a "$(sums | wc -l)" -gt "$n" -a "$others" = 0
check "ember is still running" kill -0 "$pid"
stop_ember
e2e_summary
