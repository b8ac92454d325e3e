#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the test build of ember (build/tests/ember-forbidden) makes a
# syscall no list allows on the thread kind named in EMBER_TEST_FORBIDDEN.
# With the built-in filters that thread dies with SIGSYS and ember exits 148
# naming the thread; with --no-seccomp the same call succeeds and the guest
# boots as usual.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FORBIDDEN="$top/build/tests/ember-forbidden"
[ -x "$FORBIDDEN" ] || { echo "FAIL: $FORBIDDEN is not built (make kvm-test builds it)"; exit 1; }
getppid_nr=110 # x86_64

cfg=$(vm_config boot "$GUEST/vmlinux" "$GUEST/initramfs.cpio" 1 128 "$(guest_args 'echo seccomp-ok')")

# forbidden KIND [ARGS...]: run the test build; output in $E2E_TMP/KIND*.out/.err
forbidden() {
	local kind=$1
	shift
	set +e
	EMBER_TEST_FORBIDDEN=$kind with_deadline "$E2E_TIMEOUT" "$FORBIDDEN" "$@" \
		>"$E2E_TMP/$kind.out" 2>"$E2E_TMP/$kind.err" </dev/null
	rc=$?
	set -e
}

for kind in vmm vcpu; do
	forbidden "$kind" --config-file "$cfg" --no-api
	expect "$kind" "a forbidden syscall on the $kind thread: SIGSYS, exit 148, reported" \
		bash -c "[ $rc = 148 ] && grep -q 'the $kind thread made syscall $getppid_nr' $E2E_TMP/$kind.err"
	forbidden "$kind" --config-file "$cfg" --no-api --no-seccomp
	mv "$E2E_TMP/$kind.out" "$E2E_TMP/$kind-off.out"
	mv "$E2E_TMP/$kind.err" "$E2E_TMP/$kind-off.err"
	expect "$kind-off" "--no-seccomp: the same call on the $kind thread succeeds, the guest runs" \
		bash -c "[ $rc = 0 ] && grep -q 'getppid() on the $kind thread returned [1-9]' $E2E_TMP/$kind-off.err &&
			grep -q seccomp-ok $E2E_TMP/$kind-off.out"
done

# The API thread installs its filter before it serves anything.
forbidden api --api-sock "$E2E_TMP/api.sock"
expect api "a forbidden syscall on the api thread: SIGSYS, exit 148, reported" \
	bash -c "[ $rc = 148 ] && grep -q 'the api thread made syscall $getppid_nr' $E2E_TMP/api.err"
rm -f "$E2E_TMP/api.sock"
forbidden api --config-file "$cfg" --api-sock "$E2E_TMP/api.sock" --no-seccomp
expect api "--no-seccomp: the same call on the api thread succeeds" \
	bash -c "[ $rc = 0 ] && grep -q 'getppid() on the api thread returned [1-9]' $E2E_TMP/api.err"

# The real binary: the built-in filters let the whole boot through, and a
# metrics sink gets seccomp.num_faults when one is broken.
rm -f "$E2E_TMP/api.sock"
forbidden vcpu --config-file "$cfg" --no-api --metrics-path "$E2E_TMP/metrics.json"
expect vcpu "a violation is counted in the metrics (seccomp.num_faults)" \
	bash -c "[ $rc = 148 ] && grep -q '\"seccomp\":{\"num_faults\":1}' $E2E_TMP/metrics.json"

run_ember filtered "$cfg"
expect filtered "the guest boots under the built-in filters (vmm, api-less, vcpu)" \
	bash -c "[ $rc = 0 ] && grep -q seccomp-ok $E2E_TMP/filtered.out"

# A custom filter file: the built-in JSON compiled by ember-seccompiler works;
# a file that is not one is refused before anything starts.
"$top/build/ember-seccompiler" -o "$E2E_TMP/custom.bpf" "$top/jailer/seccomp-x86_64.json"
run_ember custom "$cfg" --seccomp-filter "$E2E_TMP/custom.bpf"
expect custom "--seccomp-filter with a compiled file boots the guest" \
	bash -c "[ $rc = 0 ] && grep -q seccomp-ok $E2E_TMP/custom.out"
run_ember badfilter "$cfg" --seccomp-filter "$top/jailer/seccomp-x86_64.json"
expect badfilter "--seccomp-filter with JSON (not compiled) is refused with 152" \
	bash -c "[ $rc = 152 ] && grep -q 'not an ember seccomp filter' $E2E_TMP/badfilter.err"

e2e_summary
