#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: virtio-net on a TAP inside a network namespace this test
# creates. The guest takes its address from ip= on the command line; the
# host pings it and 10 MB cross TCP each way, checked by SHA-256.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ns=ember-e2e-$$
if ! ip netns add "$ns" 2>/dev/null; then
	echo "SKIP: cannot create a network namespace (needs root and iproute2): virtio-net end-to-end tests not run"
	exit 0
fi
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 172.16.0.1/30 dev tap0
ip -n "$ns" link set tap0 up

has() { grep -q -- "$2" "$E2E_TMP/$1.out"; }

# net_config NAME TAP GUEST_COMMAND: initramfs guest with one interface
net_config() {
	local args
	args="console=ttyS0 reboot=k panic=1 quiet ip=172.16.0.2::172.16.0.1:255.255.255.252::eth0:off ember.cmd=\\\"$3\\\""
	cat >"$E2E_TMP/$1.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$GUEST/vmlinux", "initrd_path": "$GUEST/initramfs.cpio",
                   "boot_args": "$args" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 },
  "network-interfaces": [
    { "iface_id": "eth0", "host_dev_name": "$2", "guest_mac": "06:00:ac:10:00:02" }
  ]
}
JSON
	echo "$E2E_TMP/$1.json"
}

head -c 10M /dev/urandom >"$E2E_TMP/tx.bin"
want=$(sha256sum <"$E2E_TMP/tx.bin" | cut -d' ' -f1)
cfg=$(net_config tcp tap0 'cat /sys/class/net/eth0/address; nc -l -p 5000 >/tmp/rx; echo rx-sha=$(sha256sum </tmp/rx); nc 172.16.0.1 5001 -e cat /tmp/rx; nc -l -p 5002 </dev/null; echo sent-back')

# The host's receiver first, then the VM.
in_ns timeout 120 socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$E2E_TMP/back.bin",creat,trunc &
back_pid=$!
set +e
with_deadline 120 ip netns exec "$ns" "$EMBER" --config-file "$cfg" --no-api \
	>"$E2E_TMP/tcp.out" 2>"$E2E_TMP/tcp.err" </dev/null &
vm_pid=$!
# Wait for the guest to answer, then count three pings.
for ((i = 0; i < 120; i++)); do
	in_ns busybox ping -c 1 -W 1 172.16.0.2 >/dev/null 2>&1 && break
	kill -0 "$vm_pid" 2>/dev/null || break
done
in_ns busybox ping -c 3 -W 2 172.16.0.2 >"$E2E_TMP/ping.out" 2>&1
in_ns timeout 60 socat -u FILE:"$E2E_TMP/tx.bin" TCP:172.16.0.2:5000,retry=100,interval=0.3
send_rc=$?
# The guest's nc returns with data still in its socket: it waits on port 5002
# until the host has all of it, or a reboot would cut the stream short.
wait "$back_pid"
in_ns timeout 30 socat -u /dev/null TCP:172.16.0.2:5002,retry=100,interval=0.3
wait "$vm_pid"
rc=$?
set -e
expect tcp "the guest has the configured MAC address" has tcp "06:00:ac:10:00:02"
expect tcp "the host pings the guest through the TAP" \
	grep -q '3 packets transmitted, 3 packets received' "$E2E_TMP/ping.out"
expect tcp "10 MB sent by the host reach the guest intact" \
	bash -c "[ $send_rc = 0 ] && grep -q 'rx-sha=$want' $E2E_TMP/tcp.out"
expect tcp "10 MB sent by the guest reach the host intact" \
	bash -c "[ \"\$(sha256sum <$E2E_TMP/back.bin | cut -d' ' -f1)\" = $want ] ||
		{ echo \"    host got \$(wc -c <$E2E_TMP/back.bin) bytes of 10485760\"; false; }"
expect tcp "the guest finishes and ember exits 0" \
	bash -c "[ $rc = 0 ] && grep -q 'ember-init: cmd exited 0' $E2E_TMP/tcp.out"

cfg=$(net_config notap nosuchtap0 true)
set +e
with_deadline 60 ip netns exec "$ns" "$EMBER" --config-file "$cfg" --no-api \
	>"$E2E_TMP/notap.out" 2>"$E2E_TMP/notap.err" </dev/null
rc=$?
set -e
expect notap "a missing TAP is a clear error (152)" \
	bash -c "[ $rc = 152 ] && grep -qF 'Could not create the network device: Open tap device failed: Error while creating ifreq structure: No such device (os error 19). Invalid TUN/TAP Backend provided by nosuchtap0.' $E2E_TMP/notap.err"

e2e_summary
