#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Verify every option the fragment asks for landed in the final .config.
set -euo pipefail
frag=${1:?fragment} cfg=${2:?config}
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF "$line" "$cfg" || { echo "kconfig: wanted $line, got: $(grep "^${line%%=*}=" "$cfg" || echo unset)" >&2; bad=1; } ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		if grep -q "^$opt=" "$cfg"; then echo "kconfig: wanted $opt off, got: $(grep "^$opt=" "$cfg")" >&2; bad=1; fi ;;
	esac
done <"$frag"
[ "$bad" = 0 ] || { echo "kconfig: fragment not satisfied" >&2; exit 1; }
