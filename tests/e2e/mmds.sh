#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end: MMDS's control plane as a Firecracker client drives it over
# the API socket (firecracker-go-sdk's SetMetadata and setMmdsConfig):
# --metadata and --mmds-size-limit, PUT/PATCH/GET /mmds with Firecracker's
# answers (413 beyond the limit), PUT /mmds/config naming a TAP interface,
# GET /vm/config; after boot, the guest reading MMDS over its interface
# (V2 tokens, busybox wget) and the store changing under it; and a snapshot
# that restores the MMDS configuration but not the store, as Firecracker's
# does, where the restored guest reads new metadata.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ns=ember-mmds-$$
if ! ip netns add "$ns" 2>/dev/null; then
	echo "SKIP: cannot create a network namespace (needs root and iproute2): MMDS end-to-end tests not run"
	exit 0
fi
pids=""
trap 'for p in $pids; do kill -KILL $p 2>/dev/null || true; done; ip netns del "$ns" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" link set tap0 up
json_is() { jq -en "input | $1" >/dev/null; } # json_is FILTER <<<JSON
fault_is() { [ "$code" = "$1" ] && json_is ".fault_message == \"$2\"" <<<"$body"; }

EMBER_WRAP="ip netns exec $ns" # start_ember runs ember where tap0 is

# --metadata, --mmds-size-limit and the store before boot.
echo '{"latest": {"meta-data": {"ami-id": "ami-0123", "zone": "here"}}}' >"$E2E_TMP/md.json"
start_ember a --metadata "$E2E_TMP/md.json" --mmds-size-limit 120
api GET /mmds
check "--metadata fills the store: GET /mmds" \
	json_is '.latest["meta-data"]["ami-id"] == "ami-0123"' <<<"$body"
api PATCH /mmds '{"latest": {"meta-data": {"zone": null, "secret": "s3cr3t"}}}'
check "PATCH /mmds merges (null removes): 204" test "$code" = 204
api GET /mmds
check "the merged store, keys sorted as Firecracker's" \
	test "$body" = '{"latest":{"meta-data":{"ami-id":"ami-0123","secret":"s3cr3t"}}}'
api PATCH /mmds "{\"pad\": \"$(printf '%080d' 0)\"}"
check "beyond --mmds-size-limit: 413 with Firecracker's message" \
	fault_is 413 "MMDS limit exceeded error: The MMDS patch request doesn't fit."
api GET /mmds
check "the refused patch changed nothing" json_is 'has("pad") | not' <<<"$body"
api PUT /mmds/config '{"network_interfaces": ["eth0"]}'
check "PUT /mmds/config naming no interface: Firecracker's 400" \
	fault_is 400 "MMMDS config error: The list of network interface IDs provided contains at least one ID that does not correspond to any existing network interface."
api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
check "PUT /network-interfaces/eth0 on the namespace's TAP: 204" test "$code" = 204
api PUT /mmds/config '{"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"}'
check "an address outside 169.254/16: 400" \
	fault_is 400 "MMMDS config error: The MMDS IPv4 address is not link local."
api PUT /mmds/config '{"network_interfaces": ["eth0"]}'
check "version V1 (the default) is deprecated: 204 with Deprecation" \
	bash -c "[ $code = 204 ] && curl -s -i --unix-socket '$SOCK' -X PUT -d '{\"network_interfaces\": [\"eth0\"]}' http://localhost/mmds/config | grep -qi '^deprecation: true'"
api PUT /mmds/config '{"version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2"}'
check "PUT /mmds/config V2 on eth0: 204" test "$code" = 204
api GET /vm/config
check "GET /vm/config: mmds-config as Firecracker shows it" \
	json_is '."mmds-config" == {"version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2", "imds_compat": false}' <<<"$body"
stop_ember

# After boot, and across a snapshot: the guest reads MMDS over eth0 as a
# Firecracker guest does. Its script is on a second drive (no quoting in
# boot_args): a V2 token by PUT (busybox nc: busybox wget has no PUT), the
# key with busybox wget and the token, and wget without one, every 0.5 s.
# A connection open at the snapshot is gone after it (MMDS's TCP state is
# not kept, as in Firecracker), so each client has a timeout.
cat >"$E2E_TMP/guest.sh" <<'SH'
ip addr add 172.16.0.2/30 dev eth0
ip link set eth0 up
ip route add 169.254.169.254 dev eth0
n=0
while true; do
	t=$(printf 'PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-metadata-token-ttl-seconds: 60\r\nConnection: close\r\n\r\n' |
		timeout 10 nc 169.254.169.254 80 | tail -n 1)
	echo "mmds $n token-length=${#t}"
	echo "mmds $n value=$(timeout 10 wget -q -O - --header "X-metadata-token: $t" http://169.254.169.254/k 2>&1)"
	timeout 10 wget -q -O /dev/null http://169.254.169.254/k 2>/dev/null && r=200 || r=refused
	echo "mmds $n without-token=$r"
	n=$((n + 1))
	sleep 0.5
