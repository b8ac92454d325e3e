#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: virtio-vsock with Firecracker's Unix-socket host side. The
# guest runs ember-vsock (rootfs/vsock.c): an echo server on port 5000, a
# guest-to-host exchange, and a one-shot receiver on 5002 that ends the run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

uds=$E2E_TMP/v.sock
has() { grep -q -- "$2" "$E2E_TMP/$1.out"; }

# A host-side service for the guest: uppercase what it sends. When the guest
# half-closes, socat waits at most -t seconds for tr's answer before it closes
# the socket; its default of 0.5 s lost the answer on a loaded machine (tr:
# Broken pipe). socat still closes as soon as tr exits, so a long bound costs
# nothing. The VM starts only once the socket is listening.
socat -t 60 UNIX-LISTEN:"${uds}_6000" SYSTEM:'tr a-z A-Z' &
svc_pid=$!
for ((i = 0; i < 100; i++)); do [ -S "${uds}_6000" ] && break; sleep 0.1; done

guest='ember-vsock echo 5000 & sleep 1; echo guest-to-host | ember-vsock send 2 6000; ember-vsock send 2 6001 </dev/null; echo nolistener-status=$?; ember-vsock recv 5002'
cat >"$E2E_TMP/vsock.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "$(guest_args "$guest")" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "vsock": { "guest_cid": 3, "uds_path": "$uds" }
}
JSON
set +e
with_deadline 180 "$EMBER" --config-file "$E2E_TMP/vsock.json" --no-api \
	>"$E2E_TMP/vsock.out" 2>"$E2E_TMP/vsock.err" </dev/null &
vm=$!
for ((i = 0; i < 600; i++)); do
	has vsock "ember-vsock: listening on 5000" && break
	kill -0 "$vm" 2>/dev/null || break
	sleep 0.1
done
ember_pid=$(pgrep -f -- "--config-file $E2E_TMP/vsock.json" | head -1)

# talk TEXT_FILE: CONNECT 5000, send the file, print what comes back
# socat's -t bounds the wait for the rest of the answer once our side is done
# (it returns as soon as the guest closes): generous, so load cannot cut it.
talk() { (printf 'CONNECT %s\n' "$2"; cat "$1") | timeout 120 socat -t 60 - UNIX-CONNECT:"$uds"; }

printf 'hello-vsock' >"$E2E_TMP/small"
talk "$E2E_TMP/small" 5000 >"$E2E_TMP/echo.out"
head -c 1M /dev/urandom >"$E2E_TMP/big"
talk "$E2E_TMP/big" 5000 >"$E2E_TMP/bigecho.out"
: >"$E2E_TMP/empty"
talk "$E2E_TMP/empty" 7777 >"$E2E_TMP/nolistener.out"
nolistener_rc=$?

# Malformed handshakes: each is closed without an OK
for line in 'CONNECT' 'CONNECT abc' 'CONNECT 99999999999' 'HELLO 5000' \
	'CONNECT 5000 extra' "$(head -c 40 /dev/zero | tr '\0' 7)"; do
	printf '%s\n' "$line" | timeout 10 socat -t 5 - UNIX-CONNECT:"$uds"
	echo "rc=$?"
done >"$E2E_TMP/malformed.out" 2>&1
printf 'CONNECT 5000' | timeout 10 socat -t 5 - UNIX-CONNECT:"$uds" >>"$E2E_TMP/malformed.out" 2>&1

# ember's descriptor count once closing connections are gone (a closed
# connection lingers up to the 2 s shutdown timeout, longer on a loaded
# machine): the count that holds for 3 s in a row, within 60 s.
settled_fds() {
	local n last=-1 same=0
	for ((j = 0; j < 600 && same < 30; j++)); do
		n=$(ls "/proc/$ember_pid/fd" 2>/dev/null | wc -l)
		if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; last=$n; fi
		sleep 0.1
	done
	echo "$last"
}

# 100 connections opened and closed leave no descriptor behind
fds_before=$(settled_fds)
good=0
for ((i = 0; i < 100; i++)); do
	[ "$(printf 'CONNECT 5000\nping-%d' "$i" | timeout 60 socat -t 30 - UNIX-CONNECT:"$uds" | sed -n 2p)" = "ping-$i" ] &&
		good=$((good + 1))
done
fds_after=$(settled_fds)

printf 'stop' >"$E2E_TMP/stop"
talk "$E2E_TMP/stop" 5002 >/dev/null
wait "$vm"
rc=$?
kill "$svc_pid" 2>/dev/null
set -e

expect echo "host to guest: CONNECT gets OK <port> and the echo" \
	bash -c "head -1 $E2E_TMP/echo.out | grep -qx 'OK 10[0-9]*' && [ \"\$(tail -n +2 $E2E_TMP/echo.out)\" = hello-vsock ]"
expect echo "1 MiB echoed through the guest comes back intact" \
	bash -c "tail -n +2 $E2E_TMP/bigecho.out | cmp -s - $E2E_TMP/big"
expect echo "a port with no listener in the guest closes the host socket" \
	bash -c "[ $nolistener_rc = 0 ] && [ ! -s $E2E_TMP/nolistener.out ]"
expect malformed "malformed handshakes are closed without an answer" \
	bash -c "[ \$(grep -c '^rc=0$' $E2E_TMP/malformed.out) = 6 ] && ! grep -q '^OK' $E2E_TMP/malformed.out"
expect fds "100 connections: all echoed, no descriptor left behind ($fds_before -> $fds_after)" \
	bash -c "[ $good = 100 ] && [ -n '$fds_before' ] && [ '$fds_before' = '$fds_after' ]"
expect vsock "guest to host: <uds_path>_6000 answers the guest" has vsock "GUEST-TO-HOST"
expect vsock "guest to a host port with no listener: the connection is reset" \
	bash -c "grep -q 'nolistener-status=1' $E2E_TMP/vsock.out && grep -q 'connect to 2:6001: Connection reset' $E2E_TMP/vsock.out"
expect vsock "the guest stops on its last connection and ember exits 0" \
	bash -c "[ $rc = 0 ] && grep -q 'ember-init: cmd exited 0' $E2E_TMP/vsock.out"
expect vsock "ember removes its socket when it stops" bash -c "[ ! -e $uds ]"

# An existing uds_path is refused, not taken over
touch "$E2E_TMP/taken.sock"
sed "s|$uds|$E2E_TMP/taken.sock|" "$E2E_TMP/vsock.json" >"$E2E_TMP/taken.json"
run_ember taken "$E2E_TMP/taken.json"
expect taken "an existing uds_path is a clear error (152) and stays" \
	bash -c "[ $rc = 152 ] && grep -q 'cannot listen on .*taken.sock: Address already in use' $E2E_TMP/taken.err && [ -e $E2E_TMP/taken.sock ]"

e2e_summary
