#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build an initramfs from a gen_init_cpio spec (no root needed for /dev
# nodes). gen_init_cpio comes from the kernel source tarball.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cache.sh"
spec=${1:?usage: gen-cpio.sh SPEC OUT}
out=${2:?usage: gen-cpio.sh SPEC OUT}
cache=$(ember_cache_dir)
srcver=$(ember_pkg_version linux-source-6.1)
tool="$cache/tools-$srcver/gen_init_cpio"
if [ ! -x "$tool" ]; then
	mkdir -p "$(dirname "$tool")"
	src="$cache/linux-source-$srcver/usr/gen_init_cpio.c"
	if [ ! -f "$src" ]; then
		tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$(dirname "$tool")" \
			--strip-components=2 linux-source-6.1/usr/gen_init_cpio.c
		src="$(dirname "$tool")/gen_init_cpio.c"
	fi
	cc -O2 -o "$tool.tmp" "$src" && mv "$tool.tmp" "$tool"
fi
"$tool" "$spec" >"$out.tmp" && mv "$out.tmp" "$out"
