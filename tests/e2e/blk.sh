#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: virtio-blk. Root on /dev/vda, read-only drives, a data drive,
# a bandwidth limit, and clear errors for bad drive configurations.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

has() { grep -q -- "$2" "$E2E_TMP/$1.out"; }
has_err() { grep -q -- "$2" "$E2E_TMP/$1.err"; }

# drive ID PATH IS_ROOT IS_READ_ONLY [EXTRA_JSON]
drive() {
	echo "{ \"drive_id\": \"$1\", \"path_on_host\": \"$2\", \"is_root_device\": $3, \"is_read_only\": $4${5:+, $5} }"
}

# blk_config NAME GUEST_COMMAND DRIVE_JSON...: the vmlinux, no initrd
blk_config() {
	local name=$1 cmd=$2 drives
	shift 2
	drives=$(IFS=,; echo "$*")
	cat >"$E2E_TMP/$name.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "boot_args": "$(guest_args "$cmd")" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "drives": [ $drives ]
}
JSON
	echo "$E2E_TMP/$name.json"
}

image() { debugfs -R "cat $2" "$1" 2>/dev/null; }

# Root on /dev/vda, read-write: what the guest wrote and synced is in the file
cp "$GUEST/rootfs.ext4" "$E2E_TMP/rw.ext4"
cfg=$(blk_config rw 'cat /proc/cmdline; echo written-by-the-guest >/fn/result; sync' \
	"$(drive rootfs "$E2E_TMP/rw.ext4" true false)")
run_ember rw "$cfg"
expect rw "an ext4 root on /dev/vda boots and runs the command" \
	bash -c "[ $rc = 0 ] && grep -q 'ember-init: cmd exited 0' $E2E_TMP/rw.out"
expect rw "the root drive adds root=/dev/vda rw and its virtio_mmio.device" \
	has rw "root=/dev/vda rw virtio_mmio.device=4K@0xc0001000:5"
expect rw "a file the guest wrote and synced is in the image afterwards" \
	bash -c "[ \"\$(debugfs -R 'cat /fn/result' $E2E_TMP/rw.ext4 2>/dev/null)\" = written-by-the-guest ]"
e2fsck -fn "$E2E_TMP/rw.ext4" >"$E2E_TMP/fsck.out" 2>&1 && fsck_rc=0 || fsck_rc=$?
expect rw "the image is a clean ext4 file system afterwards" bash -c "[ $fsck_rc = 0 ]"

# Read-only root: the guest cannot write and the file does not change
cp "$GUEST/rootfs.ext4" "$E2E_TMP/ro.ext4"
before=$(sha256sum <"$E2E_TMP/ro.ext4")
cfg=$(blk_config ro 'cat /proc/cmdline; echo x >/fn/ro-test; echo write-status=$?' \
	"$(drive rootfs "$E2E_TMP/ro.ext4" true true)")
run_ember ro "$cfg"
after=$(sha256sum <"$E2E_TMP/ro.ext4")
expect ro "a read-only root boots with root=/dev/vda ro" \
	bash -c "[ $rc = 0 ] && grep -q 'root=/dev/vda ro' $E2E_TMP/ro.out"
expect ro "the guest's write to a read-only root fails" \
	bash -c "grep -q 'write-status=[1-9]' $E2E_TMP/ro.out && grep -q 'Read-only file system' $E2E_TMP/ro.out"
expect ro "a read-only drive's file is unchanged" bash -c "[ '$before' = '$after' ]"

# A data drive next to the root: /dev/vdb, readable and writable
cp "$GUEST/rootfs.ext4" "$E2E_TMP/root2.ext4"
truncate -s 4M "$E2E_TMP/data.img"
printf 'ember-data-marker' | dd of="$E2E_TMP/data.img" conv=notrunc status=none
cfg=$(blk_config data 'echo size=$(cat /sys/block/vdb/size); echo read=$(head -c 17 /dev/vdb); echo guest-wrote-this | dd of=/dev/vdb bs=512 seek=8 conv=sync,fsync' \
	"$(drive data "$E2E_TMP/data.img" false false)" \
	"$(drive rootfs "$E2E_TMP/root2.ext4" true false)")
run_ember data "$cfg"
expect data "a second drive is /dev/vdb with the file's size" has data "size=8192"
expect data "the guest reads what the host put on the data drive" has data "read=ember-data-marker"
expect data "the host reads what the guest wrote to the data drive" \
	bash -c "[ \"\$(dd if=$E2E_TMP/data.img bs=512 skip=8 count=1 status=none | head -c 16)\" = guest-wrote-this ]"
expect data "the root drive is attached first whatever the list order" \
	has_err data "rootfs at 0xc0001000, IRQ 5"

# Bandwidth limit: 1 MiB bucket refilled every 500 ms is 2 MiB/s. The first
# MiB drains the full bucket; the next 8 MiB are timed in the guest.
cp "$GUEST/rootfs.ext4" "$E2E_TMP/root3.ext4"
truncate -s 16M "$E2E_TMP/slow.img"
limit='"rate_limiter": { "bandwidth": { "size": 1048576, "refill_time": 500 } }'
cfg=$(blk_config bw 'dd if=/dev/vdb of=/dev/null bs=64k count=16 iflag=direct; read t0 x </proc/uptime; dd if=/dev/vdb of=/dev/null bs=64k skip=16 count=128 iflag=direct; read t1 x </proc/uptime; echo elapsed $t0 $t1' \
	"$(drive rootfs "$E2E_TMP/root3.ext4" true false)" \
	"$(drive slow "$E2E_TMP/slow.img" false true "$limit")")
run_ember bw "$cfg"
# (console lines end in \r: force numbers, or awk compares strings)
rate=$(awk '/^elapsed/ { t0 = $2 + 0; t1 = $3 + 0; if (t1 > t0) printf "%.3f", 8 / (t1 - t0) }' \
	"$E2E_TMP/bw.out")
[ -n "$rate" ] && echo "    rate-limited read: $rate MiB/s (limit 2 MiB/s)"
expect bw "a 2 MiB/s bandwidth limit holds the guest's reads within 15%" \
	bash -c "[ -n '$rate' ] && awk 'BEGIN { exit !($rate >= 1.7 && $rate <= 2.3) }'"

# Clear errors
cfg=$(blk_config missing true "$(drive rootfs "$E2E_TMP/nope.ext4" true false)")
run_ember missing "$cfg"
expect missing "a missing drive file is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'Error manipulating the backing file: No such file or directory (os error 2) .*nope.ext4' $E2E_TMP/missing.err"

cfg=$(blk_config tworoots true "$(drive a "$E2E_TMP/rw.ext4" true false)" \
	"$(drive b "$E2E_TMP/ro.ext4" true false)")
run_ember tworoots "$cfg"
expect tworoots "two root drives are a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'drives: Drive config error: A root block device already exists!' $E2E_TMP/tworoots.err"

chmod 000 "$E2E_TMP/data.img"
cfg=$(blk_config unreadable true "$(drive rootfs "$E2E_TMP/rw.ext4" true false)" \
	"$(drive data "$E2E_TMP/data.img" false false)")
if [ "$(id -u)" = 0 ]; then
	echo "    (root ignores file modes: an unreadable drive is checked through a directory)"
	cfg=$(blk_config unreadable true "$(drive rootfs "$E2E_TMP/rw.ext4" true false)" \
		"$(drive data "$E2E_TMP" false false)")
fi
run_ember unreadable "$cfg"
expect unreadable "a drive that cannot be used is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -q 'drives: Drive config error: .*Error manipulating the backing file' $E2E_TMP/unreadable.err"

e2e_summary
