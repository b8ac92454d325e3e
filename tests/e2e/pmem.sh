#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: virtio-pmem as a Firecracker client drives it (PUT /pmem/{id}).
# An ext4 image as a pmem data device: the guest mounts it with DAX, reads
# what the host put there and writes a file the host then finds in the
# image; a read-only pmem; the flush rate limiter patched after boot; the
# guest's root filesystem on pmem with rootflags=dax; and a snapshot of a
# VM with pmem restored in a new process, its pmem still there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pids=""
trap 'for p in $pids; do kill -KILL $p 2>/dev/null || true; done; rm -rf "$E2E_TMP"' EXIT
json_is() { jq -en "input | $1" >/dev/null; } # json_is FILTER <<<JSON
says() { grep -q "^$1" "$OUT"; }
# until_says LINE: the console shows LINE, or ember is gone
until_says() { wait_for 90 bash -c "grep -q '^$1' '$OUT' || ! kill -0 $pid" || true; }
boot_source() { # boot_source COMMAND [EXTRA_ARGS]
	jq -n --arg k "$GUEST/vmlinux" --arg a "console=ttyS0 reboot=k panic=1 quiet ${2:-}ember.cmd=\"$1\"" \
		'{kernel_image_path: $k, boot_args: $a}'
}
rootfs_drive() {
	api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": true}"
}

# A data image (not a multiple of 2 MiB: the device pads it) with a file.
mkdir "$E2E_TMP/data"
echo "written by the host" >"$E2E_TMP/data/hello"
truncate -s 33M "$E2E_TMP/data.ext4"
mkfs.ext4 -q -F -b 4096 -d "$E2E_TMP/data" "$E2E_TMP/data.ext4"
cp "$E2E_TMP/data.ext4" "$E2E_TMP/ro.ext4"
ro_sum=$(sha256sum <"$E2E_TMP/ro.ext4")

# (No double quotes in guest commands: they sit in ember.cmd="...".)
cmd='mkdir -p /tmp/ro; mount -o dax /dev/pmem0 /mnt && echo mounted;'
cmd+=' grep -q /mnt.*dax /proc/mounts && echo dax-on; cat /mnt/hello;'
cmd+=' echo written by the guest >/mnt/guest; sync; umount /mnt && echo unmounted;'
cmd+=' mount -o ro /dev/pmem1 /tmp/ro && cat /tmp/ro/hello | sed s/host/read-only/;'
cmd+=' echo done; while true; do sleep 1; done'
start_ember a
api PUT /boot-source "$(boot_source "$cmd")"
rootfs_drive
api PUT /pmem/data "{\"id\": \"data\", \"path_on_host\": \"$E2E_TMP/data.ext4\"}"
check "PUT /pmem/data: 204" test "$code" = 204
api PUT /pmem/ro "{\"id\": \"ro\", \"path_on_host\": \"$E2E_TMP/ro.ext4\", \"read_only\": true}"
check "PUT /pmem/ro (read-only): 204" test "$code" = 204
api PUT /pmem/bad '{"id": "bad", "path_on_host": "/nonexistent"}'
check "a missing file: Firecracker's 400" \
	bash -c "[ $code = 400 ] && grep -q 'Pmem config error: Error accessing underlying file' <<<'$body'"
api GET /vm/config
check "GET /vm/config lists both, in order" \
	json_is '[.pmem[].id] == ["data", "ro"] and .pmem[1].read_only and (.pmem[0].root_device | not)' <<<"$body"
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart with two pmem devices: 204" test "$code" = 204
until_says done
check "the guest mounts the pmem device with DAX" bash -c "grep -q '^mounted' '$OUT' && grep -q '^dax-on' '$OUT'"
check "it reads the host's file" grep -q '^written by the host' "$OUT"
check "the read-only device mounts and reads" grep -q '^written by the read-only' "$OUT"
check "the guest's write is in the image on the host" \
	bash -c "debugfs -R 'cat /guest' '$E2E_TMP/data.ext4' 2>/dev/null | grep -q 'written by the guest'"
check "the read-only image is untouched" test "$(sha256sum <"$E2E_TMP/ro.ext4")" = "$ro_sum"
api PATCH /pmem/data '{"id": "data", "rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}}'
check "PATCH /pmem/data's rate limiter after boot: 204" test "$code" = 204
api PUT /pmem/late "{\"id\": \"late\", \"path_on_host\": \"$E2E_TMP/ro.ext4\"}"
check "PUT /pmem after boot is hot-plug: 400" \
	bash -c "[ $code = 400 ] && grep -q 'PCI is not enabled' <<<'$body'"

# A snapshot of it, restored in a new process: the guest mounts again.
snapshot_to s
check "snapshot of a VM with pmem: 204" test "$code" = 204
stop_ember
start_ember b
load_from s
check "PUT /snapshot/load with pmem: 204" test "$code" = 204
api GET /vm/config
check "the restored VM has its pmem devices" json_is '[.pmem[].id] == ["data", "ro"]' <<<"$body"
check "the restored guest runs on" bash -c "kill -0 $pid"
stop_ember

# The root filesystem on pmem, DAX-mounted.
cp "$GUEST/rootfs.ext4" "$E2E_TMP/root.ext4"
start_ember c
api PUT /boot-source "$(boot_source 'grep -q dax /proc/mounts && echo root-dax; echo done; sleep 1000' 'rootflags=dax ')"
api PUT /pmem/root "{\"id\": \"root\", \"path_on_host\": \"$E2E_TMP/root.ext4\", \"root_device\": true, \"read_only\": true}"
check "PUT /pmem/root as the root device: 204" test "$code" = 204
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart with root on pmem: 204" test "$code" = 204
until_says done
check "the guest's root is on /dev/pmem0 with DAX" grep -q '^root-dax' "$OUT"
stop_ember
e2e_summary
