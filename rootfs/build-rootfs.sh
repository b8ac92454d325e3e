#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the guest's initramfs and ext4 root image (busybox + ember-init +
# guest tools in /bin + functions in /fn), cached by input hash, and link
# them into OUTDIR.
#   build-rootfs.sh OUTDIR INIT [TOOL...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cache.sh"

out=${1:?usage: build-rootfs.sh OUTDIR INIT}
init=${2:?usage: build-rootfs.sh OUTDIR INIT [TOOL...]}
shift 2
tools=("$@")
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-rootfs: $busybox missing (run 'make deps')" >&2; exit 1; }
file -L "$busybox" | grep -q 'statically linked' ||
	{ echo "build-rootfs: $busybox is not static (install busybox-static)" >&2; exit 1; }

cache=$(ember_cache_dir)
key=$(ember_key "$init" "${tools[@]}" "$here"/fn/* "$here/build-rootfs.sh" "$(ember_pkg_version busybox-static)" \
	"$(ember_pkg_version e2fsprogs)")
dest="$cache/rootfs-$key"
if [ ! -f "$dest/rootfs.ext4" ]; then
	work="$dest.tmp.$$"
	trap 'rm -rf "$work"' EXIT
	stage="$work/stage"
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,root,etc,fn,mnt}
	cp "$busybox" "$stage/bin/busybox"
	cp "$init" "$stage/sbin/init"
	for t in "${tools[@]}"; do cp "$t" "$stage/bin/"; done
	cp "$here"/fn/* "$stage/fn/" # the demo functions the agent runs
	for a in $("$busybox" --list); do
		[ -e "$stage/bin/$a" ] || ln -s busybox "$stage/bin/$a"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
	echo "root:x:0:" >"$stage/etc/group"

	# initramfs: the same tree plus /init and a console node
	spec="$work/spec"
	{
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "file /init $init 0755 0 0"
		(cd "$stage" && find . -mindepth 1 | sort) | while read -r p; do
			p=${p#.}
			if [ -L "$stage$p" ]; then
				echo "slink $p $(readlink "$stage$p") 0777 0 0"
			elif [ -d "$stage$p" ]; then
				echo "dir $p 0755 0 0"
			else
				echo "file $p $stage$p $(stat -c %a "$stage$p") 0 0"
			fi
		done
	} >"$spec"
	"$here/gen-cpio.sh" "$spec" "$work/initramfs.cpio"

	# 4 KiB blocks, the page size: DAX needs them (root on virtio-pmem).
	mkfs.ext4 -q -F -b 4096 -L ember-root -E root_owner=0:0 -d "$stage" \
		"$work/rootfs.ext4" 64M
	rm -rf "$stage" "$spec"
	rm -rf "$dest" && mv "$work" "$dest"
	trap - EXIT
	echo "guest rootfs: built $dest"
fi
ember_link "$dest/initramfs.cpio" "$out/initramfs.cpio"
ember_link "$dest/rootfs.ext4" "$out/rootfs.ext4"
