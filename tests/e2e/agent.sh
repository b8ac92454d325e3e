#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: the guest agent (rootfs/agent.c) behind vsock port 1024,
# driven by build/ember-invoke the way a FaaS platform drives it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

invoke=$(dirname "$EMBER")/ember-invoke
[ -x "$invoke" ] || { echo "FAIL: $invoke is not built (make all)"; exit 1; }
uds=$E2E_TMP/agent.sock
cat >"$E2E_TMP/agent.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "console=ttyS0 reboot=k panic=1 quiet ember.agent=1" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "vsock": { "guest_cid": 3, "uds_path": "$uds" }
}
JSON
set +e
with_deadline 150 "$EMBER" --config-file "$E2E_TMP/agent.json" --no-api \
	>"$E2E_TMP/agent.out" 2>"$E2E_TMP/agent.err" </dev/null &
vm=$!

# ember-invoke waits for the agent by itself (--wait)
echo hello-agent | timeout 90 "$invoke" --uds "$uds" --fn echo --wait 60000 >"$E2E_TMP/echo.out" 2>"$E2E_TMP/echo.err"
echo_rc=$?
echo "    (first request done after $SECONDS s, echo status $echo_rc)"
timeout 60 "$invoke" --uds "$uds" --fn fail </dev/null >"$E2E_TMP/fail.out" 2>"$E2E_TMP/fail.err"
fail_rc=$?
head -c 1M /dev/urandom >"$E2E_TMP/big"
timeout 60 "$invoke" --uds "$uds" --fn echo <"$E2E_TMP/big" >"$E2E_TMP/big.out" 2>"$E2E_TMP/big.err"
big_rc=$?
timeout 60 "$invoke" --uds "$uds" --fn nosuchfn </dev/null >/dev/null 2>"$E2E_TMP/nofn.err"
nofn_rc=$?
timeout 60 "$invoke" --uds "$uds" --fn ../bin/sh </dev/null >/dev/null 2>"$E2E_TMP/badname.err"
badname_rc=$?
# Several requests over one connection, spoken by hand
printf 'CONNECT 1024\nRUN echo 3\nabcRUN echo 2\nxyRUN fail 0\n' |
	timeout 30 socat -t 10 - UNIX-CONNECT:"$uds" >"$E2E_TMP/multi.out" 2>&1
timeout 60 "$invoke" --uds "$uds" --stop >"$E2E_TMP/stop.out" 2>&1
stop_rc=$?
wait "$vm"
rc=$?
set -e

expect agent "ember-init starts the agent: ember-agent: listening" \
	grep -q 'ember-agent: listening' "$E2E_TMP/agent.out"
expect echo "the echo function answers its input (exit 0)" \
	bash -c "[ $echo_rc = 0 ] && [ \"\$(cat $E2E_TMP/echo.out)\" = hello-agent ]"
expect fail "a failing function's exit status (3) and stderr come back" \
	bash -c "[ $fail_rc = 3 ] && grep -q 'fail: this function always fails' $E2E_TMP/fail.err && [ ! -s $E2E_TMP/fail.out ]"
expect big "a 1 MiB payload round-trips intact" \
	bash -c "[ $big_rc = 0 ] && cmp -s $E2E_TMP/big $E2E_TMP/big.out"
expect nofn "an unknown function is an error (125)" \
	bash -c "[ $nofn_rc = 125 ] && grep -q 'no such function' $E2E_TMP/nofn.err"
expect nofn "a function name with a path is refused" \
	bash -c "[ $badname_rc = 125 ] && grep -q 'bad function name' $E2E_TMP/badname.err"
expect multi "several requests over one connection" \
	bash -c "head -1 $E2E_TMP/multi.out | grep -qx 'OK [0-9]*' && [ \"\$(tail -n +2 $E2E_TMP/multi.out | tr '\n' '|')\" = 'OK 0 3 0|abcOK 0 2 0|xyOK 3 0 33|fail: this function always fails|' ]"
expect stop "STOP powers the guest off and ember exits 0" \
	bash -c "[ $stop_rc = 0 ] && [ $rc = 0 ] && grep -q 'ember-init: agent stopped' $E2E_TMP/agent.out"

e2e_summary
