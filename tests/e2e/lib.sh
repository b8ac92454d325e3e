# SPDX-License-Identifier: Apache-2.0
# Helpers for end-to-end tests: boot the real guest under build/ember.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EMBER="${EMBER:-$top/build/ember}"
GUEST="$top/build/guest"
# Scratch space that is writable on the host and inside the test host.
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ember-e2e.XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT
E2E_TIMEOUT=${E2E_TIMEOUT:-60}
fails=0
passes=0

# Write a config file: vm_config NAME KERNEL INITRD VCPUS MEM BOOT_ARGS
vm_config() {
	local name=$1 kernel=$2 initrd=$3 vcpus=$4 mem=$5 args=$6
	local initrd_json=""
	[ -n "$initrd" ] && initrd_json=", \"initrd_path\": \"$initrd\""
	cat >"$E2E_TMP/$name.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$kernel", "boot_args": "$args"$initrd_json },
  "machine-config": { "vcpu_count": $vcpus, "mem_size_mib": $mem }
}
JSON
	echo "$E2E_TMP/$name.json"
}

# Boot args with a command for ember-init; quotes escaped for JSON.
guest_args() {
	echo "console=ttyS0 reboot=k panic=1 quiet ember.cmd=\\\"$1\\\""
}

# run_ember NAME CONFIG [ARGS...]: output in $E2E_TMP/NAME.out/.err, status in $rc
run_ember() {
	local name=$1 cfg=$2
	shift 2
	set +e
	timeout -k 5 "$E2E_TIMEOUT" "$EMBER" --config-file "$cfg" --no-api "$@" \
		>"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" </dev/null
	rc=$?
	set -e
}

pass() {
	passes=$((passes + 1))
	echo "PASS: $1"
}

fail() {
	fails=$((fails + 1))
	echo "FAIL: $1"
	shift
	for f in "$@"; do
		[ -f "$f" ] && sed 's/^/    | /' "$f" | tail -25
	done
	return 0
}

# expect NAME DESCRIPTION CONDITION...: pass when the condition command succeeds
expect() {
	local name=$1 what=$2
	shift 2
	if "$@"; then
		pass "$what"
	else
		fail "$what (rc=$rc)" "$E2E_TMP/$name.out" "$E2E_TMP/$name.err"
	fi
}

e2e_summary() {
	echo "$passes passed, $fails failed"
	[ "$fails" = 0 ]
}
