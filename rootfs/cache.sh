# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the guest build scripts: cache location and input keys.

ember_cache_dir() {
	local dir="${EMBER_CACHE:-${HOME:-/root}/.cache/ember}"
	mkdir -p "$dir" && printf '%s\n' "$dir"
}

# Key for a set of inputs: files' contents plus extra strings (versions).
ember_key() {
	local f
	{
		for f in "$@"; do
			if [ -f "$f" ]; then
				printf 'file %s\n' "$(basename "$f")"
				cat "$f"
			else
				printf 'str %s\n' "$f"
			fi
		done
	} | sha256sum | cut -c1-16
}

ember_pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none
}

# Point build/guest/NAME at a cached artifact (relative links break across
# mounts; absolute links into the cache are what later tests resolve).
ember_link() {
	mkdir -p "$(dirname "$2")"
	ln -sfn "$1" "$2.tmp.$$" && mv -Tf "$2.tmp.$$" "$2"
}