done
SH
# A block device's size is whole sectors: newlines pad the script.
truncate -s 4096 "$E2E_TMP/guest.sh"
sed -i 's/\x0/\n/g' "$E2E_TMP/guest.sh"
cmd='sh /dev/vdb'
boot=$(jq -n --arg k "$GUEST/vmlinux" --arg a "console=ttyS0 reboot=k panic=1 quiet ember.cmd=\"$cmd\"" \
	'{kernel_image_path: $k, boot_args: $a}')
guest_saw() { tr -d '\r' <"$OUT" | grep -q "^mmds [0-9]* $1\$"; } # the console ends lines in CRLF
# guest_check DESCRIPTION LINE: the guest printed LINE; its console if not
guest_check() {
	if guest_saw "$2"; then pass "$1"; else fail "$1" "$OUT"; fi
}
start_ember b
api PUT /boot-source "$boot"
api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": true}"
api PUT /drives/script "{\"drive_id\": \"script\", \"path_on_host\": \"$E2E_TMP/guest.sh\", \"is_root_device\": false, \"is_read_only\": true}"
api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
api PUT /mmds/config '{"version": "V2", "network_interfaces": ["eth0"], "imds_compat": true}'
api PUT /mmds '{"k": "before boot"}'
api PUT /metrics "{\"metrics_path\": \"$E2E_TMP/b.metrics\"}"
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart with MMDS configured: 204" test "$code" = 204
wait_for 90 bash -c "grep -q '^mmds' '$OUT' || ! kill -0 $pid" || true
api GET /mmds
check "after boot the store is the one filled before" json_is '.k == "before boot"' <<<"$body"
wait_for 240 guest_saw "value=before boot" || true
guest_check "the guest reads the key over eth0 with a V2 token (nc PUT, busybox wget GET)" \
	"value=before boot"
guest_check "the token the guest got is 64 characters" "token-length=64"
guest_check "without a token the guest is refused (V2)" "without-token=refused"
check "and never answered without one" bash -c "! grep -q 'without-token=200' '$OUT'"
api PUT /mmds '{"k": "after boot", "n": {"m": "v"}}'
check "PUT /mmds after boot: 204" test "$code" = 204
wait_for 240 guest_saw "value=after boot" || true
guest_check "the guest reads what the host put after boot" "value=after boot"
api PATCH /mmds '{"n": {"o": "w"}}'
api GET /mmds
check "PATCH /mmds after boot merges" json_is '.k == "after boot" and .n == {"m": "v", "o": "w"}' <<<"$body"
api PUT /actions '{"action_type": "FlushMetrics"}'
check "the mmds metrics count the guest's requests, connections and frames" \
	bash -c "tail -n 1 '$E2E_TMP/b.metrics' | jq -e '.mmds | .rx_count > 0 and .tx_count > 0 and .connections_created > 0 and .rx_accepted > 0 and .tx_frames > 0 and .rx_no_token > 0' >/dev/null"
api PUT /mmds/config '{"network_interfaces": ["eth0"]}'
check "PUT /mmds/config after boot: 400" \
	bash -c "[ $code = 400 ] && grep -q 'not supported after starting' <<<'$body'"
snapshot_to s
check "snapshot of a VM with MMDS: 204" test "$code" = 204
stop_ember

start_ember c
load_from s
check "PUT /snapshot/load: 204" test "$code" = 204
api GET /vm/config
check "the restored VM keeps the MMDS configuration" \
	json_is '."mmds-config" == {"version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.169.254", "imds_compat": true}' <<<"$body"
api GET /mmds
check "the store is not in the snapshot (as Firecracker): {}" test "$body" = '{}'
api PUT /mmds '{"k": "restored"}'
api GET /mmds
check "the restored VM takes new metadata" json_is '.k == "restored"' <<<"$body"
wait_for 240 guest_saw "value=restored" || true
guest_check "the restored guest reads it over eth0 (a new token: tokens are not kept)" \
	"value=restored"
stop_ember

# A VM without MMDS configured has no store after boot.
start_ember d
api PUT /boot-source "$boot"
api PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": true}"
api PUT /actions '{"action_type": "InstanceStart"}'
api GET /mmds
check "no MMDS configured: GET /mmds after boot is Firecracker's 400" \
	fault_is 400 "MMDS error: The MMDS data store is not initialized."
stop_ember

# A bad --metadata file stops ember before its API starts.
echo '{"broken": ' >"$E2E_TMP/bad.json"
set +e
"$EMBER" --api-sock "$E2E_TMP/bad.sock" --metadata "$E2E_TMP/bad.json" >/dev/null 2>"$E2E_TMP/bad.err" </dev/null
rc=$?
set -e
check "a --metadata file that is not JSON: exit 152, and why" \
	bash -c "[ $rc = 152 ] && grep -q 'not valid JSON' '$E2E_TMP/bad.err'"
e2e_summary
