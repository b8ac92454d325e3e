#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build a guest kernel (vmlinux + bzImage) from Debian's linux-source-6.1,
# cached by input hash: by default with rootfs/kernel.config on top of
# tinyconfig (ember's guest); with --config FILE from that complete .config
# (completed by olddefconfig), as `make compat` builds Firecracker's.
#   build-kernel.sh OUTDIR [--config FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cache.sh"

out=${1:?usage: build-kernel.sh OUTDIR [--config FILE]}
full=""
if [ "${2:-}" = --config ]; then
	full=${3:?--config needs a file}
	[ -f "$full" ] || { echo "build-kernel: $full missing" >&2; exit 1; }
fi
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "build-kernel: $tarball missing (run 'make deps')" >&2; exit 1; }

cache=$(ember_cache_dir)
srcver=$(ember_pkg_version linux-source-6.1)
key=$(ember_key "${full:-$here/kernel.config}" "$here/build-kernel.sh" "$srcver")
dest="$cache/kernel-$key"

if [ ! -f "$dest/vmlinux" ] || [ ! -f "$dest/bzImage" ]; then
	src="$cache/linux-source-$srcver"
	if [ ! -f "$src/.extracted" ]; then
		echo "guest kernel: extracting linux-source $srcver (once)"
		rm -rf "$src" && mkdir -p "$src"
		tar -xJf "$tarball" -C "$src" --strip-components=1
		touch "$src/.extracted"
	fi
	kb="$cache/kbuild-$key"
	mkdir -p "$kb"
	if [ -n "$full" ]; then
		cp "$full" "$kb/.config"
		make -s -C "$src" O="$kb" olddefconfig >/dev/null
	else
		make -s -C "$src" O="$kb" tinyconfig >/dev/null
		"$src/scripts/kconfig/merge_config.sh" -m -O "$kb" "$kb/.config" \
			"$here/kernel.config" >/dev/null
		make -s -C "$src" O="$kb" olddefconfig >/dev/null
		"$here/check-kconfig.sh" "$here/kernel.config" "$kb/.config"
	fi

	jobs=$(nproc)
	log="$kb/build.log"
	echo "guest kernel: building with $jobs jobs (log: $log)"
	start=$(date +%s)
	make -C "$src" O="$kb" -j"$jobs" vmlinux bzImage >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10
		n=$(grep -c '^  CC ' "$log" || true)
		echo "guest kernel: $n files compiled, $(($(date +%s) - start)) s"
	done
	if ! wait "$pid"; then
		tail -30 "$log" >&2
		echo "guest kernel: build failed (log: $log)" >&2
		exit 1
	fi
	tmp="$dest.tmp.$$"
	mkdir -p "$tmp"
	cp "$kb/vmlinux" "$kb/arch/x86/boot/bzImage" "$kb/.config" "$tmp/"
	cp "$kb/System.map" "$tmp/"
	rm -rf "$dest" && mv "$tmp" "$dest"
	echo "guest kernel: done in $(($(date +%s) - start)) s"
fi
ember_link "$dest/vmlinux" "$out/vmlinux"
ember_link "$dest/bzImage" "$out/bzImage"
ember_link "$dest/System.map" "$out/System.map"
